/*
 * Log records through the C ABI (docs/logging.md): wxtoken_set_log_callback
 * gets a refresh, a report and rejected credentials as records with their
 * event names and JSON fields, on a thread of wxtoken's own, which may call
 * wxtoken back; no record holds the secret or a token. Bad levels are
 * refused, a NULL callback removes it, and the queue of
 * wxtoken_set_log_queue drains as JSON lines with the buffer rules.
 * Replacing or removing the callback while records flow: when the call
 * returns the old callback is not running and never runs again, so its
 * userdata can be freed at once (valgrind checks); records made after a
 * switch to the queue stay in the queue.
 */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define APP "wxclog0000000001"
#define SECRET "sec-wxclog0000000001"
#define APP_WRONG "wxclog0000000002" /* configured with a wrong secret */
#define WRONG "wrong-c-secret-5ee1"
#define MAX_RECORDS 256

struct record {
    int level;
    char event[64];
    char app[64];
    char message[512];
    char fields[512];
};

struct seen {
    pthread_mutex_t lock;
    struct record records[MAX_RECORDS];
    int n;
    int on_caller_thread; /* records delivered on the main thread */
    int reentry_failed;   /* a wxtoken call from the callback failed */
    int flush_returned_true;
};

static struct seen g_seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
static pthread_t g_main;

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "(null)");
}

static void on_record(int level, const char *event, const char *app, const char *message,
                      const char *fields_json, void *userdata)
{
    struct seen *s = userdata;
    /* Calling wxtoken from the callback is allowed: status, and a flush,
     * which must not wait for this very callback. */
    char status[4096];
    size_t len = 0;
    int reentry_ok = app[0] == '\0' ||
                     wxtoken_status_json(app, status, sizeof status, &len) == WXTOKEN_OK;
    int flushed = wxtoken_log_flush(1000);
    pthread_mutex_lock(&s->lock);
    if (pthread_equal(pthread_self(), g_main)) {
        s->on_caller_thread++;
    }
    s->reentry_failed += !reentry_ok;
    s->flush_returned_true += flushed;
    if (s->n < MAX_RECORDS) {
        struct record *r = &s->records[s->n++];
        r->level = level;
        copy(r->event, sizeof r->event, event);
        copy(r->app, sizeof r->app, app);
        copy(r->message, sizeof r->message, message);
        copy(r->fields, sizeof r->fields, fields_json);
    }
    pthread_mutex_unlock(&s->lock);
}

/* The first record of `event` about `app` (copied), or 0 if none. */
static int find(const char *app, const char *event, struct record *out)
{
    int found = 0;
    pthread_mutex_lock(&g_seen.lock);
    for (int i = 0; i < g_seen.n && !found; i++) {
        if (strcmp(g_seen.records[i].event, event) == 0 && strcmp(g_seen.records[i].app, app) == 0) {
            *out = g_seen.records[i];
            found = 1;
        }
    }
    pthread_mutex_unlock(&g_seen.lock);
    return found;
}

static int count(void)
{
    pthread_mutex_lock(&g_seen.lock);
    int n = g_seen.n;
    pthread_mutex_unlock(&g_seen.lock);
    return n;
}

/* How many records hold `needle` anywhere. */
static int holding(const char *needle)
{
    int n = 0;
    pthread_mutex_lock(&g_seen.lock);
    for (int i = 0; i < g_seen.n; i++) {
        const struct record *r = &g_seen.records[i];
        n += strstr(r->message, needle) != NULL || strstr(r->fields, needle) != NULL ||
             strstr(r->app, needle) != NULL;
    }
    pthread_mutex_unlock(&g_seen.lock);
    return n;
}


/* ---- replacing the callback while records flow ---- */

#define ROUNDS 24

struct payload {
    atomic_int calls;
    char pad[240]; /* a block of its own, so valgrind sees a late touch */
};

/* userdata: static (never freed), pointing at a payload freed on retirement. */
struct slot {
    struct payload *payload;
    atomic_int in_call;
    atomic_int retired;
};

static struct slot g_slots[ROUNDS];
static atomic_int g_late;     /* calls of a callback after its replacement returned */
static atomic_int g_stop_flow;

static void on_flow(int level, const char *event, const char *app, const char *message,
                    const char *fields_json, void *userdata)
{
    (void)level, (void)event, (void)app, (void)message, (void)fields_json;
    struct slot *s = userdata;
    atomic_fetch_add(&s->in_call, 1);
    if (atomic_load(&s->retired)) {
        atomic_fetch_add(&g_late, 1);
    } else {
        atomic_fetch_add(&s->payload->calls, 1);
        struct timespec t = {0, 200 * 1000}; /* the dispatcher is often inside */
        nanosleep(&t, NULL);
        atomic_fetch_add(&s->payload->calls, 0); /* touched again, after the pause */
    }
    atomic_fetch_sub(&s->in_call, 1);
}

