<?php

/**
 * opcache.preload script for PHP-FPM. It preloads the package's classes (with
 * ffi.enable=preload only preloaded code may use the FFI API) and makes sure the FFI scope
 * "WXTOKEN" exists, so that requests get the library through FFI::scope('WXTOKEN') with
 * no file read and no header parsing. Two setups (details in README.md):
 *
 * A. The FPM master runs as root (Debian's php8.2-fpm service), so opcache.preload_user
 *    is required, and PHP then refuses FFI::load() here: the scope comes from ffi.preload,
 *    a header written once by ffi-header.php.
 *
 *        opcache.enable=1
 *        opcache.preload=/path/to/wxtoken/bindings/php/preload.php
 *        opcache.preload_user=www-data
 *        ffi.enable=preload
 *        ffi.preload=/etc/php/8.2/wxtoken-ffi.h   ; php bindings/php/ffi-header.php /etc/php/8.2/wxtoken-ffi.h
 *
 * B. The FPM master runs as an ordinary user (containers): no ffi.preload needed; this
 *    script writes the header (with the install-specific FFI_LIB line) to a private
 *    temporary file, FFI::load()s it and removes it.
 *
 *        opcache.enable=1
 *        opcache.preload=/path/to/wxtoken/bindings/php/preload.php
 *        ffi.enable=preload
 *
 * In B the library and the header are found like new WxToken() finds them: WXTOKEN_LIB and
 * WXTOKEN_HEADER in the FPM master's environment, else the package's own build. Restart
 * php-fpm after upgrading the library: the master keeps the one it loaded.
 */

declare(strict_types=1);

(static function (): void {
    // Declaring the classes during preload makes them preloaded (the parent first).
    $src = __DIR__ . '/src';
    require_once "{$src}/WxTokenException.php";
    foreach (glob("{$src}/*.php") ?: [] as $file) {
        require_once $file;
    }

    if ((string) ini_get('ffi.preload') !== '') {
        try {
            \FFI::scope(\WxToken\WxToken::SCOPE);
            return; // setup A: ffi.preload declared the scope
        } catch (\FFI\Exception) {
            throw new \RuntimeException('wxtoken preload: ffi.preload is set (' . ini_get('ffi.preload')
                . ') but declares no FFI scope "' . \WxToken\WxToken::SCOPE . '": write it with '
                . 'php ' . __DIR__ . '/ffi-header.php FILE');
        }
    }

    $header = \WxToken\WxToken::preloadHeader();
    $tmp = tempnam(sys_get_temp_dir(), 'wxtoken-ffi-');
    if ($tmp === false || file_put_contents($tmp, $header) !== strlen($header)) {
        throw new \RuntimeException('wxtoken preload: cannot write the FFI header to ' . sys_get_temp_dir());
    }
    try {
        if (\FFI::load($tmp) === null) {
            throw new \RuntimeException('wxtoken preload: FFI::load() refused the header (see the warning above)');
        }
    } catch (\FFI\Exception $e) {
        throw new \RuntimeException('wxtoken preload: ' . $e->getMessage() . ' Write the header with '
            . 'php ' . __DIR__ . '/ffi-header.php /etc/php/' . PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION
            . '/wxtoken-ffi.h and set ffi.preload to it (README.md, setup A)', 0, $e);
    } finally {
        unlink($tmp);
    }
})();
