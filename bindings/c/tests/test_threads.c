/*
 * Concurrency: 32 threads released at once on a cold app each call
 * wxtoken_get WXTOKEN_TEST_ITERS times (10000 by default): the upstream sees
 * exactly one fetch and every call returns the same token. Then 32 threads
 * report that token bad at once: exactly one more fetch, one new token.
 */
#include "harness.h"

#include <pthread.h>

#define APP "wxcthr0000000001"
#define SECRET "sec-wxcthr0000000001"
#define THREADS 32

static pthread_barrier_t start;
static long iters;
static char bad_token[1024];

struct worker {
    char first[1024];
    long mismatches;
    long failures;
    wxtoken_status last_failure;
};

static void *getter(void *arg)
{
    struct worker *w = arg;
    char buf[1024];
    size_t len = 0;
    pthread_barrier_wait(&start);
    for (long i = 0; i < iters; i++) {
        wxtoken_status s = wxtoken_get(APP, buf, sizeof buf, &len);
        if (s != WXTOKEN_OK) {
            w->failures++;
            w->last_failure = s;
            continue;
        }
        if (w->first[0] == '\0') {
            memcpy(w->first, buf, len + 1);
        } else if (strcmp(w->first, buf) != 0 || strlen(buf) != len) {
            w->mismatches++;
        }
    }
    return NULL;
}

static void *invalidator(void *arg)
{
    struct worker *w = arg;
    size_t len = 0;
    pthread_barrier_wait(&start);
    wxtoken_status s = wxtoken_invalidate(APP, bad_token, w->first, sizeof w->first, &len);
    if (s != WXTOKEN_OK) {
        w->failures++;
        w->last_failure = s;
    }
    return NULL;
}

/* Runs `fn` on THREADS threads released together; returns how many agree with workers[0]. */
static int run_all(void *(*fn)(void *), struct worker *workers)
{
    pthread_t tids[THREADS];
    memset(workers, 0, sizeof(struct worker) * THREADS);
    pthread_barrier_init(&start, NULL, THREADS);
    int started = 0;
    for (int i = 0; i < THREADS; i++) {
        if (pthread_create(&tids[i], NULL, fn, &workers[i]) != 0) {
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
    for (int i = 0; i < THREADS; i++) {
        CHECK(workers[i].failures == 0, "thread %d: %ld failures, last %s", i,
              workers[i].failures, wxtoken_status_name(workers[i].last_failure));
        CHECK(workers[i].mismatches == 0, "thread %d: %ld different tokens", i,
              workers[i].mismatches);
        same += workers[0].first[0] != '\0' && strcmp(workers[i].first, workers[0].first) == 0;
    }
    return same;
}

int main(void)
{
    static struct worker workers[THREADS];
    iters = t_env_long("WXTOKEN_TEST_ITERS", 10000);
    CHECK_STATUS(t_configure(APP, SECRET, ""), WXTOKEN_OK);

    char title[128];
    snprintf(title, sizeof title, "%d threads x %ld gets at cold start", THREADS, iters);
    t_section(title);
    long before = t_fetches(APP);
    int same = run_all(getter, workers);
    CHECK(same == THREADS, "all threads got the same token (%d of %d)", same, THREADS);
    CHECK(t_fetches(APP) - before == 1, "exactly one upstream fetch, got %ld",
          t_fetches(APP) - before);
    CHECK(t_token_errcode_at(t_base(), workers[0].first) == 0, "the simulator accepts it");
    memcpy(bad_token, workers[0].first, sizeof bad_token);

    t_section("32 threads invalidate the same token at once");
    before = t_fetches(APP);
    same = run_all(invalidator, workers);
    CHECK(same == THREADS, "all threads got the same new token (%d of %d)", same, THREADS);
    CHECK(strcmp(workers[0].first, bad_token) != 0, "it is a new token");
    CHECK(t_fetches(APP) - before == 1, "exactly one more upstream fetch, got %ld",
          t_fetches(APP) - before);
    CHECK(t_token_errcode_at(t_base(), workers[0].first) == 0, "the simulator accepts it");

    t_section("reporting the old token again changes nothing");
    char good[1024];
    memcpy(good, workers[0].first, sizeof good);
    before = t_fetches(APP);
    same = run_all(invalidator, workers);
    CHECK(same == THREADS && strcmp(workers[0].first, good) == 0, "the current token comes back");
    CHECK(t_fetches(APP) == before, "no upstream call, got %ld", t_fetches(APP) - before);
    return t_finish();
}
