/*
 * The C API's contract, one thread at a time: statuses, NULLs, UTF-8,
 * buffers, the per-thread last error, invalidate, status JSON, and the
 * environment fallback. Upstream fetches are counted by the simulator.
 */
#include "harness.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define APP "wxcapi00000000001"
#define SECRET "sec-wxcapi00000000001"
#define ENV_APP "wxcapi00000000002"
#define ENV_SECRET "sec-wxcapi00000000002"
#define REJECTED_APP "wxcapi00000000003"

static const char BAD_UTF8[] = {'w', 'x', (char)0xc3, (char)0x28, '\0'};

static void static_strings(void)
{
    t_section("version, status names, bad-token errcodes");
    const char *v = wxtoken_version();
    CHECK(v != NULL && strchr(v, '.') != NULL, "version %s", v ? v : "(null)");
    CHECK(strcmp(wxtoken_status_name(WXTOKEN_OK), "WXTOKEN_OK") == 0, "name of OK");
    CHECK(strcmp(wxtoken_status_name(WXTOKEN_TIMEOUT), "WXTOKEN_TIMEOUT") == 0, "name of 6");
    CHECK(strcmp(wxtoken_status_name(WXTOKEN_PANIC), "WXTOKEN_PANIC") == 0, "name of 14");
    CHECK(strcmp(wxtoken_status_name(15), "WXTOKEN_UNKNOWN") == 0, "name of 15");
    CHECK(strcmp(wxtoken_status_name(-3), "WXTOKEN_UNKNOWN") == 0, "name of -3");
    for (int s = WXTOKEN_OK; s <= WXTOKEN_PANIC; s++) {
        CHECK(strncmp(wxtoken_status_name(s), "WXTOKEN_", 8) == 0, "name of %d", s);
    }
    CHECK(WXTOKEN_BUFFER_TOO_SMALL == 13 && WXTOKEN_NOT_CONFIGURED == 9, "fixed numbers");
    CHECK(wxtoken_is_bad_token_errcode(40001), "40001");
    CHECK(wxtoken_is_bad_token_errcode(40014), "40014");
    CHECK(wxtoken_is_bad_token_errcode(42001), "42001");
    CHECK(!wxtoken_is_bad_token_errcode(40125), "40125");
    CHECK(!wxtoken_is_bad_token_errcode(0), "0");
    CHECK(wxtoken_is_bad_token_errcode_str("40001"), "\"40001\"");
    CHECK(wxtoken_is_bad_token_errcode_str("42001"), "\"42001\"");
    CHECK(!wxtoken_is_bad_token_errcode_str("40125"), "\"40125\"");
    CHECK(!wxtoken_is_bad_token_errcode_str(" 40001"), "\" 40001\"");
    CHECK(!wxtoken_is_bad_token_errcode_str("40001.0"), "\"40001.0\"");
    CHECK(!wxtoken_is_bad_token_errcode_str(NULL), "NULL");
}

