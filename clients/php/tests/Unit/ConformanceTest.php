<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Unit;

use Freepik\AiOrchestrator\Exception\ErrorMapper;
use Freepik\AiOrchestrator\Exception\OrchestrationException;
use Freepik\AiOrchestrator\Exception\RateLimitException;
use Freepik\AiOrchestrator\Http\Response;
use Freepik\AiOrchestrator\Http\TransportException;
use Freepik\AiOrchestrator\OrchestrationClient;
use Freepik\AiOrchestrator\RetryPolicy;
use Freepik\AiOrchestrator\Tests\Support\FakeClock;
use Freepik\AiOrchestrator\Tests\Support\FakeTransport;
use Freepik\AiOrchestrator\Tests\Support\Spec;
use PHPUnit\Framework\TestCase;

/**
 * Runs every case of the shared, language-neutral clients/spec/conformance.json: the pure
 * functions, and the same cases through the client over a fake transport and a fake clock.
 */
final class ConformanceTest extends TestCase
{
    private const SUCCESS = [
        'id' => 'gen_ok', 'object' => 'generation', 'status' => 'succeeded', 'prompt' => 'p', 'model' => 'dall-e-3',
        'image_url' => 'http://127.0.0.1:9/api/v1/images/x.png',
    ];

    public function testDefaultsMatchTheImplementation(): void
    {
        $defaults = Spec::load()['defaults'];
        self::assertSame($defaults['max_retries'], RetryPolicy::DEFAULT_MAX_RETRIES);
        self::assertEqualsWithDelta($defaults['retry_backoff'], RetryPolicy::DEFAULT_RETRY_BACKOFF, 0.0);
        self::assertEqualsWithDelta($defaults['max_backoff'], RetryPolicy::MAX_BACKOFF, 0.0);
        self::assertEqualsWithDelta($defaults['max_retry_after'], RetryPolicy::MAX_RETRY_AFTER, 0.0);
        self::assertEqualsWithDelta($defaults['jitter'], RetryPolicy::JITTER, 0.0);
        $client = new OrchestrationClient(apiKey: 'sk-test-x', transport: new FakeTransport());
        self::assertSame($defaults['max_retries'], $client->maxRetries);
        self::assertEqualsWithDelta($defaults['retry_backoff'], $client->retryBackoff, 0.0);
    }

    /** @return array<string, array{0: array<string, mixed>}> */
    public static function retryAfterCases(): array
    {
        return Spec::cases('retry_after');
    }

    /**
     * @dataProvider retryAfterCases
     * @param array<string, mixed> $case
     */
    public function testRetryAfterParsing(array $case): void
    {
        $got = RetryPolicy::parseRetryAfter($case['headers'], Spec::timestamp(Spec::load()['retry_after']['now']));
        if ($case['expected'] === null) {
            self::assertNull($got);
        } else {
            self::assertNotNull($got);
            self::assertEqualsWithDelta($case['expected'], $got, 1e-9);
        }
    }

    /** @return array<string, array{0: array<string, mixed>}> */
    public static function backoffCases(): array
    {
        return Spec::cases('backoff');
    }

    /**
     * @dataProvider backoffCases
     * @param array<string, mixed> $case
     */
    public function testBackoff(array $case): void
    {
        $got = RetryPolicy::backoffDelay($case['retries_so_far'], (float) $case['retry_backoff'], (float) $case['random']);
        self::assertEqualsWithDelta($case['expected'], $got, 1e-9);
    }

    /** @return array<string, array{0: array<string, mixed>}> */
    public static function retryDecisionCases(): array
    {
        return Spec::cases('retry_decisions');
    }

