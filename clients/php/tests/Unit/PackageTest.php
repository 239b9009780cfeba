<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Unit;

use Freepik\AiOrchestrator\OrchestrationClient;
use PHPUnit\Framework\TestCase;

/** The package metadata says what the code does. */
final class PackageTest extends TestCase
{
    /** @return array<string, mixed> */
    private static function composer(): array
    {
        return json_decode((string) file_get_contents(dirname(__DIR__, 2) . '/composer.json'), true, 512, JSON_THROW_ON_ERROR);
    }

    public function testComposerMetadata(): void
    {
        $composer = self::composer();
        self::assertSame('freepik/ai-orchestrator-php', $composer['name']);
        self::assertSame(['php' => '>=8.1', 'ext-curl' => '*', 'ext-json' => '*'], $composer['require'], 'no other runtime dependency');
        self::assertSame(['Freepik\\AiOrchestrator\\' => 'src/'], $composer['autoload']['psr-4']);
    }

    public function testVersionMatchesTheChangelog(): void
    {
        $changelog = (string) file_get_contents(dirname(__DIR__, 2) . '/CHANGELOG.md');
        self::assertMatchesRegularExpression('/^## ' . preg_quote(OrchestrationClient::VERSION, '/') . '$/m', $changelog);
    }

    public function testTheFallbackAutoloaderFindsEveryClass(): void
    {
        $src = dirname(__DIR__, 2) . '/src';
        $files = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($src, \FilesystemIterator::SKIP_DOTS));
        $count = 0;
        foreach ($files as $file) {
            $relative = substr($file->getPathname(), strlen($src) + 1, -4);
            $class = 'Freepik\\AiOrchestrator\\' . str_replace('/', '\\', $relative);
            self::assertTrue(
                class_exists($class) || interface_exists($class) || enum_exists($class),
                "{$class} does not load from {$relative}.php",
            );
            $count++;
        }
        self::assertGreaterThan(30, $count);
    }
}
