<?php
// Demo worker in PHP: a business loop (get the token, call the simulator's
// get_api_domain_ip through call(), which reports a refused token and
// retries once) for N seconds, printing each token change.
declare(strict_types=1);

require __DIR__ . '/../bindings/php/autoload.php';

$seconds = (float) ($argv[1] ?? 10);
$wx = new WxToken\WxToken();
$app = $wx->configure((string) getenv('WXTOKEN_APPID'), (string) getenv('WXTOKEN_SECRET'));
$base = (string) getenv('WXTOKEN_API_BASE');
$pid = getmypid();
$calls = $refused = 0;
$last = '';
$check = function (string $token) use ($base, &$refused): array {
    $answer = json_decode((string) file_get_contents("$base/cgi-bin/get_api_domain_ip?access_token=$token"), true);
    if (isset($answer['errcode'])) {
        $refused++;
    }
    return $answer;
};
for ($end = microtime(true) + $seconds; microtime(true) < $end; $calls++) {
    $answer = $wx->call($app, $check);
    if (isset($answer['errcode'])) {
        fprintf(STDERR, "php    pid %d: refused even after a refresh: %s\n", $pid, json_encode($answer));
        exit(1);
    }
    $token = $wx->get($app);
    if ($token !== $last) {
        printf("php    pid %-7d token ...%s\n", $pid, substr($token, -8));
        $last = $token;
    }
    usleep(20000);
}
printf("php    pid %-7d done: %d business calls, %d refused and retried once, 0 failed\n", $pid, $calls, $refused);