    /**
     * @dataProvider retryDecisionCases
     * @param array<string, mixed> $case
     */
    public function testRetryDecision(array $case): void
    {
        $decision = RetryPolicy::decide(
            $case['retries_so_far'],
            $case['max_retries'],
            (float) $case['retry_backoff'],
            $case['status'],
            $case['headers'],
            Spec::timestamp(Spec::load()['retry_decisions']['now']),
            (float) $case['random'],
            $case['body'] ?? null,
        );
        $expected = $case['expected'];
        self::assertSame($expected['retry'], $decision->retry);
        if ($expected['retry']) {
            self::assertEqualsWithDelta($expected['delay'], $decision->delay, 1e-9);
        }
        if ($expected['retry_after'] === null) {
            self::assertNull($decision->retryAfter);
        } else {
            self::assertEqualsWithDelta($expected['retry_after'], $decision->retryAfter, 1e-9);
        }
    }

    /**
     * The same case through a real client call (a POST): `retries_so_far` earlier failures of the
     * same kind come first; then the client must sleep the expected delay and succeed, or give up
     * with the error. Every attempt carries the same Idempotency-Key and its attempt number.
     *
     * @dataProvider retryDecisionCases
     * @param array<string, mixed> $case
     */
    public function testRetryDecisionThroughTheClient(array $case): void
    {
        $transport = new FakeTransport();
        $clock = new FakeClock(Spec::timestamp(Spec::load()['retry_decisions']['now']));
        $client = new OrchestrationClient(
            apiKey: 'sk-test-x',
            timeout: null,
            maxRetries: $case['max_retries'],
            retryBackoff: (float) $case['retry_backoff'],
            transport: $transport,
            clock: $clock,
            random: static fn (): float => (float) $case['random'],
        );
        $failures = $case['retries_so_far'] + 1;
        for ($i = 0; $i < $failures; $i++) {
            if ($case['status'] === null) {
                $transport->add(new TransportException('boom', timedOut: ($case['error'] ?? '') === 'timeout'));
            } else {
                $body = array_key_exists('body', $case) ? json_encode($case['body'], JSON_THROW_ON_ERROR) : '';
                $transport->add(new Response($case['status'], $case['headers'], $body));
            }
        }
        $expected = $case['expected'];
        if ($expected['retry']) {
            $transport->json(200, self::SUCCESS);
            $result = $client->generate(prompt: 'p', model: 'dall-e-3');
            self::assertSame('gen_ok', $result->id);
            self::assertCount($failures, $clock->sleeps);
            self::assertEqualsWithDelta($expected['delay'], $clock->sleeps[$failures - 1], 1e-9);
        } else {
            try {
                $client->generate(prompt: 'p', model: 'dall-e-3');
                self::fail('expected an exception');
            } catch (OrchestrationException $exception) {
                self::assertSame($case['status'], $exception->status);
                if ($exception instanceof RateLimitException) {
                    if ($expected['retry_after'] === null) {
                        self::assertNull($exception->retryAfter);
                    } else {
                        self::assertEqualsWithDelta($expected['retry_after'], $exception->retryAfter, 1e-9);
                    }
                }
            }
            self::assertCount($failures - 1, $clock->sleeps);
        }
        self::assertSame(0, $transport->pending());
        $keys = array_unique(array_map(static fn ($r) => $r->header('Idempotency-Key'), $transport->requests));
        self::assertCount(1, $keys);
        self::assertMatchesRegularExpression('/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/', (string) $keys[0]);
        foreach ($transport->requests as $attempt => $request) {
            self::assertSame((string) ($attempt + 1), $request->header('X-Request-Attempt'));
        }
    }

    /** @return array<string, array{0: array<string, mixed>}> */
    public static function errorMappingCases(): array
    {
        return Spec::cases('error_mapping');
    }

    /**
     * The mapping function alone (also covers status-less batch item and job errors).
     *
     * @dataProvider errorMappingCases
     * @param array<string, mixed> $case
     */
    public function testErrorMapping(array $case): void
    {
        $exception = ErrorMapper::exceptionFor(
            $case['status'],
            $case['body'],
            $case['headers'],
            RetryPolicy::parseRetryAfter($case['headers'], Spec::timestamp(Spec::load()['error_mapping']['now'])),
            is_string($case['body']) ? $case['body'] : null,
        );
        self::checkException($exception, $case);
    }

