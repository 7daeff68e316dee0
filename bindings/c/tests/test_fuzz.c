/*
 * A seeded random harness for the C ABI: for a bounded time, worker threads
 * call every function of include/wxtoken.h with hostile arguments (NULL,
 * invalid UTF-8, embedded NULs, huge strings, JSON options from a grammar of
 * valid, invalid, duplicate and huge keys and values, buffers of every
 * capacity) against two simulators: one whose faults are toggled at random
 * through its admin endpoints, one left calm. Stores: memory and files.
 *
 * Every call is checked against the header's contract:
 * - the status is a wxtoken_status, and one the arguments allow;
 * - OK writes a NUL-terminated text of the reported length; BUFFER_TOO_SMALL
 *   writes the needed length and nothing but buf[0]; no byte past `cap` is
 *   ever written (guard bytes);
 * - a failure leaves a last error that names its kind, with the errcode
 *   coherent; a success leaves the last error as it was;
 * - the app secret (every secret used here holds the marker "S3cr~") never
 *   appears in an output buffer or a message;
 * - no call outlives WXTOKEN_FUZZ_CALL_LIMIT_S (a watchdog ends the run);
 * - an app configured sanely against the calm simulator always answers;
 * - the library's log (WXTOKEN_LOG, on stderr, which this program sends to a
 *   file) holds no secret and no panic message, from any thread.
 *
 * Environment (set by bindings/c/run-tests.sh):
 *   WXTOKEN_FUZZ_API_BASE       the simulator that gets faults
 *   WXTOKEN_FUZZ_API_BASE_CALM  the simulator that never does
 *   WXTOKEN_FUZZ_API_BASE_DENIED  (optional) one that refuses this host's IP
 *   WXTOKEN_FUZZ_SECONDS        how long to run (default 20)
 *   WXTOKEN_FUZZ_SEED           the seed (default: from the clock; printed).
 *                               Each thread's choices follow from it; answers
 *                               that depend on timing (faults, refreshes) can
 *                               still steer a run apart, least with 1 thread.
 *   WXTOKEN_FUZZ_THREADS        worker threads (default 2)
 *   WXTOKEN_FUZZ_CALL_LIMIT_S   the longest one call may take (default 30)
 * The harness sets WXTOKEN_APPID, WXTOKEN_SECRET, WXTOKEN_API_BASE and others
 * itself, so that the environment fallbacks are fuzzed too.
 * `test_fuzz --print-apps` prints the simulators' apps file.
 */
#define _XOPEN_SOURCE 700
#include "harness.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#define MARK "S3cr~" /* in every secret and password, nowhere else */
#define GUARD 32
#define FILL 0xA5
#define GUARDB 0x5A
#define MAX_THREADS 8
#define LEN_UNSET ((size_t)-7)

/* ---- the apps the simulators know --------------------------------------- */

static const struct {
    const char *appid, *secret, *platform;
} APPS[] = {
    {"wxcfuzz000000001", MARK "fuzz-1-kq", "mp"},
    {"wxcfuzz000000002", MARK "fuzz-2-kq", "mp"},
    {"wxcfuzz000000003", MARK "fuzz-3-kq", "mp"},
    {"wwcfuzzcorp00001", MARK "corp-A-kq", "wecom"},
    {"wwcfuzzcorp00001", MARK "corp-B-kq", "wecom"},
};
#define NAPPS (sizeof APPS / sizeof APPS[0])
/* WXTOKEN_APPID and WXTOKEN_SECRET name this one: "" arguments mean it, and
 * any call naming it configures it from the environment. */
#define ENV_APP 2
/* One calm app per worker: configured only by that worker, always sanely. */
#define CALM_APPID_FMT "wxcfuzzcalm0000%d"
#define CALM_SECRET_FMT MARK "calm-%d-kq"

static void print_apps(void)
{
    printf("[\n");
    for (size_t i = 0; i < NAPPS; i++) {
        printf("{\"appid\":\"%s\",\"secret\":\"%s\",\"platform\":\"%s\"},\n", APPS[i].appid,
               APPS[i].secret, APPS[i].platform);
    }
    for (int i = 0; i < MAX_THREADS; i++) {
        char id[64], sec[64];
        snprintf(id, sizeof id, CALM_APPID_FMT, i);
        snprintf(sec, sizeof sec, CALM_SECRET_FMT, i);
        printf("{\"appid\":\"%s\",\"secret\":\"%s\",\"platform\":\"mp\"}%s\n", id, sec,
               i + 1 < MAX_THREADS ? "," : "");
    }
    printf("]\n");
}

/* Names callers pass: some are configured as they go, some never are. */
static const char *NAME_POOL[] = {
    "wxcfuzz000000001", "wxcfuzz000000002", "wxcfuzz000000003", "wwcfuzzcorp00001",
    "n-0", "n-1", "n-2", "n-3", "\xe5\x90\x8d-4", "n-\xf0\x9f\x98\x80",
};
#define NPOOL (sizeof NAME_POOL / sizeof NAME_POOL[0])

/* ---- global settings ----------------------------------------------------- */

static const char *g_base;      /* faulted simulator */
static const char *g_calm;      /* calm simulator */
static const char *g_closed = "http://127.0.0.1:1";
static const char *g_denied;    /* a simulator that refuses this host's IP, or NULL */
static char g_root[256];        /* temp dir for file stores */
static uint64_t g_seed;
static long g_call_limit_ms;
static _Atomic int g_done;
static pthread_mutex_t g_print = PTHREAD_MUTEX_INITIALIZER;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- random numbers ------------------------------------------------------ */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- growable text ------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
} sb_t;

static void sb_raw(sb_t *b, const void *data, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap) {
            cap *= 2;
        }
        b->p = realloc(b->p, cap);
        if (b->p == NULL) {
            abort();
        }
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_add(sb_t *b, const char *s)
{
    sb_raw(b, s, strlen(s));
}

static void sb_fmt(sb_t *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_raw(b, tmp, n < 0 ? 0 : ((size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1));
}

static void sb_rep(sb_t *b, char c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sb_raw(b, &c, 1);
    }
}

/* ---- checks on bytes ----------------------------------------------------- */

/* Strict UTF-8, as Rust's str::from_utf8 decides it. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) {
                lo = 0xA0;
            } else if (c == 0xED) {
                hi = 0x9F;
            }
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) {
                lo = 0x90;
            } else if (c == 0xF4) {
                hi = 0x8F;
            }
        } else {
            return 0;
        }
        if (n - i < need + 1 || s[i + 1] < lo || s[i + 1] > hi) {
            return 0;
        }
        for (size_t k = 2; k <= need; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) {
                return 0;
            }
        }
        i += need + 1;
    }
    return 1;
}

static int contains(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0 || n < m) {
        return 0;
    }
    for (size_t i = 0; i + m <= n; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- a C string argument ------------------------------------------------- */

/* A heap copy of exactly the bytes given (a NUL after them), so that memcheck
 * sees any read past the end; `seen` is what C's strlen sees. */
typedef struct {
    char *p;      /* NULL: the NULL pointer */
    size_t seen;  /* strlen(p) */
    int utf8;     /* the seen bytes are valid UTF-8 */
} arg_t;

static arg_t arg_bytes(const char *data, size_t n)
{
    arg_t a;
    a.p = malloc(n + 1);
    if (a.p == NULL) {
        abort();
    }
    memcpy(a.p, data, n);
    a.p[n] = '\0';
    a.seen = strlen(a.p);
    a.utf8 = utf8_valid((const unsigned char *)a.p, a.seen);
    return a;
}

static arg_t arg_str(const char *s)
{
    return arg_bytes(s, strlen(s));
}

static arg_t arg_null(void)
{
    arg_t a = {NULL, 0, 1};
    return a;
}

static void arg_free(arg_t *a)
{
    free(a->p);
    a->p = NULL;
}

/* The status a bad pointer or string argument gives, as a mask bit, or 0. */
static unsigned arg_fault(const arg_t *a, int nullable)
{
    if (a->p == NULL) {
        return nullable ? 0 : 1u << WXTOKEN_NULL_POINTER;
    }
    return a->utf8 ? 0 : 1u << WXTOKEN_INVALID_UTF8;
}

#define BIT(s) (1u << (s))
#define NETWORK_STATUSES                                                                      \
    (BIT(WXTOKEN_OK) | BIT(WXTOKEN_CREDENTIALS_REJECTED) | BIT(WXTOKEN_IP_NOT_ALLOWED) |       \
     BIT(WXTOKEN_QUOTA_EXHAUSTED) | BIT(WXTOKEN_UPSTREAM) | BIT(WXTOKEN_NETWORK) |             \
     BIT(WXTOKEN_TIMEOUT) | BIT(WXTOKEN_BAD_RESPONSE) | BIT(WXTOKEN_STORE) |                   \
     BIT(WXTOKEN_BUFFER_TOO_SMALL))

/* ---- registry model: which names are configured -------------------------- */

#define MAX_NAMES 512
static struct {
    char *name;
    int known;   /* configured successfully at least once */
    int pending; /* configure calls in flight that may register it */
} g_names[MAX_NAMES];
static int g_nnames;
static pthread_mutex_t g_names_lock = PTHREAD_MUTEX_INITIALIZER;
/* Configure calls ever started that may register a name: a call whose name
 * was "never configured" when it was drawn may find it configured by
 * another thread that started one meanwhile. */
static _Atomic unsigned long g_config_starts;

static int name_slot(const char *name, int create)
{
    for (int i = 0; i < g_nnames; i++) {
        if (strcmp(g_names[i].name, name) == 0) {
            return i;
        }
    }
    if (!create || g_nnames == MAX_NAMES) {
        return -1;
    }
    g_names[g_nnames].name = strdup(name);
    g_names[g_nnames].known = 0;
    g_names[g_nnames].pending = 0;
    return g_nnames++;
}

