/*
 * A fork storm: while threads hammer every entry point (get, invalidate,
 * status_json, configure) on a memory-store app and a file-store app against
 * a slow upstream, so that wxtoken's locks are held much of the time, the
 * main thread forks again and again. Each child calls every entry point
 * itself and must exit within a bound: a child forked while a parent thread
 * held one of wxtoken's locks would otherwise block on it forever. The
 * parent kills and counts children that did not finish; the test wants none.
 *
 * WXTOKEN_TEST_FORKS sets the number of forks (default 300; under valgrind,
 * where WXTOKEN_TEST_ITERS is small, a tenth of the iterations).
 */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#define MEM_APP "wxcstorm00000001"
#define FILE_APP "wxcstorm00000002"
#define THREADS 4
#define CHILD_BOUND_MS 10000

static char mem_options[512];
static char file_options[512];
static char store_dir[256];
static atomic_int stop;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The slow paths, round and round: each takes some of wxtoken's locks. */
static void *hammer(void *arg)
{
    long id = (long)arg;
    char buf[4096], name[64];
    size_t len = 0;
    for (long i = 0; !atomic_load(&stop); i++) {
        const char *app = (i + id) % 2 ? MEM_APP : FILE_APP;
        wxtoken_get(app, buf, sizeof buf, &len);
        wxtoken_invalidate(app, "a-token-that-is-no-longer-current", buf, sizeof buf, &len);
        wxtoken_status_json(app, buf, sizeof buf, &len);
        if (i % 40 == id) {
            /* A real refresh: the flight, the store's lock, the HTTP agent. */
            char token[1024];
            if (wxtoken_get(app, token, sizeof token, &len) == WXTOKEN_OK) {
                wxtoken_invalidate(app, token, buf, sizeof buf, &len);
            }
        }
        if (i % 7 == 0) {
            wxtoken_configure(MEM_APP, "sec-" MEM_APP, mem_options);
        }
        if (i % 25 == 0) {
            /* A new name: the registry's writer path, and a real refresh
             * under a fetch ceiling of its own (the apps above soon reach
             * theirs, 10 a minute, and then only cool down). */
            char opts[640], token[1024];
            snprintf(name, sizeof name, "storm-%ld-%ld", id, i);
            snprintf(opts, sizeof opts, "%.*s,\"name\":\"%s\"}", (int)strlen(mem_options) - 1,
                     mem_options, name);
            wxtoken_configure(MEM_APP, "sec-" MEM_APP, opts);
            if (wxtoken_get(name, token, sizeof token, &len) == WXTOKEN_OK) {
                wxtoken_invalidate(name, token, buf, sizeof buf, &len);
            }
            wxtoken_status_json(name, buf, sizeof buf, &len);
        }
    }
    return NULL;
}

/* Exit codes: 0 ok; 1x a call returned something other than a wxtoken
 * status of a plain failure (a panic, a NULL pointer...), or the child's
 * own refresh (under a name of its own: nothing inherited) failed. */
static int child(void)
{
    char buf[4096], token[1024];
    size_t len = 0;
    if (wxtoken_get(MEM_APP, token, sizeof token, &len) != WXTOKEN_OK) return 10;
    if (wxtoken_status_json(MEM_APP, buf, sizeof buf, &len) != WXTOKEN_OK) return 11;
    wxtoken_status st = wxtoken_invalidate(MEM_APP, "stale-in-the-child", buf, sizeof buf, &len);
    if (st >= WXTOKEN_NULL_POINTER) return 12;
    st = wxtoken_invalidate(MEM_APP, token, buf, sizeof buf, &len);
    if (st >= WXTOKEN_NULL_POINTER) return 13;
    st = wxtoken_get(FILE_APP, buf, sizeof buf, &len);
    if (st >= WXTOKEN_NULL_POINTER) return 14;
    st = wxtoken_invalidate(FILE_APP, "stale-in-the-child", buf, sizeof buf, &len);
    if (st >= WXTOKEN_NULL_POINTER) return 15;
    if (wxtoken_status_json(FILE_APP, buf, sizeof buf, &len) != WXTOKEN_OK) return 16;
    if (wxtoken_configure(MEM_APP, "sec-" MEM_APP, mem_options) != WXTOKEN_OK) return 17;
    char opts[640];
    snprintf(opts, sizeof opts, "%.*s,\"name\":\"storm-child\"}", (int)strlen(mem_options) - 1,
             mem_options);
    if (wxtoken_configure(MEM_APP, "sec-" MEM_APP, opts) != WXTOKEN_OK) return 18;
    if (wxtoken_get("storm-child", token, sizeof token, &len) != WXTOKEN_OK) return 19;
    if (wxtoken_invalidate("storm-child", token, buf, sizeof buf, &len) != WXTOKEN_OK) return 20;
    if (strcmp(buf, token) == 0) return 21;
    if (wxtoken_get(MEM_APP, buf, sizeof buf, &len) != WXTOKEN_OK) return 22;
    return 0;
}

