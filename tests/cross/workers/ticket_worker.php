<?php
// Cross-language ticket worker in PHP: configured from the WXTOKEN_* environment, waits
// until the Unix time in $argv[1] (so that every process asks at once), gets the jsapi
// ticket and prints `ticket <ticket>`.
declare(strict_types=1);

require __DIR__ . '/../../../bindings/php/autoload.php';

$wx = new WxToken\WxToken();
$app = $wx->configure((string) getenv('WXTOKEN_APPID'), (string) getenv('WXTOKEN_SECRET'));
$wait = (float) ($argv[1] ?? 0) - microtime(true);
if ($wait > 0) {
    usleep((int) ($wait * 1e6));
}
echo 'ticket ', $wx->getTicket($app, 'jsapi'), "\n";
