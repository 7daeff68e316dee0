<?php

declare(strict_types=1);

namespace WxToken\Tests;

use WxToken\WxToken;

/** The README's composer snippet installs as written, offline, and its autoloader loads the class. */
final class ComposerTest extends \PHPUnit\Framework\TestCase
{
    private string $dir = '';

    protected function tearDown(): void
    {
        if ($this->dir !== '') {
            exec('rm -rf ' . escapeshellarg($this->dir));
        }
    }

    /** The README's composer.json snippet, with its example checkout path. */
    private static function readmeSnippet(): string
    {
        $readme = (string) file_get_contents(dirname(__DIR__) . '/README.md');
        preg_match_all('/```json\n(.*?)```/s', $readme, $blocks);
        foreach ($blocks[1] as $block) {
            if (str_contains($block, '"wxtoken/wxtoken"')) {
                return $block;
            }
        }
        self::fail('README.md has no composer.json snippet requiring wxtoken/wxtoken');
    }

    public function testReadmeSnippetInstallsOffline(): void
    {
        $root = dirname(__DIR__, 3);
        $snippet = self::readmeSnippet();
        $this->assertStringContainsString('/opt/wxtoken/bindings/php', $snippet);
        $this->dir = sys_get_temp_dir() . '/wxtoken-composer-' . bin2hex(random_bytes(4));
        mkdir("{$this->dir}/home", 0700, true);
        file_put_contents("{$this->dir}/composer.json", str_replace('/opt/wxtoken', $root, $snippet));
        $env = [
            'PATH' => (string) getenv('PATH'),
            'HOME' => "{$this->dir}/home",
            'COMPOSER_HOME' => "{$this->dir}/home",
            'COMPOSER_DISABLE_NETWORK' => '1', // any lookup beyond the path repository fails
            'COMPOSER_ALLOW_SUPERUSER' => '1',
        ];
        [$rc, $out] = self::exec(['composer', 'install', '--no-interaction', '--no-progress'], $this->dir, $env);
        $this->assertSame(0, $rc, $out);
        $this->assertStringContainsString('wxtoken/wxtoken (' . (new WxToken())->version() . ')', $out,
            "composer.json's version is the library's");

        file_put_contents("{$this->dir}/use.php", <<<'PHP'
            <?php
            require __DIR__ . '/vendor/autoload.php';
            $wx = new WxToken\WxToken();
            echo get_class($wx), ' ', $wx->version(), ' ', (new ReflectionClass($wx))->getFileName(), "\n";
            PHP);
        [$rc, $out] = self::exec([PHP_BINARY, '-d', 'ffi.enable=1', 'use.php'], $this->dir, ['PATH' => (string) getenv('PATH')]);
        $this->assertSame(0, $rc, $out);
        $this->assertStringStartsWith('WxToken\WxToken ' . (new WxToken())->version() . ' ', $out);
        $this->assertStringContainsString("{$root}/bindings/php/src/WxToken.php", $out, 'loaded through the path repository');
    }

    /** @return array{0: int, 1: string} exit status and output (stdout then stderr) */
    private static function exec(array $cmd, string $cwd, array $env): array
    {
        $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, $cwd, $env);
        $out = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
        return [proc_close($proc), $out];
    }
}
