<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Unit;

use Freepik\AiOrchestrator\Exception\ApiConnectionException;
use Freepik\AiOrchestrator\Exception\ApiTimeoutException;
use Freepik\AiOrchestrator\Exception\ConflictException;
use Freepik\AiOrchestrator\Exception\ContentPolicyException;
use Freepik\AiOrchestrator\Exception\InternalServerException;
use Freepik\AiOrchestrator\Exception\DestinationExistsException;
use Freepik\AiOrchestrator\Exception\OrchestrationException;
use Freepik\AiOrchestrator\Exception\ProviderException;
use Freepik\AiOrchestrator\Http\Response;
use Freepik\AiOrchestrator\Http\TransportException;
use Freepik\AiOrchestrator\Model\GenerationStatus;
use Freepik\AiOrchestrator\OrchestrationClient;
use Freepik\AiOrchestrator\Tests\Support\FakeClock;
use Freepik\AiOrchestrator\Tests\Support\FakeTransport;
use PHPUnit\Framework\TestCase;

final class ClientTest extends TestCase
{
    private FakeTransport $transport;
    private FakeClock $clock;
    /** @var array<string, string|false> */
    private array $savedEnv = [];

    protected function setUp(): void
    {
        $this->transport = new FakeTransport();
        $this->clock = new FakeClock();
        foreach (['ORCHESTRATOR_API_KEY', 'ORCHESTRATOR_BASE_URL'] as $name) {
            $this->savedEnv[$name] = getenv($name);
            putenv($name);
        }
    }

    protected function tearDown(): void
    {
        foreach ($this->savedEnv as $name => $value) {
            putenv($value === false ? $name : "{$name}={$value}");
        }
    }

    private function client(mixed ...$options): OrchestrationClient
    {
        return new OrchestrationClient(...['apiKey' => 'sk-test-abc', 'transport' => $this->transport, 'clock' => $this->clock, ...$options]);
    }

    /** @return array<string, mixed> */
    private static function generation(string $id = 'gen_1', string $status = 'succeeded', array $extra = []): array
    {
        return [
            'id' => $id, 'object' => 'generation', 'status' => $status, 'prompt' => 'p', 'model' => 'dall-e-3',
            'image_url' => $status === 'succeeded' ? "http://localhost:8000/api/v1/images/{$id}/1-0.png?sig=s" : null,
            'thumbnail_url' => $status === 'succeeded' ? "http://localhost:8000/api/v1/images/{$id}/1-0.thumb.webp?sig=s" : null,
        ] + $extra;
    }

    // ---------------------------------------------------------------- configuration

    public function testNoCredentialAnywhereIsAClearError(): void
    {
        try {
            new OrchestrationClient(transport: $this->transport);
            self::fail('a client without a credential was made');
        } catch (OrchestrationException $exception) {
            self::assertSame(OrchestrationException::class, $exception::class);
            self::assertSame('missing_credentials', $exception->errorCode);
            self::assertStringContainsString('ORCHESTRATOR_API_KEY', $exception->getMessage());
        }
    }

    public function testEnvironmentDefaults(): void
    {
        putenv('ORCHESTRATOR_API_KEY=sk-test-from-env');
        putenv('ORCHESTRATOR_BASE_URL=https://orchestrator.example.com/api/v1/');
        $client = new OrchestrationClient(transport: $this->transport, clock: $this->clock);
        self::assertSame('https://orchestrator.example.com', $client->baseUrl);
        $this->transport->json(200, ['object' => 'list', 'data' => []]);
        $client->listModels();
        self::assertSame('https://orchestrator.example.com/api/v1/models', $this->transport->requests[0]->url);
        self::assertSame('Bearer sk-test-from-env', $this->transport->requests[0]->header('Authorization'));
    }

    public function testDefaultBaseUrl(): void
    {
        self::assertSame('http://localhost:8000', $this->client()->baseUrl);
    }

    public function testBearerToken(): void
    {
        $client = new OrchestrationClient(bearerToken: 'jwt.token.here', transport: $this->transport, clock: $this->clock);
        $this->transport->json(200, ['object' => 'list', 'data' => []]);
        $client->listModels();
        self::assertSame('Bearer jwt.token.here', $this->transport->requests[0]->header('Authorization'));
    }

    public function testApiKeyAndBearerTokenTogetherAreRefused(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        new OrchestrationClient(apiKey: 'sk-test-a', bearerToken: 'b');
    }

