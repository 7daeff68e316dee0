<?php

declare(strict_types=1);

namespace WxToken\Tests;

use WxToken\CredentialsRejectedException;
use WxToken\InvalidArgumentException;

/**
 * Log records reach PHP on its own thread: a PSR-3-shaped callable gets the refresh, the
 * report and rejected credentials with their events and fields; by default error_log()
 * gets warnings and errors. No record holds a secret or a token.
 */
final class LogTest extends TestCase
{
    private const WRONG = 'wrong-php-secret-0dd';

    protected function tearDown(): void
    {
        $this->wx->setLogger(null, 'warning');
        parent::tearDown();
    }

    /** @param list<array{string, string, array<string, mixed>}> $seen */
    private static function of(array $seen, string $app, string $event): array
    {
        return array_values(array_filter(
            $seen,
            static fn (array $r): bool => $r[2]['app'] === $app && $r[2]['event'] === $event,
        ));
    }

    public function testAPsr3LoggerGetsRefreshesReportsAndRejections(): void
    {
        $seen = [];
        $this->wx->setLogger(function (string $level, string $message, array $context) use (&$seen): void {
            $seen[] = [$level, $message, $context];
        }, 'debug');
        [$name, $appid, $secret] = $this->app();
        $first = $this->wx->get($name);
        $second = $this->wx->invalidate($name, $first);

        $refreshed = self::of($seen, $name, 'token_refreshed');
        $this->assertCount(2, $refreshed, json_encode($seen));
        [$level, $message, $context] = $refreshed[0];
        $this->assertSame('info', $level);
        $this->assertStringContainsString('fetched generation 1', $message);
        $this->assertSame(1, $context['generation']);
        $this->assertSame(7200, $context['expires_in_s']);
        $this->assertIsInt($context['duration_ms']);
        $this->assertIsInt($context['ts_ms']);
        $this->assertMatchesRegularExpression('/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/', $context['ts']);
        $this->assertSame(2, $refreshed[1][2]['generation']);
        $this->assertCount(1, self::of($seen, $name, 'token_invalidated'));

        // Another app: this one's valid token in the shared store would be served.
        [$otherAppid] = Mock::next();
        $wrong = $this->wx->configure($otherAppid, self::WRONG, Mock::options());
        try {
            $this->wx->get($wrong);
            $this->fail('a wrong secret was accepted');
        } catch (CredentialsRejectedException $e) {
            $this->assertSame(40125, $e->getErrcode());
        }
        $rejected = self::of($seen, $wrong, 'credentials_rejected');
        $this->assertCount(1, $rejected, json_encode($seen));
        $this->assertSame('error', $rejected[0][0]);
        $this->assertSame(40125, $rejected[0][2]['errcode']);
        $this->assertSame('credentials_rejected', $rejected[0][2]['kind']);
        $failed = self::of($seen, $wrong, 'refresh_failed');
        $this->assertCount(1, $failed);
        $this->assertSame('warning', $failed[0][0]);
        $this->assertSame(1, $this->wx->status($wrong)['stats']['credentials_rejections']);

        $all = json_encode($seen);
        foreach ([$secret, self::WRONG, $first, $second] as $needle) {
            $this->assertStringNotContainsString($needle, $all);
        }
    }

    public function testErrorLogGetsWarningsByDefault(): void
    {
        $file = tempnam(sys_get_temp_dir(), 'wxtoken-log');
        $before = ini_set('error_log', $file);
        try {
            $this->wx->setLogger(null);
            [$name, $appid, $secret] = $this->app();
            $token = $this->wx->get($name);
            $this->wx->status($name);
            // Another app: this one's valid token in the shared store would be served.
            [$otherAppid] = Mock::next();
            $wrong = $this->wx->configure($otherAppid, self::WRONG, Mock::options());
            try {
                $this->wx->get($wrong);
                $this->fail('a wrong secret was accepted');
            } catch (CredentialsRejectedException) {
            }
            $this->wx->drainLog();
            $log = (string) file_get_contents($file);
        } finally {
            ini_set('error_log', $before === false ? '' : $before);
            @unlink($file);
        }
        $this->assertStringContainsString("wxtoken ERROR credentials_rejected {$wrong}: ", $log);
        $this->assertStringContainsString('"errcode":40125', $log);
        $this->assertStringContainsString("wxtoken WARNING refresh_failed {$wrong}: ", $log);
        $this->assertStringNotContainsString('token_refreshed', $log, 'info is below the default level');
        foreach ([$secret, self::WRONG, $token] as $needle) {
            $this->assertStringNotContainsString($needle, $log);
        }
    }

    public function testALevelMustBePsr3s(): void
    {
        $this->expectException(InvalidArgumentException::class);
        $this->wx->setLogger(null, 'loud');
    }

    public function testAThrowingLoggerDoesNotReplaceTheResult(): void
    {
        $this->wx->setLogger(static function (): void {
            throw new \RuntimeException('logger down');
        }, 'debug');
        $file = tempnam(sys_get_temp_dir(), 'wxtoken-log');
        $before = ini_set('error_log', $file);
        try {
            [$name] = $this->app();
            $token = $this->wx->get($name);
            $this->assertSame($token, $this->wx->invalidate($name, 'not-the-current-token'));
            $log = (string) file_get_contents($file);
        } finally {
            ini_set('error_log', $before === false ? '' : $before);
            @unlink($file);
        }
        $this->assertStringContainsString('the logger threw RuntimeException', $log);
        $this->assertStringContainsString('token_refreshed', $log);
    }
}
