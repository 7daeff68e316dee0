/*
 * A small test harness for the wxtoken C tests: checks that count and
 * report, and a plain-socket HTTP client for the simulator's admin endpoints
 * (`wxtoken mock`), so no test needs libcurl.
 *
 * Every test program includes this once; all helpers are static. The runner
 * (bindings/c/run-tests.sh) sets:
 *   WXTOKEN_TEST_API_BASE       the simulator's base URL, http://127.0.0.1:PORT
 *   WXTOKEN_TEST_API_BASE_LONG  a second simulator issuing 600-byte tokens
 *   WXTOKEN_TEST_ITERS          gets per thread in the concurrency test
 * Each program ends with a line `RESULT <passed> <failed>` and exits 0 only
 * when nothing failed.
 */
#ifndef WXTOKEN_TEST_HARNESS_H
#define WXTOKEN_TEST_HARNESS_H

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "wxtoken.h"

/* ---- checks ------------------------------------------------------------ */

static int t_passed;
static int t_failed;

static inline void t_check(int ok, const char *file, int line, const char *expr, const char *fmt, ...)
{
    if (ok) {
        t_passed++;
        return;
    }
    t_failed++;
    fprintf(stderr, "FAIL %s:%d: %s\n     ", file, line, expr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* CHECK(condition, printf-format, args...): counts a pass or reports a failure. */
#define CHECK(cond, ...) t_check((cond) ? 1 : 0, __FILE__, __LINE__, #cond, __VA_ARGS__)

/* This thread's last wxtoken error, for failure reports. */
static inline const char *t_last_error(void)
{
    static _Thread_local char msg[1024];
    wxtoken_last_error(msg, sizeof msg);
    return msg;
}

/* CHECK_STATUS(call, WXTOKEN_X): the call returned exactly that status. */
#define CHECK_STATUS(call, expected)                                                         \
    do {                                                                                     \
        wxtoken_status t_got_ = (call);                                                      \
        t_check(t_got_ == (expected), __FILE__, __LINE__, #call " == " #expected,            \
                "got %s, last error: %s", wxtoken_status_name((int)t_got_), t_last_error()); \
    } while (0)

/* Starts a named group of checks, for readable output. */
static inline void t_section(const char *name)
{
    printf("-- %s\n", name);
    fflush(stdout);
}

static inline int t_finish(void)
{
    printf("RESULT %d %d\n", t_passed, t_failed);
    fflush(stdout);
    return t_failed == 0 ? 0 : 1;
}

/* ---- environment ------------------------------------------------------- */

static inline const char *t_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        fprintf(stderr, "environment variable %s is not set (run bindings/c/run-tests.sh)\n", name);
        exit(2);
    }
    return v;
}

static inline long t_env_long(const char *name, long fallback)
{
    const char *v = getenv(name);
    return (v != NULL && *v != '\0') ? strtol(v, NULL, 10) : fallback;
}

/* ---- HTTP -------------------------------------------------------------- */

/*
 * One HTTP/1.1 request to the simulator at `base` ("http://HOST:PORT").
 * Copies the response body (NUL-terminated, cut to fit) into `out` and
 * returns the HTTP status, or -1 when the request failed.
 */
static inline int t_http(const char *base, const char *method, const char *path, const char *body,
                  char *out, size_t cap)
{
    char host[256], port[16];
    const char *p = strstr(base, "://");
    p = p ? p + 3 : base;
    const char *colon = strrchr(p, ':');
    if (colon == NULL || (size_t)(colon - p) >= sizeof host) {
        return -1;
    }
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = '\0';
    size_t plen = strcspn(colon + 1, "/");
    if (plen == 0 || plen >= sizeof port) {
        return -1;
    }
    memcpy(port, colon + 1, plen);
    port[plen] = '\0';

    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) {
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);

    size_t blen = body ? strlen(body) : 0;
    char head[1024];
    int hlen = snprintf(head, sizeof head,
                        "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n"
                        "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                        method, path, host, port, blen);
    if (hlen < 0 || (size_t)hlen >= sizeof head || write(fd, head, (size_t)hlen) != hlen ||
        (blen > 0 && write(fd, body, blen) != (ssize_t)blen)) {
        close(fd);
        return -1;
    }

    size_t size = 0, room = 8192;
    char *resp = malloc(room);
    for (;;) {
        if (resp == NULL) {
            close(fd);
            return -1;
        }
        if (room - size < 4096) {
            char *bigger = realloc(resp, room * 2);
            if (bigger == NULL) {
                free(resp);
                close(fd);
                return -1;
            }
            resp = bigger;
            room *= 2;
        }
        ssize_t n = read(fd, resp + size, room - size - 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        size += (size_t)n;
    }
    close(fd);
    resp[size] = '\0';

    int status = -1;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) {
        status = -1;
    }
    const char *payload = strstr(resp, "\r\n\r\n");
    payload = payload ? payload + 4 : "";
    if (out != NULL && cap > 0) {
        size_t n = strlen(payload);
        if (n >= cap) {
            n = cap - 1;
        }
        memcpy(out, payload, n);
        out[n] = '\0';
    }
    free(resp);
    return status;
}

