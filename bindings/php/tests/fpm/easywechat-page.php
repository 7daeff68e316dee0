<?php

/**
 * The page FpmAppPreloadTest requests (opcache.preload=fpm/preload-app.php,
 * ffi.enable=preload): WxToken\EasyWeChat\AccessToken and the app's class, both preloaded,
 * answer a business check; the app comes in FastCGI parameters (WXT_APPID, WXT_SECRET,
 * WXT_API_BASE).
 */

declare(strict_types=1);

$autoloaded = [];
spl_autoload_register(static function (string $class) use (&$autoloaded): void {
    $autoloaded[] = $class; // only reached for a class that was not preloaded: the test fails on it
});

header('Content-Type: application/json');
try {
    $base = rtrim($_SERVER['WXT_API_BASE'], '/');
    $wx = new WxToken\WxToken();
    $token = WxToken\EasyWeChat\AccessToken::configure($_SERVER['WXT_APPID'], $_SERVER['WXT_SECRET'],
        ['api_base' => $base, 'store' => 'memory'], $wx);
    $preloaded = opcache_get_status(false)['preload_statistics']['classes'] ?? [];
    echo json_encode([
        'ok' => true,
        'via' => $wx->loadedVia(),
        'check' => AppService::check($base, $token),
        'preloaded' => $preloaded,
        'autoloaded' => $autoloaded,
    ]), "\n";
} catch (Throwable $e) {
    http_response_code(500);
    echo json_encode(['ok' => false, 'error' => get_class($e) . ': ' . $e->getMessage(), 'autoloaded' => $autoloaded]), "\n";
}
