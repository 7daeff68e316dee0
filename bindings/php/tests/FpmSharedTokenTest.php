<?php

declare(strict_types=1);

namespace WxToken\Tests;

/**
 * One token for every PHP-FPM worker (issue 6, item 4a): php-fpm with 8 static workers in
 * the root-master setup A when the tests run as root (ffi.preload + preload.php, workers as
 * the unprivileged user that owns the file store's directory), else setup B; 2000 requests
 * from 16 parallel cgi-fcgi loops, each page doing configure(store file:<dir>), get() and
 * the simulator's business check with the token. A simulator of its own, so its counters
 * are this test's alone.
 */
final class FpmSharedTokenTest extends \PHPUnit\Framework\TestCase
{
    private const WORKERS = 8;
    private const LOOPS = 16;
    private const PER_LOOP = 125;

    public function testTwoThousandRequestsOverEightWorkersMakeOneFetch(): void
    {
        $setup = Fpm::setups()['A'] ?? Fpm::setups()['B'];
        $mock = MockProcess::start(['--apps-file', (string) getenv('WXTOKEN_TEST_APPS')]);
        $fpm = null;
        try {
            [$appid, $secret] = Mock::next();
            $fpm = new Fpm($setup, self::WORKERS, 'shared');
            $store = $fpm->dirForWorkers('store');
            $fpm->start();

            $t0 = microtime(true);
            $answers = $fpm->drive(['WXT_API_BASE' => $mock->base, 'WXT_APPID' => $appid, 'WXT_SECRET' => $secret,
                'WXT_STORE' => "file:{$store}", 'WXT_MODE' => 'get'], self::LOOPS, self::PER_LOOP, 'token-page.php');
            $seconds = microtime(true) - $t0;

            $total = self::LOOPS * self::PER_LOOP;
            $this->assertCount($total, $answers);
            $bad = array_values(array_filter($answers, static fn (array $a): bool
                => $a['rc'] !== 0 || !($a['page']['ok'] ?? false) || ($a['page']['errcode'] ?? null) !== 0));
            $this->assertSame([], array_slice($bad, 0, 5), count($bad) . " of {$total} requests unanswered, failed or refused" . $fpm->logs());

            $pids = array_count_values(array_map(static fn (array $a): int => $a['page']['pid'], $answers));
            $tokens = array_count_values(array_map(static fn (array $a): string => $a['page']['token'], $answers));
            $stats = Mock::stats($mock->base);
            fwrite(STDERR, sprintf("\n[fpm 4a] %s, %d workers: %d requests (%d loops) in %.1f s, %d worker pids, %d token(s), %d upstream fetch(es), checks %s\n",
                $setup['label'], self::WORKERS, $total, self::LOOPS, $seconds, count($pids), count($tokens),
                Mock::fetches($appid, $mock->base), json_encode($stats['checks'])));

            $this->assertSame(1, Mock::fetches($appid, $mock->base), 'one upstream fetch for all workers');
            $this->assertCount(1, $tokens, 'every worker used the same token: ' . json_encode($tokens));
            $this->assertGreaterThanOrEqual(4, count($pids), 'answers from at least 4 worker processes: ' . json_encode($pids));
            $this->assertLessThanOrEqual(self::WORKERS, count($pids));
            $this->assertNotContains($fpm->masterPid, array_keys($pids));
            foreach ($answers as $a) {
                $this->assertSame('FFI::scope(WXTOKEN)', $a['page']['via']);
            }
            // The simulator's side: every business call accepted, none refused.
            $this->assertSame($total, $stats['checks']['ok']);
            foreach (['40001', '40014', '42001', '41001'] as $refusal) {
                $this->assertSame(0, $stats['checks'][$refusal], "business calls refused with {$refusal}");
            }
            // The record the workers share is in the directory they own.
            $this->assertSame(0700, fileperms($store) & 0777);
            $this->assertNotEmpty(glob("{$store}/*.json"), 'the file store holds the record');
        } finally {
            $fpm?->stop();
            $mock->stop();
        }
    }
}
