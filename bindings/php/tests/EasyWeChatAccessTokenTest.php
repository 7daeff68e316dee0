<?php

declare(strict_types=1);

namespace WxToken\Tests;

use EasyWeChat\Kernel\Contracts\AccessToken as AccessTokenContract;
use EasyWeChat\Kernel\Contracts\RefreshableAccessToken;
use WxToken\EasyWeChat\AccessToken;
use WxToken\NotConfiguredException;

require_once __DIR__ . '/EasyWeChat/Contracts.php';

/**
 * WxToken\EasyWeChat\AccessToken against the simulator, through EasyWeChat 6's contracts
 * (their shape declared in tests/EasyWeChat/Contracts.php): the token EasyWeChat puts in its
 * queries is wxtoken's, and refresh() reports it (one refresh for every process).
 */
final class EasyWeChatAccessTokenTest extends TestCase
{
    private function token(array $options = []): array
    {
        [$appid, $secret] = Mock::next();
        return [AccessToken::configure($appid, $secret, Mock::options($options), $this->wx), $appid, $secret];
    }

    public function testItIsEasyWeChatsRefreshableAccessToken(): void
    {
        [$token] = $this->token();
        $this->assertInstanceOf(AccessTokenContract::class, $token);
        $this->assertInstanceOf(RefreshableAccessToken::class, $token);
        $contract = new \ReflectionClass(RefreshableAccessToken::class);
        foreach (['getToken' => 'string', 'toQuery' => 'array', 'refresh' => 'string'] as $method => $type) {
            $this->assertTrue($contract->hasMethod($method), $method);
            $this->assertSame($type, (string) (new \ReflectionMethod($token, $method))->getReturnType(), $method);
        }
    }

    public function testTheTokenInEveryQueryIsWxtokens(): void
    {
        [$token, $appid] = $this->token();
        $query = $token->toQuery();
        $this->assertSame(['access_token'], array_keys($query));
        $this->assertSame($this->wx->get($token->app()), $query['access_token']);
        $this->assertSame($query['access_token'], $token->getToken());
        $this->assertArrayHasKey('ip_list', Mock::check($query['access_token']));
        $this->assertSame(1, Mock::fetches($appid));
        $this->assertSame($appid, $token->app());
    }

    public function testAnAppConfiguredElsewhereByName(): void
    {
        [$app, $appid] = $this->app(['name' => 'shop-' . bin2hex(random_bytes(4))]);
        $token = new AccessToken($app, $this->wx);
        $this->assertSame($this->wx->get($app), $token->getToken());
        $this->assertSame(1, Mock::fetches($appid));
        $this->expectException(NotConfiguredException::class);
        (new AccessToken('wxnotconfigured0000', $this->wx))->getToken();
    }

    public function testWeComApplicationsOfOneCorpGetNamesOfTheirOwn(): void
    {
        [$corp, $secret] = Mock::next('wecom');
        $options = Mock::options(['platform' => 'wecom']);
        $token = AccessToken::configure($corp, $secret, $options, $this->wx);
        $this->assertMatchesRegularExpression('/^' . preg_quote($corp, '/') . '-[0-9a-f]{16}$/', $token->app());
        $this->assertSame($this->wx->defaultWecomName($corp, $secret), $token->app());
        $this->assertStringNotContainsString($secret, $token->app());
        $this->assertSame('wecom', $this->wx->status($token->app())['platform']);
        $first = $token->getToken();
        $this->assertSame(1, Mock::fetches($corp));
        // Another application of the corp, its own secret: its own name, so configuring it
        // leaves the first one's config (and token) alone.
        $other = AccessToken::configure($corp, $secret . '-other-app', $options, $this->wx);
        $this->assertNotSame($token->app(), $other->app());
        $this->assertSame($first, $token->getToken());
        $this->assertSame(1, Mock::fetches($corp));
        // A name given wins; an official account keeps its appid.
        $this->assertSame('hr-app-' . $corp, AccessToken::configure($corp, $secret, $options + ['name' => 'hr-app-' . $corp], $this->wx)->app());
        [$appid, $mpSecret] = Mock::next();
        $this->assertSame($appid, AccessToken::configure($appid, $mpSecret, Mock::options(), $this->wx)->app());
        // Longer than the first buffer: retried with a bigger one.
        $long = str_repeat('w', 3000);
        $this->assertSame(3017, strlen($this->wx->defaultWecomName($long, $secret)));
        $this->assertStringStartsWith("{$long}-", $this->wx->defaultWecomName($long, $secret));
        try {
            $this->wx->defaultWecomName($corp, "{$secret}\0");
            $this->fail('a NUL byte was accepted');
        } catch (\WxToken\InvalidArgumentException $e) {
            $this->assertStringNotContainsString($secret, $e->getMessage());
        }
    }

