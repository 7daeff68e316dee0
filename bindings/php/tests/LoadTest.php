<?php

declare(strict_types=1);

namespace WxToken\Tests;

use WxToken\LoadException;
use WxToken\WxToken;
use WxToken\WxTokenException;

/** Finding the library and the header; the preload header. */
final class LoadTest extends \PHPUnit\Framework\TestCase
{
    private array $saved = [];

    protected function setUp(): void
    {
        foreach (['WXTOKEN_LIB', 'WXTOKEN_HEADER'] as $name) {
            $this->saved[$name] = getenv($name);
        }
    }

    protected function tearDown(): void
    {
        foreach ($this->saved as $name => $value) {
            putenv($value === false ? $name : "{$name}={$value}");
        }
    }

    private function loadFailure(callable $fn): LoadException
    {
        try {
            $fn();
        } catch (LoadException $e) {
            $this->assertInstanceOf(WxTokenException::class, $e);
            $this->assertSame(-1, $e->getStatus());
            $this->assertSame('load', $e->getKind());
            return $e;
        }
        $this->fail('expected a LoadException');
    }

    public function testMissingLibraryPathIsNamed(): void
    {
        $e = $this->loadFailure(fn () => new WxToken('/nonexistent/dir/libwxtoken.so'));
        $this->assertStringContainsString('/nonexistent/dir/libwxtoken.so', $e->getMessage());
    }

    public function testMissingLibraryFromEnvironmentIsNamed(): void
    {
        putenv('WXTOKEN_LIB=/nonexistent/env/libwxtoken.so');
        $e = $this->loadFailure(fn () => new WxToken());
        $this->assertStringContainsString('/nonexistent/env/libwxtoken.so', $e->getMessage());
        $this->assertStringContainsString('WXTOKEN_LIB', $e->getMessage());
        $this->assertStringContainsString('/target/release/libwxtoken.so', $e->getMessage(), 'names the package build it did not try');
    }

    public function testDefaultIsThePackagesOwnBuild(): void
    {
        putenv('WXTOKEN_LIB');
        $wx = new WxToken();
        $this->assertSame('FFI::cdef(' . dirname(__DIR__, 3) . '/target/release/libwxtoken.so)', $wx->loadedVia());
        $this->assertNotSame('', $wx->version());
    }

    public function testExplicitLibraryPath(): void
    {
        $lib = realpath(dirname(__DIR__, 3) . '/target/release/libwxtoken.so');
        putenv('WXTOKEN_LIB=/nonexistent/ignored.so');
        $wx = new WxToken($lib);
        $this->assertSame("FFI::cdef({$lib})", $wx->loadedVia());
    }

    /** A library the dynamic loader refuses: the exception carries the loader's reason. */
    public function testLoaderReasonIsInTheMessage(): void
    {
        $dir = sys_get_temp_dir() . '/wxtoken-load-' . bin2hex(random_bytes(4));
        mkdir($dir);
        try {
            file_put_contents("{$dir}/libshort.so", 'not a shared library');
            $e = $this->loadFailure(fn () => new WxToken("{$dir}/libshort.so"));
            $this->assertStringContainsString("{$dir}/libshort.so: file too short", $e->getMessage());
            // What a libpython-linked build gave: data symbols only the interpreter defines.
            file_put_contents("{$dir}/py.c", "extern int PyExc_TypeError;\nint f(void) { return PyExc_TypeError; }\n");
            exec('cc -shared -fPIC -o ' . escapeshellarg("{$dir}/libpy.so") . ' ' . escapeshellarg("{$dir}/py.c") . ' 2>&1', $out, $rc);
            $this->assertSame(0, $rc, 'cc: ' . implode("\n", $out));
            $e = $this->loadFailure(fn () => new WxToken("{$dir}/libpy.so"));
            $this->assertStringContainsString('undefined symbol: PyExc_TypeError', $e->getMessage());
            $this->assertStringContainsString("Failed loading '{$dir}/libpy.so'", $e->getMessage());
        } finally {
            array_map('unlink', glob("{$dir}/*") ?: []);
            rmdir($dir);
        }
    }

    public function testMissingHeaderIsNamed(): void
    {
        putenv('WXTOKEN_HEADER=/nonexistent/wxtoken_ffi.h');
        $e = $this->loadFailure(fn () => new WxToken());
        $this->assertStringContainsString('/nonexistent/wxtoken_ffi.h', $e->getMessage());
    }

