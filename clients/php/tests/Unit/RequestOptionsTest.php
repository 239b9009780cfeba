<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Unit;

use Freepik\AiOrchestrator\Exception\ApiConnectionException;
use Freepik\AiOrchestrator\Exception\ApiTimeoutException;
use Freepik\AiOrchestrator\Exception\InternalServerException;
use Freepik\AiOrchestrator\Exception\OrchestrationException;
use Freepik\AiOrchestrator\Http\Response;
use Freepik\AiOrchestrator\Http\TransportException;
use Freepik\AiOrchestrator\Model\GenerationResponse;
use Freepik\AiOrchestrator\Model\GenerationStatus;
use Freepik\AiOrchestrator\OrchestrationClient;
use Freepik\AiOrchestrator\RequestOptions;
use Freepik\AiOrchestrator\Tests\Support\FakeClock;
use Freepik\AiOrchestrator\Tests\Support\FakeTransport;
use PHPUnit\Framework\TestCase;

/** RequestOptions: per-call headers, idempotency key, timeout, retries and waiting reach the requests. */
final class RequestOptionsTest extends TestCase
{
    private FakeTransport $transport;
    private FakeClock $clock;

    protected function setUp(): void
    {
        $this->transport = new FakeTransport();
        $this->clock = new FakeClock();
    }

    private function client(mixed ...$settings): OrchestrationClient
    {
        return new OrchestrationClient(...[
            'apiKey' => 'sk-test-abc',
            'transport' => $this->transport,
            'clock' => $this->clock,
            'random' => static fn (): float => 0.0,
            ...$settings,
        ]);
    }

    /** @return array<string, mixed> */
    private static function generation(string $id = 'gen_1', string $status = 'succeeded'): array
    {
        return [
            'id' => $id, 'object' => 'generation', 'status' => $status, 'prompt' => 'p', 'model' => 'dall-e-3',
            'image_url' => $status === 'succeeded' ? "http://localhost:8000/api/v1/images/{$id}/1-0.png?sig=s" : null,
        ];
    }

    /** @return array<string, mixed> */
    private static function webhook(): array
    {
        return ['id' => 'wh_1', 'object' => 'webhook_endpoint', 'url' => 'https://example.com/hook', 'events' => [],
            'enabled' => true, 'description' => null, 'created_at' => '2026-01-01T00:00:00Z'];
    }

    public function testPerCallHeadersAreSentOverTheClientDefaultsAndOnlyOnThatCall(): void
    {
        $this->transport->json(200, self::generation())->json(200, self::generation());
        $client = $this->client(defaultHeaders: ['X-Team' => 'default', 'X-Other' => 'kept']);
        $client->generate(prompt: 'p', model: 'dall-e-3', options: new RequestOptions(headers: ['x-team' => 'per-call', 'X-Trace' => 't-1']));
        $client->generate(prompt: 'p', model: 'dall-e-3');

        [$first, $second] = $this->transport->requests;
        self::assertSame('per-call', $first->header('X-Team'));
        self::assertCount(1, array_filter(array_keys($first->headers), static fn (string $k): bool => strcasecmp($k, 'x-team') === 0));
        self::assertSame('t-1', $first->header('X-Trace'));
        self::assertSame('kept', $first->header('X-Other'));
        self::assertSame('Bearer sk-test-abc', $first->header('Authorization'));
        self::assertSame('application/json', $first->header('Content-Type'));
        self::assertSame('default', $second->header('X-Team'));
        self::assertNull($second->header('X-Trace'));
    }

    public function testTheIdempotencyKeyIsSentAndReusedByEveryRetryAndWinsOverTheDeprecatedArgument(): void
    {
        $this->transport->add(new Response(503, [], ''))->json(200, self::generation());
        $this->client()->generate(
            prompt: 'p',
            model: 'dall-e-3',
            idempotencyKey: 'old-style',
            options: new RequestOptions(idempotencyKey: 'order-42'),
        );
        self::assertCount(2, $this->transport->requests);
        self::assertSame('order-42', $this->transport->requests[0]->header('Idempotency-Key'));
        self::assertSame('order-42', $this->transport->requests[1]->header('Idempotency-Key'));
    }

