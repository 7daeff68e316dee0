<?php

declare(strict_types=1);

namespace WxToken\Tests;

use WxToken\WxToken;

/** get / invalidate / status / configure against the simulator, counted at the upstream. */
final class TokenTest extends TestCase
{
    public function testVersionAndLoading(): void
    {
        $this->assertMatchesRegularExpression('/^\d+\.\d+\.\d+/', $this->wx->version());
        $this->assertStringStartsWith('FFI::cdef(', $this->wx->loadedVia());
        $this->assertTrue($this->wx->isBadTokenErrcode(40001));
        $this->assertFalse($this->wx->isBadTokenErrcode(40125));
    }

    public function testConfigureReturnsTheName(): void
    {
        [$appid, $secret] = Mock::next();
        $this->assertSame($appid, $this->wx->configure($appid, $secret, Mock::options()));
        $this->assertSame('php-named-app', $this->wx->configure($appid, $secret, Mock::options(['name' => 'php-named-app'])));
        $this->assertSame('php-named-app', $this->wx->status('php-named-app')['name']);
        $this->assertSame($appid, $this->wx->status('php-named-app')['appid']);
    }

    public function testEmptyOptionsGoOutAsAnObject(): void
    {
        [$appid, $secret] = Mock::next();
        // [] must encode as {} (the library refuses a JSON array). run-tests.sh exports
        // WXTOKEN_API_BASE (the simulator) and WXTOKEN_STORE=memory: the env fallbacks.
        $this->assertSame($appid, $this->wx->configure($appid, $secret));
        $this->assertSame($appid, $this->wx->configure($appid, $secret, []));
        $s = $this->wx->status($appid);
        $this->assertFalse($s['token']['present']);
        $this->assertSame(Mock::base(), rtrim($s['api_base'], '/'));
        $this->assertArrayHasKey('ip_list', Mock::check($this->wx->get($appid)));
    }

    public function testColdGetThenManyGetsFetchOnce(): void
    {
        [$app, $appid] = $this->app();
        $this->assertSame(0, Mock::fetches($appid));
        $token = $this->wx->get($app);
        $this->assertSame(136, strlen($token));
        for ($i = 0; $i < 1000; $i++) {
            $this->assertSame($token, $this->wx->get($app));
        }
        $this->assertSame(1, Mock::fetches($appid));
        $this->assertArrayHasKey('ip_list', Mock::check($token));
    }

    public function testInstancesShareTheProcessCache(): void
    {
        [$app, $appid] = $this->app();
        $token = $this->wx->get($app);
        $other = new WxToken();
        $this->assertSame($token, $other->get($app));
        $this->assertSame(1, Mock::fetches($appid));
    }

    public function testAKeptTokenStringIsNeverServedAfterItChanges(): void
    {
        // get() keeps the string it handed out while the library's fresh epoch stays
        // (armed by the library's marker thread within its first pass: wait past it).
        [$app, $appid] = $this->app();
        $token = $this->wx->get($app);
        usleep(600_000);
        // The epoch the kept string is checked against: armed by now, else get() would
        // never keep a string and this test would not exercise the kept path.
        $ffi = (new \ReflectionProperty(WxToken::class, 'ffi'))->getValue($this->wx);
        $epoch = $ffi->wxtoken_fresh_epoch($app);
        $this->assertNotSame(0, $epoch, 'the fresh word is armed');
        $word = $ffi->wxtoken_fresh_word($app);
        $this->assertSame(($epoch << 1) | 1, $word[0], 'the word get() reads: the epoch, fresh');
        $this->assertSame($token, $this->wx->get($app));
        $this->assertSame($token, $this->wx->get($app));
        $other = new WxToken();
        $fresh = $other->invalidate($app, $token);
        $this->assertNotSame($token, $fresh);
        $this->assertNotSame($epoch, $ffi->wxtoken_fresh_epoch($app), 'a new token, a new epoch');
        $this->assertNotSame(($epoch << 1) | 1, $word[0], 'and the word moved with it');
        $this->assertSame($fresh, $this->wx->get($app), 'the new token at once, not the kept one');
        $this->assertSame($fresh, $this->wx->get($app));
        $this->assertSame(2, Mock::fetches($appid));
    }

