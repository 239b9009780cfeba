<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Integration;

use Freepik\AiOrchestrator\Exception\AuthenticationException;
use Freepik\AiOrchestrator\Exception\InvalidRequestException;
use Freepik\AiOrchestrator\Exception\ModelNotAvailableException;
use Freepik\AiOrchestrator\Exception\NotFoundException;
use Freepik\AiOrchestrator\Exception\RateLimitException;
use Freepik\AiOrchestrator\Model\GenerationStatus;
use Freepik\AiOrchestrator\OrchestrationClient;

/** Every method against a real server (test-mode keys: the offline renderer makes real PNGs). */
final class LiveTest extends IntegrationTestCase
{
    public function testGenerateReturnsARealImage(): void
    {
        $client = self::client();
        $response = $client->generate(
            prompt: 'A beautiful sunset over mountains',
            model: 'dall-e-3',
            style: 'photorealistic',
            size: '1792x1024',
            quality: 'hd',
            metadata: ['campaign' => 'summer-2024'],
        );
        self::assertSame(GenerationStatus::Succeeded, $response->status);
        self::assertStringStartsWith('gen_', $response->id);
        self::assertSame('photorealistic', $response->style);
        self::assertSame('1792x1024', $response->size);
        self::assertSame(['campaign' => 'summer-2024'], $response->metadata);
        self::assertFalse($response->livemode);
        self::assertGreaterThan(0.0, $response->cost);
        self::assertGreaterThan(0.0, $response->processingTime);
        self::assertInstanceOf(\DateTimeImmutable::class, $response->createdAt);
        self::assertLessThan(300, abs(time() - $response->createdAt->getTimestamp()));
        self::assertNotNull($response->requestId);

        // The image URL is signed and needs no credentials: fetch it with plain curl.
        $png = self::fetch((string) $response->imageUrl);
        self::assertStringStartsWith("\x89PNG\r\n\x1a\n", $png);
        $size = getimagesizefromstring($png);
        self::assertIsArray($size);
        self::assertSame([1792, 1024], [$size[0], $size[1]]);
        self::assertNotNull($response->thumbnailUrl);
        self::assertStringStartsWith('RIFF', self::fetch($response->thumbnailUrl));

        self::assertSame($response->id, $client->getGeneration($response->id)->id);
    }

    public function testARetriedCallWithTheSameIdempotencyKeyIsReplayed(): void
    {
        $client = self::client();
        $key = 'php-it-' . bin2hex(random_bytes(8));
        $first = $client->generate(prompt: 'Once only', model: 'dall-e-3', idempotencyKey: $key);
        $again = $client->generate(prompt: 'Once only', model: 'dall-e-3', idempotencyKey: $key);
        self::assertSame($first->id, $again->id);
        self::assertFalse($first->idempotentReplayed);
        self::assertTrue($again->idempotentReplayed);
    }

    public function testBatchOfThreeInOrder(): void
    {
        $prompts = ['Prompt 1', 'Prompt 2', 'Prompt 3'];
        $results = self::client()->generateBatch(prompts: $prompts, model: 'dall-e-3', batchSize: 3);
        self::assertCount(3, $results);
        self::assertSame(3, $results->succeeded);
        self::assertSame(0, $results->failed);
        self::assertStringStartsWith('bat_', $results->id);
        $ids = [];
        foreach ($results as $i => $item) {
            self::assertSame($i, $item->index);
            self::assertSame($prompts[$i], $item->prompt);
            self::assertTrue($item->ok());
            self::assertSame($prompts[$i], $item->generation?->prompt);
            self::assertStringStartsWith('http', (string) $item->imageUrl);
            $ids[] = $item->generation?->id;
        }
        self::assertCount(3, array_unique($ids));
        self::assertEqualsWithDelta(
            array_sum(array_map(static fn ($g) => $g->cost, $results->generations())),
            $results->totalCost,
            1e-9,
        );
    }

    public function testModelsAndModelInfo(): void
    {
        $client = self::client();
        $models = $client->listModels();
        $names = array_map(static fn ($m) => $m->name, $models);
        self::assertContains('dall-e-3', $names);
        self::assertGreaterThan(5, count($models));
        $info = $client->getModelInfo('dall-e-3');
        self::assertSame('dall-e-3', $info->name);
        self::assertSame('1792x1024', $info->maxResolution);
        self::assertContains('photorealistic', $info->supportedStyles);
        self::assertGreaterThan(0.0, $info->pricingPerImage);
        self::assertEqualsWithDelta($info->pricingPerImage, $info->pricing['1024x1024']['standard'], 1e-9);
        self::assertNotSame('', $info->description);
    }

    public function testUsageCountsWhatWasGenerated(): void
    {
        $client = self::client();
        $today = gmdate('Y-m-d');
        $before = $client->getUsageStats(startDate: $today, endDate: $today);
        $client->generate(prompt: 'Counted', model: 'dall-e-2');
        $after = $client->getUsageStats(startDate: new \DateTimeImmutable('now', new \DateTimeZone('UTC')), endDate: $today, groupBy: 'model');
        self::assertSame(1, $after->totalGenerations - $before->totalGenerations);
        self::assertGreaterThan($before->totalCost, $after->totalCost);
        self::assertSame($today, $after->startDate->format('Y-m-d'));
        self::assertSame('model', $after->groupBy);
        self::assertContains('dall-e-2', array_map(static fn ($b) => $b->key, $after->groups ?? []));

        $this->expectException(InvalidRequestException::class);
        $client->getUsageStats(startDate: '2020-01-01', endDate: '2030-01-01');
    }