    public function testTheTimeoutBoundsTheCallAndWinsOverTheDeprecatedArgumentAndTheClient(): void
    {
        $this->transport->json(200, self::generation());
        $this->client(timeout: 600.0)->generate(prompt: 'p', model: 'dall-e-3', timeout: 100.0, options: new RequestOptions(timeout: 20.0));
        $request = $this->transport->requests[0];
        self::assertEqualsWithDelta(20.0, $request->timeout, 1e-9);
        self::assertSame('20', $request->header('X-Client-Timeout'));
        self::assertSame('wait=19', $request->header('Prefer'), 'the server is asked to answer before our timeout');

        // A retry hint that does not fit in the per-call budget is not waited for.
        $this->transport->add(new Response(503, ['retry-after' => '5'], ''));
        try {
            $this->client()->listModels(options: new RequestOptions(timeout: 2.0));
            self::fail('expected the 503');
        } catch (InternalServerException) {
        }
        self::assertCount(2, $this->transport->requests);
        self::assertSame([], $this->clock->sleeps);
    }

    public function testInfiniteTimeoutMeansNoLimitForThatCall(): void
    {
        $this->transport->json(200, ['object' => 'list', 'data' => []]);
        $this->client(timeout: 5.0)->listModels(options: new RequestOptions(timeout: INF));
        self::assertNull($this->transport->requests[0]->timeout);
        self::assertNull($this->transport->requests[0]->header('X-Client-Timeout'));
    }

    public function testMaxRetriesPerCallReplacesTheClientSetting(): void
    {
        // The client retries twice; this call not at all.
        $this->transport->add(new TransportException('refused'));
        try {
            $this->client(maxRetries: 2)->listModels(options: new RequestOptions(maxRetries: 0));
            self::fail('expected a connection error');
        } catch (ApiConnectionException) {
        }
        self::assertCount(1, $this->transport->requests);

        // The client does not retry; this call four times.
        for ($i = 0; $i < 4; $i++) {
            $this->transport->add(new TransportException('refused'));
        }
        $this->transport->json(200, ['object' => 'list', 'data' => []]);
        self::assertSame([], $this->client(maxRetries: 0)->listModels(options: new RequestOptions(maxRetries: 4)));
        self::assertCount(6, $this->transport->requests);
        self::assertSame('5', $this->transport->requests[5]->header('X-Request-Attempt'));
    }

    public function testWaitFalseReturnsTheQueuedJobAndWinsOverTheDeprecatedArgument(): void
    {
        $this->transport->json(202, self::generation(status: 'queued'));
        $job = $this->client()->generate(prompt: 'p', model: 'dall-e-3', wait: true, options: new RequestOptions(wait: false));
        self::assertSame(GenerationStatus::Queued, $job->status);
        self::assertSame('respond-async', $this->transport->requests[0]->header('Prefer'));
        self::assertCount(1, $this->transport->requests);
    }

    public function testWaitTimeoutBoundsTheWaitAndThePollsCarryTheCallsHeaders(): void
    {
        $this->transport->json(202, self::generation(status: 'queued'));
        for ($i = 0; $i < 10; $i++) {
            $this->transport->json(200, self::generation(status: 'running'));
        }
        try {
            $this->client()->generate(
                prompt: 'p',
                model: 'dall-e-3',
                options: new RequestOptions(waitTimeout: 1.0, headers: ['X-Trace' => 't-2']),
            );
            self::fail('expected the wait to time out');
        } catch (ApiTimeoutException $exception) {
            self::assertSame('gen_1', $exception->generationId);
        }
        self::assertEqualsWithDelta(1.0, array_sum($this->clock->sleeps), 1e-9);
        foreach ($this->transport->requests as $request) {
            self::assertSame('t-2', $request->header('X-Trace'), "{$request->method} {$request->url}");
        }
        self::assertGreaterThan(1, count($this->transport->requests));
    }