    /** @return array<string, array{0: array<string, mixed>}> */
    public static function httpErrorMappingCases(): array
    {
        return array_filter(Spec::cases('error_mapping'), static fn (array $row): bool => $row[0]['status'] !== null);
    }

    /**
     * Every status in the table, thrown by the client from an HTTP exchange.
     *
     * @dataProvider httpErrorMappingCases
     * @param array<string, mixed> $case
     */
    public function testErrorMappingThroughTheClient(array $case): void
    {
        $transport = new FakeTransport();
        $body = $case['body'];
        $transport->add(new Response(
            $case['status'],
            $case['headers'],
            match (true) {
                $body === null => '',
                is_string($body) => $body,
                default => json_encode($body, JSON_THROW_ON_ERROR),
            },
        ));
        $client = new OrchestrationClient(
            apiKey: 'sk-test-x',
            maxRetries: 0,
            transport: $transport,
            clock: new FakeClock(Spec::timestamp(Spec::load()['error_mapping']['now'])),
        );
        try {
            $client->getGeneration('gen_1');
            self::fail('expected an exception');
        } catch (OrchestrationException $exception) {
            self::checkException($exception, $case);
            self::assertSame($case['status'], $exception->status);
        }
    }

    /** @return array<string, array{0: array<string, mixed>}> */
    public static function paginationCases(): array
    {
        return Spec::cases('pagination');
    }

    /**
     * @dataProvider paginationCases
     * @param array<string, mixed> $case
     */
    public function testPagination(array $case): void
    {
        $transport = new FakeTransport();
        foreach ($case['pages'] as $page) {
            $transport->json(200, $page['response']);
        }
        $client = new OrchestrationClient(apiKey: 'sk-test-x', transport: $transport, clock: new FakeClock());
        $query = $case['query'];
        $metadata = [];
        foreach ($query as $key => $value) {
            if (str_starts_with($key, 'metadata.')) {
                $metadata[substr($key, strlen('metadata.'))] = $value;
            }
        }
        $first = $client->getGenerationHistory(
            limit: isset($query['limit']) ? (int) $query['limit'] : null,
            filterByModel: $query['model'] ?? null,
            status: $query['status'] ?? null,
            metadata: $metadata === [] ? null : $metadata,
        );
        self::assertCount($case['expected_first_page_len'], $first);
        self::assertCount(1, $transport->requests, 'later pages are fetched only when iteration reaches them');
        $items = [];
        foreach ($first as $generation) {
            $items[] = $generation;
        }
        $ids = array_map(static fn ($g): string => $g->id, $items);
        self::assertSame($case['expected_ids'], $ids);
        self::assertCount(count($case['pages']), $transport->requests);
        foreach ($case['pages'] as $i => $page) {
            self::assertSame('/api/v1/generations', parse_url($transport->requests[$i]->url, PHP_URL_PATH));
            $got = $transport->query($i);
            ksort($got);
            $want = $page['expect_query'];
            ksort($want);
            self::assertSame($want, $got);
        }
        // Fields a newer server adds are kept in ->raw, not rejected.
        $sent = array_merge(...array_map(static fn (array $p): array => $p['response']['data'], $case['pages']));
        foreach ($sent as $i => $item) {
            foreach ($item as $key => $value) {
                self::assertSame($value, $items[$i]->raw[$key]);
            }
        }
    }

    /** @param array<string, mixed> $case */
    private static function checkException(\Throwable $exception, array $case): void
    {
        self::assertSame(Spec::exceptionClass($case['expected']), get_class($exception), $case['name']);
        self::assertInstanceOf(OrchestrationException::class, $exception);
        foreach ($case['fields'] as $field => $value) {
            $got = Spec::exceptionField($exception, $field);
            if (is_float($value)) {
                self::assertEqualsWithDelta($value, $got, 1e-9, $field);
            } else {
                self::assertSame($value, $got, $field);
            }
        }
    }
}
