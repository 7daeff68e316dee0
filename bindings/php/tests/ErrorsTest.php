<?php

declare(strict_types=1);

namespace WxToken\Tests;

use WxToken\BadResponseException;
use WxToken\CredentialsRejectedException;
use WxToken\InternalException;
use WxToken\InvalidArgumentException;
use WxToken\IpNotAllowedException;
use WxToken\NetworkException;
use WxToken\NotConfiguredException;
use WxToken\QuotaExhaustedException;
use WxToken\StoreException;
use WxToken\TimeoutException;
use WxToken\UpstreamException;
use WxToken\WxToken;
use WxToken\WxTokenException;

/** Each wxtoken_status reaches PHP as its own exception class, with errcode and message. */
final class ErrorsTest extends TestCase
{
    /** Runs $fn, expecting $class; returns the exception for further checks. */
    private function expectFailure(string $class, callable $fn): WxTokenException
    {
        try {
            $fn();
        } catch (WxTokenException $e) {
            $this->assertInstanceOf($class, $e, get_class($e) . ': ' . $e->getMessage());
            $this->assertInstanceOf(\RuntimeException::class, $e);
            $this->assertSame($class::KIND, $e->getKind());
            $this->assertNotSame('', $e->getMessage());
            return $e;
        }
        $this->fail("expected {$class}, nothing was thrown");
    }

    public function testEveryStatusMapsToOneClass(): void
    {
        $failure = new \ReflectionMethod(WxToken::class, 'failure');
        $table = [
            1 => [CredentialsRejectedException::class, 'credentials_rejected'],
            2 => [IpNotAllowedException::class, 'ip_not_allowed'],
            3 => [QuotaExhaustedException::class, 'quota_exhausted'],
            4 => [UpstreamException::class, 'upstream'],
            5 => [NetworkException::class, 'network'],
            6 => [TimeoutException::class, 'timeout'],
            7 => [BadResponseException::class, 'bad_response'],
            8 => [StoreException::class, 'store'],
            9 => [NotConfiguredException::class, 'not_configured'],
            10 => [InvalidArgumentException::class, 'invalid_argument'],
            11 => [InvalidArgumentException::class, 'invalid_argument'],
            12 => [InvalidArgumentException::class, 'invalid_argument'],
            13 => [InternalException::class, 'internal'],
            14 => [InternalException::class, 'internal'],
            99 => [InternalException::class, 'internal'],
        ];
        foreach ($table as $status => [$class, $kind]) {
            $e = $failure->invoke($this->wx, $status);
            $this->assertSame($class, get_class($e), "status {$status}");
            $this->assertSame($status, $e->getStatus(), "status {$status}");
            $this->assertSame($kind, $e->getKind(), "status {$status}");
            $this->assertInstanceOf(WxTokenException::class, $e);
        }
        foreach ($table as $status => [$class]) {
            if ($status <= 10) {
                $this->assertSame($status, $class::STATUS);
            }
        }
    }

    public function testWrongSecretIsCredentialsRejected40125(): void
    {
        [$appid] = Mock::next();
        $secret = 'wrong-secret-' . bin2hex(random_bytes(6));
        $app = $this->wx->configure($appid, $secret, Mock::options());
        $e = $this->expectFailure(CredentialsRejectedException::class, fn () => $this->wx->get($app));
        $this->assertSame(40125, $e->getErrcode());
        $this->assertSame(40125, $e->getCode());
        $this->assertSame(1, $e->getStatus());
        $this->assertStringNotContainsString($secret, $e->getMessage());
        $this->assertSame(1, Mock::fetches($appid));
        // Cooled down: the next caller gets the same answer at once, the upstream is spared.
        $again = $this->expectFailure(CredentialsRejectedException::class, fn () => $this->wx->get($app));
        $this->assertSame(40125, $again->getErrcode());
        $this->assertSame(1, Mock::fetches($appid));
        $last = $this->wx->status($app)['last_error'];
        $this->assertSame('credentials_rejected', $last['kind']);
        $this->assertSame(40125, $last['errcode']);
    }

    public function testWecomWrongSecretIsCredentialsRejected(): void
    {
        [$corpid] = Mock::next('wecom');
        $app = $this->wx->configure($corpid, 'not-the-corpsecret', Mock::options(['platform' => 'wecom']));
        $e = $this->expectFailure(CredentialsRejectedException::class, fn () => $this->wx->get($app));
        $this->assertNotSame(0, $e->getErrcode());
    }

    public function testNotConfigured(): void
    {
        $name = 'php-never-configured-' . bin2hex(random_bytes(4));
        foreach ([
            fn () => $this->wx->get($name),
            fn () => $this->wx->invalidate($name, 'some-token'),
            fn () => $this->wx->status($name),
            fn () => $this->wx->call($name, fn (string $t) => $t),
        ] as $fn) {
            $e = $this->expectFailure(NotConfiguredException::class, $fn);
            $this->assertSame(9, $e->getStatus());
            $this->assertSame(0, $e->getErrcode());
            $this->assertStringContainsString($name, $e->getMessage());
        }
    }

