/*
 * A 600-byte token, from a second simulator started with --token-len 600:
 * the size query, a buffer one byte short, and the full copy.
 */
#include "harness.h"

#define APP "wxclong000000001"
#define SECRET "sec-wxclong000000001"

int main(void)
{
    const char *base = t_env("WXTOKEN_TEST_API_BASE_LONG");
    t_section("a 600-byte token");
    CHECK_STATUS(t_configure_at(base, APP, SECRET, ""), WXTOKEN_OK);
    size_t len = 0;
    CHECK_STATUS(wxtoken_get(APP, NULL, 0, &len), WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(len == 600, "length %zu", len);

    char short_buf[600];
    memset(short_buf, 'Z', sizeof short_buf);
    size_t len2 = 0;
    CHECK_STATUS(wxtoken_get(APP, short_buf, sizeof short_buf, &len2), WXTOKEN_BUFFER_TOO_SMALL);
    CHECK(len2 == 600 && short_buf[0] == '\0' && short_buf[599] == 'Z', "one byte short");

    char buf[601];
    CHECK_STATUS(wxtoken_get(APP, buf, sizeof buf, &len2), WXTOKEN_OK);
    CHECK(len2 == 600 && strlen(buf) == 600, "copied %zu bytes", strlen(buf));
    CHECK(t_token_errcode_at(base, buf) == 0, "the simulator accepts it");
    CHECK(t_fetches_at(base, APP) >= 1, "fetched from the long-token simulator");

    char fresh[601];
    CHECK_STATUS(wxtoken_invalidate(APP, buf, fresh, sizeof fresh, &len2), WXTOKEN_OK);
    CHECK(len2 == 600 && strcmp(fresh, buf) != 0, "a new 600-byte token");
    return t_finish();
}
