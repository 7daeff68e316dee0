<?php

/**
 * PHP benchmark: ns per $wx->get($app) of a fresh token (a read of the app's fresh word
 * through FFI, no call), beside a plain PHP function call returning a string and an FFI
 * call of libc's strlen($app) (the floor of any FFI call with a string argument), in the
 * same run.
 *
 *     cargo build --release
 *     php -d ffi.enable=1 benches/php_get.php [--batches=20] [--calls=100000]
 *
 * Starts `target/release/wxtoken mock` for the token unless WXTOKEN_API_BASE names a
 * running simulator (then WXTOKEN_APPID / WXTOKEN_SECRET name its app). Each figure is the
 * median over the batches of the batch's mean ns per call; the loop's own cost is in each
 * figure and shown on its own line.
 */

declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    if (str_starts_with($class, 'WxToken\\')) {
        require __DIR__ . '/../bindings/php/src/' . str_replace('\\', '/', substr($class, 8)) . '.php';
    }
});

$opts = getopt('', ['batches:', 'calls:']);
$batches = max(3, (int) ($opts['batches'] ?? 20));
$calls = max(1000, (int) ($opts['calls'] ?? 100_000));
$root = dirname(__DIR__);

// ---- the simulator ------------------------------------------------------------------------
$mock = null;
$apiBase = (string) getenv('WXTOKEN_API_BASE');
$appid = (string) getenv('WXTOKEN_APPID') ?: 'wx0000000000demo';
$secret = (string) getenv('WXTOKEN_SECRET') ?: 'demo-secret-not-real';
if ($apiBase === '') {
    $portFile = tempnam(sys_get_temp_dir(), 'wxtoken-bench-url-');
    unlink($portFile);
    $mock = proc_open([$root . '/target/release/wxtoken', 'mock', '--port-file', $portFile],
        [0 => ['file', '/dev/null', 'r'], 1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']], $pipes,
        null, ['WXTOKEN_APPID' => $appid, 'WXTOKEN_SECRET' => $secret]);
    for ($i = 0; $i < 200 && !is_file($portFile); $i++) {
        usleep(25_000);
    }
    $apiBase = trim((string) @file_get_contents($portFile));
    @unlink($portFile);
    if ($apiBase === '') {
        fwrite(STDERR, "could not start target/release/wxtoken mock: cargo build --release\n");
        exit(1);
    }
}

$wx = new WxToken\WxToken();
$app = $wx->configure($appid, $secret, ['api_base' => $apiBase, 'store' => 'memory']);
$token = $wx->get($app); // the fetch: every call measured below finds a fresh token
// The library's marker arms the token within its first pass; until then each get() copies
// (not the path a running program takes): wait for it, then keep the string once.
$ffi = (new ReflectionProperty(WxToken\WxToken::class, 'ffi'))->getValue($wx);
for ($deadline = hrtime(true) + 5_000_000_000; $ffi->wxtoken_fresh_epoch($app) === 0 && hrtime(true) < $deadline;) {
    usleep(10_000);
}
$wx->get($app);
$plainToken = str_repeat('x', strlen($token));

function plain_get(string $app): string
{
    global $plainToken;
    return $plainToken;
}

/** @return float median over the batches of the mean ns per call */
function measure(int $batches, int $calls, callable $batch): float
{
    $batch(intdiv($calls, 10)); // warm-up
    $means = [];
    for ($b = 0; $b < $batches; $b++) {
        $t0 = hrtime(true);
        $batch($calls);
        $means[] = (hrtime(true) - $t0) / $calls;
    }
    sort($means);
    $mid = intdiv(count($means), 2);
    return count($means) % 2 ? $means[$mid] : ($means[$mid - 1] + $means[$mid]) / 2;
}

$results = [];
$results['empty loop'] = measure($batches, $calls, static function (int $n): void {
    for ($i = 0; $i < $n; $i++) {
    }
});
$results['plain PHP function returning a string'] = measure($batches, $calls, static function (int $n) use ($app): void {
    for ($i = 0; $i < $n; $i++) {
        $t = plain_get($app);
    }
});
$libc = FFI::cdef('size_t strlen(const char *s);');
$results['FFI call: strlen($app)'] = measure($batches, $calls, static function (int $n) use ($libc, $app): void {
    for ($i = 0; $i < $n; $i++) {
        $t = $libc->strlen($app);
    }
});
$results['$wx->get($app) (fresh token)'] = measure($batches, $calls, static function (int $n) use ($wx, $app): void {
    for ($i = 0; $i < $n; $i++) {
        $t = $wx->get($app);
    }
});
if ($wx->get($app) !== $token) {
    fwrite(STDERR, "the token changed during the run: the figures include a refresh\n");
}

printf("wxtoken %s, PHP %s (%s, opcache.enable_cli=%s, jit=%s), token %d bytes, %d batches x %d calls, median of batch means\n",
    $wx->version(), PHP_VERSION, PHP_SAPI, ini_get('opcache.enable_cli') ?: '0', ini_get('opcache.jit') ?: 'n/a',
    strlen($token), $batches, $calls);
foreach ($results as $label => $ns) {
    printf("  %-42s %8.1f ns/call\n", $label, $ns);
}
printf("  get() costs %.2fx an FFI call of strlen\n",
    $results['$wx->get($app) (fresh token)'] / $results['FFI call: strlen($app)']);
printf("  get() costs %.1fx the plain call (%.1f ns more per call)\n",
    $results['$wx->get($app) (fresh token)'] / $results['plain PHP function returning a string'],
    $results['$wx->get($app) (fresh token)'] - $results['plain PHP function returning a string']);

if ($mock !== null) {
    proc_terminate($mock);
    proc_close($mock);
}