    public function testHeaderPhpCannotParse(): void
    {
        $bad = tempnam(sys_get_temp_dir(), 'wxtoken-bad-h');
        file_put_contents($bad, "#include <stdint.h>\nextern \"C\" {\nint wxtoken_get(void);\n}\n");
        putenv("WXTOKEN_HEADER={$bad}");
        try {
            $e = $this->loadFailure(fn () => new WxToken());
            $this->assertInstanceOf(\FFI\Exception::class, $e->getPrevious());
            $this->assertStringContainsString($bad, $e->getMessage());
        } finally {
            unlink($bad);
        }
    }

    public function testShippedHeaderIsDigestibleByPhp(): void
    {
        $text = (string) file_get_contents(dirname(__DIR__, 3) . '/include/wxtoken_ffi.h');
        $this->assertDoesNotMatchRegularExpression('/^\s*#/m', $text, 'no preprocessor lines');
        $this->assertStringNotContainsString('extern "C"', $text);
        foreach (['wxtoken_configure', 'wxtoken_get', 'wxtoken_invalidate', 'wxtoken_status_json', 'wxtoken_last_errcode',
                  'wxtoken_last_error', 'wxtoken_version', 'wxtoken_status_name', 'wxtoken_is_bad_token_errcode',
                  'wxtoken_is_bad_token_errcode_str'] as $fn) {
            $this->assertStringContainsString($fn . '(', $text);
        }
        $ffi = \FFI::cdef($text, realpath(dirname(__DIR__, 3) . '/target/release/libwxtoken.so'));
        // The status values this binding's table relies on.
        $this->assertSame(0, $ffi->WXTOKEN_OK);
        $this->assertSame(6, $ffi->WXTOKEN_TIMEOUT);
        $this->assertSame(13, $ffi->WXTOKEN_BUFFER_TOO_SMALL);
        $this->assertSame(14, $ffi->WXTOKEN_PANIC);
    }

    public function testPreloadHeader(): void
    {
        $text = WxToken::preloadHeader();
        $lib = realpath(dirname(__DIR__, 3) . '/target/release/libwxtoken.so');
        $this->assertStringStartsWith("#define FFI_SCOPE \"WXTOKEN\"\n#define FFI_LIB \"{$lib}\"\n", $text);
        $this->assertStringContainsString('wxtoken_get(', $text);
        $this->assertSame(2, preg_match_all('/^#/m', $text));
        $this->loadFailure(fn () => WxToken::preloadHeader('/nonexistent/libwxtoken.so'));
    }

    public function testAPreloadedHeaderFromAnOlderReleaseIsRefusedAtLoad(): void
    {
        // An ffi.preload header written before an upgrade lacks the newest function: get()
        // would meet an FFI\Exception on every request, so loading the scope says so first.
        $dir = sys_get_temp_dir() . '/wxtoken-stale-' . bin2hex(random_bytes(4));
        mkdir($dir);
        $header = WxToken::preloadHeader();
        $stale = preg_replace('/^.*wxtoken_fresh_word.*$/m', '', $header);
        $this->assertNotSame($header, $stale);
        file_put_contents("{$dir}/stale.h", $stale);
        file_put_contents("{$dir}/current.h", $header);
        $script = 'require ' . var_export(dirname(__DIR__) . '/autoload.php', true) . ';'
            . ' try { echo (new WxToken\WxToken())->loadedVia(); }'
            . ' catch (WxToken\LoadException $e) { echo "LoadException: ", $e->getMessage(); }';
        $run = static function (string $h) use ($script): string {
            exec(implode(' ', array_map('escapeshellarg', [PHP_BINARY, '-n', '-d', 'extension=ffi', '-d',
                'ffi.enable=preload', '-d', "ffi.preload={$h}", '-r', $script])) . ' 2>&1', $out);
            return implode("\n", $out);
        };
        try {
            $this->assertStringStartsWith('LoadException: the preloaded FFI scope WXTOKEN lacks wxtoken_fresh_word',
                $run("{$dir}/stale.h"));
            $this->assertSame('FFI::scope(WXTOKEN)', $run("{$dir}/current.h"));
        } finally {
            array_map('unlink', glob("{$dir}/*.h"));
            rmdir($dir);
        }
    }
}
