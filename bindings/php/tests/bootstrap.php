<?php

declare(strict_types=1);

// No composer install needed: a PSR-4 loader for the package and its tests.
spl_autoload_register(static function (string $class): void {
    foreach (['WxToken\\Tests\\' => __DIR__ . '/', 'WxToken\\' => dirname(__DIR__) . '/src/'] as $prefix => $dir) {
        if (str_starts_with($class, $prefix)) {
            $file = $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require $file;
            }
            return;
        }
    }
});

if (!extension_loaded('ffi')) {
    fwrite(STDERR, "ext-ffi is not loaded: run the tests with ./run-tests.sh (php -d ffi.enable=1)\n");
    exit(2);
}
foreach (['WXTOKEN_TEST_API_BASE', 'WXTOKEN_TEST_APPS'] as $name) {
    if ((string) getenv($name) === '') {
        fwrite(STDERR, "{$name} is not set: run the tests with ./run-tests.sh (it starts `wxtoken mock`)\n");
        exit(2);
    }
}