    public function testBadConfigurationIsRefused(): void
    {
        foreach ([['maxRetries' => -1], ['timeout' => 0.0], ['retryBackoff' => -1.0], ['baseUrl' => 'ftp://x'], ['baseUrl' => 'localhost:8000']] as $bad) {
            try {
                $this->client(...$bad);
                self::fail('accepted ' . json_encode($bad));
            } catch (\InvalidArgumentException $exception) {
                self::assertNotSame('', $exception->getMessage());
            }
        }
    }

    // ---------------------------------------------------------------- requests

    public function testGenerateSendsOnlyTheFieldsGivenAndParsesTheResponse(): void
    {
        $this->transport->json(200, self::generation(extra: [
            'cost' => 0.08, 'processing_time' => 1.25, 'created_at' => '2026-01-02T03:04:05.123456Z',
            'metadata' => ['campaign' => 'summer-2024'], 'style' => 'photorealistic',
            'images' => [['url' => 'http://localhost:8000/a.png', 'width' => 1024, 'height' => 1024, 'content_type' => 'image/png']],
        ]), ['x-request-id' => 'req_9']);
        $response = $this->client()->generate(
            prompt: 'A sunset',
            model: 'dall-e-3',
            style: 'photorealistic',
            metadata: ['campaign' => 'summer-2024'],
        );
        $request = $this->transport->requests[0];
        self::assertSame('POST', $request->method);
        self::assertSame('http://localhost:8000/api/v1/generate', $request->url);
        self::assertSame(
            ['prompt' => 'A sunset', 'model' => 'dall-e-3', 'style' => 'photorealistic', 'metadata' => ['campaign' => 'summer-2024']],
            $this->transport->body(0),
        );
        self::assertSame('application/json', $request->header('Content-Type'));
        self::assertSame('wait=599', $request->header('Prefer')); // the 600 s call budget, less 1 s
        self::assertSame('1', $request->header('X-Request-Attempt'));
        self::assertStringStartsWith('freepik-ai-orchestrator-php/', (string) $request->header('User-Agent'));
        self::assertEqualsWithDelta(600.0, $request->timeout, 1e-9);

        self::assertSame(GenerationStatus::Succeeded, $response->status);
        self::assertEqualsWithDelta(0.08, $response->cost, 1e-12);
        self::assertEqualsWithDelta(1.25, $response->processingTime, 1e-12);
        self::assertInstanceOf(\DateTimeImmutable::class, $response->createdAt);
        self::assertSame('2026-01-02T03:04:05.123456+00:00', $response->createdAt->format('Y-m-d\TH:i:s.uP'));
        self::assertSame(['campaign' => 'summer-2024'], $response->metadata);
        self::assertSame(1024, $response->images[0]->width);
        self::assertSame('req_9', $response->requestId);
        self::assertFalse($response->idempotentReplayed);
    }

    public function testEmptyMetadataIsSentAsAnObject(): void
    {
        $this->transport->json(200, self::generation());
        $this->client()->generate(prompt: 'p', model: 'dall-e-3', metadata: []);
        self::assertStringContainsString('"metadata":{}', (string) $this->transport->requests[0]->body);
    }

    public function testEachCallHasItsOwnIdempotencyKeyAndAGivenKeyIsUsed(): void
    {
        $this->transport->json(200, self::generation())->json(200, self::generation())->json(200, self::generation());
        $client = $this->client();
        $client->generate(prompt: 'p', model: 'dall-e-3');
        $client->generate(prompt: 'p', model: 'dall-e-3');
        $client->generate(prompt: 'p', model: 'dall-e-3', idempotencyKey: 'my-key-1');
        [$a, $b, $c] = array_map(static fn ($r) => $r->header('Idempotency-Key'), $this->transport->requests);
        self::assertNotSame($a, $b);
        self::assertSame('my-key-1', $c);
    }

    public function testSubmitAsksForAnAsyncAnswerAndReturnsTheQueuedJob(): void
    {
        $this->transport->json(202, self::generation(status: 'queued'));
        $job = $this->client()->submit(prompt: 'p', model: 'dall-e-3');
        self::assertSame(GenerationStatus::Queued, $job->status);
        self::assertSame('respond-async', $this->transport->requests[0]->header('Prefer'));
        self::assertCount(1, $this->transport->requests);
    }