    public function testEveryRequestingMethodTakesOptions(): void
    {
        $generation = GenerationResponse::fromArray(self::generation());
        $dir = sys_get_temp_dir() . '/orchestrator-php-opts-' . bin2hex(random_bytes(4));
        $models = ['object' => 'list', 'data' => []];
        $model = ['id' => 'dall-e-3', 'object' => 'model', 'provider' => 'openai', 'available' => true];
        $usage = ['object' => 'usage', 'start_date' => '2026-01-01', 'end_date' => '2026-01-02', 'total_generations' => 0,
            'successful_generations' => 0, 'failed_generations' => 0, 'total_cost' => 0.0, 'breakdown' => []];
        $batch = ['id' => 'batch_1', 'object' => 'batch', 'items' => [['index' => 0, 'prompt' => 'p', 'status' => 'succeeded', 'generation' => self::generation()]],
            'succeeded' => 1, 'failed' => 0, 'total_cost' => 0.04];
        $delivery = ['id' => 'whd_1', 'object' => 'webhook_delivery', 'webhook_id' => 'wh_1', 'event_id' => 'evt_1', 'event_type' => 'webhook.test',
            'status' => 'succeeded', 'attempts' => 1, 'created_at' => '2026-01-01T00:00:00Z'];
        $calls = [
            'generate' => [self::generation(), fn (RequestOptions $o) => $this->client()->generate(prompt: 'p', model: 'dall-e-3', options: $o)],
            'submit' => [self::generation(status: 'queued'), fn (RequestOptions $o) => $this->client()->submit(prompt: 'p', model: 'dall-e-3', options: $o)],
            'getGeneration' => [self::generation(), fn (RequestOptions $o) => $this->client()->getGeneration('gen_1', options: $o)],
            'waitFor' => [self::generation(), fn (RequestOptions $o) => $this->client()->waitFor('gen_1', options: $o)],
            'cancel' => [self::generation(status: 'canceled'), fn (RequestOptions $o) => $this->client()->cancel('gen_1', options: $o)],
            'generateBatch' => [$batch, fn (RequestOptions $o) => $this->client()->generateBatch(['p'], 'dall-e-3', options: $o)],
            'getGenerationHistory' => [['object' => 'list', 'data' => [], 'has_more' => false], fn (RequestOptions $o) => $this->client()->getGenerationHistory(options: $o)],
            'listModels' => [$models, fn (RequestOptions $o) => $this->client()->listModels(options: $o)],
            'getModelInfo' => [$model, fn (RequestOptions $o) => $this->client()->getModelInfo('dall-e-3', options: $o)],
            'getUsageStats' => [$usage, fn (RequestOptions $o) => $this->client()->getUsageStats('2026-01-01', '2026-01-02', options: $o)],
            'createWebhook' => [self::webhook(), fn (RequestOptions $o) => $this->client()->createWebhook('https://example.com/hook', options: $o)],
            'listWebhooks' => [$models, fn (RequestOptions $o) => $this->client()->listWebhooks(options: $o)],
            'getWebhook' => [self::webhook(), fn (RequestOptions $o) => $this->client()->getWebhook('wh_1', options: $o)],
            'updateWebhook' => [self::webhook(), fn (RequestOptions $o) => $this->client()->updateWebhook('wh_1', enabled: true, options: $o)],
            'pauseWebhook' => [self::webhook(), fn (RequestOptions $o) => $this->client()->pauseWebhook('wh_1', options: $o)],
            'resumeWebhook' => [self::webhook(), fn (RequestOptions $o) => $this->client()->resumeWebhook('wh_1', options: $o)],
            'deleteWebhook' => [self::webhook(), fn (RequestOptions $o) => $this->client()->deleteWebhook('wh_1', options: $o)],
            'listWebhookDeliveries' => [$models, fn (RequestOptions $o) => $this->client()->listWebhookDeliveries('wh_1', options: $o)],
            'sendTestWebhook' => [$delivery, fn (RequestOptions $o) => $this->client()->sendTestWebhook('wh_1', options: $o)],
            'download' => [null, fn (RequestOptions $o) => $this->client()->download($generation, $dir, options: $o)],
        ];
        try {
            foreach ($calls as $method => [$answer, $call]) {
                $before = count($this->transport->requests);
                if ($answer === null) {
                    $this->transport->add(new Response(200, ['content-type' => 'image/png'], 'png'));
                } else {
                    $this->transport->json(200, $answer);
                }
                try {
                    $call(new RequestOptions(timeout: 7.0, headers: ['X-Trace' => $method]));
                } catch (OrchestrationException $exception) {
                    // The canned answers are minimal: only the request matters here.
                    self::assertStringStartsWith('unexpected response body', $exception->getMessage(), $method);
                }
                self::assertCount($before + 1, $this->transport->requests, $method);
                $request = $this->transport->requests[$before];
                self::assertSame($method, $request->header('X-Trace'), "{$method}() sends the per-call headers");
                self::assertEqualsWithDelta(7.0, $request->timeout, 1e-9, "{$method}() honours the per-call timeout");
            }
        } finally {
            array_map('unlink', glob("{$dir}/*") ?: []);
            @rmdir($dir);
        }
        // Every public method that makes a request ends with `?RequestOptions $options = null`.
        $checked = array_keys($calls);
        $checked[] = 'streamEvents';
        foreach ($checked as $method) {
            $parameters = (new \ReflectionMethod(OrchestrationClient::class, $method))->getParameters();
            $last = end($parameters);
            self::assertSame('options', $last->getName(), $method);
            self::assertSame('?' . RequestOptions::class, (string) $last->getType(), $method);
            self::assertTrue($last->isDefaultValueAvailable() && $last->getDefaultValue() === null, $method);
        }
    }

