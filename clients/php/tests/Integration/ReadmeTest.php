<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Integration;

/**
 * Every ```php block of README.md, extracted at test time and run as written in its own process
 * against the test server (only the placeholder URL and key are replaced by the real ones).
 */
final class ReadmeTest extends IntegrationTestCase
{
    /** @return list<string> */
    private static function blocks(): array
    {
        $readme = (string) file_get_contents(dirname(__DIR__, 2) . '/README.md');
        preg_match_all('/^```php\n(.*?)^```$/ms', $readme, $matches);
        return $matches[1];
    }

    /** @return array<string, array{0: int, 1: string}> */
    public static function readmeBlocks(): array
    {
        $rows = [];
        foreach (self::blocks() as $i => $code) {
            $first = trim(strtok($code, "\n") ?: '');
            $rows["block {$i}: {$first}"] = [$i, $code];
        }
        return $rows;
    }

    public function testTheReadmeHasItsExamples(): void
    {
        $blocks = self::blocks();
        self::assertGreaterThanOrEqual(9, count($blocks));
        // The README opens with the shape of use.
        self::assertStringContainsString("new OrchestrationClient(baseUrl: 'http://localhost:8000', apiKey: 'your-api-key')", $blocks[0]);
    }

    /** @dataProvider readmeBlocks */
    public function testBlockRuns(int $index, string $code): void
    {
        $url = self::env('ORCHESTRATOR_BASE_URL');
        $key = self::env('ORCHESTRATOR_API_KEY');
        $code = strtr($code, [
            "'http://localhost:8000'" => var_export($url, true),
            "'your-api-key'" => var_export($key, true),
            "'sk-test-…'" => var_export($key, true),
        ]);
        $dir = self::tempDir();
        mkdir($dir);
        $file = "{$dir}/readme_block_{$index}.php";
        $autoload = var_export(dirname(__DIR__, 2) . '/autoload.php', true);
        file_put_contents($file, "<?php\n\ndeclare(strict_types=1);\n\nrequire {$autoload};\n\n{$code}");

        [$status, $stdout, $stderr] = self::runPhp($file);
        self::assertSame(0, $status, "README block {$index} failed:\n{$code}\n--- stdout\n{$stdout}\n--- stderr\n{$stderr}");
        self::assertSame('', $stderr, "README block {$index} wrote to stderr (warnings?)");
        self::assertNotSame('', trim($stdout), "README block {$index} printed nothing");
        if ($index === 0) {
            self::assertMatchesRegularExpression('#^http://127\.0\.0\.1:\d+/api/v1/images/.+\.png\?#', $stdout);
            self::assertStringNotContainsString('Retry after', $stdout);
        }
    }
}
