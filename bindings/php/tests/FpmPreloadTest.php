<?php

declare(strict_types=1);

namespace WxToken\Tests;

/**
 * The package under PHP-FPM with opcache.preload=preload.php and ffi.enable=preload: one
 * php-fpm (pm=static, 2 workers) per README setup this machine can run (Fpm::setups()),
 * requested through cgi-fcgi.
 */
final class FpmPreloadTest extends \PHPUnit\Framework\TestCase
{
    /** @var array<string, Fpm> started php-fpm by setup */
    private static array $fpms = [];

    public static function tearDownAfterClass(): void
    {
        foreach (self::$fpms as $fpm) {
            $fpm->stop();
        }
        self::$fpms = [];
    }

    /** @return array<string, array{string}> */
    public static function fpms(): array
    {
        $list = [];
        foreach (Fpm::setups() as $key => $setup) {
            $list[$setup['label']] = [$key];
        }
        return $list;
    }

    /** @dataProvider fpms */
    public function testPageUnderPhpFpmUsesThePreloadedScope(string $setup): void
    {
        $fpm = self::$fpms[$setup] ??= Fpm::started(Fpm::setups()[$setup], 2, "preload-{$setup}");
        [$appid, $secret] = Mock::next();
        $params = ['WXT_APPID' => $appid, 'WXT_SECRET' => $secret, 'WXT_API_BASE' => Mock::base()];
        $pids = [];
        $tokens = [];
        for ($i = 0; $i < 8; $i++) {
            $page = $fpm->request($params);
            $this->assertTrue($page['ok'] ?? false, json_encode($page));
            $this->assertSame('fpm-fcgi', $page['sapi']);
            $this->assertSame('preload', $page['ffi_enable']);
            $this->assertSame('FFI::scope(WXTOKEN)', $page['via']);
            $this->assertSame([], $page['autoloaded'], 'the package classes come preloaded');
            $this->assertContains('WxToken\\WxToken', $page['preloaded']);
            $this->assertArrayHasKey('ip_list', $page['check'], json_encode($page['check']));
            $pids[$page['pid']] = true;
            $tokens[$page['pid']] = $page['token'];
        }
        // The token each worker holds is one the platform accepts.
        foreach ($tokens as $token) {
            $this->assertArrayHasKey('ip_list', Mock::check($token));
        }
        // The memory store is per process: one fetch per worker, however many requests
        // (and configure() on every request keeps the worker's token).
        $this->assertLessThanOrEqual(2, count($pids));
        $this->assertSame(count($pids), Mock::fetches($appid));
    }
}