    public function testGenerateWaitsForAJobHandedBackUnfinished(): void
    {
        $this->transport
            ->json(202, self::generation(status: 'queued'))
            ->json(200, self::generation(status: 'running'))
            ->json(200, self::generation(status: 'running'))
            ->json(200, self::generation());
        $done = $this->client()->generate(prompt: 'p', model: 'dall-e-3');
        self::assertSame(GenerationStatus::Succeeded, $done->status);
        self::assertSame('http://localhost:8000/api/v1/generations/gen_1', $this->transport->requests[1]->url);
        self::assertSame('GET', $this->transport->requests[3]->method);
        self::assertEqualsWithDelta([0.5, 0.75], $this->clock->sleeps, 1e-9);
    }

    public function testAJobThatFailsWhileWaitedForThrowsTheMappedException(): void
    {
        $this->transport
            ->json(202, self::generation(status: 'queued'))
            ->json(200, self::generation(status: 'failed', extra: ['error' => ['code' => 'content_policy_violation', 'message' => 'refused']]));
        try {
            $this->client()->generate(prompt: 'p', model: 'dall-e-3');
            self::fail('expected an exception');
        } catch (ContentPolicyException $exception) {
            self::assertSame('gen_1', $exception->generationId);
            self::assertSame('refused', $exception->getMessage());
            self::assertSame(422, $exception->status);
        }
    }

    public function testAJobCanceledWhileWaitedForThrowsConflict(): void
    {
        $this->transport->json(202, self::generation(status: 'queued'))->json(200, self::generation(status: 'canceled'));
        $this->expectException(ConflictException::class);
        $this->client()->generate(prompt: 'p', model: 'dall-e-3');
    }

    public function testWaitForGivesUpAtItsDeadline(): void
    {
        for ($i = 0; $i < 10; $i++) {
            $this->transport->json(200, self::generation(status: 'running'));
        }
        try {
            $this->client()->waitFor('gen_1', timeout: 2.0, pollInterval: 0.5);
            self::fail('expected a timeout');
        } catch (ApiTimeoutException $exception) {
            self::assertSame('gen_1', $exception->generationId);
        }
        self::assertEqualsWithDelta(2.0, array_sum($this->clock->sleeps), 1e-9);
    }

    public function testCancelPostsToTheJob(): void
    {
        $this->transport->json(200, self::generation(status: 'canceled'));
        $job = $this->client()->cancel('gen_1');
        self::assertSame(GenerationStatus::Canceled, $job->status);
        self::assertSame('http://localhost:8000/api/v1/generations/gen_1/cancel', $this->transport->requests[0]->url);
        self::assertNotNull($this->transport->requests[0]->header('Idempotency-Key'));
        self::assertSame('', $this->transport->requests[0]->body);
        self::assertNull($this->transport->requests[0]->header('Content-Type'));
    }

    public function testIdsAreEscapedInPaths(): void
    {
        $this->transport->json(200, ['name' => 'a/b', 'description' => '']);
        $this->client()->getModelInfo('a/b');
        self::assertSame('http://localhost:8000/api/v1/models/a%2Fb', $this->transport->requests[0]->url);
    }

    // ---------------------------------------------------------------- batch

    public function testBatchKeepsPromptOrderAndWaitsForPendingItems(): void
    {
        $this->transport->json(200, [
            'object' => 'batch', 'id' => 'bat_1', 'succeeded' => 1, 'failed' => 2, 'total_cost' => 0.04,
            'data' => [
                ['index' => 0, 'prompt' => 'a', 'status' => 'succeeded', 'generation' => self::generation('gen_a', extra: ['cost' => 0.04])],
                ['index' => 1, 'prompt' => 'b', 'status' => 'failed', 'generation' => self::generation('gen_b', 'running'),
                    'error' => ['type' => 'invalid_request_error', 'code' => 'generation_pending', 'message' => 'still running']],
                ['index' => 2, 'prompt' => 'c', 'status' => 'failed',
                    'error' => ['type' => 'provider_error', 'code' => 'provider_error', 'message' => 'upstream 500']],
            ],
        ]);
        $this->transport->json(200, self::generation('gen_b', extra: ['cost' => 0.04]));
        $batch = $this->client()->generateBatch(prompts: ['a', 'b', 'c'], model: 'dall-e-3', batchSize: 2);
        self::assertSame(['prompts' => ['a', 'b', 'c'], 'model' => 'dall-e-3', 'batch_size' => 2], $this->transport->body(0));
        self::assertCount(3, $batch);
        self::assertSame(['a', 'b', 'c'], array_map(static fn ($item) => $item->prompt, iterator_to_array($batch)));
        self::assertTrue($batch[1]->ok());
        self::assertSame('gen_b', $batch[1]->generation?->id);
        self::assertFalse($batch[2]->ok());
        self::assertNull($batch[2]->imageUrl);
        self::assertInstanceOf(ProviderException::class, $batch[2]->exception());
        self::assertSame(2, $batch->succeeded);
        self::assertSame(1, $batch->failed);
        self::assertEqualsWithDelta(0.08, $batch->totalCost, 1e-9);
        self::assertCount(2, $batch->generations());
        self::assertCount(1, $batch->errors());
    }

