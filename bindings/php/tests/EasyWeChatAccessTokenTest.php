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
        $this->assertSame($second, $token->getToken());
        $this->assertSame(2, Mock::fetches($appid));
        // The other client sent the old token too and refreshes: a stale report, no fetch.
        $this->assertSame($second, $other->refresh());
        $this->assertSame(2, Mock::fetches($appid));
        // A client that handed out nothing yet reports the current token: a forced refresh.
        $third = (new AccessToken($token->app(), $this->wx))->refresh();
        $this->assertNotSame($second, $third);
        $this->assertSame(3, Mock::fetches($appid));
    }

    public function testWhatEasyWeChatsRetryDoes(): void
    {
        // EasyWeChat 6: AccessTokenAwareClient merges toQuery() into each request; its
        // AccessTokenExpiredRetryStrategy calls refresh() on a bad-token answer and sends
        // the request again.
        [$token, $appid] = $this->token();
        $request = static function (AccessTokenContract $accessToken): array {
            $answer = Mock::check($accessToken->toQuery()['access_token']);
            if (in_array($answer['errcode'] ?? 0, [40001, 42001], true) && $accessToken instanceof RefreshableAccessToken) {
                $accessToken->refresh();
                $answer = Mock::check($accessToken->toQuery()['access_token']);
            }
            return $answer;
        };
        $this->assertArrayHasKey('ip_list', $request($token));
        Mock::supersede($appid);
        $this->assertArrayHasKey('ip_list', $request($token));
        $this->assertSame(2, Mock::fetches($appid));
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
    }
}