static void configure_errors(void)
{
    t_section("configure: NULL, UTF-8, options");
    char msg[1024];
    CHECK_STATUS(wxtoken_configure(NULL, SECRET, NULL), WXTOKEN_NULL_POINTER);
    wxtoken_last_error(msg, sizeof msg);
    CHECK(strcmp(msg, "invalid argument: argument 'appid' is NULL") == 0, "message: %s", msg);
    CHECK_STATUS(wxtoken_configure(APP, NULL, NULL), WXTOKEN_NULL_POINTER);
    wxtoken_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "'secret' is NULL") != NULL, "message: %s", msg);
    CHECK_STATUS(wxtoken_configure(BAD_UTF8, SECRET, NULL), WXTOKEN_INVALID_UTF8);
    wxtoken_last_error(msg, sizeof msg);
    CHECK(strcmp(msg, "invalid argument: argument 'appid' is not valid UTF-8") == 0, "message: %s",
          msg);
    CHECK_STATUS(wxtoken_configure(APP, BAD_UTF8, NULL), WXTOKEN_INVALID_UTF8);
    CHECK_STATUS(wxtoken_configure(APP, SECRET, BAD_UTF8), WXTOKEN_INVALID_UTF8);
    wxtoken_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "'options_json'") != NULL, "message: %s", msg);

    CHECK_STATUS(wxtoken_configure(APP, SECRET, "{\"store\":\"memory\",\"colour\":\"red\"}"),
                 WXTOKEN_INVALID_ARGUMENT);
    wxtoken_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "unknown option 'colour'") != NULL, "message: %s", msg);
    CHECK(wxtoken_last_errcode() == 0, "errcode of a local failure");
    CHECK_STATUS(wxtoken_configure(APP, SECRET, "{\"store\":\"memory\","), WXTOKEN_INVALID_ARGUMENT);
    wxtoken_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "not valid JSON") != NULL, "message: %s", msg);
    CHECK_STATUS(wxtoken_configure(APP, SECRET, "[1,2]"), WXTOKEN_INVALID_ARGUMENT);
    CHECK_STATUS(wxtoken_configure(APP, SECRET, "{\"wait_ms\":\"soon\"}"), WXTOKEN_INVALID_ARGUMENT);
    CHECK_STATUS(wxtoken_configure(APP, SECRET, "{\"timeout_ms\":true}"), WXTOKEN_INVALID_ARGUMENT);
    CHECK_STATUS(wxtoken_configure(APP, SECRET, "{\"secret\":\"x\"}"), WXTOKEN_INVALID_ARGUMENT);
    CHECK_STATUS(wxtoken_configure(APP, SECRET, "{\"api_base\":\"http://192.0.2.1\"}"),
                 WXTOKEN_INVALID_ARGUMENT);
    wxtoken_last_error(msg, sizeof msg);
    CHECK(strstr(msg, SECRET) == NULL, "the secret is in no message: %s", msg);

    /* "" takes appid and secret from the environment; with none set, it is an error. */
    unsetenv("WXTOKEN_APPID");
    unsetenv("WXTOKEN_SECRET");
    unsetenv("WXTOKEN_SECRET_FILE");
    CHECK_STATUS(t_configure("", "", ""), WXTOKEN_INVALID_ARGUMENT);
    wxtoken_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "appid is empty") != NULL, "message: %s", msg);
}

static void get_errors(void)
{
    t_section("get: NULL, UTF-8, empty, not configured");
    char buf[1024];
    size_t len = 12345;
    long before = t_fetches(APP);
    CHECK_STATUS(t_configure(APP, SECRET, ""), WXTOKEN_OK);
    CHECK_STATUS(wxtoken_get(NULL, buf, sizeof buf, &len), WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_get(APP, buf, sizeof buf, NULL), WXTOKEN_NULL_POINTER);
    CHECK(strcmp(t_last_error(), "invalid argument: argument 'len' is NULL") == 0, "%s",
          t_last_error());
    CHECK_STATUS(wxtoken_get(APP, NULL, sizeof buf, &len), WXTOKEN_NULL_POINTER);
    CHECK(strcmp(t_last_error(), "invalid argument: argument 'buf' is NULL") == 0, "%s",
          t_last_error());
    CHECK(len == 12345, "len untouched by argument errors, got %zu", len);
    CHECK_STATUS(wxtoken_get(BAD_UTF8, buf, sizeof buf, &len), WXTOKEN_INVALID_UTF8);
    CHECK_STATUS(wxtoken_get("", buf, sizeof buf, &len), WXTOKEN_INVALID_ARGUMENT);
    CHECK_STATUS(wxtoken_get("wxnobody", buf, sizeof buf, &len), WXTOKEN_NOT_CONFIGURED);
    CHECK(strstr(t_last_error(), "'wxnobody' is not configured") != NULL, "%s", t_last_error());
    CHECK(t_fetches(APP) == before, "argument errors fetch nothing");

    t_section("invalidate and status_json: NULL, UTF-8, empty");
    CHECK_STATUS(wxtoken_invalidate(NULL, "t", buf, sizeof buf, &len), WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_invalidate(APP, NULL, buf, sizeof buf, &len), WXTOKEN_NULL_POINTER);
    CHECK(strstr(t_last_error(), "'bad_token' is NULL") != NULL, "%s", t_last_error());
    CHECK_STATUS(wxtoken_invalidate(APP, "t", NULL, 8, &len), WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_invalidate(APP, "t", buf, sizeof buf, NULL), WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_invalidate(APP, BAD_UTF8, buf, sizeof buf, &len), WXTOKEN_INVALID_UTF8);
    CHECK_STATUS(wxtoken_invalidate(APP, "", buf, sizeof buf, &len), WXTOKEN_INVALID_ARGUMENT);
    CHECK_STATUS(wxtoken_invalidate("wxnobody", "t", buf, sizeof buf, &len),
                 WXTOKEN_NOT_CONFIGURED);
    CHECK_STATUS(wxtoken_status_json(NULL, buf, sizeof buf, &len), WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_status_json(APP, NULL, 1, &len), WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_status_json(APP, buf, sizeof buf, NULL), WXTOKEN_NULL_POINTER);
    CHECK_STATUS(wxtoken_status_json(BAD_UTF8, buf, sizeof buf, &len), WXTOKEN_INVALID_UTF8);
    CHECK_STATUS(wxtoken_status_json("wxnobody", buf, sizeof buf, &len), WXTOKEN_NOT_CONFIGURED);
    CHECK(t_fetches(APP) == before, "argument errors fetch nothing");
}