    public function testBatchRaiseOnError(): void
    {
        $this->transport->json(200, [
            'object' => 'batch', 'id' => 'bat_1',
            'data' => [['index' => 0, 'prompt' => 'a', 'status' => 'failed',
                'error' => ['type' => 'invalid_request_error', 'code' => 'invalid_field', 'message' => 'bad size']]],
        ]);
        $this->expectException(\Freepik\AiOrchestrator\Exception\InvalidRequestException::class);
        $this->expectExceptionMessage('bad size');
        $this->client()->generateBatch(prompts: ['a'], model: 'dall-e-3', raiseOnError: true);
    }

    // ---------------------------------------------------------------- retries and timeouts

    public function testConnectionErrorsAreRetriedThenRaised(): void
    {
        $this->transport->add(new TransportException('refused'))->add(new TransportException('refused'))->add(new TransportException('refused'));
        try {
            $this->client(random: static fn (): float => 0.0)->listModels();
            self::fail('expected a connection error');
        } catch (ApiConnectionException $exception) {
            self::assertNotInstanceOf(ApiTimeoutException::class, $exception);
            self::assertInstanceOf(TransportException::class, $exception->getPrevious());
        }
        self::assertCount(3, $this->transport->requests);
        self::assertEqualsWithDelta([0.5, 1.0], $this->clock->sleeps, 1e-9);
    }

    public function testATimedOutAttemptRaisesApiTimeoutException(): void
    {
        $this->transport->add(new TransportException('slow', timedOut: true));
        $this->expectException(ApiTimeoutException::class);
        $this->client(maxRetries: 0)->listModels();
    }

    public function testTheTimeoutBoundsTheWholeCall(): void
    {
        // A 2 s hint does not fit in what is left of a 1.5 s call: the error comes back at once.
        $this->transport->add(new Response(503, ['retry-after' => '2'], ''));
        try {
            $this->client(timeout: 1.5)->listModels();
            self::fail('expected an exception');
        } catch (InternalServerException $exception) {
            self::assertSame(503, $exception->status);
        }
        self::assertSame([], $this->clock->sleeps);

        // Each attempt gets only what is left of the call's budget.
        $this->transport->add(new Response(503, ['retry-after' => '1'], ''))->json(200, ['object' => 'list', 'data' => []]);
        $this->client(timeout: 3.0)->listModels();
        self::assertEqualsWithDelta(3.0, $this->transport->requests[1]->timeout, 1e-9);
        self::assertEqualsWithDelta(2.0, $this->transport->requests[2]->timeout, 1e-9);
        self::assertSame('2', $this->transport->requests[2]->header('X-Client-Timeout'));
    }

    public function testAnUnexpectedBodyIsAClearError(): void
    {
        $this->transport->add(new Response(200, ['x-request-id' => 'req_5'], '<html>proxy</html>'));
        try {
            $this->client()->getGeneration('gen_1');
            self::fail('expected an exception');
        } catch (OrchestrationException $exception) {
            self::assertStringContainsString('unexpected response body', $exception->getMessage());
            self::assertSame('req_5', $exception->requestId);
        }
    }

    // ---------------------------------------------------------------- history

