<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Integration;

use Freepik\AiOrchestrator\Model\GenerationStatus;
use Freepik\AiOrchestrator\RequestOptions;

/** RequestOptions against a real server: its headers, idempotency key and waiting reach it. */
final class RequestOptionsTest extends IntegrationTestCase
{
    public function testOptionsCarryTheIdempotencyKeyHeadersAndWaitToTheServer(): void
    {
        $client = self::client(maxRetries: 0);
        $key = 'php-it-opts-' . bin2hex(random_bytes(8));
        $trace = 'php-it-' . bin2hex(random_bytes(8));

        // The server adopts a caller's X-Request-ID and echoes it: the per-call header arrived.
        $first = $client->generate(
            prompt: 'A paper boat on a pond',
            model: 'dall-e-3',
            options: new RequestOptions(timeout: 60.0, maxRetries: 2, idempotencyKey: $key, headers: ['X-Request-ID' => $trace]),
        );
        self::assertSame(GenerationStatus::Succeeded, $first->status);
        self::assertSame($trace, $first->requestId);
        self::assertFalse($first->idempotentReplayed);

        // The same key through the options (over a different deprecated argument) is a replay.
        $again = $client->generate(
            prompt: 'A paper boat on a pond',
            model: 'dall-e-3',
            idempotencyKey: 'ignored-' . $key,
            options: new RequestOptions(idempotencyKey: $key),
        );
        self::assertSame($first->id, $again->id);
        self::assertTrue($again->idempotentReplayed);
        self::assertNotSame($trace, $again->requestId, 'per-call headers stay on their call');

        // wait: false hands the job back queued; waitFor() with options follows it to the end.
        $job = $client->generate(prompt: 'A kite over dunes', model: 'dall-e-3', options: new RequestOptions(wait: false));
        self::assertStringStartsWith('gen_', $job->id);
        $done = $client->waitFor($job->id, pollInterval: 0.1, options: new RequestOptions(waitTimeout: 60.0, headers: ['X-Request-ID' => $trace . '-poll']));
        self::assertSame(GenerationStatus::Succeeded, $done->status);
        self::assertSame($trace . '-poll', $done->requestId);
        self::assertSame($first->id, $client->getGeneration($first->id, options: new RequestOptions(timeout: 10.0))->id);
    }
}