/* Configuring with other settings: an app_reconfigured record, no upstream call. */
static void *flow(void *arg)
{
    (void)arg;
    char extra[64];
    for (int i = 0; !atomic_load(&g_stop_flow); i++) {
        snprintf(extra, sizeof extra, "\"refresh_margin_s\":%d", 100 + i % 2);
        t_configure(APP, SECRET, extra);
        struct timespec t = {0, 300 * 1000};
        nanosleep(&t, NULL);
    }
    return NULL;
}

/* Waits (up to 10 s) until slot i's callback has been called. */
static int called(int i)
{
    for (int ms = 0; ms < 10000; ms++) {
        if (atomic_load(&g_slots[i].payload->calls) > 0) return 1;
        struct timespec t = {0, 1000 * 1000};
        nanosleep(&t, NULL);
    }
    return 0;
}

/* The setter that replaced slot i returned: the old callback must be done. */
static void retire(int i)
{
    CHECK(atomic_load(&g_slots[i].in_call) == 0, "callback %d still running after its replacement", i);
    atomic_store(&g_slots[i].retired, 1);
    free(g_slots[i].payload);
    g_slots[i].payload = NULL;
}

int main(void)
{
    g_main = pthread_self();
    char token[1024], second[1024];
    size_t len = 0;
    struct record r;

    t_section("levels outside 0..4 are refused");
    CHECK_STATUS(wxtoken_set_log_callback(9, on_record, &g_seen), WXTOKEN_INVALID_ARGUMENT);
    CHECK_STATUS(wxtoken_set_log_callback(-1, on_record, &g_seen), WXTOKEN_INVALID_ARGUMENT);
    CHECK_STATUS(wxtoken_set_log_queue(5), WXTOKEN_INVALID_ARGUMENT);
    CHECK(strstr(t_last_error(), "log level") != NULL, "%s", t_last_error());

    t_section("a refresh and a report are records with their fields");
    CHECK_STATUS(wxtoken_set_log_callback(WXTOKEN_LOG_DEBUG, on_record, &g_seen), WXTOKEN_OK);
    CHECK_STATUS(t_configure(APP, SECRET, ""), WXTOKEN_OK);
    CHECK_STATUS(wxtoken_get(APP, token, sizeof token, &len), WXTOKEN_OK);
    CHECK_STATUS(wxtoken_invalidate(APP, token, second, sizeof second, &len), WXTOKEN_OK);
    CHECK(wxtoken_log_flush(5000), "every record delivered within 5 s");
    CHECK(find(APP, "token_refreshed", &r), "a token_refreshed record (%d records)", count());
    CHECK(r.level == WXTOKEN_LOG_INFO, "level %d", r.level);
    CHECK(strstr(r.fields, "\"generation\":1") && strstr(r.fields, "\"expires_in_s\":") &&
              strstr(r.fields, "\"duration_ms\":"),
          "fields %s", r.fields);
    CHECK(strstr(r.message, "fetched generation 1") != NULL, "message %s", r.message);
    CHECK(find(APP, "token_invalidated", &r), "a token_invalidated record");
    CHECK(strstr(r.fields, "\"generation\":1") != NULL, "fields %s", r.fields);

    t_section("rejected credentials: an error record with the errcode");
    CHECK_STATUS(t_configure(APP_WRONG, WRONG, "\"name\":\"clog-wrong\""), WXTOKEN_OK);
    CHECK_STATUS(wxtoken_get("clog-wrong", token + 512, 512, &len), WXTOKEN_CREDENTIALS_REJECTED);
    CHECK(wxtoken_log_flush(5000), "delivered");
    CHECK(find("clog-wrong", "credentials_rejected", &r), "a credentials_rejected record");
    CHECK(r.level == WXTOKEN_LOG_ERROR, "level %d", r.level);
    CHECK(strstr(r.fields, "\"errcode\":40125") != NULL, "fields %s", r.fields);
    CHECK(find("clog-wrong", "refresh_failed", &r) && r.level == WXTOKEN_LOG_WARN,
          "a refresh_failed warning");
    char status[4096];
    CHECK_STATUS(wxtoken_status_json("clog-wrong", status, sizeof status, &len), WXTOKEN_OK);
    CHECK(strstr(status, "\"credentials_rejections\":1") && strstr(status, "\"failures_in_row\":1"),
          "counted in status: %s", status);

    t_section("the callback's thread: wxtoken's own, may call wxtoken");
    pthread_mutex_lock(&g_seen.lock);
    int on_caller = g_seen.on_caller_thread, reentry = g_seen.reentry_failed,
        flush_true = g_seen.flush_returned_true;
    pthread_mutex_unlock(&g_seen.lock);
    CHECK(on_caller == 0, "%d records on the caller's thread", on_caller);
    CHECK(reentry == 0, "%d wxtoken calls from the callback failed", reentry);
    CHECK(flush_true == 0, "a flush inside the callback returned true %d times", flush_true);

    t_section("no record holds the secret or a token");
    CHECK(holding(SECRET) == 0 && holding(WRONG) == 0, "a secret in a record");
    CHECK(holding(token) == 0 && holding(second) == 0, "a token in a record");

    t_section("a NULL callback removes it");
    int before = count();
    CHECK_STATUS(wxtoken_set_log_callback(WXTOKEN_LOG_DEBUG, NULL, NULL), WXTOKEN_OK);
    CHECK_STATUS(wxtoken_invalidate(APP, second, token, sizeof token, &len), WXTOKEN_OK);
    CHECK(wxtoken_log_flush(1000) && count() == before, "%d records after removal", count() - before);

    t_section("the queue drains as JSON lines");
    CHECK_STATUS(wxtoken_set_log_queue(WXTOKEN_LOG_INFO), WXTOKEN_OK);
    CHECK_STATUS(wxtoken_invalidate(APP, token, second, sizeof second, &len), WXTOKEN_OK);
    char tiny[8];
    len = 0;
    CHECK_STATUS(wxtoken_log_drain(tiny, sizeof tiny, &len), WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(len > sizeof tiny && tiny[0] == '\0', "len %zu", len);
    CHECK_STATUS(wxtoken_log_drain(NULL, 8, &len), WXTOKEN_NULL_POINTER);
    static char lines[1 << 16];
    CHECK_STATUS(wxtoken_log_drain(lines, sizeof lines, &len), WXTOKEN_OK);
    CHECK(len == strlen(lines) && len > 0 && lines[len - 1] == '\n', "len %zu", len);
    CHECK(strstr(lines, "{\"") == lines && strstr(lines, "\"event\":\"token_refreshed\"") &&
              strstr(lines, "\"ts\":\"20") && strstr(lines, "\"level\":\"info\""),
          "lines: %s", lines);
    CHECK(strstr(lines, SECRET) == NULL && strstr(lines, second) == NULL && strstr(lines, token) == NULL,
          "a secret or token in %s", lines);
    CHECK_STATUS(wxtoken_log_drain(lines, sizeof lines, &len), WXTOKEN_OK);
    CHECK(len == 0 && lines[0] == '\0', "empty after draining: %zu", len);

    t_section("replaced or removed while records flow: the old callback is done at return");
    pthread_t maker;
    CHECK(pthread_create(&maker, NULL, flow, NULL) == 0, "thread");
    int live = -1; /* the slot whose callback is set, -1: none */
    for (int i = 0; i < ROUNDS; i++) {
        g_slots[i].payload = calloc(1, sizeof *g_slots[i].payload);
        CHECK_STATUS(wxtoken_set_log_callback(WXTOKEN_LOG_DEBUG, on_flow, &g_slots[i]), WXTOKEN_OK);
        if (live >= 0) retire(live);
        live = i;
        CHECK(called(i), "callback %d never called", i);
        if (i % 4 == 3) { /* removed instead of replaced */
            CHECK_STATUS(wxtoken_set_log_callback(WXTOKEN_LOG_DEBUG, NULL, NULL), WXTOKEN_OK);
            retire(i);
            live = -1;
        }
    }
    /* And replaced by the queue: records made after it returns are the queue's. */
    CHECK_STATUS(wxtoken_set_log_queue(WXTOKEN_LOG_INFO), WXTOKEN_OK);
    if (live >= 0) retire(live);
    atomic_store(&g_stop_flow, 1);
    pthread_join(maker, NULL);
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    CHECK(atomic_load(&g_late) == 0, "%d calls of a callback after its replacement returned",
          atomic_load(&g_late));
    CHECK_STATUS(wxtoken_log_drain(lines, sizeof lines, &len), WXTOKEN_OK);
    while (len > 0) { /* what the maker queued: gone */
        CHECK_STATUS(wxtoken_log_drain(lines, sizeof lines, &len), WXTOKEN_OK);
    }
    CHECK_STATUS(t_configure(APP, SECRET, "\"refresh_margin_s\":150"), WXTOKEN_OK);
    /* Past the dispatcher's 500 ms poll: it must leave the record queued. */
    struct timespec poll = {0, 700 * 1000 * 1000};
    nanosleep(&poll, NULL);
    CHECK_STATUS(wxtoken_log_drain(lines, sizeof lines, &len), WXTOKEN_OK);
    CHECK(strstr(lines, "\"event\":\"app_reconfigured\"") != NULL,
          "the record made after the switch to the queue: '%s'", lines);
    CHECK_STATUS(wxtoken_set_log_queue(WXTOKEN_LOG_OFF), WXTOKEN_OK);
    return t_finish();
}
