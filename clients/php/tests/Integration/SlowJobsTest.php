<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Integration;

use Freepik\AiOrchestrator\Exception\ApiTimeoutException;
use Freepik\AiOrchestrator\Exception\ConflictException;
use Freepik\AiOrchestrator\Model\GenerationStatus;
use Freepik\AiOrchestrator\RequestOptions;

/**
 * Jobs that outlast the server's synchronous wait. Needs a server started with
 * `--setting offline_latency_seconds=1.5 --setting sync_wait_seconds=0.3`, so POST /generate
 * answers 202 with the job.
 *
 * @group slow
 */
final class SlowJobsTest extends IntegrationTestCase
{
    public function testGenerateWaitsThroughA202(): void
    {
        $response = self::client()->generate(prompt: 'Slow sunset', model: 'dall-e-3');
        self::assertSame(GenerationStatus::Succeeded, $response->status);
        self::assertNotNull($response->imageUrl);
        self::assertGreaterThanOrEqual(1.0, $response->processingTime);
    }

    public function testAnImageOperationIsAJobLikeAGeneration(): void
    {
        $client = self::client();
        $root = $client->generate(prompt: 'Slow kite', model: 'dall-e-2', size: '256x256');
        $job = $client->upscale(image: $root->id, factor: 2, model: 'magnific-upscaler', options: new RequestOptions(wait: false));
        self::assertFalse($job->isTerminal(), 'wait: false hands back the queued job');
        self::assertSame('upscale', $job->operation);
        self::assertSame(GenerationStatus::Succeeded, $client->waitFor($job->id)->status);

        $cut = $client->removeBackground(image: $job->id); // answered 202, then waited for
        self::assertSame(GenerationStatus::Succeeded, $cut->status);
        self::assertSame([$job->id], $cut->parents);
        self::assertGreaterThanOrEqual(1.0, $cut->processingTime);
    }

    public function testSubmitThenPollWithProgress(): void
    {
        $client = self::client();
        $job = $client->submit(prompt: 'A slow lighthouse', model: 'dall-e-3');
        self::assertFalse($job->isTerminal());
        $done = $client->waitFor($job->id, timeout: 60.0, pollInterval: 0.2);
        self::assertSame(GenerationStatus::Succeeded, $done->status);
        self::assertEqualsWithDelta(1.0, $done->progress, 1e-9);
    }

    public function testEventsFollowTheJobToTheEnd(): void
    {
        $client = self::client();
        $job = $client->submit(prompt: 'A lighthouse in a storm', model: 'dall-e-3');
        $events = [];
        foreach ($client->streamEvents($job->id) as $event) {
            $events[] = $event;
        }
        self::assertGreaterThanOrEqual(2, count($events));
        $last = array_pop($events);
        self::assertSame('succeeded', $last->event);
        self::assertSame(GenerationStatus::Succeeded, $last->status());
        self::assertNotNull($last->data->imageUrl);
        self::assertSame($job->id, $last->data->id);
        $progress = array_map(static fn ($e) => (float) $e->data->progress, $events);
        self::assertContains('running', array_map(static fn ($e) => $e->event, $events));
        $sorted = $progress;
        sort($sorted);
        self::assertSame($sorted, $progress, 'progress never goes back');
        // The client is still usable after a stream (its own connection was released).
        self::assertSame(GenerationStatus::Succeeded, $client->getGeneration($job->id)->status);
    }

    public function testWaitForGivesUpButTheJobGoesOn(): void
    {
        $client = self::client();
        $job = $client->submit(prompt: 'Too slow to wait for', model: 'dall-e-3');
        try {
            $client->waitFor($job->id, timeout: 0.2, pollInterval: 0.05);
            self::fail('expected ApiTimeoutException');
        } catch (ApiTimeoutException $exception) {
            self::assertSame($job->id, $exception->generationId);
        }
        self::assertSame(GenerationStatus::Succeeded, $client->waitFor($job->id, timeout: 60.0)->status);
    }

    public function testCancel(): void
    {
        $client = self::client();
        $job = $client->submit(prompt: 'Never mind', model: 'dall-e-3');
        $canceled = $client->cancel($job->id);
        self::assertSame(GenerationStatus::Canceled, $canceled->status);
        self::assertSame(GenerationStatus::Canceled, $client->getGeneration($job->id)->status);
        try {
            $client->cancel($job->id);
            self::fail('expected ConflictException');
        } catch (ConflictException $exception) {
            self::assertSame(409, $exception->status);
            self::assertSame('generation_finished', $exception->errorCode);
        }
    }

    public function testABatchWhoseItemsOutlastTheServerWaitIsWaitedFor(): void
    {
        $results = self::client()->generateBatch(prompts: ['Slow 1', 'Slow 2'], model: 'dall-e-2');
        self::assertSame(2, $results->succeeded);
        foreach ($results as $item) {
            self::assertTrue($item->ok(), (string) $item->error?->message);
            self::assertSame(GenerationStatus::Succeeded, $item->generation?->status);
        }
    }
}