static void get_and_buffers(void)
{
    t_section("get: tokens, size query, a buffer one byte short");
    long before = t_fetches(APP);
    size_t len = 0;
    CHECK_STATUS(wxtoken_get(APP, NULL, 0, &len), WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(len > 0, "the size query tells the length, got %zu", len);
    CHECK(strstr(t_last_error(), "buffer too small") != NULL, "%s", t_last_error());

    char *tok = malloc(len + 1);
    char *exact = malloc(len);
    CHECK(tok != NULL && exact != NULL, "malloc");
    if (tok == NULL || exact == NULL) {
        free(tok);
        free(exact);
        return;
    }
    memset(exact, 'Z', len);
    size_t len2 = 0;
    CHECK_STATUS(wxtoken_get(APP, exact, len, &len2), WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(len2 == len, "needed length written back: %zu vs %zu", len2, len);
    CHECK(exact[0] == '\0', "buf[0] is NUL after BUFFER_TOO_SMALL");
    CHECK(len < 2 || exact[1] == 'Z', "nothing else is written");
    char one = 'Z';
    CHECK_STATUS(wxtoken_get(APP, &one, 1, &len2), WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(one == '\0', "a 1-byte buffer holds an empty string");

    CHECK_STATUS(wxtoken_get(APP, tok, len + 1, &len2), WXTOKEN_OK);
    CHECK(len2 == len && strlen(tok) == len, "token length %zu, strlen %zu", len2, strlen(tok));
    CHECK(t_token_errcode_at(t_base(), tok) == 0, "the simulator accepts the token");
    for (int i = 0; i < 100; i++) {
        char again[1024];
        size_t l = 0;
        wxtoken_status s = wxtoken_get(APP, again, sizeof again, &l);
        if (s != WXTOKEN_OK || strcmp(again, tok) != 0) {
            CHECK(0, "get #%d: %s", i, wxtoken_status_name(s));
            break;
        }
    }
    CHECK(t_fetches(APP) - before == 1, "one upstream fetch for 100+ gets, got %ld",
          t_fetches(APP) - before);

    t_section("invalidate");
    char fresh[1024];
    size_t flen = 0;
    long mid = t_fetches(APP);
    CHECK_STATUS(wxtoken_invalidate(APP, "not-the-current-token", fresh, sizeof fresh, &flen),
                 WXTOKEN_OK);
    CHECK(strcmp(fresh, tok) == 0, "a stale report returns the current token");
    CHECK(t_fetches(APP) == mid, "... with no upstream call");
    CHECK_STATUS(wxtoken_invalidate(APP, tok, fresh, sizeof fresh, &flen), WXTOKEN_OK);
    CHECK(strcmp(fresh, tok) != 0 && flen == strlen(fresh), "a new token after invalidate");
    CHECK(t_fetches(APP) - mid == 1, "one fetch, got %ld", t_fetches(APP) - mid);
    CHECK(t_token_errcode_at(t_base(), fresh) == 0, "the simulator accepts the new token");
    char small[4] = "ZZZ";
    CHECK_STATUS(wxtoken_invalidate(APP, tok, small, sizeof small, &len2),
                 WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(len2 == flen && small[0] == '\0', "needed length %zu (want %zu)", len2, flen);
    CHECK(t_fetches(APP) - mid == 1, "invalidating the old token again fetches nothing");
    CHECK_STATUS(wxtoken_get(APP, tok, len + 1, &len2), WXTOKEN_OK);
    CHECK(strcmp(tok, fresh) == 0, "get returns the new token");
    /* bad_token and buf may be one buffer: the new token replaces the bad one in place. */
    char inplace[1024];
    memcpy(inplace, fresh, flen + 1);
    long mid2 = t_fetches(APP);
    CHECK_STATUS(wxtoken_invalidate(APP, inplace, inplace, sizeof inplace, &len2), WXTOKEN_OK);
    CHECK(strcmp(inplace, fresh) != 0 && len2 == strlen(inplace), "replaced in place");
    CHECK(t_fetches(APP) - mid2 == 1, "one fetch, got %ld", t_fetches(APP) - mid2);
    free(tok);
    free(exact);

    t_section("status_json");
    size_t slen = 0;
    CHECK_STATUS(wxtoken_status_json(APP, NULL, 0, &slen), WXTOKEN_BUFFER_TOO_SMALL);
    char *json = malloc(slen + 1);
    if (json != NULL) {
        size_t got = 0;
        CHECK_STATUS(wxtoken_status_json(APP, json, slen, &got), WXTOKEN_BUFFER_TOO_SMALL);
        CHECK(got == slen && json[0] == '\0', "one byte short");
        CHECK_STATUS(wxtoken_status_json(APP, json, slen + 1, &got), WXTOKEN_OK);
        CHECK(json[0] == '{' && strlen(json) == got, "a JSON object: %s", json);
        CHECK(strstr(json, "\"appid\":\"" APP "\"") != NULL, "names the app: %s", json);
        CHECK(strstr(json, SECRET) == NULL, "never the secret: %s", json);
        CHECK(strstr(json, fresh) == NULL, "never the token");
        free(json);
    }
}

static void last_error_rules(void)
{
    t_section("last error: contents, truncation, errno-like persistence");
    char buf[64];
    size_t len;
    CHECK_STATUS(wxtoken_get("wxnobody-\xe4\xb8\xad\xe6\x96\x87", buf, sizeof buf, &len),
                 WXTOKEN_NOT_CONFIGURED);
    char full[1024];
    CHECK_STATUS(wxtoken_last_error(full, sizeof full), WXTOKEN_OK);
    CHECK(strncmp(full, "not configured: ", 16) == 0, "kind first: %s", full);
    size_t n = strlen(full);
    /* success leaves the last failure in place */
    char again[1024];
    CHECK_STATUS(wxtoken_get(APP, again, sizeof again, &len), WXTOKEN_OK);
    wxtoken_last_error(again, sizeof again);
    CHECK(strcmp(full, again) == 0, "a success keeps it: %s", again);
    /* truncation: NUL-terminated, cut at a character boundary */
    char small[20];
    memset(small, 'Z', sizeof small);
    CHECK_STATUS(wxtoken_last_error(small, sizeof small), WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(strlen(small) == sizeof small - 1 && strncmp(small, full, sizeof small - 1) == 0,
          "cut to 19 bytes: %s", small);
    const char *zhong = strstr(full, "\xe4\xb8\xad");
    if (zhong != NULL) {
        size_t at = (size_t)(zhong - full);
        char cut[1024];
        CHECK_STATUS(wxtoken_last_error(cut, at + 2), WXTOKEN_BUFFER_TOO_SMALL);
        CHECK(strlen(cut) == at, "cut before a split character: %zu vs %zu", strlen(cut), at);
    }
    CHECK_STATUS(wxtoken_last_error(NULL, 0), WXTOKEN_BUFFER_TOO_SMALL);
    CHECK_STATUS(wxtoken_last_error(NULL, 8), WXTOKEN_NULL_POINTER);
    wxtoken_last_error(again, sizeof again);
    CHECK(strcmp(full, again) == 0 && strlen(again) == n, "reading never replaces it: %s", again);
}

static void rejected_credentials(void)
{
    t_section("CREDENTIALS_REJECTED: wrong secret");
    const char *wrong = "the-wrong-secret-7f3a";
    long before = t_fetches(REJECTED_APP);
    CHECK_STATUS(t_configure(REJECTED_APP, wrong, ""), WXTOKEN_OK);
    char buf[1024];
    size_t len = 0;
    CHECK_STATUS(wxtoken_get(REJECTED_APP, buf, sizeof buf, &len), WXTOKEN_CREDENTIALS_REJECTED);
    CHECK(wxtoken_last_errcode() == 40125, "errcode %lld", (long long)wxtoken_last_errcode());
    char msg[1024];
    wxtoken_last_error(msg, sizeof msg);
    CHECK(strncmp(msg, "credentials rejected: ", 22) == 0 && strstr(msg, "(errcode 40125)"),
          "message: %s", msg);
    CHECK(strstr(msg, wrong) == NULL, "the secret is not in the message");
    /* Not retried and cooled down: the next caller gets the error at once. */
    CHECK_STATUS(wxtoken_get(REJECTED_APP, buf, sizeof buf, &len), WXTOKEN_CREDENTIALS_REJECTED);
    CHECK(t_fetches(REJECTED_APP) - before == 1, "one upstream call, got %ld",
          t_fetches(REJECTED_APP) - before);
    char json[4096];
    CHECK_STATUS(wxtoken_status_json(REJECTED_APP, json, sizeof json, &len), WXTOKEN_OK);
    CHECK(strstr(json, "credentials_rejected") != NULL, "status shows the error: %s", json);
    CHECK(strstr(json, wrong) == NULL, "status never shows the secret");
}

struct thread_result {
    const char *app;
    wxtoken_status status;
    int64_t errcode;
    char message[1024];
    char before[1024];
};

static void *fail_in_thread(void *arg)
{
    struct thread_result *r = arg;
    wxtoken_last_error(r->before, sizeof r->before);
    char buf[1024];
    size_t len;
    r->status = wxtoken_get(r->app, buf, sizeof buf, &len);
    r->errcode = wxtoken_last_errcode();
    wxtoken_last_error(r->message, sizeof r->message);
    return NULL;
}

static void per_thread_errors(void)
{
    t_section("last error is per thread");
    char buf[64];
    size_t len;
    CHECK_STATUS(wxtoken_get("wxmain-thread-app", buf, sizeof buf, &len), WXTOKEN_NOT_CONFIGURED);
    struct thread_result a = {.app = REJECTED_APP}, b = {.app = "wxother-thread-app"};
    pthread_t ta, tb;
    CHECK(pthread_create(&ta, NULL, fail_in_thread, &a) == 0, "thread a");
    CHECK(pthread_join(ta, NULL) == 0, "join a");
    CHECK(pthread_create(&tb, NULL, fail_in_thread, &b) == 0, "thread b");
    CHECK(pthread_join(tb, NULL) == 0, "join b");
    CHECK(a.before[0] == '\0' && b.before[0] == '\0', "a new thread starts with no error");
    CHECK(a.status == WXTOKEN_CREDENTIALS_REJECTED && a.errcode == 40125, "thread a: %s %lld",
          wxtoken_status_name(a.status), (long long)a.errcode);
    CHECK(strstr(a.message, "errcode 40125") != NULL, "thread a: %s", a.message);
    CHECK(b.status == WXTOKEN_NOT_CONFIGURED && b.errcode == 0, "thread b");
    CHECK(strstr(b.message, "wxother-thread-app") != NULL, "thread b: %s", b.message);
    CHECK(wxtoken_last_errcode() == 0, "main thread's errcode");
    CHECK(strstr(t_last_error(), "wxmain-thread-app") != NULL, "main keeps its own: %s",
          t_last_error());
}

static void configure_named(void)
{
    t_section("configure_named writes the name the library registered");
    char name[64];
    size_t len = 0;
    char options[512];
    snprintf(options, sizeof options, "{\"store\":\"memory\",\"api_base\":\"%s\",\"name\":\"shop-a\"}",
             t_base());
    CHECK_STATUS(wxtoken_configure_named(APP, SECRET, options, name, sizeof name, &len), WXTOKEN_OK);
    CHECK(strcmp(name, "shop-a") == 0 && len == 6, "the name option: %s", name);
    snprintf(options, sizeof options, "{\"store\":\"memory\",\"api_base\":\"%s\"}", t_base());
    CHECK_STATUS(wxtoken_configure_named(APP, SECRET, options, name, sizeof name, &len), WXTOKEN_OK);
    CHECK(strcmp(name, APP) == 0, "else the appid: %s", name);
    CHECK_STATUS(wxtoken_configure_named(APP, SECRET, options, name, 3, &len), WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(len == strlen(APP) && name[0] == '\0', "needed length written back");
    CHECK_STATUS(wxtoken_configure_named(APP, SECRET, options, name, sizeof name, NULL),
                 WXTOKEN_NULL_POINTER);
}

static void fresh_epoch(void)
{
    t_section("fresh_epoch: one number per fresh token, a new one after invalidate, 0 for bad input");
    CHECK(wxtoken_fresh_epoch(NULL) == 0, "NULL is 0");
    CHECK(wxtoken_fresh_epoch(BAD_UTF8) == 0, "bad UTF-8 is 0");
    CHECK(wxtoken_fresh_epoch("wxcapi-never-configured") == 0, "unknown is 0");
    char tok[1024], again[1024];
    size_t len = 0;
    CHECK_STATUS(wxtoken_get(APP, tok, sizeof tok, &len), WXTOKEN_OK);
    uint64_t e = t_armed_epoch(APP);
    CHECK(e != 0, "armed within 2 s");
    CHECK(wxtoken_fresh_epoch(APP) == e, "the same token, the same number");
    CHECK_STATUS(wxtoken_invalidate(APP, tok, again, sizeof again, &len), WXTOKEN_OK);
    CHECK(strcmp(again, tok) != 0, "a new token");
    uint64_t e2 = wxtoken_fresh_epoch(APP);
    CHECK(e2 != e, "a new token, another number (%llu, %llu)", (unsigned long long)e, (unsigned long long)e2);
    CHECK_STATUS(wxtoken_get(APP, tok, sizeof tok, &len), WXTOKEN_OK);
    CHECK(strcmp(again, tok) == 0, "wxtoken_get copies the new one at once");
}

static void fresh_word(void)
{
    t_section("fresh_word: epoch << 1 | 1 while fresh, one pointer for life, NULL for bad input");
    CHECK(wxtoken_fresh_word(NULL) == NULL, "NULL is NULL");
    CHECK(wxtoken_fresh_word(BAD_UTF8) == NULL, "bad UTF-8 is NULL");
    CHECK(wxtoken_fresh_word("wxcapi-never-configured") == NULL, "unknown is NULL");
    const uint64_t *word = wxtoken_fresh_word(APP);
    CHECK(word != NULL, "a configured app has a word");
    CHECK(wxtoken_fresh_word(APP) == word, "the same word every time");
    uint64_t e = t_armed_epoch(APP);
    CHECK(e != 0, "armed within 2 s");
    uint64_t w = __atomic_load_n(word, __ATOMIC_ACQUIRE);
    CHECK(w == (e << 1 | 1), "the word is the epoch, fresh (%llu, %llu)", (unsigned long long)w,
          (unsigned long long)e);
    char tok[1024], again[1024];
    size_t len = 0;
    CHECK_STATUS(wxtoken_get(APP, tok, sizeof tok, &len), WXTOKEN_OK);
    CHECK_STATUS(wxtoken_invalidate(APP, tok, again, sizeof again, &len), WXTOKEN_OK);
    CHECK(__atomic_load_n(word, __ATOMIC_ACQUIRE) != w, "a new token moves the word at once");
    CHECK_STATUS(t_configure(APP, SECRET, "\"timeout_ms\":4000"), WXTOKEN_OK);
    CHECK(wxtoken_fresh_word(APP) == word, "re-configuring keeps the word");
    CHECK_STATUS(wxtoken_get(APP, tok, sizeof tok, &len), WXTOKEN_OK);
    CHECK(strcmp(again, tok) == 0, "and the token, through the store");
    CHECK_STATUS(t_configure(APP, SECRET, ""), WXTOKEN_OK); /* as the other tests expect */
}

static void environment_fallback(void)
{
    t_section("\"\" appid and secret come from WXTOKEN_APPID / WXTOKEN_SECRET");
    setenv("WXTOKEN_APPID", ENV_APP, 1);
    setenv("WXTOKEN_SECRET", ENV_SECRET, 1);
    CHECK_STATUS(t_configure("", "", ""), WXTOKEN_OK);
    char buf[1024];
    size_t len = 0;
    CHECK_STATUS(wxtoken_get(ENV_APP, buf, sizeof buf, &len), WXTOKEN_OK);
    CHECK(t_token_errcode_at(t_base(), buf) == 0, "a working token");
    unsetenv("WXTOKEN_APPID");
    unsetenv("WXTOKEN_SECRET");
}

int main(void)
{
    static_strings();
    configure_errors();
    get_errors();
    get_and_buffers();
    last_error_rules();
    rejected_credentials();
    per_thread_errors();
    configure_named();
    fresh_epoch();
    fresh_word();
    environment_fallback();
    return t_finish();
}
