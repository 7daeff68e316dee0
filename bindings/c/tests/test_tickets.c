/*
 * Tickets through the C ABI: the documented JS-SDK signature (and the
 * fragment rule), wxtoken_get_ticket against the simulator (32 threads at
 * cold start: one token fetch, one jsapi ticket call, one ticket),
 * wxtoken_invalidate_ticket, wxtoken_jssdk_config_json (its signature
 * recomputed with the ticket), tiny buffers, unknown kinds, NULL arguments.
 */
#include "harness.h"

#include <pthread.h>
#include <time.h>

#define APP "wxctkt0000000001"
#define SECRET "sec-wxctkt0000000001"
#define THREADS 32

#define DOC_TICKET "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
#define DOC_NONCE "Wm3WZYTPz0wzccnW"
#define DOC_TS 1414587457u
#define DOC_URL "http://mp.weixin.qq.com?params=value"
#define DOC_SIG "0f9de62fce790f9a083d5c99e95740ceb90c27ed"

/* The simulator's count of `kind` ticket calls for `appid`; -1 on error. */
static long ticket_calls(const char *appid, const char *kind)
{
    static char stats[1 << 16];
    if (t_http(t_base(), "GET", "/mock/stats", NULL, stats, sizeof stats) != 200) {
        return -1;
    }
    const char *calls = strstr(stats, "\"ticket_calls\":");
    if (calls == NULL) {
        return -1;
    }
    char pat[160];
    snprintf(pat, sizeof pat, "\"%s\":{", appid);
    const char *app = strstr(calls, pat);
    if (app == NULL) {
        return 0;
    }
    long n = t_json_number(app, strchr(app, '}'), kind);
    return n > 0 ? n : 0;
}

static pthread_barrier_t start;

struct worker {
    char ticket[512];
    wxtoken_status status;
    int len_ok;
};

static void *getter(void *arg)
{
    struct worker *w = arg;
    size_t len = 0;
    pthread_barrier_wait(&start);
    w->status = wxtoken_get_ticket(APP, "jsapi", w->ticket, sizeof w->ticket, &len);
    w->len_ok = w->status == WXTOKEN_OK && strlen(w->ticket) == len;
    return NULL;
}

