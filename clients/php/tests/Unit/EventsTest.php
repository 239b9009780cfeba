<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Unit;

use Freepik\AiOrchestrator\Exception\ApiConnectionException;
use Freepik\AiOrchestrator\Exception\NotFoundException;
use Freepik\AiOrchestrator\Exception\ProviderException;
use Freepik\AiOrchestrator\Http\Response;
use Freepik\AiOrchestrator\Http\StreamedResponse;
use Freepik\AiOrchestrator\Http\TransportException;
use Freepik\AiOrchestrator\Model\GenerationStatus;
use Freepik\AiOrchestrator\OrchestrationClient;
use Freepik\AiOrchestrator\Tests\Support\FakeClock;
use Freepik\AiOrchestrator\Tests\Support\FakeTransport;
use PHPUnit\Framework\TestCase;

/** streamEvents(): Server-Sent Events decoding, reconnects and errors. */
final class EventsTest extends TestCase
{
    private FakeTransport $transport;
    private FakeClock $clock;

    protected function setUp(): void
    {
        $this->transport = new FakeTransport();
        $this->clock = new FakeClock();
    }

    private function client(int $maxRetries = 2): OrchestrationClient
    {
        return new OrchestrationClient(
            apiKey: 'sk-test-abc',
            maxRetries: $maxRetries,
            transport: $this->transport,
            clock: $this->clock,
            random: static fn (): float => 0.0,
        );
    }

    private static function event(string $status, float $progress, string $eol = "\n"): string
    {
        $data = json_encode(['id' => 'gen_1', 'object' => 'generation', 'status' => $status, 'prompt' => 'p', 'model' => 'dall-e-3', 'progress' => $progress]);
        return "id: gen_1:{$status}:{$progress}{$eol}event: {$status}{$eol}data: {$data}{$eol}{$eol}";
    }

    /** @return list<\Freepik\AiOrchestrator\Model\GenerationEvent> */
    private static function collect(\Generator $events): array
    {
        $all = [];
        foreach ($events as $event) {
            $all[] = $event;
        }
        return $all;
    }

    public function testEventsArriveInOrderAndEndAtTheTerminalOne(): void
    {
        $body = "retry: 2000\r\n\r\n: ping\r\n\r\n"
            . self::event('running', 0.0, "\r\n")
            . self::event('running', 0.5, "\r\n")
            . self::event('succeeded', 1.0, "\r\n")
            . self::event('running', 0.9, "\r\n"); // after the terminal event: never read
        $this->transport->add(new Response(200, ['content-type' => 'text/event-stream'], $body));
        $generator = $this->client()->streamEvents('gen_1');
        self::assertSame([], $this->transport->requests, 'nothing is sent before iteration starts');

        $events = self::collect($generator);
        self::assertSame(['running', 'running', 'succeeded'], array_map(static fn ($e) => $e->event, $events));
        self::assertSame([0.0, 0.5, 1.0], array_map(static fn ($e) => $e->data->progress, $events));
        self::assertSame(GenerationStatus::Succeeded, $events[2]->status());
        self::assertTrue($events[2]->isTerminal());
        self::assertSame('gen_1:succeeded:1', $events[2]->id);
        $request = $this->transport->requests[0];
        self::assertSame('http://localhost:8000/api/v1/generations/gen_1/events', $request->url);
        self::assertSame('text/event-stream', $request->header('Accept'));
        self::assertEqualsWithDelta(300.0, $request->idleTimeout, 1e-9);
        self::assertSame(1, $this->transport->closedStreams);
    }

    public function testAnUnterminatedLastEventIsStillDelivered(): void
    {
        $this->transport->add(new Response(200, [], rtrim(self::event('succeeded', 1.0), "\n")));
        $events = self::collect($this->client()->streamEvents('gen_1'));
        self::assertCount(1, $events);
        self::assertSame('succeeded', $events[0]->event);
    }

    public function testADroppedStreamIsReopenedWithLastEventId(): void
    {
        $dropping = (static function (): \Generator {
            yield self::event('running', 0.25);
            throw new TransportException('connection reset');
        })();
        $this->transport->add(new StreamedResponse(200, [], $dropping));
        $this->transport->add(new Response(200, [], self::event('running', 0.5) . self::event('succeeded', 1.0)));
        $events = self::collect($this->client()->streamEvents('gen_1'));
        self::assertSame([0.25, 0.5, 1.0], array_map(static fn ($e) => $e->data->progress, $events));
        self::assertCount(2, $this->transport->requests);
        self::assertNull($this->transport->requests[0]->header('Last-Event-ID'));
        self::assertSame('gen_1:running:0.25', $this->transport->requests[1]->header('Last-Event-ID'));
        self::assertEqualsWithDelta([0.5], $this->clock->sleeps, 1e-9);
    }

    public function testAStreamThatKeepsEndingEarlyGivesUpAfterMaxRetries(): void
    {
        for ($i = 0; $i < 3; $i++) {
            $this->transport->add(new Response(200, [], self::event('running', 0.1)));
        }
        try {
            self::collect($this->client(maxRetries: 2)->streamEvents('gen_1'));
            self::fail('expected ApiConnectionException');
        } catch (ApiConnectionException $exception) {
            self::assertSame('gen_1', $exception->generationId);
            self::assertStringContainsString('waitFor()', $exception->getMessage());
        }
        self::assertCount(3, $this->transport->requests);
        self::assertEqualsWithDelta([0.5, 1.0], $this->clock->sleeps, 1e-9);
    }

    public function testAnErrorEventIsThrownAsItsMappedException(): void
    {
        $error = json_encode(['error' => ['type' => 'provider_error', 'code' => 'provider_error', 'message' => 'upstream down']]);
        $this->transport->add(new Response(200, [], "event: error\ndata: {$error}\n\n"));
        $this->expectException(ProviderException::class);
        $this->expectExceptionMessage('upstream down');
        self::collect($this->client()->streamEvents('gen_1'));
    }

    public function testAnErrorStatusWhenOpeningIsMapped(): void
    {
        $this->transport->add(new Response(404, ['x-request-id' => 'req_1'], '{"error":{"type":"not_found","code":"not_found","message":"no such generation"}}'));
        try {
            self::collect($this->client()->streamEvents('gen_404'));
            self::fail('expected NotFoundException');
        } catch (NotFoundException $exception) {
            self::assertSame('req_1', $exception->requestId);
        }
        self::assertSame(1, $this->transport->closedStreams);
    }

    public function testOpeningIsRetriedLikeAnyRequest(): void
    {
        $this->transport->add(new TransportException('refused'));
        $this->transport->add(new Response(503, [], ''));
        $this->transport->add(new Response(200, [], self::event('succeeded', 1.0)));
        self::assertCount(1, self::collect($this->client()->streamEvents('gen_1')));
        self::assertSame(['1', '2', '3'], array_map(static fn ($r) => $r->header('X-Request-Attempt'), $this->transport->requests));
    }
}
