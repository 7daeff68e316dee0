<?php

declare(strict_types=1);

namespace WxToken\Tests;

/**
 * The package under PHP-FPM with opcache.preload=preload.php and ffi.enable=preload:
 * run-tests.sh starts one php-fpm (pm=static, 2 workers) per README setup it can run and
 * names them in WXTOKEN_TEST_FPM ("label=socket label=socket"); requests go through cgi-fcgi.
 */
final class FpmPreloadTest extends \PHPUnit\Framework\TestCase
{
    /** @return array<string, mixed> the page's JSON */
    private function request(string $addr, array $params): array
    {
        $env = $params + [
            'SCRIPT_FILENAME' => __DIR__ . '/fpm/page.php',
            'SCRIPT_NAME' => '/page.php',
            'REQUEST_URI' => '/page.php',
            'REQUEST_METHOD' => 'GET',
            'QUERY_STRING' => '',
            'SERVER_PROTOCOL' => 'HTTP/1.1',
            'GATEWAY_INTERFACE' => 'CGI/1.1',
            'PATH' => '/usr/bin:/bin',
        ];
        $proc = proc_open(['cgi-fcgi', '-bind', '-connect', $addr], [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env);
        $this->assertIsResource($proc, 'cgi-fcgi must start');
        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        $rc = proc_close($proc);
        $this->assertSame(0, $rc, "cgi-fcgi failed: {$err}");
        $parts = preg_split("/\r?\n\r?\n/", (string) $out, 2);
        $this->assertCount(2, $parts, "no FastCGI answer: {$out}{$err}");
        $page = json_decode($parts[1], true);
        $this->assertIsArray($page, "the page did not answer JSON: {$out}");
        return $page;
    }

    /** @return array<string, array{string}> */
    public static function fpms(): array
    {
        $list = [];
        foreach (preg_split('/\s+/', trim((string) getenv('WXTOKEN_TEST_FPM'))) ?: [] as $entry) {
            if ($entry !== '') {
                [$label, $addr] = explode('=', $entry, 2);
                $list[$label] = [$addr];
            }
        }
        return $list ?: ['none' => ['']];
    }

    /** @dataProvider fpms */
    public function testPageUnderPhpFpmUsesThePreloadedScope(string $addr): void
    {
        if ($addr === '') {
            $this->markTestSkipped('WXTOKEN_TEST_FPM is not set: run ./run-tests.sh (it starts php-fpm)');
        }
        [$appid, $secret] = Mock::next();
        $params = ['WXT_APPID' => $appid, 'WXT_SECRET' => $secret, 'WXT_API_BASE' => Mock::base()];
        $pids = [];
        $tokens = [];
        for ($i = 0; $i < 8; $i++) {
            $page = $this->request($addr, $params);
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