static void signature(void)
{
    t_section("the documented signature; the fragment is not signed");
    char buf[64];
    size_t len = 0;
    CHECK_STATUS(wxtoken_jssdk_signature(DOC_TICKET, DOC_NONCE, DOC_TS, DOC_URL, buf, sizeof buf, &len),
                 WXTOKEN_OK);
    CHECK(strcmp(buf, DOC_SIG) == 0 && len == 40, "got '%s' (%zu)", buf, len);
    memset(buf, 'x', sizeof buf);
    CHECK_STATUS(wxtoken_jssdk_signature(DOC_TICKET, DOC_NONCE, DOC_TS, DOC_URL "#frag", buf, 41, &len),
                 WXTOKEN_OK);
    CHECK(strcmp(buf, DOC_SIG) == 0, "with #frag: got '%s'", buf);

    t_section("signature: tiny buffers, NULL arguments, invalid UTF-8");
    memset(buf, 'x', sizeof buf);
    len = 0;
    CHECK_STATUS(wxtoken_jssdk_signature(DOC_TICKET, DOC_NONCE, DOC_TS, DOC_URL, buf, 40, &len),
                 WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(len == 40 && buf[0] == '\0' && buf[1] == 'x', "len %zu, buf[0] %d, buf[1] %c", len, buf[0],
          buf[1]);
    len = 0;
    CHECK_STATUS(wxtoken_jssdk_signature(DOC_TICKET, DOC_NONCE, DOC_TS, DOC_URL, NULL, 0, &len),
                 WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(len == 40, "size query: %zu", len);
    CHECK_STATUS(wxtoken_jssdk_signature(NULL, DOC_NONCE, DOC_TS, DOC_URL, buf, sizeof buf, &len),
                 WXTOKEN_NULL_POINTER);
    CHECK(strstr(t_last_error(), "'ticket' is NULL") != NULL, "%s", t_last_error());
    CHECK_STATUS(wxtoken_jssdk_signature(DOC_TICKET, NULL, DOC_TS, DOC_URL, buf, sizeof buf, &len),
                 WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_jssdk_signature(DOC_TICKET, DOC_NONCE, DOC_TS, NULL, buf, sizeof buf, &len),
                 WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_jssdk_signature(DOC_TICKET, DOC_NONCE, DOC_TS, DOC_URL, buf, sizeof buf, NULL),
                 WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_jssdk_signature(DOC_TICKET, DOC_NONCE, DOC_TS, DOC_URL, NULL, 8, &len),
                 WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_jssdk_signature(DOC_TICKET, "n\xff", DOC_TS, DOC_URL, buf, sizeof buf, &len),
                 WXTOKEN_INVALID_UTF8);
    CHECK(strstr(t_last_error(), "'noncestr' is not valid UTF-8") != NULL, "%s", t_last_error());
}

static void cold_start(char *ticket, size_t cap)
{
    static struct worker workers[THREADS];
    pthread_t tids[THREADS];
    char title[96];
    snprintf(title, sizeof title, "%d threads get the jsapi ticket at cold start", THREADS);
    t_section(title);
    /* The runner starts this program once per linkage against one simulator:
     * counts are taken as differences. */
    long fetches = t_fetches(APP), calls = ticket_calls(APP, "jsapi");
    CHECK(fetches >= 0 && calls >= 0, "the simulator's stats: %ld, %ld", fetches, calls);
    pthread_barrier_init(&start, NULL, THREADS);
    int started = 0;
    for (int i = 0; i < THREADS; i++) {
        if (pthread_create(&tids[i], NULL, getter, &workers[i]) != 0) {
            break;
        }
        started++;
    }
    CHECK(started == THREADS, "started %d threads", started);
    for (int i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
    }
    pthread_barrier_destroy(&start);
    int same = 0;
    for (int i = 0; i < started; i++) {
        CHECK(workers[i].status == WXTOKEN_OK, "thread %d: %s", i, wxtoken_status_name((int)workers[i].status));
        CHECK(workers[i].len_ok, "thread %d: the length matches the text", i);
        same += workers[i].status == WXTOKEN_OK && strcmp(workers[i].ticket, workers[0].ticket) == 0;
    }
    CHECK(same == THREADS, "all threads got the same ticket (%d of %d)", same, THREADS);
    CHECK(strlen(workers[0].ticket) >= 16, "a ticket: '%s'", workers[0].ticket);
    CHECK(t_fetches(APP) - fetches == 1, "exactly one token fetch, got %ld", t_fetches(APP) - fetches);
    CHECK(ticket_calls(APP, "jsapi") - calls == 1, "exactly one jsapi ticket call, got %ld",
          ticket_calls(APP, "jsapi") - calls);
    snprintf(ticket, cap, "%s", workers[0].ticket);

    char token[1024];
    size_t len = 0;
    CHECK_STATUS(wxtoken_get(APP, token, sizeof token, &len), WXTOKEN_OK);
    CHECK(strcmp(token, ticket) != 0, "the ticket is not the token");
}

static void buffers_and_kinds(const char *ticket)
{
    t_section("get_ticket: tiny buffers, size queries, unknown kinds, NULL arguments");
    char buf[512];
    size_t tlen = strlen(ticket), len = 0;
    long calls = ticket_calls(APP, "jsapi"), cards = ticket_calls(APP, "wx_card");
    memset(buf, 'x', sizeof buf);
    CHECK_STATUS(wxtoken_get_ticket(APP, "jsapi", buf, tlen, &len), WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(len == tlen && buf[0] == '\0' && buf[1] == 'x', "len %zu (want %zu), buf[0] %d", len, tlen,
          buf[0]);
    CHECK(strstr(t_last_error(), "ticket") != NULL, "the message names the ticket: %s", t_last_error());
    len = 0;
    CHECK_STATUS(wxtoken_get_ticket(APP, "jsapi", NULL, 0, &len), WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(len == tlen, "size query: %zu, want %zu", len, tlen);
    CHECK_STATUS(wxtoken_get_ticket(APP, "jsapi", buf, tlen + 1, &len), WXTOKEN_OK);
    CHECK(strcmp(buf, ticket) == 0, "an exact fit copies the ticket");
    CHECK(ticket_calls(APP, "jsapi") == calls, "no more ticket calls: %ld",
          ticket_calls(APP, "jsapi") - calls);

    CHECK_STATUS(wxtoken_get_ticket(APP, "JSAPI", buf, sizeof buf, &len), WXTOKEN_INVALID_ARGUMENT);
    CHECK(strstr(t_last_error(), "unknown ticket kind 'JSAPI'") != NULL, "%s", t_last_error());
    CHECK_STATUS(wxtoken_get_ticket(APP, "", buf, sizeof buf, &len), WXTOKEN_INVALID_ARGUMENT);
    CHECK_STATUS(wxtoken_get_ticket(APP, "agent_config", buf, sizeof buf, &len),
                 WXTOKEN_INVALID_ARGUMENT);
    CHECK(strstr(t_last_error(), "WeCom") != NULL, "an Official Account has no agent_config: %s",
          t_last_error());
    CHECK_STATUS(wxtoken_get_ticket(APP, "jsapi\xff", buf, sizeof buf, &len), WXTOKEN_INVALID_UTF8);
    CHECK_STATUS(wxtoken_get_ticket(NULL, "jsapi", buf, sizeof buf, &len), WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_get_ticket(APP, NULL, buf, sizeof buf, &len), WXTOKEN_NULL_POINTER);
    CHECK(strstr(t_last_error(), "'kind' is NULL") != NULL, "%s", t_last_error());
    CHECK_STATUS(wxtoken_get_ticket(APP, "jsapi", buf, sizeof buf, NULL), WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_get_ticket(APP, "jsapi", NULL, 16, &len), WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_get_ticket("wxc-nobody", "jsapi", buf, sizeof buf, &len),
                 WXTOKEN_NOT_CONFIGURED);

    t_section("the wx_card ticket is a kind of its own");
    CHECK_STATUS(wxtoken_get_ticket(APP, "wx_card", buf, sizeof buf, &len), WXTOKEN_OK);
    CHECK(strcmp(buf, ticket) != 0 && len == strlen(buf), "a different ticket");
    CHECK(ticket_calls(APP, "wx_card") - cards == 1, "one wx_card call: %ld",
          ticket_calls(APP, "wx_card") - cards);
}

static void invalidation(char *ticket, size_t cap)
{
    t_section("invalidate_ticket: one refresh, in place; a stale report costs nothing");
    char buf[512];
    size_t len = 0;
    long before = ticket_calls(APP, "jsapi");
    snprintf(buf, sizeof buf, "%s", ticket);
    CHECK_STATUS(wxtoken_invalidate_ticket(APP, "jsapi", buf, buf, sizeof buf, &len), WXTOKEN_OK);
    CHECK(len == strlen(buf) && len >= 16, "a ticket, written in place (%zu)", len);
    CHECK(ticket_calls(APP, "jsapi") == before + 1, "one more ticket call: %ld",
          ticket_calls(APP, "jsapi") - before);
    char fresh[512];
    CHECK_STATUS(wxtoken_get_ticket(APP, "jsapi", fresh, sizeof fresh, &len), WXTOKEN_OK);
    CHECK(strcmp(fresh, buf) == 0, "get_ticket returns the one invalidate_ticket gave");
    /* The platform hands out the same ticket while it is far from expiry: a
     * re-fetch may well return the reported text again. */
    CHECK_STATUS(wxtoken_invalidate_ticket(APP, "jsapi", "a-ticket-long-replaced", fresh, sizeof fresh, &len),
                 WXTOKEN_OK);
    CHECK(strcmp(fresh, buf) == 0, "a stale ticket: the current one comes back");
    CHECK(ticket_calls(APP, "jsapi") == before + 1, "no upstream call for it");
    snprintf(ticket, cap, "%s", buf);

    CHECK_STATUS(wxtoken_invalidate_ticket(APP, "jsapi", "", buf, sizeof buf, &len),
                 WXTOKEN_INVALID_ARGUMENT);
    CHECK_STATUS(wxtoken_invalidate_ticket(APP, "jsapi", NULL, buf, sizeof buf, &len),
                 WXTOKEN_NULL_POINTER);
    CHECK(strstr(t_last_error(), "'bad_ticket' is NULL") != NULL, "%s", t_last_error());
    CHECK_STATUS(wxtoken_invalidate_ticket(APP, "nope", "t", buf, sizeof buf, &len),
                 WXTOKEN_INVALID_ARGUMENT);
    CHECK(strstr(t_last_error(), "unknown ticket kind 'nope'") != NULL, "%s", t_last_error());
    CHECK_STATUS(wxtoken_invalidate_ticket(APP, "jsapi", "t", buf, sizeof buf, NULL),
                 WXTOKEN_NULL_POINTER);
    len = 0;
    CHECK_STATUS(wxtoken_invalidate_ticket(APP, "jsapi", "not-the-ticket", buf, 2, &len),
                 WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(len == strlen(ticket) && buf[0] == '\0', "len %zu", len);
}

/* The value of `"key":"` in a JSON text, copied into out. */
static int json_str(const char *json, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *at = strstr(json, pat);
    if (at == NULL) {
        return 0;
    }
    at += strlen(pat);
    size_t n = strcspn(at, "\"");
    if (n >= cap) {
        return 0;
    }
    memcpy(out, at, n);
    out[n] = '\0';
    return 1;
}

static void config_json(const char *ticket)
{
    t_section("jssdk_config_json: the object wx.config takes, signed with the ticket");
    const char *url = "https://example.com/page?x=1#section";
    char json[512], app_id[64], nonce[64], sig[64], want[64];
    size_t len = 0;
    CHECK_STATUS(wxtoken_jssdk_config_json(APP, url, json, sizeof json, &len), WXTOKEN_OK);
    CHECK(len == strlen(json) && json[0] == '{' && json[len - 1] == '}', "an object: %s", json);
    CHECK(json_str(json, "appId", app_id, sizeof app_id) && strcmp(app_id, APP) == 0, "appId: %s", json);
    CHECK(json_str(json, "nonceStr", nonce, sizeof nonce) && strlen(nonce) == 16, "nonceStr: %s", json);
    CHECK(json_str(json, "signature", sig, sizeof sig) && strlen(sig) == 40, "signature: %s", json);
    long ts = t_json_number(json, json + len, "timestamp");
    long now = (long)time(NULL);
    CHECK(ts > now - 60 && ts <= now + 1, "timestamp %ld, now %ld", ts, now);
    CHECK(strstr(json, ticket) == NULL, "the ticket is not in the text");
    CHECK_STATUS(wxtoken_jssdk_signature(ticket, nonce, (uint64_t)ts, "https://example.com/page?x=1", want,
                                         sizeof want, &len),
                 WXTOKEN_OK);
    CHECK(strcmp(sig, want) == 0, "the signature recomputed with the ticket: %s vs %s", sig, want);

    char other[512];
    CHECK_STATUS(wxtoken_jssdk_config_json(APP, url, other, sizeof other, &len), WXTOKEN_OK);
    CHECK(json_str(other, "nonceStr", want, sizeof want) && strcmp(want, nonce) != 0, "a fresh nonce");

    len = 0;
    memset(other, 'x', sizeof other);
    CHECK_STATUS(wxtoken_jssdk_config_json(APP, url, other, 10, &len), WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(len > 80 && other[0] == '\0' && other[1] == 'x', "len %zu", len);
    CHECK_STATUS(wxtoken_jssdk_config_json(APP, NULL, other, sizeof other, &len), WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_jssdk_config_json(NULL, url, other, sizeof other, &len), WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_jssdk_config_json(APP, url, other, sizeof other, NULL), WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_jssdk_config_json(APP, "u\xc0\x80", other, sizeof other, &len),
                 WXTOKEN_INVALID_UTF8);
    CHECK_STATUS(wxtoken_jssdk_config_json("wxc-nobody", url, other, sizeof other, &len),
                 WXTOKEN_NOT_CONFIGURED);
}

int main(void)
{
    signature();
    CHECK_STATUS(t_configure(APP, SECRET, ""), WXTOKEN_OK);
    char ticket[512];
    cold_start(ticket, sizeof ticket);
    buffers_and_kinds(ticket);
    invalidation(ticket, sizeof ticket);
    config_json(ticket);
    return t_finish();
}
