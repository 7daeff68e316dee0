<?php

/**
 * Writes the header for `ffi.preload`: include/wxtoken_ffi.h with
 * `#define FFI_SCOPE "WXTOKEN"` and `#define FFI_LIB "<absolute library path>"` in front.
 *
 *     php ffi-header.php /etc/php/8.2/wxtoken-ffi.h            # library found as new WxToken() finds it
 *     php ffi-header.php --lib=/opt/wxtoken/libwxtoken.so /etc/php/8.2/wxtoken-ffi.h
 *     php ffi-header.php                                        # to stdout
 *
 * Needed when the PHP-FPM master runs as root with opcache.preload_user (Debian's and most
 * distributions' setup): PHP then refuses FFI::load() inside the preload script, so the
 * scope comes from `ffi.preload=<this file>` instead (see README.md). Run it again after
 * upgrading or moving the library (a scope whose header predates wxtoken_fresh_word is
 * refused with a LoadException).
 */

declare(strict_types=1);

require_once __DIR__ . '/src/WxTokenException.php';
require_once __DIR__ . '/src/LoadException.php';
require_once __DIR__ . '/src/WxToken.php';

$lib = null;
$out = null;
foreach (array_slice($argv, 1) as $arg) {
    if (str_starts_with($arg, '--lib=')) {
        $lib = substr($arg, 6);
    } elseif ($arg === '-h' || $arg === '--help' || str_starts_with($arg, '-')) {
        fwrite(STDERR, "usage: php ffi-header.php [--lib=PATH] [OUTPUT]\n");
        exit($arg === '-h' || $arg === '--help' ? 0 : 2);
    } else {
        $out = $arg;
    }
}

try {
    $text = \WxToken\WxToken::preloadHeader($lib);
} catch (\WxToken\LoadException $e) {
    fwrite(STDERR, 'ffi-header.php: ' . $e->getMessage() . "\n");
    exit(1);
}
if ($out === null) {
    echo $text;
    exit(0);
}
$tmp = $out . '.tmp' . getmypid();
if (file_put_contents($tmp, $text) !== strlen($text) || !chmod($tmp, 0644) || !rename($tmp, $out)) {
    @unlink($tmp);
    fwrite(STDERR, "ffi-header.php: cannot write {$out}\n");
    exit(1);
}
fwrite(STDERR, "wrote {$out}: FFI_SCOPE \"WXTOKEN\", " . strtok(substr($text, strpos($text, 'FFI_LIB')), "\n") . "\n");
