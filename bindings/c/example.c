/*
 * wxtoken from C: configure an app, get its access token, report a token a
 * business call refused, and print the app's status.
 *
 * Build (after `make install`, see bindings/c/README.md):
 *     cc -std=c11 example.c $(pkg-config --cflags --libs wxtoken) -o example
 *
 * Run against the offline simulator:
 *     wxtoken mock --port-file /tmp/wx.url &
 *     WXTOKEN_APPID=wx0000000000demo WXTOKEN_SECRET=demo-secret-not-real \
 *     WXTOKEN_API_BASE=$(cat /tmp/wx.url) ./example
 *
 * Settings come from the environment: WXTOKEN_APPID, WXTOKEN_SECRET (or
 * WXTOKEN_SECRET_FILE), WXTOKEN_API_BASE, and WXTOKEN_STORE (default here:
 * "memory", this process only; "file" shares the token between the processes
 * of one host).
 *
 * Exit status: 0 on success, 1 when a wxtoken call failed (the message is
 * printed), 2 on bad usage or when out of memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wxtoken.h>

/* Prints what failed, with this thread's last error message and errcode. */
static int fail(const char *what, wxtoken_status status)
{
    char msg[1024];
    wxtoken_last_error(msg, sizeof msg); /* cut to fit if longer; always NUL-terminated */
    fprintf(stderr, "%s failed: %s: %s", what, wxtoken_status_name(status), msg);
    if (wxtoken_last_errcode() != 0) {
        fprintf(stderr, " [WeChat errcode %lld]", (long long)wxtoken_last_errcode());
    }
    fputc('\n', stderr);
    return 1;
}

/*
 * Returns the app's token in a malloc'ed string the caller frees, or NULL.
 * Shows the size-query pattern: ask for the length with a NULL buffer, then
 * allocate exactly. (A fixed `char buf[1024]` is simpler and also fine: the
 * platform asks callers to reserve at least 512 bytes for a token.)
 */
static char *get_token(const char *app, wxtoken_status *status)
{
    size_t len = 0;
    *status = wxtoken_get(app, NULL, 0, &len);
    if (*status != WXTOKEN_BUFFER_TOO_SMALL) {
        return NULL; /* a real failure: no token, so no length */
    }
    char *token = malloc(len + 1); /* + 1 for the NUL */
    if (token == NULL) {
        fprintf(stderr, "out of memory\n");
        return NULL;
    }
    /* The token is fresh now, so this second call is a plain copy. Should it
     * have been replaced by a longer one in between, we get
     * WXTOKEN_BUFFER_TOO_SMALL again and simply give up here. */
    *status = wxtoken_get(app, token, len + 1, &len);
    if (*status != WXTOKEN_OK) {
        free(token);
        return NULL;
    }
    return token;
}

int main(void)
{
    const char *appid = getenv("WXTOKEN_APPID");
    if (appid == NULL || *appid == '\0') {
        fprintf(stderr, "set WXTOKEN_APPID, WXTOKEN_SECRET and (for the simulator) "
                        "WXTOKEN_API_BASE\n");
        return 2;
    }
    const char *store = getenv("WXTOKEN_STORE");
    if (store == NULL || *store == '\0') {
        store = "memory";
    }
    char options[512];
    int n = snprintf(options, sizeof options, "{\"store\":\"%s\"}", store);
    if (n < 0 || (size_t)n >= sizeof options) {
        fprintf(stderr, "WXTOKEN_STORE is too long\n");
        return 2;
    }

    /* "" for appid and secret: take them from WXTOKEN_APPID and WXTOKEN_SECRET,
     * so the secret never has to appear in this program. api_base, timeouts
     * and the other options not given fall back to their WXTOKEN_* variables. */
    wxtoken_status s = wxtoken_configure("", "", options);
    if (s != WXTOKEN_OK) {
        return fail("wxtoken_configure", s);
    }
    /* The app's name is its appid (unless the "name" option says otherwise). */
    const char *app = appid;
    printf("wxtoken %s\n", wxtoken_version());

    /* 1. Get a token. The first call fetches it; later ones are a memory copy. */
    char *token = get_token(app, &s);
    if (token == NULL) {
        return s == WXTOKEN_BUFFER_TOO_SMALL || s == WXTOKEN_OK ? 2 : fail("wxtoken_get", s);
    }
    printf("token: %.6s... (%zu bytes)\n", token, strlen(token));

    /* 2. Suppose a business API answered {"errcode":40001,...} for this token.
     *    Report it: wxtoken fetches a new one once, however many threads or
     *    processes report the same token, and hands back the good one. */
    long long errcode = 40001;
    if (wxtoken_is_bad_token_errcode(errcode)) {
        char fresh[1024];
        size_t len = 0;
        s = wxtoken_invalidate(app, token, fresh, sizeof fresh, &len);
        if (s != WXTOKEN_OK) {
            free(token);
            return fail("wxtoken_invalidate", s);
        }
        printf("new token after invalidate: %.6s... (%zu bytes, %s)\n", fresh, len,
               strcmp(fresh, token) != 0 ? "replaced" : "unchanged");
    }
    free(token);

    /* 3. The app's state as JSON: timing, refresh state, counters; never the
     *    token or the secret. */
    char status[4096];
    size_t len = 0;
    s = wxtoken_status_json(app, status, sizeof status, &len);
    if (s != WXTOKEN_OK) {
        return fail("wxtoken_status_json", s);
    }
    printf("status: %s\n", status);
    return 0;
}