    public function testHistoryFiltersAndPages(): void
    {
        $this->transport->json(200, ['object' => 'list', 'data' => [self::generation('gen_2')], 'has_more' => true, 'next_cursor' => 'gen_2']);
        $this->transport->json(200, ['object' => 'list', 'data' => [self::generation('gen_1')], 'has_more' => false, 'next_cursor' => null]);
        $page = $this->client()->getGenerationHistory(
            limit: 1,
            model: 'dall-e-3',
            status: GenerationStatus::Succeeded,
            since: new \DateTimeImmutable('2026-01-01T00:00:00Z'),
            metadata: ['campaign' => 'summer', 'flag' => true],
            query: 'sun set',
        );
        self::assertSame([
            'limit' => '1', 'model' => 'dall-e-3', 'status' => 'succeeded', 'since' => '2026-01-01T00:00:00.000+00:00',
            'q' => 'sun set', 'metadata.campaign' => 'summer', 'metadata.flag' => 'true',
        ], $this->transport->query(0));
        self::assertTrue($page->hasNextPage());
        $pages = iterator_to_array($page->pages(), false);
        self::assertCount(2, $pages);
        self::assertSame('gen_1', $pages[1]->data[0]->id);
        self::assertSame('gen_2', $this->transport->query(1)['cursor']);
    }

    public function testUsageDates(): void
    {
        $this->transport->json(200, [
            'object' => 'usage', 'start_date' => '2026-01-01', 'end_date' => '2026-01-31', 'total_generations' => 3,
            'total_cost' => 0.12, 'by_model' => [['key' => 'dall-e-3', 'generations' => 3, 'images' => 3, 'cost' => 0.12]],
        ]);
        $stats = $this->client()->getUsageStats(startDate: new \DateTimeImmutable('2026-01-01'), endDate: '2026-01-31', groupBy: 'model');
        self::assertSame(['start_date' => '2026-01-01', 'end_date' => '2026-01-31', 'group_by' => 'model'], $this->transport->query(0));
        self::assertSame(3, $stats->totalGenerations);
        self::assertSame('2026-01-31', $stats->endDate->format('Y-m-d'));
        self::assertSame('dall-e-3', $stats->byModel[0]->key);
    }

    // ---------------------------------------------------------------- downloads

    public function testDownloadWritesOneFilePerImageAndNeverOverwrites(): void
    {
        $dir = sys_get_temp_dir() . '/orchestrator-php-' . bin2hex(random_bytes(4)) . '/nested';
        $generation = \Freepik\AiOrchestrator\Model\GenerationResponse::fromArray(self::generation('gen_9', extra: ['images' => [
            ['url' => 'http://localhost:8000/api/v1/images/a.png?sig=1'],
            ['url' => 'https://cdn.example.com/b.png?sig=2'],
        ]]));
        $png = "\x89PNG\r\n\x1a\nfake";
        $this->transport->add(new Response(200, ['content-type' => 'image/png'], $png));
        $this->transport->add(new Response(200, ['content-type' => 'image/png'], $png . '2'));
        try {
            $paths = $this->client()->download($generation, $dir);
            self::assertSame(["{$dir}/gen_9-0.png", "{$dir}/gen_9-1.png"], $paths);
            self::assertSame($png, file_get_contents($paths[0]));
            self::assertSame($png . '2', file_get_contents($paths[1]));
            self::assertSame([], glob("{$dir}/*.part"));
            // The key goes to the orchestrator only, never to another host.
            self::assertNotNull($this->transport->requests[0]->header('Authorization'));
            self::assertNull($this->transport->requests[1]->header('Authorization'));
            self::assertTrue($this->transport->requests[1]->followRedirects);

            try {
                $this->client()->download($generation, $dir);
                self::fail('overwrote a file');
            } catch (DestinationExistsException $exception) {
                self::assertSame("{$dir}/gen_9-0.png", $exception->filename);
            }
            self::assertCount(2, $this->transport->requests, 'nothing is downloaded for a file that would be refused');

            $this->transport->add(new Response(200, ['content-type' => 'image/png'], 'new'));
            $this->transport->add(new Response(200, ['content-type' => 'image/png'], 'new'));
            $this->client()->download($generation, $dir, overwrite: true);
            self::assertSame('new', file_get_contents("{$dir}/gen_9-0.png"));
        } finally {
            array_map('unlink', glob("{$dir}/*") ?: []);
            @rmdir($dir);
            @rmdir(dirname($dir));
        }
    }

    public function testDownloadOfAnUnfinishedGenerationIsRefused(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->client()->download(\Freepik\AiOrchestrator\Model\GenerationResponse::fromArray(self::generation(status: 'queued')), sys_get_temp_dir());
    }
}
