<?php

declare(strict_types=1);

namespace WxToken\Tests;

use WxToken\InvalidArgumentException;
use WxToken\NotConfiguredException;
use WxToken\WxTokenException;

/** Tickets and the JS-SDK signature: getTicket / invalidateTicket / jssdkSignature / jssdkConfig. */
final class TicketTest extends TestCase
{
    private const DOC_TICKET = 'sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg';
    private const DOC_NONCE = 'Wm3WZYTPz0wzccnW';
    private const DOC_TS = 1414587457;
    private const DOC_URL = 'http://mp.weixin.qq.com?params=value';
    private const DOC_SIG = '0f9de62fce790f9a083d5c99e95740ceb90c27ed';

    /** The simulator's count of $kind ticket calls for $appid. */
    private static function ticketCalls(string $appid, string $kind): int
    {
        return (int) (Mock::stats()['ticket_calls'][$appid][$kind] ?? 0);
    }

    public function testTheDocumentedSignature(): void
    {
        $this->assertSame(self::DOC_SIG, $this->wx->jssdkSignature(self::DOC_TICKET, self::DOC_NONCE, self::DOC_TS, self::DOC_URL));
    }

    public function testTheFragmentIsNotSigned(): void
    {
        $this->assertSame(self::DOC_SIG, $this->wx->jssdkSignature(self::DOC_TICKET, self::DOC_NONCE, self::DOC_TS, self::DOC_URL . '#frag'));
        $this->assertNotSame(self::DOC_SIG, $this->wx->jssdkSignature(self::DOC_TICKET, self::DOC_NONCE, self::DOC_TS + 1, self::DOC_URL));
    }

    public function testSignatureRefusesNulAndNegativeTimestamps(): void
    {
        $this->assertThrows(InvalidArgumentException::class, fn () => $this->wx->jssdkSignature("t\0x", 'n', 1, 'u'));
        $this->assertThrows(InvalidArgumentException::class, fn () => $this->wx->jssdkSignature('t', 'n', -1, 'u'));
    }

    public function testGetTicketFetchesOnceAndIsNotTheToken(): void
    {
        [$app, $appid] = $this->app();
        $this->assertSame(0, self::ticketCalls($appid, 'jsapi'));
        $ticket = $this->wx->getTicket($app, 'jsapi');
        $this->assertGreaterThanOrEqual(16, strlen($ticket));
        for ($i = 0; $i < 100; $i++) {
            $this->assertSame($ticket, $this->wx->getTicket($app, 'jsapi'));
        }
        $this->assertSame($ticket, $this->wx->getTicket($app), "'jsapi' is the default kind");
        $this->assertSame(1, Mock::fetches($appid), 'one token fetch');
        $this->assertSame(1, self::ticketCalls($appid, 'jsapi'), 'one jsapi ticket call');
        $this->assertNotSame($ticket, $this->wx->get($app));

        $card = $this->wx->getTicket($app, 'wx_card');
        $this->assertNotSame($ticket, $card);
        $this->assertSame(1, self::ticketCalls($appid, 'wx_card'));
        $this->assertSame(1, Mock::fetches($appid), 'the token is shared by both kinds');
    }

    public function testInvalidateTicketRefreshesOnceThenCostsNothing(): void
    {
        [$app, $appid] = $this->app();
        $ticket = $this->wx->getTicket($app, 'jsapi');
        $good = $this->wx->invalidateTicket($app, 'jsapi', $ticket);
        $this->assertSame(2, self::ticketCalls($appid, 'jsapi'), 'one refresh');
        $this->assertSame($good, $this->wx->getTicket($app, 'jsapi'));
        // A report of a ticket that is no longer current: the current one, no call.
        $this->assertSame($good, $this->wx->invalidateTicket($app, 'jsapi', 'a-ticket-long-replaced'));
        $this->assertSame(2, self::ticketCalls($appid, 'jsapi'));
        $this->assertThrows(InvalidArgumentException::class, fn () => $this->wx->invalidateTicket($app, 'jsapi', ''));
    }

