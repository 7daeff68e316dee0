<?php

// One EasyWeChat "worker" process for AccessTokenTest: the token EasyWeChat would put in
// its query, then, on each "refresh" line read, a request refused for its token: the
// query EasyWeChat builds (toQuery()), then what refresh() answers (one line each).
// argv: appid, secret, api_base, store.

declare(strict_types=1);

require dirname(__DIR__, 2) . '/autoload.php';
require __DIR__ . '/Contracts.php';

[, $appid, $secret, $apiBase, $store] = $argv;
$token = WxToken\EasyWeChat\AccessToken::configure($appid, $secret, ['api_base' => $apiBase, 'store' => $store]);
echo $token->toQuery()['access_token'], "\n";
while (($line = fgets(STDIN)) !== false && trim($line) === 'refresh') {
    $token->toQuery();
    echo $token->refresh(), "\n";
}
