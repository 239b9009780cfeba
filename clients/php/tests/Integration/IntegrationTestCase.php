<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Integration;

use Freepik\AiOrchestrator\OrchestrationClient;
use PHPUnit\Framework\TestCase;

/**
 * Tests against a real `orchestrator serve`, started by scripts/with_test_server.py, which sets
 * ORCHESTRATOR_BASE_URL, ORCHESTRATOR_API_KEY, ORCHESTRATOR_TEST_LIMITED_KEY and
 * ORCHESTRATOR_TEST_DATA_DIR.
 */
abstract class IntegrationTestCase extends TestCase
{
    protected static function env(string $name): string
    {
        $value = getenv($name);
        if (!is_string($value) || $value === '') {
            self::fail("{$name} is not set: run the integration suite through scripts/with_test_server.py (make test-php)");
        }
        return $value;
    }

    protected static function client(mixed ...$options): OrchestrationClient
    {
        return new OrchestrationClient(...[
            'baseUrl' => self::env('ORCHESTRATOR_BASE_URL'),
            'apiKey' => self::env('ORCHESTRATOR_API_KEY'),
            ...$options,
        ]);
    }

    protected static function tempDir(): string
    {
        $dir = sys_get_temp_dir() . '/orchestrator-php-it-' . bin2hex(random_bytes(6));
        register_shutdown_function(static function () use ($dir): void {
            if (is_dir($dir)) {
                $items = new \RecursiveIteratorIterator(
                    new \RecursiveDirectoryIterator($dir, \FilesystemIterator::SKIP_DOTS),
                    \RecursiveIteratorIterator::CHILD_FIRST,
                );
                foreach ($items as $item) {
                    $item->isDir() ? rmdir($item->getPathname()) : unlink($item->getPathname());
                }
                rmdir($dir);
            }
        });
        return $dir;
    }

    /**
     * Run a PHP file in its own process against the test server.
     *
     * @param list<string> $args
     * @return array{0: int, 1: string, 2: string} exit code, stdout, stderr
     */
    protected static function runPhp(string $file, array $args = [], ?string $apiKey = null): array
    {
        $env = getenv();
        $env['ORCHESTRATOR_API_KEY'] = $apiKey ?? self::env('ORCHESTRATOR_API_KEY');
        $command = array_merge([PHP_BINARY, '-d', 'error_reporting=E_ALL', '-d', 'display_errors=stderr', $file], $args);
        $process = proc_open($command, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, dirname($file), $env);
        self::assertIsResource($process);
        $stdout = (string) stream_get_contents($pipes[1]);
        $stderr = (string) stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        return [proc_close($process), $stdout, $stderr];
    }
}