    public function testPerCallHeadersNeverGoToAnotherHost(): void
    {
        $generation = GenerationResponse::fromArray(self::generation() + ['images' => [['url' => 'https://cdn.example.com/b.png?sig=2']]]);
        $dir = sys_get_temp_dir() . '/orchestrator-php-opts-' . bin2hex(random_bytes(4));
        $this->transport->add(new Response(200, ['content-type' => 'image/png'], 'png'));
        try {
            $this->client()->download($generation, $dir, options: new RequestOptions(headers: ['X-Secret' => 's'], timeout: 9.0));
        } finally {
            array_map('unlink', glob("{$dir}/*") ?: []);
            @rmdir($dir);
        }
        $request = $this->transport->requests[0];
        self::assertSame('https://cdn.example.com/b.png?sig=2', $request->url);
        self::assertNull($request->header('X-Secret'));
        self::assertNull($request->header('Authorization'));
        self::assertEqualsWithDelta(9.0, $request->timeout, 1e-9);
    }

    public function testStreamsTakeHeadersIdleTimeoutAndReconnectLimit(): void
    {
        $this->transport->add(new Response(200, ['content-type' => 'text/event-stream'], ''));
        try {
            foreach ($this->client(maxRetries: 3)->streamEvents('gen_1', options: new RequestOptions(timeout: 12.0, maxRetries: 0, headers: ['X-Trace' => 's'])) as $event) {
                self::fail('no event was sent');
            }
            self::fail('expected the dropped stream to be reported');
        } catch (ApiConnectionException $exception) {
            self::assertStringContainsString('0 reconnects', $exception->getMessage());
        }
        self::assertCount(1, $this->transport->requests);
        $request = $this->transport->requests[0];
        self::assertSame('s', $request->header('X-Trace'));
        self::assertSame('text/event-stream', $request->header('Accept'));
        self::assertEqualsWithDelta(12.0, $request->idleTimeout, 1e-9);
    }

    /** @return array<string, array{0: array<string, mixed>, 1: string}> */
    public static function badOptions(): array
    {
        return [
            'zero timeout' => [['timeout' => 0.0], 'timeout'],
            'negative retries' => [['maxRetries' => -1], 'maxRetries'],
            'negative wait' => [['waitTimeout' => -1.0], 'waitTimeout'],
            'empty key' => [['idempotencyKey' => ' '], 'idempotencyKey'],
            'header injection' => [['headers' => ['X-A' => "a\r\nX-B: b"]], 'headers'],
            'header name' => [['headers' => ['X A' => 'a']], 'headers'],
        ];
    }

    /**
     * @dataProvider badOptions
     * @param array<string, mixed> $arguments
     */
    public function testBadOptionsAreRefusedNamingTheField(array $arguments, string $field): void
    {
        try {
            new RequestOptions(...$arguments);
            self::fail('bad options were accepted');
        } catch (\InvalidArgumentException $exception) {
            self::assertStringContainsString($field, $exception->getMessage());
        }
    }
}
