<?php

declare(strict_types=1);

namespace WxToken\Tests;

/** Requests in flight (Fpm::startDrive()). */
final class Drive
{
    /** @param resource $proc */
    public function __construct(private $proc, private string $out, private int $expected)
    {
    }

    /** @return list<array{rc: int, page: ?array, raw: string}> one entry per request sent */
    public function wait(): array
    {
        $rc = proc_close($this->proc);
        $answers = [];
        foreach (glob("{$this->out}/*.out") ?: [] as $file) {
            foreach (file($file, FILE_IGNORE_NEW_LINES) ?: [] as $line) {
                [$status, $body] = array_pad(explode("\t", $line, 2), 2, '');
                $page = json_decode($body, true);
                $answers[] = ['rc' => (int) $status, 'page' => is_array($page) ? $page : null, 'raw' => substr($body, 0, 500)];
            }
        }
        if ($rc !== 0 || count($answers) !== $this->expected) {
            throw new \RuntimeException("fpm/drive.sh (exit status {$rc}) reported " . count($answers)
                . " answers of {$this->expected}: " . @file_get_contents("{$this->out}/stderr"));
        }
        return $answers;
    }
}