    public function testUnknownKindsAndWrongPlatforms(): void
    {
        [$app] = $this->app();
        $e = $this->assertThrows(InvalidArgumentException::class, fn () => $this->wx->getTicket($app, 'JSAPI'));
        $this->assertStringContainsString("unknown ticket kind 'JSAPI'", $e->getMessage());
        $this->assertSame('invalid_argument', $e->getKind());
        $this->assertInstanceOf(WxTokenException::class, $e);
        $this->assertThrows(InvalidArgumentException::class, fn () => $this->wx->invalidateTicket($app, 'card', 'x'));
        $this->assertThrows(InvalidArgumentException::class, fn () => $this->wx->getTicket($app, "jsapi\0"));
        $e = $this->assertThrows(InvalidArgumentException::class, fn () => $this->wx->getTicket($app, 'agent_config'));
        $this->assertStringContainsString('WeCom', $e->getMessage());
        $this->assertThrows(NotConfiguredException::class, fn () => $this->wx->getTicket('wx-php-nobody', 'jsapi'));
    }

    public function testWecomTickets(): void
    {
        [$app, $corpid] = $this->app([], 'wecom');
        $jsapi = $this->wx->getTicket($app, 'jsapi');
        $agent = $this->wx->getTicket($app, 'agent_config');
        $this->assertNotSame($jsapi, $agent);
        $this->assertSame(1, self::ticketCalls($corpid, 'jsapi'));
        $this->assertSame(1, self::ticketCalls($corpid, 'agent_config'));
        $this->assertThrows(InvalidArgumentException::class, fn () => $this->wx->getTicket($app, 'wx_card'));
    }

    public function testJssdkConfigIsSignedWithTheTicket(): void
    {
        [$app, $appid] = $this->app();
        $url = 'https://example.com/page?x=1#section';
        $config = $this->wx->jssdkConfig($app, $url);
        $this->assertSame(['appId', 'timestamp', 'nonceStr', 'signature'], array_keys($config));
        $this->assertSame($appid, $config['appId']);
        $this->assertIsInt($config['timestamp']);
        $this->assertEqualsWithDelta(time(), $config['timestamp'], 60);
        $this->assertSame(16, strlen($config['nonceStr']));
        $ticket = $this->wx->getTicket($app, 'jsapi');
        $this->assertSame(sha1("jsapi_ticket={$ticket}&noncestr={$config['nonceStr']}&timestamp={$config['timestamp']}&url=https://example.com/page?x=1"), $config['signature']);
        $this->assertSame($config['signature'], $this->wx->jssdkSignature($ticket, $config['nonceStr'], $config['timestamp'], $url));
        $this->assertNotSame($config['nonceStr'], $this->wx->jssdkConfig($app, $url)['nonceStr'], 'a fresh nonce per call');
        $this->assertStringNotContainsString($ticket, json_encode($config));
        $this->assertSame(1, self::ticketCalls($appid, 'jsapi'));
        $this->assertThrows(NotConfiguredException::class, fn () => $this->wx->jssdkConfig('wx-php-nobody', $url));
    }

    public function testNoTicketIsLeftInTheObject(): void
    {
        [$app] = $this->app();
        $ticket = $this->wx->getTicket($app, 'jsapi');
        $card = $this->wx->invalidateTicket($app, 'wx_card', 'stale');
        ob_start();
        var_dump($this->wx);
        $shown = (string) ob_get_clean();
        $shown .= print_r((array) $this->wx, true);
        foreach ([$ticket, $card] as $needle) {
            $this->assertStringNotContainsString($needle, $shown);
        }
        // The reused FFI buffer itself: zeroed after the copy.
        $buf = ((array) $this->wx)["\0WxToken\\WxToken\0buf"];
        $this->assertSame(str_repeat("\0", 256), \FFI::string($buf, 256));
    }

    /**
     * @template E of \Throwable
     * @param class-string<E> $class
     * @return E
     */
    private function assertThrows(string $class, callable $fn): \Throwable
    {
        try {
            $fn();
        } catch (\Throwable $e) {
            $this->assertInstanceOf($class, $e, $e->getMessage());
            return $e;
        }
        $this->fail("no {$class} thrown");
    }
}