/* ---- the simulator ----------------------------------------------------- */

/* The number after `"key":` inside [from, to), or -1. */
static inline long t_json_number(const char *from, const char *to, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(from, pat);
    if (at == NULL || at >= to) {
        return -1;
    }
    return strtol(at + strlen(pat), NULL, 10);
}

/*
 * Token endpoint calls (all endpoints) the simulator at `base` has counted for
 * `appid` since it started: the number of upstream fetches. -1 on error.
 */
static inline long t_fetches_at(const char *base, const char *appid)
{
    static char stats[1 << 16];
    if (t_http(base, "GET", "/mock/stats", NULL, stats, sizeof stats) != 200) {
        return -1;
    }
    const char *calls = strstr(stats, "\"token_calls\":");
    if (calls == NULL) {
        return -1;
    }
    char pat[160];
    snprintf(pat, sizeof pat, "\"%s\":{", appid);
    const char *app = strstr(calls, pat);
    if (app == NULL) {
        return 0; /* never called */
    }
    const char *end = strchr(app, '}');
    long total = 0;
    const char *keys[] = {"token", "stable_token", "gettoken"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        long n = t_json_number(app, end, keys[i]);
        total += n > 0 ? n : 0;
    }
    return total;
}

static inline const char *t_base(void)
{
    return t_env("WXTOKEN_TEST_API_BASE");
}

static inline long t_fetches(const char *appid)
{
    return t_fetches_at(t_base(), appid);
}

/* Arms a fault of the simulator at `base` for the next `count` token calls. */
static inline int t_fault_at(const char *base, const char *mode, long count, long delay_ms)
{
    char body[160];
    snprintf(body, sizeof body, "{\"mode\":\"%s\",\"count\":%ld,\"delay_ms\":%ld}", mode, count,
             delay_ms);
    return t_http(base, "POST", "/mock/fault", body, NULL, 0) == 200 ? 0 : -1;
}

static inline int t_fault(const char *mode, long count, long delay_ms)
{
    return t_fault_at(t_base(), mode, count, delay_ms);
}

/* Asks the simulator whether it accepts `token` for a business call: returns
 * the errcode it answers (0 = accepted), or -1000 on a transport failure. */
static inline long t_token_errcode_at(const char *base, const char *token)
{
    static char path[20000];
    static char body[4096];
    snprintf(path, sizeof path, "/cgi-bin/get_api_domain_ip?access_token=%s", token);
    if (t_http(base, "GET", path, NULL, body, sizeof body) != 200) {
        return -1000;
    }
    if (strstr(body, "\"errcode\":") == NULL) {
        return 0; /* {"ip_list":[...]}: accepted */
    }
    return t_json_number(body, body + strlen(body), "errcode");
}

/*
 * Configures `appid` against the simulator at `base` with a memory store,
 * plus `extra` options (e.g. "\"timeout_ms\":100", or "" for none).
 */
static inline wxtoken_status t_configure_at(const char *base, const char *appid, const char *secret,
                                     const char *extra)
{
    char options[1024];
    snprintf(options, sizeof options, "{\"store\":\"memory\",\"api_base\":\"%s\"%s%s}", base,
             (extra && *extra) ? "," : "", extra ? extra : "");
    return wxtoken_configure(appid, secret, options);
}

static inline wxtoken_status t_configure(const char *appid, const char *secret, const char *extra)
{
    return t_configure_at(t_base(), appid, secret, extra);
}

/* The app's fresh epoch once the library's marker thread has armed its word
 * (within its first pass); 0 if that takes over 2 s. */
static inline uint64_t t_armed_epoch(const char *app)
{
    for (int i = 0; i < 400; i++) {
        uint64_t e = wxtoken_fresh_epoch(app);
        if (e != 0) return e;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

#endif /* WXTOKEN_TEST_HARNESS_H */