/* 0: never configured and nothing in flight; 1: configured; 2: maybe. */
static int name_state(const char *name)
{
    pthread_mutex_lock(&g_names_lock);
    int i = name_slot(name, 0);
    int st = i < 0 ? 0 : g_names[i].known ? 1 : g_names[i].pending ? 2 : 0;
    pthread_mutex_unlock(&g_names_lock);
    return st;
}

static void name_pending(const char *name, int delta, int now_known)
{
    pthread_mutex_lock(&g_names_lock);
    int i = name_slot(name, 1);
    if (i >= 0) {
        g_names[i].pending += delta;
        if (delta > 0) {
            atomic_fetch_add(&g_config_starts, 1);
        }
        if (now_known) {
            g_names[i].known = 1;
        }
    }
    pthread_mutex_unlock(&g_names_lock);
}

/* ---- workers ------------------------------------------------------------- */

static const char *STATUS_NAMES[] = {
    "WXTOKEN_OK", "WXTOKEN_CREDENTIALS_REJECTED", "WXTOKEN_IP_NOT_ALLOWED",
    "WXTOKEN_QUOTA_EXHAUSTED", "WXTOKEN_UPSTREAM", "WXTOKEN_NETWORK", "WXTOKEN_TIMEOUT",
    "WXTOKEN_BAD_RESPONSE", "WXTOKEN_STORE", "WXTOKEN_NOT_CONFIGURED",
    "WXTOKEN_INVALID_ARGUMENT", "WXTOKEN_NULL_POINTER", "WXTOKEN_INVALID_UTF8",
    "WXTOKEN_BUFFER_TOO_SMALL", "WXTOKEN_PANIC",
};
#define NSTATUS 15
/* What each failing status's message starts with. */
static const char *PREFIX[NSTATUS] = {
    "", "credentials rejected: ", "caller IP not allowed: ", "quota exhausted: ",
    "upstream error: ", "network error: ", "timed out: ", "bad response from upstream: ",
    "store error: ", "not configured: ", "invalid argument: ", "invalid argument: argument '",
    "invalid argument: argument '", "buffer too small: ", "internal error: ",
};

enum {
    F_CONFIGURE, F_NAMED, F_GET, F_INVALIDATE, F_STATUS, F_LAST_ERROR, F_PURE, F_ADMIN,
    F_TICKET, F_INV_TICKET, F_SIGNATURE, F_JSSDK_CONFIG, F_WECOM_NAME, NFUNC
};
static const char *FUNC_NAMES[NFUNC] = {"configure", "configure_named", "get", "invalidate",
                                        "status_json", "last_error", "pure", "admin",
                                        "get_ticket", "inval_ticket", "jssdk_signature",
                                        "jssdk_config", "wecom_name"};

typedef struct {
    int id;
    uint64_t rng;
    long calls, violations, histo[NFUNC][NSTATUS];
    /* This thread's last error as the library must hold it. */
    int64_t m_code;
    sb_t m_msg;
    /* The last token seen, and for which name. */
    sb_t token, token_app, ticket;
    char calm_name[32], calm_appid[32], calm_secret[64];
    int calm_ready;
    /* The last name drawn was never configured (state 0), as of this many
     * configure starts: `after` widens what may come back if more began. */
    int drawn_unconfigured;
    unsigned long drawn_starts;
    /* What the current call is, for reports and the watchdog. */
    sb_t what;
    _Atomic long long started_ms;
    _Atomic int func;
    pthread_t thread;
} worker_t;

static worker_t g_workers[MAX_THREADS];
static int g_nworkers;

static uint64_t rnd(worker_t *w)
{
    return splitmix(&w->rng);
}

static size_t below(worker_t *w, size_t n)
{
    return n ? (size_t)(rnd(w) % n) : 0;
}

static int chance(worker_t *w, int percent)
{
    return (int)below(w, 100) < percent;
}

