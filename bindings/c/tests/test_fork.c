/*
 * fork() after use: the child gets the cached token at once, never waits
 * for the parent's refresh thread or locks (it has neither), and refreshes
 * over its own connection. Two cases: a plain fork after a get, and a fork
 * while the parent's refresh of another app is in flight (a slow upstream).
 */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
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
    return t_finish();
}
