<?php

declare(strict_types=1);

namespace WxToken\Tests;

use WxToken\NotConfiguredException;
use WxToken\WxToken;

/** Nothing a user can dump shows a token or a secret: the object, its buffers, exceptions. */
final class DumpTest extends TestCase
{
    /** Every way PHP shows an object: var_dump, print_r, var_export, json_encode, serialize. */
    private static function shown(mixed $value): string
    {
        ob_start();
        var_dump($value);
        $text = (string) ob_get_clean();
        $text .= print_r($value, true);
        $text .= var_export($value, true);
        $text .= json_encode($value, JSON_PARTIAL_OUTPUT_ON_ERROR);
        try {
            $text .= serialize($value);
        } catch (\Exception) {
            // FFI objects refuse serialize(): nothing shown
        }
        return $text;
    }

    public function testDumpsOfTheObjectShowNoToken(): void
    {
        [$app, , $secret] = $this->app();
        $token = $this->wx->get($app);
        $this->assertNotSame('', $token);
        $fresh = $this->wx->invalidate($app, $token);
        $this->assertNotSame($token, $fresh);
        $this->wx->get($app);
        $shown = self::shown($this->wx);
        $this->assertStringContainsString('loadedVia', $shown, 'var_dump/print_r show __debugInfo');
        foreach ([$token, $fresh, $secret] as $needle) {
            $this->assertStringNotContainsString($needle, $shown);
            // Not in any part of the object either (the buffer the token passed through).
            $this->assertStringNotContainsString($needle, self::shown((array) $this->wx));
        }
        // A second instance, dumped after the first one configured and read.
        $this->assertStringNotContainsString($fresh, self::shown(new WxToken()));
    }

    public function testFailedInvalidateShowsNeitherTokenNorSecretInItsTrace(): void
    {
        ini_set('zend.exception_ignore_args', '0');
        [$app, $appid, $secret] = $this->app();
        $token = $this->wx->get($app);
        try {
            $this->wx->invalidate('not-configured-' . $appid, $token);
            $this->fail('expected NotConfiguredException');
        } catch (NotConfiguredException $e) {
            $shown = $e->getTraceAsString() . print_r($e->getTrace(), true) . (string) $e;
            $this->assertStringNotContainsString($token, $shown);
        }
        try {
            $this->wx->configure($appid, $secret, ['timeout_ms' => -1]);
            $this->fail('expected InvalidArgumentException');
        } catch (\WxToken\InvalidArgumentException $e) {
            $this->assertStringNotContainsString($secret, $e->getTraceAsString() . print_r($e->getTrace(), true));
        }
    }
}