    public function testHistoryPagesOverThreePagesWithoutOverlap(): void
    {
        $client = self::client();
        $tag = 'paging-' . bin2hex(random_bytes(4));
        $created = [];
        for ($i = 0; $i < 5; $i++) {
            $created[] = $client->generate(prompt: "History {$i}", model: 'dall-e-2', metadata: ['run' => $tag])->id;
        }
        $first = $client->getGenerationHistory(limit: 2, metadata: ['run' => $tag]);
        self::assertCount(2, $first);
        self::assertTrue($first->hasMore);

        $pages = iterator_to_array($first->pages(), false);
        self::assertCount(3, $pages);
        self::assertSame([2, 2, 1], array_map('count', $pages));

        $seen = [];
        foreach ($first as $generation) {
            $seen[] = $generation->id;
        }
        self::assertCount(5, $seen);
        self::assertSame($seen, array_values(array_unique($seen)), 'pages overlap');
        self::assertSame(array_reverse($created), $seen, 'newest first');

        $filtered = $client->getGenerationHistory(limit: 10, filterByModel: 'dall-e-3', metadata: ['run' => $tag]);
        self::assertCount(0, $filtered);
    }

    public function testABadKeyIsAnAuthenticationError(): void
    {
        $client = new OrchestrationClient(baseUrl: self::env('ORCHESTRATOR_BASE_URL'), apiKey: 'sk-test-not-a-real-key');
        try {
            $client->listModels();
            self::fail('expected AuthenticationException');
        } catch (AuthenticationException $exception) {
            self::assertSame(401, $exception->status);
            self::assertSame('invalid_api_key', $exception->errorCode);
            self::assertStringStartsWith('req_', (string) $exception->requestId);
            self::assertStringNotContainsString('sk-test-not-a-real-key', (string) $exception);
        }
    }

    public function testRateLimitedWithRetriesOffRaisesWithRetryAfter(): void
    {
        $client = new OrchestrationClient(
            baseUrl: self::env('ORCHESTRATOR_BASE_URL'),
            apiKey: self::env('ORCHESTRATOR_TEST_LIMITED_KEY'),
            maxRetries: 0,
        );
        try {
            $client->listModels(); // the one request a minute this key may make (unless already spent)
        } catch (RateLimitException) {
        }
        try {
            $client->listModels();
            self::fail('expected RateLimitException');
        } catch (RateLimitException $exception) {
            self::assertSame(429, $exception->status);
            self::assertNotNull($exception->retryAfter);
            self::assertGreaterThan(0.0, $exception->retryAfter);
            self::assertSame(1, $exception->limit);
            self::assertSame(0, $exception->remaining);
        }
    }

    public function testUnknownModel(): void
    {
        $client = self::client();
        try {
            $client->generate(prompt: 'p', model: 'no-such-model');
            self::fail('expected ModelNotAvailableException');
        } catch (ModelNotAvailableException $exception) {
            self::assertSame(404, $exception->status);
            self::assertSame('model', $exception->param);
        }
        $this->expectException(ModelNotAvailableException::class);
        $client->getModelInfo('no-such-model');
    }

    public function testUnknownGenerationIsNotFound(): void
    {
        $this->expectException(NotFoundException::class);
        self::client()->getGeneration('gen_00000000000000000000000000');
    }

    public function testAnAsyncJobIsPolledToSucceeded(): void
    {
        $client = self::client();
        $job = $client->submit(prompt: 'A lighthouse in a storm', model: 'dall-e-3');
        self::assertStringStartsWith('gen_', $job->id);
        $done = $client->waitFor($job->id, timeout: 60.0, pollInterval: 0.1);
        self::assertSame(GenerationStatus::Succeeded, $done->status);
        self::assertSame($job->id, $done->id);
        self::assertNotNull($done->imageUrl);
    }

    public function testDownloadWritesRealFiles(): void
    {
        $client = self::client();
        $response = $client->generate(prompt: 'Download me', model: 'dall-e-3');
        $dir = self::tempDir() . '/out';
        $paths = $client->download($response, $dir);
        self::assertSame(["{$dir}/{$response->id}-0.png"], $paths);
        $size = getimagesize($paths[0]);
        self::assertIsArray($size);
        self::assertSame('image/png', $size['mime']);
        self::assertSame([1024, 1024], [$size[0], $size[1]]);

        $thumbs = $client->download($response, $dir, thumbnail: true);
        self::assertSame(["{$dir}/{$response->id}-0-thumb.webp"], $thumbs);
        self::assertStringStartsWith('RIFF', (string) file_get_contents($thumbs[0]));

        $url = $client->download((string) $response->imageUrl, "{$dir}/by-url");
        self::assertSame(file_get_contents($paths[0]), file_get_contents($url[0]));

        try {
            $client->download($response, $dir);
            self::fail('overwrote an existing file');
        } catch (\Freepik\AiOrchestrator\Exception\DestinationExistsException $exception) {
            self::assertSame($paths[0], $exception->filename);
        }
        self::assertSame($paths, $client->download($response, $dir, overwrite: true));
    }

    private static function fetch(string $url): string
    {
        $handle = curl_init($url);
        curl_setopt_array($handle, [CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 30]);
        $body = curl_exec($handle);
        self::assertSame(200, curl_getinfo($handle, CURLINFO_RESPONSE_CODE));
        return (string) $body;
    }
}
