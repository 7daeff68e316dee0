<?php

declare(strict_types=1);

namespace WxToken\Tests;

use WxToken\WxToken;

abstract class TestCase extends \PHPUnit\Framework\TestCase
{
    protected WxToken $wx;
    /** Simulator settings to put back after the test. */
    private array $restore = [];

    protected function setUp(): void
    {
        $this->wx = new WxToken();
    }

    protected function tearDown(): void
    {
        Mock::fault('none');
        if ($this->restore !== []) {
            Mock::config($this->restore);
            $this->restore = [];
        }
    }

    /** A fresh app configured against the simulator: [name, appid, secret]. */
    protected function app(array $options = [], string $platform = 'mp'): array
    {
        [$appid, $secret] = Mock::next($platform);
        $name = $this->wx->configure($appid, $secret, Mock::options($options + ($platform === 'wecom' ? ['platform' => 'wecom'] : [])));
        return [$name, $appid, $secret];
    }

    /** Changes the simulator's settings for this test only. */
    protected function mockConfig(array $settings): void
    {
        $this->restore += Mock::config($settings); // the first value seen wins
    }

    /** Waits until no refresh of $app is in flight (a failed one may go on after get() gave up). */
    protected function settle(string $app, float $maxSeconds = 15.0): void
    {
        $until = microtime(true) + $maxSeconds;
        while (($this->wx->status($app)['refreshing'] ?? false) && microtime(true) < $until) {
            usleep(50_000);
        }
    }
}
