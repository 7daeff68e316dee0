<?php

/**
 * Test-only opcache.preload (FpmForkTest): the package's preload.php, then, in the process
 * that runs the preload script, configure() the apps in WXT_FORK_APPS (JSON list of
 * {appid, secret, store}, against WXT_API_BASE) and get() a token for each: the library
 * then holds a cached token, a refresher thread and HTTP connections before php-fpm forks.
 * What happened goes to the file WXT_FORK_REPORT: pid, euid, tokens (last 16 characters by
 * appid), or error.
 *
 * Which process that is depends on the master (PHP 8.2 ext/opcache; FpmForkTest checks it):
 * a master that is not root runs the preload script itself, before forking the workers;
 * a root master forks a child that switches to opcache.preload_user, runs the script and
 * exits, and the master only maps what it compiled: no code of the script ever runs in a
 * root master (with opcache.preload_user=root and `php-fpm -R` too).
 */

declare(strict_types=1);

require dirname(__DIR__, 2) . '/preload.php';

(static function (): void {
    $report = ['pid' => getmypid(), 'euid' => function_exists('posix_geteuid') ? posix_geteuid() : null, 'tokens' => []];
    try {
        $wx = new WxToken\WxToken();
        $report['via'] = $wx->loadedVia();
        $apps = json_decode((string) getenv('WXT_FORK_APPS'), true, 8, JSON_THROW_ON_ERROR);
        foreach ($apps as $a) {
            $name = $wx->configure($a['appid'], $a['secret'], ['api_base' => (string) getenv('WXT_API_BASE'), 'store' => $a['store']]);
            $report['tokens'][$name] = substr($wx->get($name), -16);
        }
    } catch (Throwable $e) {
        $report['error'] = get_class($e) . ': ' . $e->getMessage();
    }
    $file = (string) getenv('WXT_FORK_REPORT');
    file_put_contents("{$file}.tmp", json_encode($report));
    rename("{$file}.tmp", $file);
})();
