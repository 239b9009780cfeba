<?php

declare(strict_types=1);

/*
 * PSR-4 autoloader for using the package without Composer: `require 'path/to/autoload.php';`.
 * With Composer, `vendor/autoload.php` does the same job and this file is not needed.
 */

spl_autoload_register(static function (string $class): void {
    $prefix = 'Freepik\\AiOrchestrator\\';
    if (!str_starts_with($class, $prefix)) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
