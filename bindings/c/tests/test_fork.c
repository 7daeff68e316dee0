/*
 * fork() after use: the child gets the cached token at once, never waits
 * for the parent's refresh thread or locks (it has neither), and refreshes
 * over its own connection. Two cases: a plain fork after a get, and a fork
 * while the parent's refresh of another app is in flight (a slow upstream).
 * A third: forks while the parent's log callback is delivering records (slowly)
 * and another thread keeps making them: no child hangs, and each child's own
 * records reach the callback from a log thread of its own. And the fresh
 * word a binding may read itself is not fresh in a child until its own
 * marker runs.
 */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#define APP "wxcfork000000001"
#define SLOW_APP "wxcfork000000002"

/* Runs `child` in a forked process; returns its exit status, or -1 if it
 * had to be killed after `seconds` (a hang). */
static int in_child(int (*child)(void), int seconds)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        _exit(child());
    }
    for (int waited_ms = 0; waited_ms < seconds * 1000; waited_ms += 10) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
        }
        struct timespec ten_ms = {0, 10 * 1000 * 1000};
        nanosleep(&ten_ms, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static char parent_token[1024];

/* Exit codes: 0 ok, 1 get failed, 2 lost the token, 3 invalidate failed, 4 no new token. */
static int child_keeps_and_refreshes(void)
{
    char buf[1024];
    size_t len = 0;
    if (wxtoken_get(APP, buf, sizeof buf, &len) != WXTOKEN_OK) return 1;
    if (strcmp(buf, parent_token) != 0) return 2;
    if (wxtoken_invalidate(APP, parent_token, buf, sizeof buf, &len) != WXTOKEN_OK) return 3;
    return strcmp(buf, parent_token) != 0 ? 0 : 4;
}

static void *slow_get(void *arg)
{
    char buf[1024];
    size_t len = 0;
    *(wxtoken_status *)arg = wxtoken_get(SLOW_APP, buf, sizeof buf, &len);
    return NULL;
}

/* The parent's flight for SLOW_APP is stuck in a 3 s fetch; the child must
 * start its own (the fault served its one slow answer already). */
static int child_refreshes_despite_parent_flight(void)
{
    char buf[1024];
    size_t len = 0;
    if (wxtoken_get(SLOW_APP, buf, sizeof buf, &len) != WXTOKEN_OK) return 1;
    return t_token_errcode_at(t_base(), buf) == 0 ? 0 : 2;
}

static atomic_int g_records;
static atomic_int g_stop;

/* A slow callback: the dispatcher is inside it most of the time. */
static void slow_record(int level, const char *event, const char *app, const char *message,
                        const char *fields_json, void *userdata)
{
    (void)level, (void)app, (void)message, (void)fields_json, (void)userdata;
    if (strcmp(event, "app_reconfigured") == 0) {
        atomic_fetch_add(&g_records, 1);
    }
    struct timespec two_ms = {0, 2 * 1000 * 1000};
    nanosleep(&two_ms, NULL);
}

/* Configuring with other settings makes an app_reconfigured record, no upstream call. */
static wxtoken_status reconfigure(int margin_s)
{
    char extra[64];
    snprintf(extra, sizeof extra, "\"refresh_margin_s\":%d", margin_s);
    return t_configure(APP, "sec-" APP, extra);
}

static void *record_maker(void *arg)
{
    (void)arg;
    for (int i = 0; !atomic_load(&g_stop); i++) {
        reconfigure(100 + i % 2);
        struct timespec one_ms = {0, 1000 * 1000};
        nanosleep(&one_ms, NULL);
    }
    return NULL;
}

/* Exit codes: 0 ok, 1 configure failed, 2 not delivered, 3 not counted. */
static int child_logs_on_its_own(void)
{
    atomic_store(&g_records, 0);
    /* Margins the parent never sets: each is a change, so a record. */
    if (reconfigure(200) != WXTOKEN_OK || reconfigure(201) != WXTOKEN_OK) return 1;
    if (!wxtoken_log_flush(10000)) return 2;
    return atomic_load(&g_records) >= 2 ? 0 : 3;
}

static const uint64_t *g_word;

/* Exit codes: 0 ok, 1 the parent's word is still fresh here, 2 an epoch
 * before the child's marker ran, 3 get failed or lost the token. */
static int child_finds_no_fresh_word(void)
{
    /* First act: a binding reading the word itself (PHP) must not trust
     * what it kept in the parent until the child's own marker runs. */
    if (__atomic_load_n(g_word, __ATOMIC_ACQUIRE) & 1) return 1;
    if (wxtoken_fresh_epoch(APP) != 0) return 2;
    char buf[1024];
    size_t len = 0;
    if (wxtoken_get(APP, buf, sizeof buf, &len) != WXTOKEN_OK) return 3;
    return strcmp(buf, parent_token) == 0 ? 0 : 3;
}

int main(void)
{
    t_section("fork after use: the child keeps the token and refreshes on its own");
    /* The runner runs this program twice (shared, static) on one simulator: count deltas. */
    long before = t_fetches(APP), slow_before = t_fetches(SLOW_APP);
    CHECK(t_configure(APP, "sec-" APP, "") == WXTOKEN_OK, "configure: %s", t_last_error());
    size_t len = 0;
    CHECK(wxtoken_get(APP, parent_token, sizeof parent_token, &len) == WXTOKEN_OK, "get: %s",
          t_last_error());
    CHECK(t_fetches(APP) - before == 1, "one fetch before the fork");
    int rc = in_child(child_keeps_and_refreshes, 15);
    CHECK(rc == 0, "child exit %d (-1: hung)", rc);
    CHECK(t_fetches(APP) - before == 2, "the child's own refresh: %ld fetches",
          t_fetches(APP) - before);
    char buf[1024];
    CHECK(wxtoken_get(APP, buf, sizeof buf, &len) == WXTOKEN_OK && strcmp(buf, parent_token) == 0,
          "the parent still holds its token (memory store: not shared)");

    t_section("fork with the parent's fresh word armed: the child's copy is cleared");
    g_word = wxtoken_fresh_word(APP);
    CHECK(g_word != NULL, "the word of a configured app");
    CHECK(t_armed_epoch(APP) != 0 && (__atomic_load_n(g_word, __ATOMIC_ACQUIRE) & 1),
          "the parent's word is armed");
    rc = in_child(child_finds_no_fresh_word, 15);
    CHECK(rc == 0, "child exit %d (-1: hung)", rc);
    CHECK(__atomic_load_n(g_word, __ATOMIC_ACQUIRE) & 1, "the parent's word stays armed");

    t_section("fork while the parent's refresh is in flight");
    CHECK(t_configure(SLOW_APP, "sec-" SLOW_APP, "\"wait_ms\":8000") == WXTOKEN_OK, "configure");
    CHECK(t_fault("slow", 1, 3000) == 0, "slow fault");
    wxtoken_status parent_status = WXTOKEN_PANIC;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, slow_get, &parent_status) == 0, "thread");
    while (t_fetches(SLOW_APP) - slow_before < 1) {
        struct timespec five_ms = {0, 5 * 1000 * 1000};
        nanosleep(&five_ms, NULL);
    }
    rc = in_child(child_refreshes_despite_parent_flight, 15);
    CHECK(rc == 0, "child exit %d (-1: hung waiting for the parent's flight)", rc);
    CHECK(pthread_join(t, NULL) == 0, "join");
    CHECK(parent_status == WXTOKEN_OK, "the parent's slow get: %s", wxtoken_status_name(parent_status));
    CHECK(t_fetches(SLOW_APP) - slow_before == 2,
          "one slow fetch in the parent, one in the child: %ld", t_fetches(SLOW_APP) - slow_before);
    t_fault("none", 0, 0);

    t_section("fork while the log callback delivers and records keep coming");
    CHECK_STATUS(wxtoken_set_log_callback(WXTOKEN_LOG_INFO, slow_record, NULL), WXTOKEN_OK);
    pthread_t maker;
    CHECK(pthread_create(&maker, NULL, record_maker, NULL) == 0, "thread");
    int hung = 0, bad = 0;
    for (int i = 0; i < 20; i++) {
        rc = in_child(child_logs_on_its_own, 15);
        hung += rc == -1;
        bad += rc != 0 && rc != -1;
        if (rc != 0) {
            printf("child %d exit %d\n", i, rc);
        }
    }
    atomic_store(&g_stop, 1);
    CHECK(pthread_join(maker, NULL) == 0, "join");
    CHECK(hung == 0, "%d of 20 children hung", hung);
    CHECK(bad == 0, "%d of 20 children lost their records", bad);
    CHECK(wxtoken_log_flush(10000) && atomic_load(&g_records) > 0, "the parent's records: %d",
          atomic_load(&g_records));
    CHECK_STATUS(wxtoken_set_log_callback(WXTOKEN_LOG_OFF, NULL, NULL), WXTOKEN_OK);
    return t_finish();
}