    public function testRefreshReportsTheTokenHandedOutOnce(): void
    {
        [$token, $appid] = $this->token();
        $first = $token->getToken();
        $other = new AccessToken($token->app(), $this->wx); // another EasyWeChat client of the app
        $this->assertSame($first, $other->getToken());
        // Someone else fetched: the token EasyWeChat sent now answers 40001.
        Mock::supersede($appid);
        $this->assertSame(40001, Mock::check($first)['errcode'] ?? null);
        $second = $token->refresh();
        $this->assertNotSame($first, $second);
        $this->assertArrayHasKey('ip_list', Mock::check($second));
        $this->assertSame(2, Mock::fetches($appid));
        // refresh() hands nothing out: a second report is of the same token, stale, no fetch.
        $this->assertSame($second, $token->refresh());
        $this->assertSame(2, Mock::fetches($appid));
        $this->assertSame($second, $token->getToken());
        // The other client sent the old token too and refreshes: a stale report, no fetch.
        $this->assertSame($second, $other->refresh());
        $this->assertSame(2, Mock::fetches($appid));
        // A client that handed out nothing yet has nothing to report: the current token.
        $this->assertSame($second, (new AccessToken($token->app(), $this->wx))->refresh());
        $this->assertSame(2, Mock::fetches($appid));
    }

    public function testWhatEasyWeChatsRetryDoes(): void
    {
        // EasyWeChat 6: AccessTokenAwareClient merges toQuery() into the request's options
        // once; Symfony's RetryableHttpClient sends those same options again up to
        // http.retry.max_retries (2) times, asking AccessTokenExpiredRetryStrategy after each
        // answer but the last, and that strategy calls refresh() on an answer with 42001 and
        // "access_token expired" only.
        $maxRetries = 2;
        $refreshes = 0;
        $send = static function (AccessTokenContract $accessToken, array $query) use ($maxRetries, &$refreshes): array {
            for ($retries = 0; ; $retries++) {
                $answer = Mock::check($query['access_token']);
                $body = json_encode($answer, JSON_THROW_ON_ERROR);
                $expired = str_contains($body, '42001') && str_contains($body, 'access_token expired');
                if (!$expired || $retries === $maxRetries || !$accessToken instanceof RefreshableAccessToken) {
                    return $answer;
                }
                $refreshes++;
                if ($accessToken->refresh() === '') {
                    return $answer;
                }
            }
        };
        // Short tokens, and stable mode: there a new token (a normal fetch) leaves the old one
        // to expire with 42001 instead of superseding it, so EasyWeChat meets 42001 again.
        $restore = Mock::config(['lifetime_s' => 4]);
        [$token, $appid] = $this->token(['mode' => 'stable', 'refresh_margin_s' => 0]);
        try {
            $this->assertArrayHasKey('ip_list', $send($token, $token->toQuery()));
            $this->assertSame(0, $refreshes);
            // A request built with T1 is answered after T1 expired, when another worker (or
            // the refresher) already holds the next token.
            $query = $token->toQuery();
            $until = microtime(true) + 15;
            while ((Mock::check($query['access_token'])['errcode'] ?? 0) !== 42001) {
                $this->assertLessThan($until, microtime(true), 'the simulator never expired the token');
                usleep(100_000);
            }
            $next = $this->wx->get($token->app());
            $this->assertNotSame($query['access_token'], $next);
            $this->assertArrayHasKey('ip_list', Mock::check($next));
            $fetches = Mock::fetches($appid);
            $answer = $send($token, $query);
            // EasyWeChat resent the expired token each time: its retry cannot succeed...
            $this->assertSame(42001, $answer['errcode'] ?? null);
            $this->assertSame($maxRetries, $refreshes);
            // ...and its two reports of it were stale: no fetch (the second one forced a new
            // stable token, revoking every worker's, when refresh() handed out what it got).
            $this->assertSame($fetches, Mock::fetches($appid), 'the one fetch after the expiry was the only one');
            $this->assertArrayHasKey('ip_list', Mock::check($next), 'the group\'s token still works');
            // EasyWeChat's next request takes the good token.
            $this->assertArrayHasKey('ip_list', $send($token, $token->toQuery()));
            $this->assertSame($fetches, Mock::fetches($appid));
        } finally {
            // No short token left behind: its refresher would go on fetching in this
            // process, and meet the faults the next tests arm for their own fetches.
            Mock::config($restore);
            $until = microtime(true) + 15;
            while (($this->wx->status($token->app())['token']['expires_in_ms'] ?? 0) < 60_000 && microtime(true) < $until) {
                $this->wx->invalidate($token->app(), $this->wx->get($token->app()));
                $this->settle($token->app());
            }
        }
    }

