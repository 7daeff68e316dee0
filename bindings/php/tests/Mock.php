<?php

declare(strict_types=1);

namespace WxToken\Tests;

/**
 * The `wxtoken mock` simulator that run-tests.sh started: its apps, its admin endpoints and
 * its business check. Every test takes apps of its own (next()), so counters never mix.
 */
final class Mock
{
    /** @var list<array{appid: string, secret: string, platform: string}>|null */
    private static ?array $apps = null;
    /** @var array<int, true> indexes of the apps handed out */
    private static array $taken = [];

    public static function base(): string
    {
        return rtrim((string) getenv('WXTOKEN_TEST_API_BASE'), '/');
    }

    /** An app no other test has used: [appid, secret]. */
    public static function next(string $platform = 'mp'): array
    {
        if (self::$apps === null) {
            self::$apps = json_decode((string) file_get_contents((string) getenv('WXTOKEN_TEST_APPS')), true, 8, JSON_THROW_ON_ERROR);
        }
        foreach (self::$apps as $i => $app) {
            if (!isset(self::$taken[$i]) && $app['platform'] === $platform) {
                self::$taken[$i] = true;
                return [$app['appid'], $app['secret']];
            }
        }
        throw new \RuntimeException("the apps file has no unused {$platform} app left: add more in run-tests.sh");
    }

    /** Options pointing a configure() at the simulator, in-process store. */
    public static function options(array $extra = []): array
    {
        return $extra + ['api_base' => self::base(), 'store' => 'memory'];
    }

    /** Upstream token fetches of $appid seen by the simulator (all endpoints); $base: another simulator. */
    public static function fetches(string $appid, ?string $base = null): int
    {
        $calls = self::stats($base)['token_calls'][$appid] ?? [];
        return array_sum(array_map('intval', $calls));
    }

    public static function stats(?string $base = null): array
    {
        return self::request('GET', '/mock/stats', null, $base);
    }

    public static function fault(string $mode, ?int $count = null, ?int $delayMs = null): void
    {
        $body = ['mode' => $mode];
        if ($count !== null) {
            $body['count'] = $count;
        }
        if ($delayMs !== null) {
            $body['delay_ms'] = $delayMs;
        }
        self::admin('/mock/fault', $body);
    }

    public static function supersede(string $appid, ?string $base = null): void
    {
        self::admin('/mock/supersede', ['appid' => $appid], $base);
    }

    /** Changes simulator settings; returns the settings as they were, for restore. */
    public static function config(array $settings): array
    {
        $before = self::stats()['config'] ?? self::request('POST', '/mock/config', '{}')['config'];
        self::admin('/mock/config', $settings);
        return array_intersect_key($before, $settings);
    }

    /** The business check: ['ip_list' => [...]] for a good token, ['errcode' => 40001, ...] else. */
    public static function check(string $token): array
    {
        return self::request('GET', '/cgi-bin/get_api_domain_ip?access_token=' . rawurlencode($token));
    }

    private static function admin(string $path, array $body, ?string $base = null): void
    {
        $answer = self::request('POST', $path, json_encode((object) $body, JSON_THROW_ON_ERROR), $base);
        if (($answer['errcode'] ?? 0) !== 0) {
            throw new \RuntimeException("simulator refused {$path}: " . json_encode($answer));
        }
    }

    /** @return array<string, mixed> */
    public static function request(string $method, string $path, ?string $body = null, ?string $base = null): array
    {
        $context = stream_context_create(['http' => [
            'method' => $method,
            'header' => "Content-Type: application/json\r\nConnection: close\r\n",
            'content' => $body ?? '',
            'timeout' => 10,
            'ignore_errors' => true,
        ]]);
        $text = @file_get_contents(($base ?? self::base()) . $path, false, $context);
        if ($text === false) {
            throw new \RuntimeException("simulator unreachable: {$method} {$path}");
        }
        $json = json_decode($text, true);
        if (!is_array($json)) {
            throw new \RuntimeException("simulator answered non-JSON to {$method} {$path}: " . substr($text, 0, 200));
        }
        return $json;
    }
}
