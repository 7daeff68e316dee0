<?php

/**
 * The page FpmPreloadTest requests through php-fpm (opcache.preload=preload.php,
 * ffi.enable=preload): configure, get, and a business check through call(), answered as
 * JSON. The app comes in FastCGI parameters (WXT_APPID, WXT_SECRET, WXT_API_BASE).
 */

declare(strict_types=1);

$autoloaded = [];
spl_autoload_register(static function (string $class) use (&$autoloaded): void {
    // Only reached when the classes were NOT preloaded; the test then fails on it.
    $autoloaded[] = $class;
    if (str_starts_with($class, 'WxToken\\')) {
        require dirname(__DIR__, 2) . '/src/' . str_replace('\\', '/', substr($class, 8)) . '.php';
    }
});

header('Content-Type: application/json');
try {
    $base = rtrim($_SERVER['WXT_API_BASE'], '/');
    $wx = new WxToken\WxToken();
    $app = $wx->configure($_SERVER['WXT_APPID'], $_SERVER['WXT_SECRET'], ['api_base' => $base, 'store' => 'memory']);
    $token = $wx->get($app);
    $check = $wx->call($app, static function (string $token) use ($base): array {
        $body = file_get_contents("{$base}/cgi-bin/get_api_domain_ip?access_token=" . rawurlencode($token),
            false, stream_context_create(['http' => ['timeout' => 5, 'ignore_errors' => true]]));
        return json_decode((string) $body, true) ?? ['unparsable' => $body];
    });
    $preloaded = opcache_get_status(false)['preload_statistics']['classes'] ?? [];
    echo json_encode([
        'ok' => true,
        'pid' => getmypid(),
        'sapi' => PHP_SAPI,
        'via' => $wx->loadedVia(),
        'ffi_enable' => ini_get('ffi.enable'),
        'token' => $token,
        'check' => $check,
        'preloaded' => array_values(array_filter($preloaded, static fn ($c) => str_starts_with($c, 'WxToken\\'))),
        'autoloaded' => $autoloaded,
    ]), "\n";
} catch (Throwable $e) {
    http_response_code(500);
    echo json_encode(['ok' => false, 'error' => get_class($e) . ': ' . $e->getMessage(), 'autoloaded' => $autoloaded]), "\n";
}