    public function testAForkedChildNeverServesAStringKeptInTheParent(): void
    {
        // The child inherits the kept string and the word's memory, but not the marker
        // thread: the library clears every word in the child, so get() there asks the
        // library (and gets the token the memory store still holds) until its own
        // marker arms the word again under a new epoch.
        $this->assertTrue(function_exists('pcntl_fork'), 'pcntl (php-cli has it) is needed');
        [$app, $appid] = $this->app();
        $token = $this->wx->get($app);
        $ffi = (new \ReflectionProperty(WxToken::class, 'ffi'))->getValue($this->wx);
        $word = $ffi->wxtoken_fresh_word($app);
        for ($i = 0; $i < 200 && ($word[0] & 1) === 0; $i++) {
            usleep(10_000);
        }
        $this->assertSame(1, $word[0] & 1, 'the parent\'s word is armed');
        $this->assertSame($token, $this->wx->get($app), 'kept in the parent');
        $parentWord = $word[0];
        $report = tempnam(sys_get_temp_dir(), 'wxtoken-fork-');
        $pid = pcntl_fork();
        if ($pid === 0) {
            $first = $word[0];
            $got = $this->wx->get($app);
            for ($i = 0; $i < 200 && ($word[0] & 1) === 0; $i++) {
                usleep(10_000);
            }
            file_put_contents($report, json_encode([$first, $got === $token, $word[0]]));
            posix_kill(getmypid(), SIGKILL); // no PHPUnit shutdown in the child
        }
        pcntl_waitpid($pid, $status);
        [$first, $same, $later] = json_decode((string) file_get_contents($report), true);
        unlink($report);
        $this->assertSame($parentWord & ~1, $first, 'the child found the word cleared, epoch kept');
        $this->assertTrue($same, 'the child still gets the valid token');
        $this->assertSame(1, $later & 1, 'the child\'s own marker armed the word again');
        $this->assertNotSame($parentWord, $later, 'under a new epoch: no inherited copy matches');
        $this->assertSame($parentWord, $word[0], 'the parent\'s word is untouched');
        $this->assertSame(1, Mock::fetches($appid));
    }

    public function testReconfigureKeepsTheToken(): void
    {
        // PHP-FPM pages call configure() on every request: that must not cost a fetch.
        [$app, $appid, $secret] = $this->app();
        $token = $this->wx->get($app);
        for ($i = 0; $i < 20; $i++) {
            $this->wx->configure($appid, $secret, Mock::options());
            $this->assertSame($token, $this->wx->get($app));
        }
        $this->assertSame(1, Mock::fetches($appid));
    }

    public function testInvalidateCurrentTokenFetchesOnce(): void
    {
        [$app, $appid] = $this->app();
        $old = $this->wx->get($app);
        $new = $this->wx->invalidate($app, $old);
        $this->assertNotSame($old, $new);
        $this->assertSame(2, Mock::fetches($appid));
        $this->assertSame($new, $this->wx->get($app));
        $this->assertArrayHasKey('ip_list', Mock::check($new));
        $this->assertSame(2, Mock::fetches($appid));
    }

    public function testInvalidateStaleTokenFetchesNothing(): void
    {
        [$app, $appid] = $this->app();
        $old = $this->wx->get($app);
        $new = $this->wx->invalidate($app, $old);
        $before = Mock::fetches($appid);
        // Another worker reports the token that was already replaced: no upstream call.
        $this->assertSame($new, $this->wx->invalidate($app, $old));
        $this->assertSame($new, $this->wx->invalidate($app, 'never-issued-token'));
        $this->assertSame($before, Mock::fetches($appid));
    }

    public function testInvalidateBeforeAnyGet(): void
    {
        [$app, $appid] = $this->app();
        $token = $this->wx->invalidate($app, 'some-token-from-elsewhere');
        $this->assertArrayHasKey('ip_list', Mock::check($token));
        $this->assertSame(1, Mock::fetches($appid));
    }

