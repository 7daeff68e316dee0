<?php

declare(strict_types=1);

namespace WxToken\Tests;

/**
 * Fork safety under PHP-FPM (issue 6, item 3): the preload script (fpm/preload-fork.php)
 * configures apps and get()s their tokens before php-fpm forks its workers, so the workers
 * inherit a cached token, and a library whose refresher thread and HTTP connections are the
 * parent's. Each test has a simulator of its own, so the counters are its alone.
 *
 * Only a master that is not root runs the preload script itself (setup B). A root master
 * (setup A) has PHP run it in a short-lived child as opcache.preload_user: nothing of what
 * the script did in memory reaches the workers; the file store still carries its token.
 */
final class FpmForkTest extends \PHPUnit\Framework\TestCase
{
    private ?MockProcess $mock = null;
    private ?Fpm $fpm = null;

    protected function setUp(): void
    {
        $this->mock = MockProcess::start(['--apps-file', (string) getenv('WXTOKEN_TEST_APPS')]);
    }

    protected function tearDown(): void
    {
        $this->fpm?->stop();
        $this->mock?->stop();
        $this->fpm = $this->mock = null;
    }

    /** @return array<string, array{string}> */
    public static function setups(): array
    {
        $list = [];
        foreach (Fpm::setups() as $key => $setup) {
            $list[$setup['label']] = [$key];
        }
        return $list;
    }

    /** @dataProvider setups */
    public function testWhereThePreloadScriptRuns(string $key): void
    {
        [$appid, $secret] = Mock::next();
        $setup = Fpm::setups()[$key];
        [$fpm, $store, $report] = $this->startForked($setup, 2, "where-{$key}", [[$appid, $secret, 'file']]);
        $base = $this->mock->base;
        $this->assertSame(1, Mock::fetches($appid, $base), 'the preload script fetched');

        $inherited = $fpm->request(['WXT_API_BASE' => $base, 'WXT_APP' => $appid], 'token-page.php');
        $configured = $fpm->request(['WXT_API_BASE' => $base, 'WXT_APPID' => $appid, 'WXT_SECRET' => $secret,
            'WXT_STORE' => "file:{$store}"], 'token-page.php');
        if ($setup['master'] === 'root') {
            $this->assertNotSame($fpm->masterPid, $report['pid'], 'a root master does not run the preload script itself');
            $this->assertSame(posix_getpwnam($fpm->workerUser)['uid'], $report['euid'], 'it runs as opcache.preload_user');
            $this->assertFalse($inherited['ok'], json_encode($inherited));
            $this->assertStringStartsWith('WxToken\\NotConfiguredException', $inherited['error'], 'the workers inherit nothing it configured');
        } else {
            $this->assertSame($fpm->masterPid, $report['pid'], 'a master that is not root runs the preload script itself');
            $this->assertTrue($inherited['ok'], json_encode($inherited));
            $this->assertSame($report['tokens'][$appid], $inherited['token']);
            $this->assertSame(0, $inherited['errcode']);
        }
        // Either way a page that configures the app gets the preload's token (from the store).
        $this->assertTrue($configured['ok'], json_encode($configured));
        $this->assertSame($report['tokens'][$appid], $configured['token']);
        $this->assertSame(0, $configured['errcode']);
        $this->assertSame(1, Mock::fetches($appid, $base), 'no fetch in the workers');
    }