int main(void)
{
    long iters = t_env_long("WXTOKEN_TEST_ITERS", 10000);
    long forks = t_env_long("WXTOKEN_TEST_FORKS", iters >= 10000 ? 300 : iters / 10 + 1);
    snprintf(store_dir, sizeof store_dir, "/tmp/wxtoken-c-storm-%ld", (long)getpid());
    /* The storm refreshes one app hundreds of times: a daily fetch budget
     * of the simulator's quota, not the default 500. */
    snprintf(mem_options, sizeof mem_options,
             "{\"store\":\"memory\",\"api_base\":\"%s\",\"wait_ms\":3000,\"timeout_ms\":2000,"
             "\"daily_fetch_budget\":2000}",
             t_base());
    snprintf(file_options, sizeof file_options,
             "{\"store\":\"file:%s\",\"api_base\":\"%s\",\"wait_ms\":3000,\"timeout_ms\":2000}",
             store_dir, t_base());

    t_section("a fork storm while threads hold wxtoken's locks");
    CHECK_STATUS(wxtoken_configure(MEM_APP, "sec-" MEM_APP, mem_options), WXTOKEN_OK);
    CHECK_STATUS(wxtoken_configure(FILE_APP, "sec-" FILE_APP, file_options), WXTOKEN_OK);
    char buf[1024];
    size_t len = 0;
    CHECK_STATUS(wxtoken_get(MEM_APP, buf, sizeof buf, &len), WXTOKEN_OK);
    CHECK_STATUS(wxtoken_get(FILE_APP, buf, sizeof buf, &len), WXTOKEN_OK);
    /* Every fetch from now on takes 20 ms: flights and leases stay open. */
    CHECK(t_fault("slow", 1000000, 20) == 0, "slow fault");

    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; i++) {
        CHECK(pthread_create(&threads[i], NULL, hammer, (void *)i) == 0, "thread %ld", i);
    }
    sleep_ms(100);

    int stuck = 0, failed = 0, first_code = 0;
    for (long n = 0; n < forks; n++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            _exit(child());
        }
        if (pid < 0) {
            CHECK(pid > 0, "fork %ld failed", n);
            break;
        }
        long deadline = now_ms() + CHILD_BOUND_MS;
        int status = 0, done = 0;
        while (now_ms() < deadline) {
            if (waitpid(pid, &status, WNOHANG) == pid) {
                done = 1;
                break;
            }
            sleep_ms(1);
        }
        if (!done) {
            stuck++;
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            fprintf(stderr, "child %ld (pid %ld) hung for %d ms\n", n, (long)pid, CHILD_BOUND_MS);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed++;
            if (first_code == 0) {
                first_code = WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
            }
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    t_fault("none", 0, 0);

    CHECK(stuck == 0, "%d of %ld children hung on a lock", stuck, forks);
    CHECK(failed == 0, "%d of %ld children failed (first exit code %d)", failed, forks, first_code);
    CHECK_STATUS(wxtoken_get(MEM_APP, buf, sizeof buf, &len), WXTOKEN_OK);
    printf("-- %ld forks, %d hung, %d failed\n", forks, stuck, failed);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", store_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", store_dir);
    }
    return t_finish();
}