    public function testCallRetriesWhatEasyWeChatDoesNot(): void
    {
        [$token, $appid] = $this->token();
        $token->getToken();
        Mock::supersede($appid);
        $sent = [];
        $answer = $token->call(function () use ($token, &$sent): array {
            // As an EasyWeChat request would: the token from toQuery(), the decoded answer back.
            $sent[] = $token->toQuery()['access_token'];
            return Mock::check(end($sent));
        });
        $this->assertArrayHasKey('ip_list', $answer);
        $this->assertCount(2, $sent);
        $this->assertNotSame($sent[0], $sent[1]);
        $this->assertSame(2, Mock::fetches($appid));
        // Any other answer goes back at once.
        $this->assertSame(['errcode' => 45009], $token->call(fn (): array => ['errcode' => 45009]));
        $this->assertSame(2, Mock::fetches($appid));
    }

    public function testProcessesRefreshOncePerEvent(): void
    {
        [$appid, $secret] = Mock::next();
        $store = sys_get_temp_dir() . '/wxtoken-php-easywechat-' . bin2hex(random_bytes(6));
        $workers = [];
        try {
            for ($i = 0; $i < 4; $i++) {
                $proc = proc_open(
                    [PHP_BINARY, '-d', 'ffi.enable=1', __DIR__ . '/EasyWeChat/worker.php', $appid, $secret, Mock::base(), "file:{$store}"],
                    [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['file', '/dev/null', 'w']],
                    $pipes
                );
                $this->assertIsResource($proc);
                $workers[] = [$proc, $pipes];
            }
            $first = array_map(fn (array $w): string => trim((string) fgets($w[1][1])), $workers);
            $this->assertCount(1, array_unique($first), 'every process got the one token');
            $this->assertSame(1, Mock::fetches($appid));
            foreach ([2, 3] as $event) {
                Mock::supersede($appid);
                foreach ($workers as [, $pipes]) {
                    fwrite($pipes[0], "refresh\n");
                }
                $tokens = array_map(fn (array $w): string => trim((string) fgets($w[1][1])), $workers);
                $this->assertCount(1, array_unique($tokens), 'every process refreshed to one token');
                $this->assertArrayHasKey('ip_list', Mock::check($tokens[0]));
                $this->assertSame($event, Mock::fetches($appid), 'one refresh for the group');
            }
        } finally {
            foreach ($workers as [$proc, $pipes]) {
                fclose($pipes[0]);
                fclose($pipes[1]);
                proc_close($proc);
            }
            foreach (glob("{$store}/*") ?: [] as $f) {
                $this->assertStringNotContainsString($secret, (string) file_get_contents($f));
                unlink($f);
            }
            @rmdir($store);
        }
    }

    public function testDumpsNeverShowTheToken(): void
    {
        [$token] = $this->token();
        $value = $token->getToken();
        $this->assertStringNotContainsString($value, print_r($token, true));
        ob_start();
        var_dump($token);
        $this->assertStringNotContainsString($value, (string) ob_get_clean());
        $this->assertStringContainsString($token->app(), print_r($token, true));
        $this->assertStringNotContainsString($value, var_export($token, true));
        $this->assertStringNotContainsString($value, var_export((array) $token, true));
        $this->assertStringNotContainsString($value, json_encode(get_object_vars($token), JSON_THROW_ON_ERROR));
    }

    public function testItRefusesSerialization(): void
    {
        [$token] = $this->token();
        $value = $token->getToken();
        try {
            $text = serialize($token);
            $this->fail('serialized: ' . (str_contains($text, $value) ? 'with the token' : $text));
        } catch (\LogicException $e) {
            $this->assertStringContainsString('cannot be serialized', $e->getMessage());
            $this->assertStringNotContainsString($value, $e->getMessage());
        }
        $this->expectException(\LogicException::class);
        unserialize('O:' . strlen(AccessToken::class) . ':"' . AccessToken::class . '":0:{}');
    }
}