    public function testForkedWorkersKeepTheMastersTokenAndElectOneRefresher(): void
    {
        [$appid, $secret] = Mock::next();
        [$memAppid, $memSecret] = Mock::next();
        $base = $this->mock->base;
        $workers = 4;
        [$fpm, , $report] = $this->startForked(Fpm::setups()['B'], $workers, 'fork',
            [[$appid, $secret, 'file'], [$memAppid, $memSecret, 'memory']]);
        $this->assertSame($fpm->masterPid, $report['pid'], 'the master ran the preload script (and get()) before forking');
        $this->assertSame(1, Mock::fetches($appid, $base));
        $this->assertSame(1, Mock::fetches($memAppid, $base));
        $old = $report['tokens'][$appid];
        $get = ['WXT_API_BASE' => $base, 'WXT_APP' => $appid, 'WXT_MODE' => 'get']; // no configure(): inherited
        $call = ['WXT_MODE' => 'call'] + $get;
        $t0 = microtime(true);

        // 1. Each worker's first request, all at once (one held in each worker): the master's token.
        $first = $this->barrier($fpm, $get, $workers, null);
        $this->assertSame($workers, count(array_unique(array_column($first, 'pid'))), 'one request in each worker');
        foreach ($first as $page) {
            $this->assertNotSame($fpm->masterPid, $page['pid']);
            $this->assertSame([[$old, 0]], $page['attempts'], json_encode($page));
        }
        // The memory store has only what the process holds: an answer without a fetch is the inherited cache.
        foreach ($this->pages($fpm->drive(['WXT_APP' => $memAppid] + $get, 8, 5, 'token-page.php'), $fpm) as $page) {
            $this->assertSame([[$report['tokens'][$memAppid], 0]], $page['attempts']);
        }
        foreach ($this->pages($fpm->drive($get, 8, 25, 'token-page.php'), $fpm) as $page) {
            $this->assertSame([[$old, 0]], $page['attempts']);
        }
        $this->assertSame(1, Mock::fetches($appid, $base), 'no fetch in the workers');
        $this->assertSame(1, Mock::fetches($memAppid, $base), 'no fetch in the workers (memory store)');

        // 2. Someone else fetches: the token dies while one call() is in each worker.
        $second = $this->barrier($fpm, $call, $workers, fn () => Mock::supersede($appid, $base));
        $this->assertSame($workers, count(array_unique(array_column($second, 'pid'))));
        $new = $second[0]['token'];
        $this->assertNotSame($old, $new);
        foreach ($second as $page) {
            $this->assertSame([[$old, 40001], [$new, 0]], $page['attempts'], 'each worker reports the bad token, retries with the one new token');
        }
        $this->assertSame(2, Mock::fetches($appid, $base), "{$workers} workers reported the bad token: one refresh");

        // 3. From then on, the new token everywhere.
        $pids = [];
        foreach ($this->pages($fpm->drive($call, 8, 25, 'token-page.php'), $fpm) as $page) {
            $this->assertSame([[$new, 0]], $page['attempts']);
            $pids[$page['pid']] = true;
        }
        $seconds = microtime(true) - $t0;
        $checks = Mock::stats($base)['checks'];
        fwrite(STDERR, sprintf("\n[fpm fork] %d workers forked from a master holding the token: %d pids answered, %d+%d fetches (file, memory store), checks %s, %.1f s\n",
            $workers, count($pids), Mock::fetches($appid, $base), Mock::fetches($memAppid, $base), json_encode($checks), $seconds));
        $this->assertSame(2, Mock::fetches($appid, $base));
        $this->assertSame($workers, $checks['40001'], 'the only refused calls: one per worker, with the superseded token');
        $this->assertSame(0, $checks['40014'] + $checks['42001'] + $checks['41001']);
    }

    /**
     * Starts php-fpm with fpm/preload-fork.php configuring $apps ([appid, secret, 'file'|'memory'])
     * and returns [fpm, store dir, the preload's report].
     *
     * @return array{Fpm, string, array<string, mixed>}
     */
    private function startForked(array $setup, int $workers, string $tag, array $apps): array
    {
        $this->fpm = $fpm = new Fpm($setup, $workers, $tag);
        $store = $fpm->dirForWorkers('store');
        $reportFile = $fpm->dirForWorkers('report') . '/report.json';
        $fpm->start(Fpm::pkg() . '/tests/fpm/preload-fork.php', [
            'WXT_API_BASE' => $this->mock->base,
            'WXT_FORK_REPORT' => $reportFile,
            'WXT_FORK_APPS' => json_encode(array_map(static fn (array $a): array
                => ['appid' => $a[0], 'secret' => $a[1], 'store' => $a[2] === 'file' ? "file:{$store}" : $a[2]], $apps)),
        ]);
        $this->assertFileExists($reportFile, 'the preload script ran before php-fpm listened' . $fpm->logs());
        $report = json_decode((string) file_get_contents($reportFile), true);
        $this->assertIsArray($report);
        $this->assertArrayNotHasKey('error', $report, json_encode($report));
        $this->assertSame('FFI::scope(WXTOKEN)', $report['via'], 'FFI calls work in the preload script');
        $this->assertCount(count($apps), $report['tokens']);
        return [$fpm, $store, $report];
    }

    /**
     * $n requests at once, each held in its worker once it has its token (fpm/token-page.php's
     * WXT_BARRIER) until all $n are there; then $meanwhile() runs, then all go on.
     *
     * @return list<array<string, mixed>> the pages
     */
    private function barrier(Fpm $fpm, array $params, int $n, ?\Closure $meanwhile): array
    {
        $dir = $fpm->dirForWorkers('barrier-' . bin2hex(random_bytes(3)));
        $drive = $fpm->startDrive(['WXT_BARRIER' => $dir] + $params, $n, 1, 'token-page.php');
        for ($i = 0; $i < 400 && count(glob("{$dir}/arrived.*") ?: []) < $n; $i++) {
            usleep(25_000);
        }
        $arrived = count(glob("{$dir}/arrived.*") ?: []);
        if ($arrived === $n && $meanwhile !== null) {
            $meanwhile();
        }
        touch("{$dir}/go");
        $pages = $this->pages($drive->wait(), $fpm);
        $this->assertSame($n, $arrived, "{$n} requests held in {$n} workers at once");
        return $pages;
    }

    /** @return list<array<string, mixed>> the pages of answered requests; fails on any other */
    private function pages(array $answers, Fpm $fpm): array
    {
        $bad = array_values(array_filter($answers, static fn (array $a): bool => $a['rc'] !== 0 || !($a['page']['ok'] ?? false)));
        $this->assertSame([], array_slice($bad, 0, 5), count($bad) . ' of ' . count($answers) . ' requests unanswered or failed' . $fpm->logs());
        return array_column($answers, 'page');
    }
}
