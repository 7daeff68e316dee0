<?php
// Loads the WxToken classes without composer (with composer, use
// vendor/autoload.php instead): a PSR-4 loader for src/.
declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    if (str_starts_with($class, 'WxToken\\')) {
        $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, 8)) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