    public function testUnknownOptionIsInvalidArgument(): void
    {
        [$appid, $secret] = Mock::next();
        $e = $this->expectFailure(InvalidArgumentException::class,
            fn () => $this->wx->configure($appid, $secret, Mock::options(['colour' => 'red'])));
        $this->assertSame(10, $e->getStatus());
        $this->assertStringContainsString('colour', $e->getMessage());
        // Nothing was registered.
        $this->expectFailure(NotConfiguredException::class, fn () => $this->wx->status($appid));
    }

    public function testBadOptionValuesAreInvalidArgument(): void
    {
        [$appid, $secret] = Mock::next();
        foreach ([
            ['platform' => 'qq'],
            ['mode' => 'sometimes'],
            ['timeout_ms' => -5],
            ['timeout_ms' => 'soon'],
            ['secret' => 'x'],
            ['name' => ['a', 'b']],
            [0 => 'a list is not an object'],
        ] as $options) {
            $e = $this->expectFailure(InvalidArgumentException::class,
                fn () => $this->wx->configure($appid, $secret, Mock::options($options)));
            $this->assertSame(10, $e->getStatus(), json_encode($options));
        }
        $this->expectFailure(InvalidArgumentException::class, fn () => $this->wx->get(''));
        [$app] = $this->app();
        $this->expectFailure(InvalidArgumentException::class, fn () => $this->wx->invalidate($app, ''));
    }

    public function testEmptyAppidWithoutEnvironmentIsInvalidArgument(): void
    {
        $saved = getenv('WXTOKEN_APPID');
        putenv('WXTOKEN_APPID');
        try {
            $this->expectFailure(InvalidArgumentException::class, fn () => $this->wx->configure('', 'a-secret', Mock::options()));
        } finally {
            if ($saved !== false) {
                putenv("WXTOKEN_APPID={$saved}");
            }
        }
    }

    public function testEmptyAppidAndSecretComeFromTheEnvironment(): void
    {
        [$appid, $secret] = Mock::next();
        putenv("WXTOKEN_APPID={$appid}");
        putenv("WXTOKEN_SECRET={$secret}");
        try {
            $app = $this->wx->configure('', '', Mock::options());
            $this->assertSame($appid, $app);
            $this->assertArrayHasKey('ip_list', Mock::check($this->wx->get($app)));
            putenv('WXTOKEN_NAME=php-name-from-env');
            $this->assertSame('php-name-from-env', $this->wx->configure('', '', Mock::options()));
            $this->assertSame($appid, $this->wx->status('php-name-from-env')['appid']);
        } finally {
            putenv('WXTOKEN_APPID');
            putenv('WXTOKEN_SECRET');
            putenv('WXTOKEN_NAME');
        }
    }

    public function testNulBytesAreRefusedInPhp(): void
    {
        [$app, $appid, $secret] = $this->app();
        $token = $this->wx->get($app);
        $cases = [
            'app' => fn () => $this->wx->get($app . "\0ignored"),
            'app ' => fn () => $this->wx->status($app . "\0"),
            'badToken' => fn () => $this->wx->invalidate($app, $token . "\0tail"),
            'app  ' => fn () => $this->wx->invalidate("\0" . $app, $token),
            'appid' => fn () => $this->wx->configure($appid . "\0evil", $secret, Mock::options()),
            'secret' => fn () => $this->wx->configure($appid, $secret . "\0", Mock::options()),
            'app   ' => fn () => $this->wx->call($app . "\0", fn (string $t) => $t),
        ];
        foreach ($cases as $what => $fn) {
            $e = $this->expectFailure(InvalidArgumentException::class, $fn);
            $this->assertStringContainsString(trim($what) . ' contains a NUL byte', $e->getMessage());
            $this->assertSame(10, $e->getStatus());
        }
        // None of it reached the library: the token was not invalidated, no fetch happened.
        $this->assertSame($token, $this->wx->get($app));
        $this->assertSame(1, Mock::fetches($appid));
    }

    public function testInvalidUtf8IsInvalidArgument(): void
    {
        $e = $this->expectFailure(InvalidArgumentException::class, fn () => $this->wx->get("php-\xff\xfe-app"));
        $this->assertSame(12, $e->getStatus(), 'WXTOKEN_INVALID_UTF8 from the library');
        [$appid, $secret] = Mock::next();
        $e = $this->expectFailure(InvalidArgumentException::class,
            fn () => $this->wx->configure($appid, $secret, Mock::options(['name' => "bad-\xff"])));
        $this->assertInstanceOf(\JsonException::class, $e->getPrevious());
    }

