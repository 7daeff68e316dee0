<?php

/**
 * wxtoken from PHP, against the offline simulator:
 *
 *     cargo build --release                     # in the repository root
 *     target/release/wxtoken mock --port-file /tmp/wx.url &
 *     WXTOKEN_API_BASE=$(cat /tmp/wx.url) WXTOKEN_APPID=wx0000000000demo \
 *       WXTOKEN_SECRET=demo-secret-not-real php -d ffi.enable=1 bindings/php/example.php
 *
 * Against the real platform: drop WXTOKEN_API_BASE, use your appid and secret, and pick a
 * store shared by all your workers (the default, file).
 */

declare(strict_types=1);

// With composer: require 'vendor/autoload.php'. Standalone:
require __DIR__ . '/autoload.php';

use WxToken\WxToken;
use WxToken\WxTokenException;

$appid = (string) getenv('WXTOKEN_APPID');
$secret = (string) getenv('WXTOKEN_SECRET');
$apiBase = (string) getenv('WXTOKEN_API_BASE');
if ($appid === '' || $secret === '' || $apiBase === '') {
    fwrite(STDERR, "set WXTOKEN_APPID, WXTOKEN_SECRET and WXTOKEN_API_BASE (see the comment at the top)\n");
    exit(2);
}

try {
    $wx = new WxToken();
    echo 'libwxtoken ', $wx->version(), ' via ', $wx->loadedVia(), "\n";

    $app = $wx->configure($appid, $secret, ['api_base' => $apiBase, 'store' => 'memory']);
    $token = $wx->get($app);
    echo "token for {$app}: ", substr($token, 0, 12), '... (', strlen($token), " bytes)\n";

    // A business call through call(): a 40001/42001/40014 answer invalidates the token
    // and runs the closure once more with a fresh one.
    $result = $wx->call($app, static function (string $token) use ($apiBase): array {
        $url = rtrim($apiBase, '/') . '/cgi-bin/get_api_domain_ip?access_token=' . rawurlencode($token);
        $body = file_get_contents($url, false, stream_context_create(['http' => ['timeout' => 5, 'ignore_errors' => true]]));
        if ($body === false) {
            throw new RuntimeException("GET {$apiBase}/cgi-bin/get_api_domain_ip failed");
        }
        return json_decode($body, true, 16, JSON_THROW_ON_ERROR);
    });
    echo 'get_api_domain_ip: ', json_encode($result), "\n";

    $status = $wx->status($app);
    echo 'status: generation ', $status['token']['generation'], ', expires in ',
        intdiv($status['token']['expires_in_ms'], 1000), " s\n";
    exit(isset($result['ip_list']) ? 0 : 1);
} catch (WxTokenException $e) {
    // getKind(): credentials_rejected, ip_not_allowed, quota_exhausted, timeout, ...
    fprintf(STDERR, "wxtoken %s (errcode %d): %s\n", $e->getKind(), $e->getErrcode(), $e->getMessage());
    exit(1);
}
