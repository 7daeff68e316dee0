/*
 * Statuses that need the upstream to misbehave: faults injected into the
 * simulator (busy, HTTP 500, garbage, hang, slow, dropped connections), a
 * closed port, and a spent quota. Each case uses an app of its own, fresh in
 * this process, with small timeouts; every fault is disarmed afterwards.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A fresh app meets `fault` on every upstream call: get returns `expected`. */
static void fault_case(const char *appid, const char *fault, const char *extra,
                       wxtoken_status expected, int64_t errcode, const char *message_part)
{
    char title[160];
    snprintf(title, sizeof title, "%s: fault %s", wxtoken_status_name(expected), fault);
    t_section(title);
    char secret[64];
    snprintf(secret, sizeof secret, "sec-%s", appid);
    CHECK_STATUS(t_configure(appid, secret, extra), WXTOKEN_OK);
    CHECK(t_fault(fault, 100, 0) == 0, "arming %s", fault);
    char buf[1024];
    size_t len = 0;
    CHECK_STATUS(wxtoken_get(appid, buf, sizeof buf, &len), expected);
    CHECK(wxtoken_last_errcode() == errcode, "errcode %lld, want %lld",
          (long long)wxtoken_last_errcode(), (long long)errcode);
    CHECK(strstr(t_last_error(), message_part) != NULL, "message: %s", t_last_error());
    CHECK(strstr(t_last_error(), secret) == NULL, "no secret in: %s", t_last_error());
    CHECK(t_fetches(appid) >= 1, "the upstream was called");
    CHECK(t_fault("none", 0, 0) == 0, "disarming");
    /* Cooling down: the next caller gets the error at once, no upstream call. */
    long before = t_fetches(appid);
    CHECK_STATUS(wxtoken_get(appid, buf, sizeof buf, &len), expected);
    CHECK(t_fetches(appid) == before, "cool-down: no upstream call");
}

/* A port on loopback with nothing listening. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

static void network_refused(void)
{
    t_section("WXTOKEN_NETWORK: connection refused");
    int port = closed_port();
    CHECK(port > 0, "a free port");
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    CHECK_STATUS(t_configure_at(base, "wxcflt0000000006", "sec-wxcflt0000000006",
                                "\"timeout_ms\":500"),
                 WXTOKEN_OK);
    char buf[1024];
    size_t len = 0;
    CHECK_STATUS(wxtoken_get("wxcflt0000000006", buf, sizeof buf, &len), WXTOKEN_NETWORK);
    CHECK(wxtoken_last_errcode() == 0, "no WeChat errcode");
    CHECK(strncmp(t_last_error(), "network error: ", 15) == 0, "%s", t_last_error());
}

static void wait_timeout_then_recovery(void)
{
    const char *app = "wxcflt0000000007";
    t_section("WXTOKEN_TIMEOUT: wait_ms runs out while a slow refresh is in flight");
    CHECK_STATUS(t_configure(app, "sec-wxcflt0000000007", "\"wait_ms\":100,\"timeout_ms\":5000"),
                 WXTOKEN_OK);
    long before = t_fetches(app);
    CHECK(t_fault("slow", 1, 1500) == 0, "arming slow");
    char buf[1024];
    size_t len = 0;
    CHECK_STATUS(wxtoken_get(app, buf, sizeof buf, &len), WXTOKEN_TIMEOUT);
    CHECK(strstr(t_last_error(), "wait_ms") != NULL, "%s", t_last_error());
    /* The refresh itself goes on and lands: later callers get its token. */
    wxtoken_status s = WXTOKEN_TIMEOUT;
    for (int i = 0; i < 100 && s != WXTOKEN_OK; i++) {
        sleep_ms(100);
        s = wxtoken_get(app, buf, sizeof buf, &len);
    }
    CHECK(s == WXTOKEN_OK, "the slow refresh landed: %s", wxtoken_status_name(s));
    CHECK(t_fetches(app) - before == 1, "one upstream call in all, got %ld",
          t_fetches(app) - before);
    CHECK(t_fault("none", 0, 0) == 0, "disarming");
}

static void quota(void)
{
    const char *app = "wxcflt0000000008";
    t_section("WXTOKEN_QUOTA_EXHAUSTED: daily quota 0");
    CHECK(t_http(t_base(), "POST", "/mock/config", "{\"daily_quota\":0}", NULL, 0) == 200,
          "quota 0");
    CHECK_STATUS(t_configure(app, "sec-wxcflt0000000008", ""), WXTOKEN_OK);
    char buf[1024];
    size_t len = 0;
    CHECK_STATUS(wxtoken_get(app, buf, sizeof buf, &len), WXTOKEN_QUOTA_EXHAUSTED);
    CHECK(wxtoken_last_errcode() == 45009, "errcode %lld", (long long)wxtoken_last_errcode());
    CHECK(t_http(t_base(), "POST", "/mock/config", "{\"daily_quota\":1000000}", NULL, 0) == 200,
          "quota back");
}

int main(void)
{
    t_fault("none", 0, 0);
    fault_case("wxcflt0000000001", "busy", "", WXTOKEN_UPSTREAM, -1, "upstream error: ");
    fault_case("wxcflt0000000002", "http500", "", WXTOKEN_UPSTREAM, 0, "HTTP 500");
    fault_case("wxcflt0000000003", "garbage", "", WXTOKEN_BAD_RESPONSE, 0,
               "bad response from upstream: ");
    fault_case("wxcflt0000000004", "hang", "\"timeout_ms\":100", WXTOKEN_TIMEOUT, 0,
               "timed out: ");
    fault_case("wxcflt0000000005", "drop", "", WXTOKEN_NETWORK, 0, "network error: ");
    network_refused();
    wait_timeout_then_recovery();
    quota();
    t_fault("none", 0, 0);
    return t_finish();
}