static void violation(worker_t *w, const char *fmt, ...)
{
    w->violations++;
    if (w->violations > 20) {
        return; /* counted, not printed */
    }
    pthread_mutex_lock(&g_print);
    fprintf(stdout, "VIOLATION seed %llu thread %d call %ld %s: ", (unsigned long long)g_seed,
            w->id, w->calls, FUNC_NAMES[atomic_load(&w->func)]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fprintf(stdout, "\n    call: %.600s\n", w->what.p ? w->what.p : "");
    fflush(stdout);
    pthread_mutex_unlock(&g_print);
}

/* The whole last error, however long. */
static void read_last_error(sb_t *out)
{
    size_t cap = 4096;
    for (;;) {
        char *buf = malloc(cap);
        if (buf == NULL) {
            abort();
        }
        wxtoken_status st = wxtoken_last_error(buf, cap);
        if (st == WXTOKEN_OK || cap > (64u << 20)) {
            out->n = 0;
            sb_add(out, buf);
            free(buf);
            return;
        }
        free(buf);
        cap *= 4;
    }
}

static void begin(worker_t *w, int func)
{
    atomic_store(&w->func, func);
    atomic_store(&w->started_ms, now_ms());
    w->calls++;
}

/* The checks every status-returning call gets: the status is allowed, the
 * last error is coherent with it, and no secret is in the message. */
static void after(worker_t *w, int func, wxtoken_status st, unsigned allowed)
{
    long long took = now_ms() - atomic_load(&w->started_ms);
    atomic_store(&w->started_ms, 0);
    if (took > g_call_limit_ms) {
        violation(w, "took %lld ms", took);
    }
    if ((int)st < 0 || (int)st >= NSTATUS) {
        violation(w, "status %d is no wxtoken_status", (int)st);
        return;
    }
    w->histo[func][st]++;
    if (w->drawn_unconfigured && atomic_load(&g_config_starts) != w->drawn_starts) {
        /* Another thread may have configured the name since it was drawn. */
        allowed |= NETWORK_STATUSES | BIT(WXTOKEN_NOT_CONFIGURED);
    }
    w->drawn_unconfigured = 0;
    if (!(allowed & BIT(st))) {
        sb_t m = {0};
        read_last_error(&m);
        violation(w, "status %s not allowed here (allowed mask 0x%x); last error: %.400s",
                  STATUS_NAMES[st], allowed, m.p);
        free(m.p);
    }
    int64_t code = wxtoken_last_errcode();
    sb_t msg = {0};
    read_last_error(&msg);
    if (st == WXTOKEN_OK) {
        if (code != w->m_code || msg.n != w->m_msg.n || (msg.n && memcmp(msg.p, w->m_msg.p, msg.n))) {
            violation(w, "a success changed the last error to %lld '%.200s'", (long long)code,
                      msg.p);
        }
    } else {
        const char *pre = PREFIX[st];
        if (msg.n < strlen(pre) || strncmp(msg.p, pre, strlen(pre)) != 0) {
            violation(w, "%s with last error '%.300s'", STATUS_NAMES[st], msg.p ? msg.p : "");
        }
        if (!utf8_valid((const unsigned char *)msg.p, msg.n)) {
            violation(w, "last error is not UTF-8");
        }
        /* Only the platform rejects credentials or an IP; a quota can also
         * be wxtoken's own (the per-process fetch ceiling), with no errcode. */
        int wechat = st == WXTOKEN_CREDENTIALS_REJECTED || st == WXTOKEN_IP_NOT_ALLOWED;
        if (code != 0) {
            char tail[48];
            snprintf(tail, sizeof tail, " (errcode %lld)", (long long)code);
            size_t tl = strlen(tail);
            if (!(wechat || st == WXTOKEN_QUOTA_EXHAUSTED || st == WXTOKEN_UPSTREAM) || msg.n < tl ||
                strcmp(msg.p + msg.n - tl, tail) != 0) {
                violation(w, "%s with errcode %lld and '%.300s'", STATUS_NAMES[st],
                          (long long)code, msg.p);
            }
        } else if (wechat) {
            violation(w, "%s without a WeChat errcode: '%.300s'", STATUS_NAMES[st], msg.p);
        }
        w->m_code = code;
        w->m_msg.n = 0;
        sb_raw(&w->m_msg, msg.p ? msg.p : "", msg.n);
    }
    if (msg.n && contains(msg.p, msg.n, MARK)) {
        violation(w, "a secret in the last error: '%.300s'", msg.p);
    }
    free(msg.p);
}

/* ---- output buffers ------------------------------------------------------ */

typedef struct {
    char *mem;    /* cap + GUARD bytes, or NULL */
    char *buf;    /* mem, or NULL */
    char *before; /* the first `cap` bytes as they were before the call */
    size_t cap;
    size_t lenv;
    size_t *lenp; /* &lenv, or NULL */
} out_t;

/* A buffer of a random capacity around `hint` (the length a success needs).
 * Filled in place: `lenp` points into the struct. */
static void out_new(out_t *out, worker_t *w, size_t hint, int with_len)
{
    out_t o;
    memset(&o, 0, sizeof o);
    size_t r = below(w, 100);
    o.cap = r < 8 ? 0 : r < 12 ? 1 : r < 16 ? 2 : r < 30 ? below(w, 64)
          : r < 38 ? (hint > 0 ? hint - 1 : 0) : r < 46 ? hint : r < 56 ? hint + 1
          : r < 62 ? hint + 2 : r < 90 ? below(w, 4097) : 4096 + below(w, 20000);
    int null_buf = o.cap == 0 ? chance(w, 50) : chance(w, 2);
    o.mem = malloc(o.cap + GUARD);
    o.before = malloc(o.cap + 1);
    if (o.mem == NULL || o.before == NULL) {
        abort();
    }
    memset(o.mem, FILL, o.cap);
    memset(o.mem + o.cap, GUARDB, GUARD);
    o.buf = null_buf ? NULL : o.mem;
    o.lenv = LEN_UNSET;
    int lenp = with_len && !chance(w, 3);
    *out = o;
    out->lenp = lenp ? &out->lenv : NULL;
}

static void out_snapshot(out_t *o)
{
    memcpy(o->before, o->mem, o->cap);
}

/* Pointer faults of a (buf, cap, len) triple, as mask bits. */
static unsigned out_fault(const out_t *o, int with_len)
{
    unsigned m = 0;
    if (with_len && o->lenp == NULL) {
        m |= BIT(WXTOKEN_NULL_POINTER);
    }
    if (o->buf == NULL && o->cap > 0) {
        m |= BIT(WXTOKEN_NULL_POINTER);
    }
    return m;
}

/* The buffer rules of wxtoken_get. `expected`: the exact text a success
 * must copy, when known. Returns 1 when the buffer holds a text. */
static int out_check(worker_t *w, out_t *o, wxtoken_status st, const char *expected)
{
    int ok = 1;
    for (size_t i = 0; i < GUARD; i++) {
        if ((unsigned char)o->mem[o->cap + i] != GUARDB) {
            violation(w, "wrote past cap %zu (guard byte %zu)", o->cap, i);
            ok = 0;
            break;
        }
    }
    if (o->buf != NULL && contains(o->buf, o->cap, MARK)) {
        violation(w, "a secret in the output buffer");
    }
    if (st == WXTOKEN_OK) {
        if (o->lenv == LEN_UNSET || o->lenv >= o->cap) {
            violation(w, "OK with len %zu, cap %zu", o->lenv, o->cap);
            return 0;
        }
        if (o->buf[o->lenv] != '\0' || strlen(o->buf) != o->lenv) {
            violation(w, "OK: the text is not NUL-terminated at len %zu", o->lenv);
            return 0;
        }
        if (expected != NULL && strcmp(o->buf, expected) != 0) {
            violation(w, "OK copied '%.200s', want '%.200s'", o->buf, expected);
        }
        return ok;
    }
    if (st == WXTOKEN_BUFFER_TOO_SMALL) {
        if (o->lenp != NULL && (o->lenv == LEN_UNSET || o->lenv < o->cap)) {
            violation(w, "BUFFER_TOO_SMALL with len %zu, cap %zu", o->lenv, o->cap);
        }
        if (expected != NULL && o->lenp != NULL && o->lenv != strlen(expected)) {
            violation(w, "BUFFER_TOO_SMALL: len %zu, want %zu", o->lenv, strlen(expected));
        }
        if (o->cap > 0 && o->buf != NULL) {
            if (o->buf[0] != '\0') {
                violation(w, "BUFFER_TOO_SMALL: buf[0] is not NUL");
            }
            if (o->cap > 1 && memcmp(o->buf + 1, o->before + 1, o->cap - 1) != 0) {
                violation(w, "BUFFER_TOO_SMALL: bytes past buf[0] were written");
            }
        }
    }
    return 0;
}

static void out_free(out_t *o)
{
    free(o->mem);
    free(o->before);
}

/* ---- argument generators ------------------------------------------------- */

static void random_bytes(worker_t *w, sb_t *b, size_t n, int printable)
{
    for (size_t i = 0; i < n; i++) {
        char c = printable ? (char)(0x20 + below(w, 95)) : (char)(1 + below(w, 255));
        sb_raw(b, &c, 1);
    }
}

static const char *BAD_UTF8[] = {
    "\xc0\x80", "\xed\xa0\x80", "\xe4\xb8", "\x80", "\xf5\x80\x80\x80", "\xff", "\xf4\x90\x80\x80",
};

/* A hostile string argument: random bytes (up to `max` long, or 70 kB now
 * and then; printable or not), NULL, or invalid UTF-8. */
static arg_t hostile_arg(worker_t *w, size_t max, int printable)
{
    size_t r = below(w, 100);
    if (r < 60) {
        sb_t b = {0};
        random_bytes(w, &b, below(w, chance(w, 5) ? 70000 : max), printable);
        arg_t a = arg_bytes(b.p ? b.p : "", b.n);
        free(b.p);
        return a;
    }
    return r < 80 ? arg_null() : arg_bytes("x\xc0\x80", 3);
}

/* A name a caller passes to get/invalidate/status_json. Sets `*state` to the
 * registry model's view (0 unknown, 1 known, 2 maybe, 3 calm). */
static arg_t gen_app(worker_t *w, int *state)
{
    sb_t b = {0};
    size_t r = below(w, 100);
    *state = -1;
    if (r < 55) {
        sb_add(&b, NAME_POOL[below(w, NPOOL)]);
    } else if (r < 70 && w->calm_ready) {
        sb_add(&b, w->calm_name);
        *state = 3;
    } else if (r < 80) {
        sb_fmt(&b, "zzunknown-%llu", (unsigned long long)below(w, 1000));
    } else if (r < 84) {
        sb_add(&b, "");
    } else if (r < 88) {
        free(b.p);
        return arg_null();
    } else if (r < 92) {
        sb_add(&b, "n-1");
        sb_add(&b, BAD_UTF8[below(w, sizeof BAD_UTF8 / sizeof BAD_UTF8[0])]);
    } else if (r < 96) {
        /* An embedded NUL: C sees "n-2". */
        sb_add(&b, "n-2");
        sb_raw(&b, "\0junk", 5);
    } else {
        random_bytes(w, &b, 1 + below(w, chance(w, 10) ? 70000 : 40), 0);
    }
    arg_t a = arg_bytes(b.p ? b.p : "", b.n);
    free(b.p);
    if (*state == -1 && a.p && a.utf8) {
        w->drawn_starts = atomic_load(&g_config_starts);
        *state = name_state(a.p);
    }
    w->drawn_unconfigured = *state == 0;
    return a;
}

/* Options: a JSON text, and what the library must make of it. */
typedef struct {
    arg_t text;
    int valid;       /* 1 valid, 0 invalid, 2 maybe (either) */
    int store_maybe; /* the store may fail to open: STORE */
    int has_name;
    sb_t name;
} opts_t;

enum { K_NAME, K_PLATFORM, K_MODE, K_STORE, K_NUM, K_API, K_UNKNOWN, NKEYS };

/* One `"key":value` of the options grammar; updates the model (last wins,
 * if a key given twice is accepted at all: `seen` counts them). Against the
 * faulted simulator the bounded timeouts come last: no random ones then. */
static void gen_entry(worker_t *w, sb_t *b, opts_t *o, int *last_valid, int *seen, int faulted,
                      int *wecom, int *stable)
{
    int k = (int)below(w, NKEYS);
    int valid = 1;
    if (k != K_NUM && k != K_UNKNOWN) {
        seen[k]++;
    }
    switch (k) {
    case K_NAME: {
        sb_add(b, "\"name\":");
        size_t r = below(w, 12);
        if (r < 6) {
            /* Names of the pool that are valid JSON strings as written. */
            static const char *names[] = {"n-0", "n-1", "n-2", "n-3", "\\u540d-4",
                                          "n-\\ud83d\\ude00"};
            static const char *plain[] = {"n-0", "n-1", "n-2", "n-3", "\xe5\x90\x8d-4",
                                          "n-\xf0\x9f\x98\x80"};
            sb_fmt(b, "\"%s\"", names[r]);
            o->has_name = 1;
            o->name.n = 0;
            sb_add(&o->name, plain[r]);
        } else if (r == 6) {
            sb_add(b, "\"");
            sb_rep(b, 'N', 256);
            sb_add(b, "\"");
            o->has_name = 1;
            o->name.n = 0;
            sb_rep(&o->name, 'N', 256);
        } else if (r == 7) {
            sb_add(b, "\"");
            sb_rep(b, 'N', 257);
            sb_add(b, "\"");
            valid = 0;
        } else if (r == 8) {
            sb_add(b, "null"); /* as if not given */
            o->has_name = 0;
        } else {
            static const char *bad[] = {"\"\"", "1", "true"};
            sb_add(b, bad[r - 9]);
            valid = 0;
        }
        last_valid[k] = valid;
        return;
    }
    case K_PLATFORM: {
        static const char *v[] = {"\"mp\"", "\"wecom\"", "\"MP\"", "\"\"", "3", "null"};
        size_t r = below(w, 6);
        sb_fmt(b, "\"platform\":%s", v[r]);
        *wecom = r == 1;
        last_valid[k] = r < 2 || r == 5;
        return;
    }
    case K_MODE: {
        static const char *v[] = {"\"token\"", "\"stable\"", "\"Stable\"", "\"\"", "null"};
        size_t r = below(w, 5);
        sb_fmt(b, "\"mode\":%s", v[r]);
        *stable = r == 1;
        last_valid[k] = r < 2 || r == 4;
        return;
    }
    case K_STORE: {
        size_t r = below(w, 12);
        o->store_maybe = 0;
        if (r < 3) {
            sb_add(b, "\"store\":\"memory\"");
        } else if (r < 6) {
            sb_fmt(b, "\"store\":\"file:%s/s%d\"", g_root, (int)(r - 3));
        } else if (r == 6) {
            /* Refused: writable by others, a file, a symlink, under /proc. */
            static const char *sub[] = {"open", "plainfile", "link", "deep/er/dir"};
            sb_fmt(b, "\"store\":\"file:%s/%s\"", g_root, sub[below(w, 4)]);
            o->store_maybe = 1;
        } else if (r == 7) {
            sb_add(b, "\"store\":\"file:/proc/self/nope\"");
            o->store_maybe = 1;
        } else if (r == 8) {
            sb_add(b, "\"store\":\"redis://:" MARK "redispw@127.0.0.1:1/0\"");
            valid = 2; /* not built in: invalid today, may open later */
            o->store_maybe = 1;
        } else {
            static const char *bad[] = {"\"file:relative\"", "\"memcached://x\"", "5"};
            sb_fmt(b, "\"store\":%s", bad[r - 9]);
            valid = 0;
        }
        last_valid[k] = valid;
        return;
    }
    case K_NUM: {
        static const char *keys[] = {"refresh_margin_s", "timeout_ms", "wait_ms"};
        static const char *good[] = {"1", "250", "5000", "\"250\"", "\" 42 \"", "null", "0"};
        /* Whole numbers that options may bound (beyond every default range). */
        static const char *big[] = {"7200", "7201", "60000", "60001", "600000", "600001",
                                    "9007199254740993", "18446744073709551615"};
        static const char *bad[] = {"-1", "1.5", "1e3", "18446744073709551616", "\"soon\"",
                                    "\"\"", "\"-5\"", "true", "[1]", "{}"};
        size_t which = faulted ? 0 : below(w, 3);
        seen[K_NUM + 10 + (int)which]++;
        sb_fmt(b, "\"%s\":", keys[which]);
        if (chance(w, 55)) {
            size_t r = below(w, sizeof good / sizeof good[0]);
            sb_add(b, good[r]);
            /* timeout_ms 0 is refused by validation. */
            last_valid[K_NUM + 10 + (int)which] = !(which == 1 && r == 6);
        } else if (chance(w, 40)) {
            sb_add(b, big[below(w, sizeof big / sizeof big[0])]);
            last_valid[K_NUM + 10 + (int)which] = 2;
        } else {
            sb_add(b, bad[below(w, sizeof bad / sizeof bad[0])]);
            last_valid[K_NUM + 10 + (int)which] = 0;
        }
        return;
    }
    case K_API: {
        static const char *bad[] = {"\"ftp://127.0.0.1\"", "\"http://example.com\"",
                                    "\"http://127.0.0.1:1?x\"", "\"https://\"", "\"\"", "7"};
        sb_add(b, "\"api_base\":");
        sb_add(b, bad[below(w, sizeof bad / sizeof bad[0])]);
        last_valid[k] = 0; /* overridden by the final api_base unless that is bad too */
        return;
    }
    default: {
        size_t r = below(w, 7);
        if (r == 0) {
            sb_add(b, "\"");
            sb_rep(b, 'k', 20000);
            sb_add(b, "\":1");
        } else {
            static const char *keys[] = {"colour", "Store", "", "\\u540d", "appid", "secret"};
            sb_fmt(b, "\"%s\":\"x\"", keys[r - 1]);
        }
        o->valid = 0; /* an unknown key stays wrong, whatever follows */
        return;
    }
    }
}

static void gen_options(worker_t *w, opts_t *o, int allow_faulted)
{
    memset(o, 0, sizeof *o);
    o->valid = 1;
    size_t r = below(w, 100);
    if (r < 4) {
        o->text = arg_null();
        return;
    }
    if (r < 7) {
        o->text = arg_str(chance(w, 50) ? "" : "  \n ");
        return;
    }
    sb_t b = {0};
    if (r < 13) {
        static const char *bad[] = {"{", "{\"store\":", "[]", "1", "\"x\"", "null",
                                    "{\"store\":\"memory\",}", "{'store':'memory'}",
                                    "{\"store\":\"memory\"} x", "{\"timeout_ms\":1e999}",
                                    "{\"timeout_ms\":NaN}", "{\"a\":\"\\ud800\"}"};
        size_t k = below(w, sizeof bad / sizeof bad[0] + 2);
        if (k < sizeof bad / sizeof bad[0]) {
            sb_add(&b, bad[k]);
        } else if (k == sizeof bad / sizeof bad[0]) {
            sb_rep(&b, '[', 5000 + below(w, 100000)); /* nesting far past any limit */
        } else {
            sb_add(&b, "{\"name\":");
            sb_rep(&b, '[', 200 + below(w, 2000));
        }
        o->text = arg_bytes(b.p, b.n);
        o->valid = 0;
        free(b.p);
        return;
    }
    int last_valid[K_NUM + 13], seen[K_NUM + 13];
    for (size_t i = 0; i < sizeof last_valid / sizeof last_valid[0]; i++) {
        last_valid[i] = 1;
        seen[i] = 0;
    }
    int wecom = 0, stable = 0;
    /* The final api_base: always local, so that nothing calls the real platform. */
    size_t api = below(w, 100);
    int faulted = allow_faulted && api < 45;
    sb_add(&b, chance(w, 10) ? " { " : "{");
    size_t n = below(w, 7);
    for (size_t i = 0; i < n; i++) {
        gen_entry(w, &b, o, last_valid, seen, faulted, &wecom, &stable);
        sb_add(&b, ",");
    }
    seen[K_API]++;
    if (api >= 95) {
        sb_add(&b, "\"api_base\":\"http://example.com\"");
        last_valid[K_API] = 0;
    } else {
        const char *other = api < 75 ? g_calm : (api < 85 && g_denied) ? g_denied : g_closed;
        sb_fmt(&b, "\"api_base\":\"%s\"", faulted ? g_base : other);
        last_valid[K_API] = 1;
    }
    if (faulted) {
        /* Against faults, calls must stay short: these win over earlier numbers. */
        static const char *t[] = {"50", "200", "500"};
        static const char *wt[] = {"0", "1", "100", "500", "2000"};
        sb_fmt(&b, ",\"timeout_ms\":%s,\"wait_ms\":%s", t[below(w, 3)], wt[below(w, 5)]);
        last_valid[K_NUM + 11] = last_valid[K_NUM + 12] = 1;
        seen[K_NUM + 11]++;
        seen[K_NUM + 12]++;
    }
    sb_add(&b, "}");
    if (chance(w, 3)) {
        /* Invalid UTF-8 inside a string value. */
        b.n -= 1;
        sb_add(&b, ",\"name\":\"");
        sb_add(&b, BAD_UTF8[below(w, sizeof BAD_UTF8 / sizeof BAD_UTF8[0])]);
        sb_add(&b, "\"}");
    }
    for (size_t i = 0; i < sizeof last_valid / sizeof last_valid[0]; i++) {
        /* A key given twice: the last one wins, or the options are refused. */
        int v = seen[i] > 1 && last_valid[i] == 1 ? 2 : last_valid[i];
        if (v == 0) {
            o->valid = 0;
        } else if (v == 2 && o->valid == 1) {
            o->valid = 2;
        }
    }
    if (wecom && stable) {
        o->valid = 0; /* stable mode exists only for mp */
    }
    o->text = arg_bytes(b.p, b.n);
    free(b.p);
}

static void opts_free(opts_t *o)
{
    arg_free(&o->text);
    free(o->name.p);
}

/* appid and secret: a known app's, or something hostile. */
static void gen_creds(worker_t *w, arg_t *appid, arg_t *secret, int *appid_valid,
                      int *secret_valid)
{
    size_t r = below(w, 100);
    sb_t b = {0};
    *appid_valid = 1;
    if (r < 65) {
        size_t i = below(w, NAPPS);
        *appid = arg_str(APPS[i].appid);
        if (chance(w, 75)) {
            *secret = arg_str(APPS[i].secret);
            *secret_valid = 1;
            return;
        }
    } else {
        size_t k = below(w, 10);
        if (k == 0) {
            *appid = arg_str(""); /* from WXTOKEN_APPID */
        } else if (k == 1) {
            *appid = arg_null();
        } else if (k == 2) {
            sb_add(&b, "wxc");
            sb_add(&b, BAD_UTF8[below(w, sizeof BAD_UTF8 / sizeof BAD_UTF8[0])]);
            *appid = arg_bytes(b.p, b.n);
        } else if (k == 3) {
            sb_rep(&b, 'a', 128);
            *appid = arg_bytes(b.p, b.n); /* valid, unknown to the simulator */
        } else if (k == 4) {
            sb_rep(&b, 'a', 129);
            *appid = arg_bytes(b.p, b.n);
            *appid_valid = 0;
        } else if (k == 5) {
            *appid = arg_bytes("wxcfuzz000000001\0tail", 21); /* C sees a known appid */
        } else {
            static const char *bad[] = {"wx cfuzz", "wx/../x", "wx\"x", "wx\xe4\xb8\xad"};
            *appid = arg_str(bad[k - 6]);
            *appid_valid = 0;
        }
    }
    free(b.p);
    b.p = NULL;
    b.n = b.cap = 0;
    size_t k = below(w, 8);
    *secret_valid = 1;
    if (k < 3) {
        sb_fmt(&b, MARK "wrong-%d", (int)below(w, 3));
    } else if (k == 3) {
        *secret = arg_str(""); /* from WXTOKEN_SECRET */
        return;
    } else if (k == 4) {
        *secret = arg_null();
        return;
    } else if (k == 5) {
        sb_add(&b, MARK "\xff");
    } else if (k == 6) {
        sb_add(&b, MARK);
        sb_rep(&b, 'x', 100000);
        *secret_valid = 2; /* a secret's length may be bounded */
    } else {
        sb_raw(&b, MARK "ab\0cd", 10);
    }
    *secret = arg_bytes(b.p, b.n);
    free(b.p);
}

static int appid_ok(const arg_t *a)
{
    if (a->p == NULL || !a->utf8 || a->seen == 0 || a->seen > 128) {
        return 0;
    }
    for (size_t i = 0; i < a->seen; i++) {
        char c = a->p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

/* ---- the calls ----------------------------------------------------------- */

static void do_configure(worker_t *w, int named)
{
    arg_t appid, secret;
    int appid_valid, secret_valid;
    gen_creds(w, &appid, &secret, &appid_valid, &secret_valid);
    opts_t o;
    gen_options(w, &o, 1);
    int env_appid = appid.p != NULL && appid.seen == 0;
    appid_valid = appid_valid && (env_appid || appid_ok(&appid));

    unsigned faults = arg_fault(&appid, 0) | arg_fault(&secret, 0) | arg_fault(&o.text, 1);
    unsigned allowed;
    if (faults) {
        allowed = faults;
    } else if (!appid_valid || !secret_valid || o.valid == 0) {
        allowed = BIT(WXTOKEN_INVALID_ARGUMENT);
    } else {
        allowed = BIT(WXTOKEN_OK);
        if (o.valid == 2 || secret_valid == 2) {
            allowed |= BIT(WXTOKEN_INVALID_ARGUMENT);
        }
        if (o.store_maybe) {
            allowed |= BIT(WXTOKEN_STORE) | BIT(WXTOKEN_INVALID_ARGUMENT);
        }
    }
    const char *expected = (appid.p && appid.utf8)
                               ? (o.has_name ? o.name.p : env_appid ? APPS[ENV_APP].appid : appid.p)
                               : NULL;
    out_t out;
    memset(&out, 0, sizeof out);
    if (named) {
        out_new(&out, w, expected ? strlen(expected) : 16, 1);
        out_snapshot(&out);
        unsigned of = out_fault(&out, 1);
        if (of) {
            allowed = of | faults; /* the buffer is checked first or later: either */
        } else if (allowed & BIT(WXTOKEN_OK)) {
            allowed |= BIT(WXTOKEN_BUFFER_TOO_SMALL);
        }
    }
    int may_register = expected != NULL && (allowed & (BIT(WXTOKEN_OK) | BIT(WXTOKEN_BUFFER_TOO_SMALL)));
    if (may_register) {
        name_pending(expected, 1, 0);
    }
    w->what.n = 0;
    sb_fmt(&w->what, "appid=%s secret=%s options=", appid.p ? "(given)" : "NULL",
           secret.p ? (secret_valid ? "(given)" : "(empty)") : "NULL");
    sb_add(&w->what, o.text.p ? o.text.p : "NULL");
    if (named) {
        sb_fmt(&w->what, " buf=%s cap=%zu len=%s", out.buf ? "buf" : "NULL", out.cap,
               out.lenp ? "&len" : "NULL");
    }
    wxtoken_status st;
    begin(w, named ? F_NAMED : F_CONFIGURE);
    if (named) {
        st = wxtoken_configure_named(appid.p, secret.p, o.text.p, out.buf, out.cap, out.lenp);
    } else {
        st = wxtoken_configure(appid.p, secret.p, o.text.p);
    }
    after(w, named ? F_NAMED : F_CONFIGURE, st, allowed);
    if (named) {
        out_check(w, &out, st, expected);
        out_free(&out);
    }
    if (may_register) {
        int registered = st == WXTOKEN_OK || (named && st == WXTOKEN_BUFFER_TOO_SMALL);
        name_pending(expected, -1, registered);
    }
    arg_free(&appid);
    arg_free(&secret);
    opts_free(&o);
}

/* The calm app: sane options, the calm simulator; it must always answer. */
static void configure_calm(worker_t *w)
{
    /* Inside every range options may have: a calm app is always configured. */
    static const char *margins[] = {"0", "1", "300", "7199", "7200"};
    static const char *timeouts[] = {"5000", "60000"};
    static const char *waits[] = {"10000", "60000", "600000"};
    char opts[1024];
    int file = chance(w, 50);
    snprintf(opts, sizeof opts,
             "{\"name\":\"%s\",\"api_base\":\"%s\",\"store\":\"%s%s%s\","
             "\"refresh_margin_s\":%s,\"timeout_ms\":%s,\"wait_ms\":%s}",
             w->calm_name, g_calm, file ? "file:" : "memory", file ? g_root : "",
             file ? "/calm" : "", margins[below(w, 5)], timeouts[below(w, 2)],
             waits[below(w, 3)]);
    arg_t appid = arg_str(w->calm_appid), secret = arg_str(w->calm_secret), o = arg_str(opts);
    w->what.n = 0;
    sb_fmt(&w->what, "calm configure %s", opts);
    begin(w, F_CONFIGURE);
    wxtoken_status st = wxtoken_configure(appid.p, secret.p, o.p);
    after(w, F_CONFIGURE, st, BIT(WXTOKEN_OK));
    w->calm_ready = w->calm_ready || st == WXTOKEN_OK;
    arg_free(&appid);
    arg_free(&secret);
    arg_free(&o);
}

/* The mask for a call on app `state` whose arguments fault with `faults`. */
static unsigned token_mask(int state, unsigned faults, int empty_app)
{
    if (faults) {
        return faults;
    }
    if (empty_app) {
        return BIT(WXTOKEN_INVALID_ARGUMENT);
    }
    switch (state) {
    case 0:
        return BIT(WXTOKEN_NOT_CONFIGURED);
    case 1:
        return NETWORK_STATUSES;
    case 3:
        return BIT(WXTOKEN_OK) | BIT(WXTOKEN_BUFFER_TOO_SMALL);
    default:
        return NETWORK_STATUSES | BIT(WXTOKEN_NOT_CONFIGURED);
    }
}

/* A token a success copied: printable, of a length the simulator issues. */
static void check_token(worker_t *w, const out_t *o, const arg_t *app)
{
    if (o->lenv < 24 || o->lenv > 16384) {
        violation(w, "a token of %zu bytes", o->lenv);
    }
    for (size_t i = 0; i < o->lenv; i++) {
        unsigned char c = (unsigned char)o->buf[i];
        if (c <= 0x20 || c >= 0x7f) {
            violation(w, "a token with byte 0x%02x at %zu", c, i);
            break;
        }
    }
    w->token.n = 0;
    sb_raw(&w->token, o->buf, o->lenv);
    w->token_app.n = 0;
    sb_add(&w->token_app, app->p);
}

static size_t token_hint(worker_t *w)
{
    return w->token.n ? w->token.n : 136;
}

static void do_get(worker_t *w)
{
    int state;
    arg_t app = gen_app(w, &state);
    out_t o;
    out_new(&o, w, token_hint(w), 1);
    out_snapshot(&o);
    unsigned faults = arg_fault(&app, 0) | out_fault(&o, 1);
    unsigned allowed = token_mask(state, faults, app.p && app.utf8 && app.seen == 0);
    w->what.n = 0;
    sb_fmt(&w->what, "app=%.80s buf=%s cap=%zu len=%s", app.p ? app.p : "NULL",
           o.buf ? "buf" : "NULL", o.cap, o.lenp ? "&len" : "NULL");
    begin(w, F_GET);
    wxtoken_status st = wxtoken_get(app.p, o.buf, o.cap, o.lenp);
    after(w, F_GET, st, allowed);
    if (out_check(w, &o, st, NULL)) {
        check_token(w, &o, &app);
    }
    out_free(&o);
    arg_free(&app);
}

static void do_invalidate(worker_t *w)
{
    int state;
    arg_t app = gen_app(w, &state);
    out_t o;
    out_new(&o, w, token_hint(w), 1);
    int have_token = app.p && w->token.n && strcmp(w->token_app.p, app.p) == 0;
    size_t r = below(w, 100);
    arg_t bad = arg_null();
    const char *bad_ptr = NULL;
    int in_place = 0, bad_empty = 0;
    sb_t b = {0};
    if (r < 40 && have_token) {
        if (chance(w, 50) && o.buf && o.cap > w->token.n) {
            /* In place: bad_token is the caller's buffer itself. */
            memcpy(o.buf, w->token.p, w->token.n);
            o.buf[w->token.n] = '\0';
            bad_ptr = o.buf;
            in_place = 1;
        } else {
            bad = arg_bytes(w->token.p, w->token.n);
        }
    } else if (r < 60) {
        random_bytes(w, &b, 1 + below(w, 200), 1);
        bad = arg_bytes(b.p, b.n);
    } else if (r < 70) {
        bad = arg_str("");
        bad_empty = 1;
    } else if (r < 76) {
        /* NULL */
    } else if (r < 82) {
        sb_add(&b, "tok");
        sb_add(&b, BAD_UTF8[below(w, sizeof BAD_UTF8 / sizeof BAD_UTF8[0])]);
        bad = arg_bytes(b.p, b.n);
    } else if (r < 88) {
        sb_rep(&b, 'T', 100000);
        bad = arg_bytes(b.p, b.n);
    } else if (have_token) {
        sb_raw(&b, w->token.p, w->token.n);
        sb_raw(&b, "\0junk", 5);
        bad = arg_bytes(b.p, b.n);
    } else {
        bad = arg_str("x");
    }
    free(b.p);
    if (!in_place) {
        bad_ptr = bad.p;
    }
    out_snapshot(&o);
    unsigned faults = arg_fault(&app, 0) | (in_place ? 0 : arg_fault(&bad, 0)) | out_fault(&o, 1);
    unsigned allowed = token_mask(state, faults, app.p && app.utf8 && app.seen == 0);
    if (!faults && state == 3) {
        /* Reporting the calm app's current token over and over meets the
         * per-process fetch ceiling (10 a minute): a quota, by design. */
        allowed |= BIT(WXTOKEN_QUOTA_EXHAUSTED);
    }
    if (!faults && bad_empty) {
        /* The app's absence or the empty token: either may be found first. */
        allowed = BIT(WXTOKEN_INVALID_ARGUMENT) | (state == 0 || state == 2 ? BIT(WXTOKEN_NOT_CONFIGURED) : 0);
    }
    w->what.n = 0;
    sb_fmt(&w->what, "app=%.80s bad=%s buf=%s cap=%zu len=%s", app.p ? app.p : "NULL",
           in_place ? "(in buf)" : bad.p ? "(given)" : "NULL", o.buf ? "buf" : "NULL", o.cap,
           o.lenp ? "&len" : "NULL");
    begin(w, F_INVALIDATE);
    wxtoken_status st = wxtoken_invalidate(app.p, bad_ptr, o.buf, o.cap, o.lenp);
    after(w, F_INVALIDATE, st, allowed);
    if (out_check(w, &o, st, NULL)) {
        check_token(w, &o, &app);
    }
    out_free(&o);
    arg_free(&app);
    arg_free(&bad);
}

static void do_status(worker_t *w)
{
    int state;
    arg_t app = gen_app(w, &state);
    out_t o;
    out_new(&o, w, 600, 1);
    out_snapshot(&o);
    unsigned faults = arg_fault(&app, 0) | out_fault(&o, 1);
    unsigned allowed = token_mask(state, faults, app.p && app.utf8 && app.seen == 0);
    if (!faults && (state == 1 || state == 3)) {
        allowed = BIT(WXTOKEN_OK) | BIT(WXTOKEN_BUFFER_TOO_SMALL); /* no network: no failure */
    } else if (!faults && state == 2) {
        allowed = BIT(WXTOKEN_OK) | BIT(WXTOKEN_BUFFER_TOO_SMALL) | BIT(WXTOKEN_NOT_CONFIGURED);
    }
    w->what.n = 0;
    sb_fmt(&w->what, "app=%.80s buf=%s cap=%zu len=%s", app.p ? app.p : "NULL",
           o.buf ? "buf" : "NULL", o.cap, o.lenp ? "&len" : "NULL");
    begin(w, F_STATUS);
    wxtoken_status st = wxtoken_status_json(app.p, o.buf, o.cap, o.lenp);
    after(w, F_STATUS, st, allowed);
    if (out_check(w, &o, st, NULL)) {
        if (o.lenv < 2 || o.buf[0] != '{' || o.buf[o.lenv - 1] != '}') {
            violation(w, "status JSON is not an object: %.200s", o.buf);
        }
        if (w->token.n >= 24 && contains(o.buf, o.lenv, w->token.p)) {
            violation(w, "status JSON holds the token");
        }
    }
    out_free(&o);
    arg_free(&app);
}

/* A ticket kind: the three names (*valid 1; the platform may still refuse
 * one: INVALID_ARGUMENT), a wrong one (*valid 0), NULL or invalid UTF-8. */
static arg_t gen_kind(worker_t *w, int *valid)
{
    static const char *good[] = {"jsapi", "wx_card", "agent_config"};
    static const char *bad[] = {"JSAPI", "", "jsapi ", "card", "agent-config"};
    size_t r = below(w, 100);
    *valid = 0;
    if (r < 70) {
        *valid = 1;
        return arg_str(good[r < 50 ? 0 : r < 60 ? 1 : 2]);
    }
    if (r < 85) {
        return arg_str(bad[below(w, sizeof bad / sizeof bad[0])]);
    }
    if (r < 92) {
        return arg_null();
    }
    sb_t b = {0};
    sb_add(&b, "jsapi");
    sb_add(&b, BAD_UTF8[below(w, sizeof BAD_UTF8 / sizeof BAD_UTF8[0])]);
    arg_t a = arg_bytes(b.p, b.n);
    free(b.p);
    return a;
}

/* A ticket a success copied: printable, not the token. */
static void check_ticket(worker_t *w, const out_t *o)
{
    if (o->lenv < 16 || o->lenv > 16384) {
        violation(w, "a ticket of %zu bytes", o->lenv);
    }
    for (size_t i = 0; i < o->lenv; i++) {
        unsigned char c = (unsigned char)o->buf[i];
        if (c <= 0x20 || c >= 0x7f) {
            violation(w, "a ticket with byte 0x%02x at %zu", c, i);
            break;
        }
    }
    w->ticket.n = 0;
    sb_raw(&w->ticket, o->buf, o->lenv);
}

/* wxtoken_get_ticket, or wxtoken_invalidate_ticket with a bad ticket that
 * is the last one seen, random, empty, NULL or invalid UTF-8. */
static void do_ticket(worker_t *w, int invalidate)
{
    int state, kind_valid;
    arg_t app = gen_app(w, &state);
    arg_t kind = gen_kind(w, &kind_valid);
    arg_t bad = arg_null();
    int bad_empty = 0;
    if (invalidate) {
        size_t r = below(w, 100);
        if (r < 40 && w->ticket.n) {
            bad = arg_bytes(w->ticket.p, w->ticket.n);
        } else if (r < 70) {
            sb_t b = {0};
            random_bytes(w, &b, 1 + below(w, 200), 1);
            bad = arg_bytes(b.p, b.n);
            free(b.p);
        } else if (r < 80) {
            bad = arg_str("");
            bad_empty = 1;
        } else if (r < 90) {
            bad = arg_bytes("tk\xff", 3);
        } /* else NULL */
    }
    out_t o;
    out_new(&o, w, w->ticket.n ? w->ticket.n : 100, 1);
    out_snapshot(&o);
    unsigned faults = arg_fault(&app, 0) | arg_fault(&kind, 0) |
                      (invalidate ? arg_fault(&bad, 0) : 0) | out_fault(&o, 1);
    unsigned allowed;
    if (faults) {
        allowed = faults;
    } else if (!kind_valid) {
        allowed = BIT(WXTOKEN_INVALID_ARGUMENT);
    } else {
        allowed = token_mask(state, 0, app.p && app.utf8 && app.seen == 0);
        /* A kind the app's platform does not have; an empty bad ticket. */
        allowed |= BIT(WXTOKEN_INVALID_ARGUMENT);
        if (state == 3) {
            /* The fetch ceiling (10 a minute per process), as for tokens:
             * the fuzzer's own storms of reports on the calm app's token
             * and tickets spend it, and a ticket that must then be fetched
             * (or its token refreshed) gets the ceiling's quota error. */
            allowed |= BIT(WXTOKEN_QUOTA_EXHAUSTED);
        }
        if (bad_empty) {
            allowed = BIT(WXTOKEN_INVALID_ARGUMENT) |
                      (state == 0 || state == 2 ? BIT(WXTOKEN_NOT_CONFIGURED) : 0);
        }
    }
    w->what.n = 0;
    sb_fmt(&w->what, "app=%.80s kind=%.20s bad=%s buf=%s cap=%zu len=%s",
           app.p ? app.p : "NULL", kind.p ? kind.p : "NULL",
           !invalidate ? "-" : bad.p ? "(given)" : "NULL", o.buf ? "buf" : "NULL", o.cap,
           o.lenp ? "&len" : "NULL");
    int f = invalidate ? F_INV_TICKET : F_TICKET;
    begin(w, f);
    wxtoken_status st = invalidate
                            ? wxtoken_invalidate_ticket(app.p, kind.p, bad.p, o.buf, o.cap, o.lenp)
                            : wxtoken_get_ticket(app.p, kind.p, o.buf, o.cap, o.lenp);
    after(w, f, st, allowed);
    if (out_check(w, &o, st, NULL)) {
        check_ticket(w, &o);
    }
    out_free(&o);
    arg_free(&app);
    arg_free(&kind);
    arg_free(&bad);
}

/* wxtoken_jssdk_signature with hostile strings (the documented vector now
 * and then: an exact answer), or wxtoken_jssdk_config_json. */
static void do_jssdk(worker_t *w)
{
    static const char *TICKET =
        "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";
    static const char *URLS[] = {"http://mp.weixin.qq.com?params=value",
                                 "http://mp.weixin.qq.com?params=value#frag"};
    out_t o;
    out_new(&o, w, 41, 1);
    out_snapshot(&o);
    w->what.n = 0;
    if (chance(w, 50)) {
        arg_t args[3];
        int vector = chance(w, 30);
        for (int i = 0; i < 3; i++) {
            if (vector) {
                args[i] = arg_str(i == 0 ? TICKET : i == 1 ? "Wm3WZYTPz0wzccnW" : URLS[below(w, 2)]);
            } else {
                args[i] = hostile_arg(w, 120, 1);
            }
        }
        uint64_t ts = vector ? 1414587457u : (uint64_t)rnd(w);
        unsigned faults =
            arg_fault(&args[0], 0) | arg_fault(&args[1], 0) | arg_fault(&args[2], 0) | out_fault(&o, 1);
        unsigned allowed = faults ? faults : BIT(WXTOKEN_OK) | BIT(WXTOKEN_BUFFER_TOO_SMALL);
        sb_fmt(&w->what, "jssdk_signature vector=%d buf=%s cap=%zu len=%s", vector,
               o.buf ? "buf" : "NULL", o.cap, o.lenp ? "&len" : "NULL");
        begin(w, F_SIGNATURE);
        wxtoken_status st =
            wxtoken_jssdk_signature(args[0].p, args[1].p, ts, args[2].p, o.buf, o.cap, o.lenp);
        after(w, F_SIGNATURE, st, allowed);
        const char *want = vector ? "0f9de62fce790f9a083d5c99e95740ceb90c27ed" : NULL;
        if (st == WXTOKEN_BUFFER_TOO_SMALL && o.lenp && o.lenv != 40) {
            violation(w, "signature length %zu", o.lenv);
        }
        if (out_check(w, &o, st, want)) {
            if (o.lenv != 40 || strspn(o.buf, "0123456789abcdef") != 40) {
                violation(w, "signature '%.60s'", o.buf);
            }
        }
        for (int i = 0; i < 3; i++) {
            arg_free(&args[i]);
        }
        out_free(&o);
        return;
    }
    out_free(&o);
    int state;
    arg_t app = gen_app(w, &state);
    arg_t url = chance(w, 10) ? arg_null() : chance(w, 10) ? arg_bytes("u\xff", 2) : arg_str(URLS[below(w, 2)]);
    out_new(&o, w, 200, 1);
    out_snapshot(&o);
    unsigned faults = arg_fault(&app, 0) | arg_fault(&url, 0) | out_fault(&o, 1);
    unsigned allowed = token_mask(state, faults, app.p && app.utf8 && app.seen == 0);
    if (state == 3 && !faults) {
        /* The fetch ceiling, as for do_ticket: the config signs with the
         * jsapi ticket, which the calm app's report storms may leave to be
         * fetched past the 10-a-minute ceiling. */
        allowed |= BIT(WXTOKEN_QUOTA_EXHAUSTED);
    }
    sb_fmt(&w->what, "jssdk_config_json app=%.80s url=%s buf=%s cap=%zu len=%s",
           app.p ? app.p : "NULL", url.p ? "(given)" : "NULL", o.buf ? "buf" : "NULL", o.cap,
           o.lenp ? "&len" : "NULL");
    begin(w, F_JSSDK_CONFIG);
    wxtoken_status st = wxtoken_jssdk_config_json(app.p, url.p, o.buf, o.cap, o.lenp);
    after(w, F_JSSDK_CONFIG, st, allowed);
    if (out_check(w, &o, st, NULL)) {
        if (strncmp(o.buf, "{\"appId\":\"", 10) != 0 || strstr(o.buf, "\"signature\":\"") == NULL ||
            o.buf[o.lenv - 1] != '}') {
            violation(w, "JSSDK config JSON: %.200s", o.buf);
        }
        if (w->token.n >= 24 && contains(o.buf, o.lenv, w->token.p)) {
            violation(w, "JSSDK config JSON holds the token");
        }
    }
    out_free(&o);
    arg_free(&app);
    arg_free(&url);
}

/* wxtoken_last_error with a random buffer: cut at a character boundary,
 * never changing what it reports. */
static void do_last_error(worker_t *w)
{
    out_t o;
    out_new(&o, w, w->m_msg.n + 1, 0);
    out_snapshot(&o);
    w->what.n = 0;
    sb_fmt(&w->what, "buf=%s cap=%zu (message of %zu bytes)", o.buf ? "buf" : "NULL", o.cap,
           w->m_msg.n);
    begin(w, F_LAST_ERROR);
    wxtoken_status st = wxtoken_last_error(o.buf, o.cap);
    atomic_store(&w->started_ms, 0);
    if ((int)st >= 0 && (int)st < NSTATUS) {
        w->histo[F_LAST_ERROR][st]++;
    }
    for (size_t i = 0; i < GUARD; i++) {
        if ((unsigned char)o.mem[o.cap + i] != GUARDB) {
            violation(w, "wrote past cap %zu", o.cap);
            break;
        }
    }
    const char *m = w->m_msg.p ? w->m_msg.p : "";
    size_t n = w->m_msg.n;
    if (o.buf == NULL && o.cap > 0) {
        if (st != WXTOKEN_NULL_POINTER) {
            violation(w, "NULL buf, cap %zu: %s", o.cap, STATUS_NAMES[st % NSTATUS]);
        }
    } else if (o.cap == 0) {
        if (st != WXTOKEN_BUFFER_TOO_SMALL) {
            violation(w, "cap 0: %s", STATUS_NAMES[st % NSTATUS]);
        }
    } else {
        size_t cut = n < o.cap ? n : o.cap - 1;
        while (cut > 0 && cut < n && ((unsigned char)m[cut] & 0xC0) == 0x80) {
            cut--;
        }
        wxtoken_status want = n < o.cap ? WXTOKEN_OK : WXTOKEN_BUFFER_TOO_SMALL;
        if (st != want || memcmp(o.buf, m, cut) != 0 || o.buf[cut] != '\0') {
            violation(w, "cap %zu, message of %zu: %s, copied '%.100s'", o.cap, n,
                      STATUS_NAMES[st % NSTATUS], o.buf);
        }
    }
    out_free(&o);
    /* Reading it changed nothing. */
    sb_t now = {0};
    read_last_error(&now);
    if (now.n != n || (n && memcmp(now.p, m, n)) || wxtoken_last_errcode() != w->m_code) {
        violation(w, "reading the last error changed it");
    }
    free(now.p);
}

/* wxtoken_default_wecom_name with hostile strings (a known pair now and then:
 * an exact answer): the corp id, '-', 16 hex digits, never the secret. */
static void do_wecom_name(worker_t *w)
{
    static const char *CORP = "wwcorp", *SECRET = "corp-s3cr3t-not-real";
    arg_t args[2];
    int vector = chance(w, 30);
    for (int i = 0; i < 2; i++) {
        if (vector) {
            args[i] = arg_str(i == 0 ? CORP : SECRET);
        } else {
            args[i] = hostile_arg(w, 60, chance(w, 50));
        }
    }
    out_t o;
    out_new(&o, w, args[0].p ? args[0].seen + 18 : 18, 1);
    out_snapshot(&o);
    w->what.n = 0;
    unsigned faults = arg_fault(&args[0], 0) | arg_fault(&args[1], 0) | out_fault(&o, 1);
    unsigned allowed = faults ? faults : BIT(WXTOKEN_OK) | BIT(WXTOKEN_BUFFER_TOO_SMALL);
    sb_fmt(&w->what, "default_wecom_name vector=%d buf=%s cap=%zu len=%s", vector,
           o.buf ? "buf" : "NULL", o.cap, o.lenp ? "&len" : "NULL");
    begin(w, F_WECOM_NAME);
    wxtoken_status st = wxtoken_default_wecom_name(args[0].p, args[1].p, o.buf, o.cap, o.lenp);
    after(w, F_WECOM_NAME, st, allowed);
    size_t want_len = args[0].p ? args[0].seen + 17 : 0;
    if (st == WXTOKEN_BUFFER_TOO_SMALL && o.lenp && o.lenv != want_len) {
        violation(w, "wecom name length %zu, not %zu", o.lenv, want_len);
    }
    if (out_check(w, &o, st, vector ? "wwcorp-732dd06954b7e1fa" : NULL)) {
        const char *tail = o.buf + args[0].seen;
        if (o.lenv != want_len || memcmp(o.buf, args[0].p, args[0].seen) != 0 || tail[0] != '-' ||
            strspn(tail + 1, "0123456789abcdef") != 16) {
            violation(w, "wecom name '%.100s'", o.buf);
        }
        if (args[1].seen >= 8 && !contains(args[0].p, args[0].seen, args[1].p) &&
            contains(o.buf, o.lenv, args[1].p)) {
            violation(w, "wecom name holds the secret");
        }
    }
    for (int i = 0; i < 2; i++) {
        arg_free(&args[i]);
    }
    out_free(&o);
}

static void do_pure(worker_t *w)
{
    static const char *version;
    begin(w, F_PURE);
    atomic_store(&w->started_ms, 0);
    w->what.n = 0;
    int v;
    size_t r = below(w, 4);
    if (r == 0) {
        v = (int)below(w, 20) - 3;
    } else if (r == 1) {
        v = chance(w, 50) ? INT_MIN : INT_MAX;
    } else {
        v = (int)(uint32_t)rnd(w);
    }
    sb_fmt(&w->what, "status_name(%d)", v);
    const char *name = wxtoken_status_name(v);
    const char *want = (v >= 0 && v < NSTATUS) ? STATUS_NAMES[v] : "WXTOKEN_UNKNOWN";
    if (name == NULL || strcmp(name, want) != 0) {
        violation(w, "status_name(%d) = %s", v, name ? name : "NULL");
    }
    int64_t codes[] = {40001, 40014, 42001, 0, -1, 40125, INT64_MIN, INT64_MAX,
                       (int64_t)rnd(w)};
    int64_t code = codes[below(w, sizeof codes / sizeof codes[0])];
    bool bad = wxtoken_is_bad_token_errcode(code);
    if (bad != (code == 40001 || code == 40014 || code == 42001)) {
        violation(w, "is_bad_token_errcode(%lld) = %d", (long long)code, (int)bad);
    }
    const char *ver = wxtoken_version();
    if (ver == NULL || *ver == '\0' || (version != NULL && strcmp(ver, version) != 0)) {
        violation(w, "version '%s'", ver ? ver : "NULL");
    }
    version = ver;
    if (wxtoken_last_errcode() != w->m_code) {
        violation(w, "a pure function changed the errcode");
    }
    w->histo[F_PURE][WXTOKEN_OK]++;
}

/* Toggles the faulted simulator's faults and settings, or kills the calm
 * simulator's tokens (which its clients must survive). */
static void do_admin(worker_t *w)
{
    char body[256];
    size_t r = below(w, 100);
    begin(w, F_ADMIN);
    atomic_store(&w->started_ms, 0);
    w->what.n = 0;
    int rc;
    if (r < 60) {
        static const char *modes[] = {"none", "busy", "http500", "garbage", "hang", "drop", "slow"};
        const char *mode = modes[below(w, 7)];
        if (chance(w, 15) && strcmp(mode, "hang") != 0) {
            snprintf(body, sizeof body, "{\"mode\":\"%s\",\"delay_ms\":%d}", mode,
                     (int)below(w, 300));
        } else {
            snprintf(body, sizeof body, "{\"mode\":\"%s\",\"count\":%d,\"delay_ms\":%d}", mode,
                     1 + (int)below(w, 5), (int)below(w, 300));
        }
        sb_fmt(&w->what, "fault %s", body);
        rc = t_http(g_base, "POST", "/mock/fault", body, NULL, 0);
    } else if (r < 75) {
        const char *base = chance(w, 50) ? g_base : g_calm;
        snprintf(body, sizeof body, "{\"appid\":\"%s\"}",
                 chance(w, 30) && w->calm_ready ? w->calm_appid : APPS[below(w, NAPPS)].appid);
        sb_fmt(&w->what, "supersede %s at %s", body, base);
        rc = t_http(base, "POST", "/mock/supersede", body, NULL, 0);
    } else if (r < 97) {
        static const int lens[] = {24, 136, 511, 512, 600, 1023, 2048, 16384};
        int calm = chance(w, 40);
        if (calm) {
            snprintf(body, sizeof body, "{\"token_len\":%d,\"lifetime_s\":%d}",
                     lens[below(w, 8)], 5 + (int)below(w, 7200));
        } else {
            snprintf(body, sizeof body, "{\"token_len\":%d,\"lifetime_s\":%d,\"daily_quota\":%d}",
                     lens[below(w, 8)], 1 + (int)below(w, 30),
                     chance(w, 25) ? (int)below(w, 4) : 100000000);
        }
        sb_fmt(&w->what, "config %s", body);
        rc = t_http(calm ? g_calm : g_base, "POST", "/mock/config", body, NULL, 0);
    } else {
        sb_add(&w->what, "new_day");
        rc = t_http(g_base, "POST", "/mock/new_day", "", NULL, 0);
    }
    if (rc != 200) {
        violation(w, "the simulator answered %d", rc);
    }
    w->histo[F_ADMIN][WXTOKEN_OK]++;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    long long end = now_ms() + t_env_long("WXTOKEN_FUZZ_SECONDS", 20) * 1000;
    configure_calm(w);
    while (now_ms() < end) {
        size_t r = below(w, 100);
        if (r < 13) {
            do_configure(w, 0);
        } else if (r < 22) {
            do_configure(w, 1);
        } else if (r < 42) {
            do_get(w);
        } else if (r < 46) {
            do_ticket(w, 0);
        } else if (r < 48) {
            do_ticket(w, 1);
        } else if (r < 49) {
            do_jssdk(w);
        } else if (r < 50) {
            do_wecom_name(w);
        } else if (r < 65) {
            do_invalidate(w);
        } else if (r < 77) {
            do_status(w);
        } else if (r < 87) {
            do_last_error(w);
        } else if (r < 94) {
            do_pure(w);
        } else if (r < 97) {
            do_admin(w);
        } else {
            configure_calm(w);
        }
    }
    return NULL;
}

/* Ends the run when one call takes too long: a hang fails, it does not stall. */
static void *watchdog_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_done)) {
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        for (int i = 0; i < g_nworkers; i++) {
            worker_t *w = &g_workers[i];
            long long s = atomic_load(&w->started_ms);
            if (s != 0 && now_ms() - s > g_call_limit_ms + 5000) {
                pthread_mutex_lock(&g_print);
                printf("HANG seed %llu thread %d call %ld %s for %lld ms: %.600s\n",
                        (unsigned long long)g_seed, i, w->calls,
                        FUNC_NAMES[atomic_load(&w->func)], now_ms() - s, w->what.p);
                printf("RESULT 0 1\n");
                fflush(stdout);
                _exit(1);
            }
        }
    }
    return NULL;
}

