<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Integration;

/** The result cache against a real server: a second identical seeded request is served from the first at $0. */
final class CacheTest extends IntegrationTestCase
{
    public function testASecondIdenticalSeededRequestIsServedFromTheCache(): void
    {
        $client = self::client();
        $today = gmdate('Y-m-d'); // the server's days are UTC
        $monthStart = gmdate('Y-m-01');
        $before = $client->getUsageStats(startDate: $monthStart, endDate: $today);
        $prompt = 'a lighthouse at dusk ' . bin2hex(random_bytes(6));

        $first = $client->generate(prompt: $prompt, model: 'stable-image-core', seed: 42, cache: true);
        self::assertFalse($first->cached);
        self::assertNull($first->cachedFrom);
        $second = $client->generate(prompt: $prompt, model: 'stable-image-core', seed: 42, cache: true);
        self::assertNotSame($first->id, $second->id);
        self::assertTrue($second->cached);
        self::assertSame($first->id, $second->cachedFrom);
        self::assertSame(0.0, $second->cost);
        self::assertTrue($client->getGeneration($second->id)->cached);

        $after = $client->getUsageStats(startDate: $monthStart, endDate: $today, groupBy: 'cache');
        self::assertGreaterThanOrEqual(1, $after->cachedGenerations);
        self::assertGreaterThanOrEqual(1, $after->cachedGenerations - $before->cachedGenerations);
        self::assertGreaterThanOrEqual(1, array_sum(array_map(static fn ($bucket): int => $bucket->cached, $after->groups ?? [])));
    }
}
