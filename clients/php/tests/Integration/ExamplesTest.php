<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Integration;

use Freepik\AiOrchestrator\Exception\RateLimitException;
use Freepik\AiOrchestrator\OrchestrationClient;

/** The scripts in examples/ run against a real server and print what they promise. */
final class ExamplesTest extends IntegrationTestCase
{
    private const EXPECTED = [
        'basic_usage.php' => ['Generated image URL: http'],
        'client_configuration.php' => ['models reachable at http'],
        'generate.php' => ['succeeded, 1024x1024 hd, cost $0.08 USD', 'Generated image URL: http', 'Thumbnail URL: http'],
        'batch.php' => ['Prompt 1: http', 'Prompt 3: http', '3 succeeded, 0 failed, total $0.12'],
        'models_and_usage.php' => ['dall-e-3: ', 'Max resolution: 1792x1024', 'Supported styles: vivid', 'Total generations: ', 'History: '],
        'error_handling.php' => ['Generated image URL: http'],
        'jobs_and_download.php' => ['submitted gen_', '  succeeded: progress 1', 'succeeded: progress 1', 'saved '],
        'retry_and_cleanup.php' => ['With retry: http', '3 batch images'],
    ];

    private static function examples(): string
    {
        return dirname(__DIR__, 2) . '/examples';
    }

    public function testEveryExampleIsCovered(): void
    {
        $found = array_map('basename', glob(self::examples() . '/*.php') ?: []);
        sort($found);
        $expected = array_keys(self::EXPECTED);
        sort($expected);
        self::assertSame($expected, $found);
    }

    /** @return array<string, array{0: string}> */
    public static function exampleNames(): array
    {
        $rows = [];
        foreach (array_keys(self::EXPECTED) as $name) {
            $rows[$name] = [$name];
        }
        return $rows;
    }

    /** @dataProvider exampleNames */
    public function testExampleRuns(string $name): void
    {
        $args = [];
        if ($name === 'jobs_and_download.php') {
            $args[] = self::tempDir();
        }
        [$status, $stdout, $stderr] = self::runPhp(self::examples() . "/{$name}", $args);
        self::assertSame(0, $status, "{$name} failed:\n{$stdout}\n{$stderr}");
        self::assertSame('', $stderr);
        foreach (self::EXPECTED[$name] as $expected) {
            self::assertStringContainsString($expected, $stdout, "output of {$name}");
        }
        if ($name === 'jobs_and_download.php') {
            self::assertMatchesRegularExpression('#saved .+/gen_\w+-0\.png \(\d{4,} bytes\)#', $stdout);
            self::assertCount(1, glob($args[0] . '/gen_*-0.png') ?: []);
        }
    }

    public function testErrorHandlingWithABadKey(): void
    {
        [$status, $stdout] = self::runPhp(self::examples() . '/error_handling.php', [], 'sk-test-nope');
        self::assertSame(0, $status);
        self::assertSame("Invalid API key\n", $stdout);
    }

    public function testErrorHandlingWithAnExhaustedRateLimit(): void
    {
        $key = self::env('ORCHESTRATOR_TEST_LIMITED_KEY');
        try { // spend the key's one request a minute, if nothing else has
            (new OrchestrationClient(baseUrl: self::env('ORCHESTRATOR_BASE_URL'), apiKey: $key, maxRetries: 0))->listModels();
        } catch (RateLimitException) {
        }
        [$status, $stdout] = self::runPhp(self::examples() . '/error_handling.php', [], $key);
        self::assertSame(0, $status);
        self::assertMatchesRegularExpression('/^Rate limit exceeded\. Retry after: \d+(\.\d+)?\n$/', $stdout);
    }
}
