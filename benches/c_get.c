/* One wxtoken_get of a fresh token into a caller buffer, beside what a
 * hand-written cache costs, measured in the same run. Prints the median
 * ns per call over batches, and ratios to the first baseline.
 * Needs WXTOKEN_API_BASE (a running `wxtoken mock`); see scripts/bench.sh. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wxtoken.h"

#define BATCHES 21
#define CALLS 1000000

static char cached[1024];
static size_t cached_len;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* Baseline 1: a token in a global, copied out (no expiry, no locking). */
__attribute__((noinline)) static int copy_global(char *buf, size_t cap, size_t *len) {
    if (cap < cached_len + 1) return 1;
    memcpy(buf, cached, cached_len + 1);
    *len = cached_len;
    return 0;
}

/* Baseline 2: the same behind a mutex (a hand-written thread-safe cache). */
__attribute__((noinline)) static int copy_locked(char *buf, size_t cap, size_t *len) {
    pthread_mutex_lock(&cache_lock);
    int rc = copy_global(buf, cap, len);
    pthread_mutex_unlock(&cache_lock);
    return rc;
}

static int via_wxtoken(char *buf, size_t cap, size_t *len) {
    return (int)wxtoken_get("wxbench0000000001", buf, cap, len);
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_ns(int (*fn)(char *, size_t, size_t *)) {
    char buf[1024];
    size_t len = 0;
    double per_call[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        double t0 = now_ns();
        for (int i = 0; i < CALLS; i++) {
            if (fn(buf, sizeof buf, &len) != 0) {
                fprintf(stderr, "call failed\n");
                exit(1);
            }
            __asm__ volatile("" : : "r"(buf) : "memory");
        }
        per_call[b] = (now_ns() - t0) / CALLS;
    }
    qsort(per_call, BATCHES, sizeof per_call[0], cmp);
    return per_call[BATCHES / 2];
}

struct run {
    int (*fn)(char *, size_t, size_t *);
    pthread_barrier_t *start;
    double ns;
};

static void *run_thread(void *arg) {
    struct run *r = arg;
    pthread_barrier_wait(r->start);
    r->ns = median_ns(r->fn);
    return NULL;
}

/* `n` threads calling `fn` at once: the slowest thread's median ns per call. */
static double threaded_ns(int (*fn)(char *, size_t, size_t *), int n) {
    pthread_t t[8];
    struct run runs[8];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        runs[i] = (struct run){fn, &start, 0};
        pthread_create(&t[i], NULL, run_thread, &runs[i]);
    }
    double worst = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        if (runs[i].ns > worst) worst = runs[i].ns;
    }
    pthread_barrier_destroy(&start);
    return worst;
}

int main(void) {
    const char *base = getenv("WXTOKEN_API_BASE");
    if (!base) {
        fprintf(stderr, "set WXTOKEN_API_BASE to a running `wxtoken mock`\n");
        return 2;
    }
    char options[512];
    snprintf(options, sizeof options, "{\"store\":\"memory\",\"api_base\":\"%s\"}", base);
    if (wxtoken_configure("wxbench0000000001", "bench-secret", options) != WXTOKEN_OK ||
        wxtoken_get("wxbench0000000001", cached, sizeof cached, &cached_len) != WXTOKEN_OK) {
        char msg[256];
        wxtoken_last_error(msg, sizeof msg);
        fprintf(stderr, "setup failed: %s\n", msg);
        return 1;
    }
    double global = median_ns(copy_global);
    double locked = median_ns(copy_locked);
    double wx = median_ns(via_wxtoken);
    double wx1 = threaded_ns(via_wxtoken, 1), wx2 = threaded_ns(via_wxtoken, 2);
    double lk1 = threaded_ns(copy_locked, 1), lk2 = threaded_ns(copy_locked, 2);
    printf("C: median ns per call into a 1024-byte buffer (%zu-byte token, %d x %d calls)\n",
           cached_len, BATCHES, CALLS);
    printf("  %8.2f ns  x%5.2f  baseline: copy a global string\n", global, 1.0);
    printf("  %8.2f ns  x%5.2f  baseline: copy a global string under a mutex\n", locked, locked / global);
    printf("  %8.2f ns  x%5.2f  wxtoken_get\n", wx, wx / global);
    printf("  wxtoken_get / mutex copy: x%.2f\n", wx / locked);
    printf("threads: median ns per call per thread (%d x %d calls each)\n", BATCHES, CALLS);
    printf("  %8.2f ns 1 thread, %8.2f ns 2 threads: scaling x%.2f  wxtoken_get\n", wx1, wx2, 2 * wx1 / wx2);
    printf("  %8.2f ns 1 thread, %8.2f ns 2 threads: scaling x%.2f  baseline: copy under a mutex\n", lk1, lk2,
           2 * lk1 / lk2);
    return 0;
}