    public function testToken600BytesFitsTheFirstBuffer(): void
    {
        $this->mockConfig(['token_len' => 600]);
        [$app, $appid] = $this->app();
        $token = $this->wx->get($app);
        $this->assertSame(600, strlen($token));
        $this->assertSame($token, $this->wx->get($app));
        $this->assertArrayHasKey('ip_list', Mock::check($token));
        $this->assertSame(1, Mock::fetches($appid));
    }

    public function testToken2000BytesRetriesWithABiggerBuffer(): void
    {
        $this->mockConfig(['token_len' => 2000]);
        [$app, $appid] = $this->app();
        $token = $this->wx->get($app);
        $this->assertSame(2000, strlen($token));
        $this->assertSame($token, $this->wx->get($app), 'the retry must not refetch');
        $this->assertArrayHasKey('ip_list', Mock::check($token));
        $this->assertSame(1, Mock::fetches($appid));
        // invalidate takes the same path.
        $new = $this->wx->invalidate($app, $token);
        $this->assertSame(2000, strlen($new));
        $this->assertNotSame($token, $new);
        $this->assertSame(2, Mock::fetches($appid));
        $this->assertArrayHasKey('ip_list', Mock::check($new));
        // and a short token after a long one still comes out whole.
        $this->mockConfig(['token_len' => 40]);
        $short = $this->wx->invalidate($app, $new);
        $this->assertSame(40, strlen($short));
        $this->assertSame($short, $this->wx->get($app));
    }

    public function testStatusShape(): void
    {
        [$app, $appid, $secret] = $this->app(['refresh_margin_s' => 120]);
        $cold = $this->wx->status($app);
        $this->assertSame(['present' => false], $cold['token']);

        $token = $this->wx->get($app);
        $s = $this->wx->status($app);
        foreach (['name', 'appid', 'platform', 'mode', 'api_base', 'store', 'refresh_margin_s',
                  'token', 'refreshing', 'cooldown_ms', 'last_error', 'stats'] as $key) {
            $this->assertArrayHasKey($key, $s);
        }
        $this->assertSame($app, $s['name']);
        $this->assertSame($appid, $s['appid']);
        $this->assertSame('mp', $s['platform']);
        $this->assertSame('token', $s['mode']);
        $this->assertSame(120, $s['refresh_margin_s']);
        $this->assertIsBool($s['refreshing']);
        $this->assertIsInt($s['cooldown_ms']);
        $this->assertNull($s['last_error']);
        $this->assertIsArray($s['stats']);
        $t = $s['token'];
        $this->assertTrue($t['present']);
        $this->assertTrue($t['valid']);
        $this->assertTrue($t['fresh']);
        $this->assertSame(strlen($token), $t['length']);
        $this->assertIsInt($t['generation']);
        $this->assertGreaterThan($t['fetched_at_ms'], $t['expires_at_ms']);
        $this->assertGreaterThan(7000 * 1000, $t['expires_in_ms']);
        $this->assertStringNotContainsString($token, json_encode($s), 'status never shows the token');
        $this->assertStringNotContainsString($secret, json_encode($s), 'status never shows the secret');
    }

    public function testStatusLongerThanTheFirstBuffer(): void
    {
        // A status JSON over 1024 bytes (a long name) takes the bigger-buffer retry.
        [$appid, $secret] = Mock::next();
        $name = 'php-' . str_repeat('n', 250);
        $this->wx->configure($appid, $secret, Mock::options(['name' => $name, 'api_base' => Mock::base() . '/' . str_repeat('p', 700)]));
        $s = $this->wx->status($name);
        $this->assertGreaterThan(1024, strlen(json_encode($s)));
        $this->assertSame($name, $s['name']);
    }

    public function testWecomApp(): void
    {
        [$app, $appid] = $this->app([], 'wecom');
        $token = $this->wx->get($app);
        $this->assertSame('wecom', $this->wx->status($app)['platform']);
        $this->assertArrayHasKey('ip_list', Mock::check($token));
        $this->assertSame($token, $this->wx->get($app));
        $this->assertSame(1, Mock::fetches($appid));
    }
}
