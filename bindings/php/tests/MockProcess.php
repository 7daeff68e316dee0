<?php

declare(strict_types=1);

namespace WxToken\Tests;

/** A `wxtoken mock` of a test's own (e.g. with an IP allow-list), stopped by the test. */
final class MockProcess
{
    /** @param resource $proc */
    private function __construct(private $proc, public readonly string $base, private string $dir)
    {
    }

    /** @param list<string> $args @param array<string, string> $env */
    public static function start(array $args, array $env = []): self
    {
        $cli = (string) getenv('WXTOKEN_TEST_CLI');
        if ($cli === '' || !is_executable($cli)) {
            throw new \RuntimeException('WXTOKEN_TEST_CLI does not name the wxtoken binary: run ./run-tests.sh');
        }
        $dir = sys_get_temp_dir() . '/wxtoken-php-mock-' . bin2hex(random_bytes(6));
        mkdir($dir, 0700);
        $portFile = "{$dir}/url";
        $cmd = array_merge([$cli, 'mock', '--port-file', $portFile], $args);
        $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['file', "{$dir}/out", 'w'], 2 => ['file', "{$dir}/err", 'w']],
            $pipes, null, $env + getenv());
        if (!is_resource($proc)) {
            throw new \RuntimeException('cannot start wxtoken mock');
        }
        for ($i = 0; $i < 200 && !is_file($portFile); $i++) {
            usleep(25_000);
        }
        if (!is_file($portFile)) {
            proc_terminate($proc);
            throw new \RuntimeException('wxtoken mock did not start: ' . @file_get_contents("{$dir}/err"));
        }
        return new self($proc, rtrim(trim((string) file_get_contents($portFile)), '/'), $dir);
    }

    public function stop(): void
    {
        proc_terminate($this->proc);
        proc_close($this->proc);
        foreach (glob("{$this->dir}/*") ?: [] as $f) {
            unlink($f);
        }
        @rmdir($this->dir);
    }
}
