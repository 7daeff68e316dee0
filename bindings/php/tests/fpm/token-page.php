<?php

/**
 * The page of FpmSharedTokenTest and FpmForkTest (php-fpm with opcache.preload): takes the
 * token, makes the simulator's business check with it, and answers one JSON line.
 * FastCGI parameters:
 *   WXT_API_BASE   the simulator
 *   WXT_APPID, WXT_SECRET, WXT_STORE   if WXT_APPID is given, configure() first, as an
 *                  ordinary page does (without it, the app must already be configured in
 *                  this worker: inherited from the FPM master)
 *   WXT_APP        the app name (default: WXT_APPID)
 *   WXT_MODE       get: $wx->get() then the check; call: $wx->call($app, check)
 *   WXT_BARRIER    a directory: once the token is taken, create arrived.<pid> there and wait
 *                  (at most 8 s) for the file `go` before the check, so that a test can hold
 *                  one request in each worker at once
 * Answer: ok, pid, via, token (its last 16 characters), errcode (of the check whose answer is
 * returned: 0 = accepted), attempts ([token, errcode] per check made), or ok=false, error.
 */

declare(strict_types=1);

header('Content-Type: application/json');
$answer = ['ok' => false, 'pid' => getmypid()];
try {
    $p = $_SERVER;
    $base = rtrim((string) $p['WXT_API_BASE'], '/');
    $wx = new WxToken\WxToken();
    $answer['via'] = $wx->loadedVia();
    $app = (string) ($p['WXT_APP'] ?? $p['WXT_APPID'] ?? '');
    if ((string) ($p['WXT_APPID'] ?? '') !== '') {
        $app = $wx->configure($p['WXT_APPID'], (string) $p['WXT_SECRET'], ['api_base' => $base, 'store' => (string) $p['WXT_STORE']]);
    }
    $barrier = (string) ($p['WXT_BARRIER'] ?? '');
    $attempts = [];
    $check = static function (string $token) use ($base, &$barrier, &$attempts): array {
        if ($barrier !== '') {
            touch("{$barrier}/arrived." . getmypid());
            for ($i = 0; $i < 4000 && !is_file("{$barrier}/go"); $i++) {
                usleep(2_000);
                clearstatcache();
            }
            if (!is_file("{$barrier}/go")) {
                throw new RuntimeException('barrier: no go within 8 s');
            }
            $barrier = '';
        }
        $body = @file_get_contents("{$base}/cgi-bin/get_api_domain_ip?access_token=" . rawurlencode($token), false,
            stream_context_create(['http' => ['timeout' => 5, 'ignore_errors' => true, 'header' => "Connection: close\r\n"]]));
        $json = json_decode((string) $body, true);
        $errcode = !is_array($json) ? -3 : (isset($json['ip_list']) ? 0 : (int) ($json['errcode'] ?? -2));
        $attempts[] = [substr($token, -16), $errcode];
        return is_array($json) ? $json : ['errcode' => -3, 'errmsg' => 'unparsable: ' . substr((string) $body, 0, 100)];
    };
    if (($p['WXT_MODE'] ?? 'get') === 'call') {
        $wx->call($app, $check);
    } else {
        $check($wx->get($app));
    }
    [$token, $errcode] = $attempts[count($attempts) - 1];
    $answer = ['ok' => true, 'token' => $token, 'errcode' => $errcode, 'attempts' => $attempts] + $answer;
} catch (Throwable $e) {
    http_response_code(500);
    $answer['error'] = get_class($e) . ': ' . $e->getMessage();
}
echo json_encode($answer), "\n";