    public function testHttp500IsUpstream(): void
    {
        [$app, $appid] = $this->app(['timeout_ms' => 2000]);
        Mock::fault('http500', 3);
        $e = $this->expectFailure(UpstreamException::class, fn () => $this->wx->get($app));
        $this->assertSame(4, $e->getStatus());
        $this->assertSame(3, Mock::fetches($appid), 'transient: retried, bounded');
    }

    public function testBusyIsUpstreamWithErrcodeMinus1(): void
    {
        [$app] = $this->app();
        Mock::fault('busy', 3);
        $e = $this->expectFailure(UpstreamException::class, fn () => $this->wx->get($app));
        $this->assertSame(-1, $e->getErrcode());
    }

    public function testDroppedConnectionIsNetwork(): void
    {
        [$app] = $this->app(['timeout_ms' => 2000]);
        Mock::fault('drop', 3);
        $e = $this->expectFailure(NetworkException::class, fn () => $this->wx->get($app));
        $this->assertSame(5, $e->getStatus());
    }

    public function testRefusedConnectionIsNetwork(): void
    {
        // A port nobody listens on: bind one, note it, close it.
        $sock = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) substr(strrchr(stream_socket_get_name($sock, false), ':'), 1);
        fclose($sock);
        [$app] = $this->app(['api_base' => "http://127.0.0.1:{$port}", 'timeout_ms' => 1000]);
        $this->expectFailure(NetworkException::class, fn () => $this->wx->get($app));
    }

    public function testGarbageIsBadResponse(): void
    {
        [$app] = $this->app();
        Mock::fault('garbage', 3);
        $e = $this->expectFailure(BadResponseException::class, fn () => $this->wx->get($app));
        $this->assertSame(7, $e->getStatus());
    }

    public function testHangingUpstreamIsTimeout(): void
    {
        [$app] = $this->app(['timeout_ms' => 300, 'wait_ms' => 10000]);
        Mock::fault('hang', 3);
        $e = $this->expectFailure(TimeoutException::class, fn () => $this->wx->get($app));
        $this->assertSame(6, $e->getStatus());
        $this->settle($app);
    }

    public function testSlowUpstreamIsTimeout(): void
    {
        [$app] = $this->app(['timeout_ms' => 300, 'wait_ms' => 10000]);
        Mock::fault('slow', 3, 1500);
        $this->expectFailure(TimeoutException::class, fn () => $this->wx->get($app));
        $this->settle($app);
    }

    public function testShortWaitIsTimeout(): void
    {
        [$app] = $this->app(['timeout_ms' => 1000, 'wait_ms' => 200]);
        Mock::fault('hang', 3);
        $started = microtime(true);
        $this->expectFailure(TimeoutException::class, fn () => $this->wx->get($app));
        $this->assertLessThan(0.9, microtime(true) - $started, 'get gave up after wait_ms');
        $this->settle($app);
    }

    public function testQuotaExhausted(): void
    {
        $this->mockConfig(['daily_quota' => 1]);
        [$app, $appid] = $this->app();
        $token = $this->wx->get($app);
        $e = $this->expectFailure(QuotaExhaustedException::class, fn () => $this->wx->invalidate($app, $token));
        $this->assertSame(45009, $e->getErrcode());
        $this->assertSame(3, $e->getStatus());
        // Through it all the still-valid token keeps being served.
        $this->assertSame($token, $this->wx->get($app));
    }

    public function testIpNotAllowed(): void
    {
        [$appid, $secret] = ['wxphpallowlist0001', 'allow-list-secret'];
        $mock = MockProcess::start(['--allow-ip', '10.9.8.7'], ['WXTOKEN_APPID' => $appid, 'WXTOKEN_SECRET' => $secret]);
        try {
            $app = $this->wx->configure($appid, $secret, ['api_base' => $mock->base, 'store' => 'memory']);
            $e = $this->expectFailure(IpNotAllowedException::class, fn () => $this->wx->get($app));
            $this->assertSame(40164, $e->getErrcode());
            $this->assertSame(2, $e->getStatus());
        } finally {
            $mock->stop();
        }
    }

    public function testUnusableStoreIsStoreError(): void
    {
        [$appid, $secret] = Mock::next();
        // A directory under a regular file cannot be created, not even by root.
        $options = Mock::options(['store' => 'file:/dev/null/wxtoken']);
        try {
            $this->wx->configure($appid, $secret, $options);
        } catch (InvalidArgumentException $e) {
            if (str_contains($e->getMessage(), 'not available in this build')) {
                // A build without the file store says so at configure(); the class
                // mapping of WXTOKEN_STORE is covered by testEveryStatusMapsToOneClass.
                $this->assertSame(10, $e->getStatus());
                return;
            }
        } catch (StoreException) {
            // configure() may already find the directory unusable: that is the point.
        }
        $this->expectFailure(StoreException::class, function () use ($appid, $secret, $options): void {
            $this->wx->get($this->wx->configure($appid, $secret, $options));
        });
    }
}
