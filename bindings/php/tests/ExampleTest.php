<?php

declare(strict_types=1);

namespace WxToken\Tests;

/** example.php runs as documented against the simulator. */
final class ExampleTest extends \PHPUnit\Framework\TestCase
{
    public function testExampleRuns(): void
    {
        [$appid, $secret] = Mock::next();
        $env = [
            'PATH' => (string) getenv('PATH'),
            'WXTOKEN_APPID' => $appid,
            'WXTOKEN_SECRET' => $secret,
            'WXTOKEN_API_BASE' => Mock::base(),
            'WXTOKEN_LIB' => (string) getenv('WXTOKEN_LIB'),
        ];
        $proc = proc_open([PHP_BINARY, '-d', 'ffi.enable=1', dirname(__DIR__) . '/example.php'],
            [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env);
        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        $rc = proc_close($proc);
        $this->assertSame(0, $rc, $out . $err);
        $this->assertStringContainsString("token for {$appid}: ", $out);
        $this->assertStringContainsString('get_api_domain_ip: {"ip_list":', $out);
        $this->assertStringNotContainsString($secret, $out . $err);
        $this->assertSame(1, Mock::fetches($appid));
    }
}