/* Violations in the library's log: a secret, or a panic (even one caught,
 * even on a background thread). */
static long scan_log(const char *path, long *lines)
{
    long bad = 0, n = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        printf("VIOLATION: cannot read the library log %s\n", path);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        n++;
        int secret = contains(line, (size_t)got, MARK), panic = contains(line, (size_t)got, "panicked");
        if (secret || panic) {
            bad++;
            if (bad <= 10) {
                /* The line itself is not echoed: it may hold the secret. */
                printf("VIOLATION seed %llu: library log line %ld holds %s\n",
                       (unsigned long long)g_seed, n, secret ? "a secret" : "a panic message");
            }
        }
    }
    free(line);
    fclose(f);
    *lines = n;
    return bad;
}

/* ---- the temporary store directories ------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int make_root(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_root, sizeof g_root, "%s/wxtoken-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(g_root) == NULL) {
        return -1;
    }
    char p[512], q[512];
    snprintf(p, sizeof p, "%s/open", g_root);
    if (mkdir(p, 0700) != 0 || chmod(p, 0777) != 0) {
        return -1;
    }
    snprintf(p, sizeof p, "%s/plainfile", g_root);
    FILE *f = fopen(p, "w");
    if (f == NULL) {
        return -1;
    }
    fclose(f);
    snprintf(p, sizeof p, "%s/s0", g_root);
    snprintf(q, sizeof q, "%s/link", g_root);
    if (mkdir(p, 0700) != 0 || symlink(p, q) != 0) {
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--print-apps") == 0) {
        print_apps();
        return 0;
    }
    g_base = t_env("WXTOKEN_FUZZ_API_BASE");
    g_calm = t_env("WXTOKEN_FUZZ_API_BASE_CALM");
    g_denied = getenv("WXTOKEN_FUZZ_API_BASE_DENIED");
    g_denied = (g_denied && *g_denied) ? g_denied : NULL;
    const char *seed = getenv("WXTOKEN_FUZZ_SEED");
    g_seed = (seed && *seed) ? strtoull(seed, NULL, 10)
                             : (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
    g_call_limit_ms = t_env_long("WXTOKEN_FUZZ_CALL_LIMIT_S", 30) * 1000;
    g_nworkers = (int)t_env_long("WXTOKEN_FUZZ_THREADS", 2);
    if (g_nworkers < 1 || g_nworkers > MAX_THREADS) {
        g_nworkers = 2;
    }
    t_section("fuzz");
    if (make_root() != 0) {
        fprintf(stderr, "cannot make the store directories under %s\n", g_root);
        return 2;
    }
    /* The library logs to stderr: into a file, scanned at the end. */
    char logpath[300];
    snprintf(logpath, sizeof logpath, "%s/library.log", g_root);
    int logfd = open(logpath, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (logfd < 0 || dup2(logfd, 2) < 0) {
        printf("cannot redirect stderr to %s\n", logpath);
        return 2;
    }
    close(logfd);
    setenv("WXTOKEN_LOG", "1", 1);
    /* Options not given fall back to these: still local, still bounded. */
    char store[300];
    snprintf(store, sizeof store, "file:%s/env", g_root);
    setenv("WXTOKEN_APPID", APPS[ENV_APP].appid, 1);
    setenv("WXTOKEN_SECRET", APPS[ENV_APP].secret, 1);
    name_pending(APPS[ENV_APP].appid, 0, 1); /* configured on first use */
    setenv("WXTOKEN_API_BASE", g_calm, 1);
    setenv("WXTOKEN_STORE", store, 1);
    setenv("WXTOKEN_TIMEOUT_MS", "500", 1);
    setenv("WXTOKEN_WAIT_MS", "2000", 1);
    printf("seed %llu (WXTOKEN_FUZZ_SEED=%llu repeats it), %d threads, %ld s\n",
           (unsigned long long)g_seed, (unsigned long long)g_seed, g_nworkers,
           t_env_long("WXTOKEN_FUZZ_SECONDS", 20));
    fflush(stdout);

    pthread_t dog;
    pthread_create(&dog, NULL, watchdog_main, NULL);
    for (int i = 0; i < g_nworkers; i++) {
        worker_t *w = &g_workers[i];
        w->id = i;
        w->rng = g_seed + (uint64_t)i * 0x632be59bd9b4e019ULL;
        snprintf(w->calm_name, sizeof w->calm_name, "calm-%d", i);
        snprintf(w->calm_appid, sizeof w->calm_appid, CALM_APPID_FMT, i);
        snprintf(w->calm_secret, sizeof w->calm_secret, CALM_SECRET_FMT, i);
        pthread_create(&w->thread, NULL, worker_main, w);
    }
    long calls = 0, violations = 0;
    long histo[NFUNC][NSTATUS] = {{0}};
    for (int i = 0; i < g_nworkers; i++) {
        worker_t *w = &g_workers[i];
        pthread_join(w->thread, NULL);
        calls += w->calls;
        violations += w->violations;
        for (int f = 0; f < NFUNC; f++) {
            for (int s = 0; s < NSTATUS; s++) {
                histo[f][s] += w->histo[f][s];
            }
        }
        free(w->m_msg.p);
        free(w->token.p);
        free(w->token_app.p);
        free(w->ticket.p);
        free(w->what.p);
    }
    atomic_store(&g_done, 1);
    pthread_join(dog, NULL);
    t_fault_at(g_base, "none", 0, 0);

    for (int f = 0; f < NFUNC; f++) {
        printf("%-16s", FUNC_NAMES[f]);
        for (int s = 0; s < NSTATUS; s++) {
            if (histo[f][s]) {
                printf(" %s=%ld", STATUS_NAMES[s] + 8, histo[f][s]);
            }
        }
        printf("\n");
    }
    for (int i = 0; i < g_nnames; i++) {
        free(g_names[i].name);
    }
    long log_lines = 0, log_bad = scan_log(logpath, &log_lines);
    printf("library log: %ld lines, %ld with a secret or a panic\n", log_lines, log_bad);
    violations += log_bad;
    nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("FUZZ seed %llu: %ld calls, %ld violations\n", (unsigned long long)g_seed, calls,
           violations);
    /* One check per call: it passed when it broke no rule. */
    t_passed += (int)(calls - violations);
    t_failed += (int)violations;
    CHECK(calls > 100, "only %ld calls in the time given", calls);
    return t_finish();
}
