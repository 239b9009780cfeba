<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Support;

use Freepik\AiOrchestrator\Http\Request;
use Freepik\AiOrchestrator\Http\Response;
use Freepik\AiOrchestrator\Http\StreamedResponse;
use Freepik\AiOrchestrator\Http\StreamingTransport;
use Freepik\AiOrchestrator\Http\TransportException;

/**
 * Answers from a queue (responses, exceptions or callables) and records every request. Streams
 * hand a queued Response's body over in small pieces, so decoders meet every chunk boundary.
 */
final class FakeTransport implements StreamingTransport
{
    /** How many streams were closed by the client. */
    public int $closedStreams = 0;

    /** @var list<Request> */
    public array $requests = [];

    /** @var list<Response|StreamedResponse|TransportException|\Closure(Request): Response> */
    private array $queue = [];

    public function add(Response|StreamedResponse|TransportException|\Closure $answer): self
    {
        $this->queue[] = $answer;
        return $this;
    }

    /** @param array<string, string> $headers */
    public function json(int $status, mixed $body, array $headers = []): self
    {
        return $this->add(new Response(
            $status,
            $headers + ['content-type' => 'application/json'],
            json_encode($body, JSON_THROW_ON_ERROR | JSON_PRESERVE_ZERO_FRACTION),
        ));
    }

    public function send(Request $request): Response
    {
        $answer = $this->next($request);
        if ($answer instanceof StreamedResponse) {
            throw new \LogicException('a stream was queued for a plain request');
        }
        return $answer;
    }

    public function open(Request $request): StreamedResponse
    {
        $answer = $this->next($request);
        if ($answer instanceof StreamedResponse) {
            return $answer;
        }
        $pieces = $answer->body === '' ? [] : str_split($answer->body, 7);
        return new StreamedResponse($answer->status, $answer->headers, $pieces, function (): void {
            $this->closedStreams++;
        });
    }

    private function next(Request $request): Response|StreamedResponse
    {
        $this->requests[] = $request;
        $answer = array_shift($this->queue);
        if ($answer === null) {
            throw new \LogicException("unexpected request: {$request->method} {$request->url}");
        }
        if ($answer instanceof TransportException) {
            throw $answer;
        }
        return $answer instanceof \Closure ? $answer($request) : $answer;
    }

    public function pending(): int
    {
        return count($this->queue);
    }

    /** @return array<string, string> the query of request `$index` */
    public function query(int $index): array
    {
        // Not parse_str(): it would turn the dots of `metadata.campaign` into underscores.
        $query = [];
        $raw = (string) parse_url($this->requests[$index]->url, PHP_URL_QUERY);
        foreach ($raw === '' ? [] : explode('&', $raw) as $pair) {
            [$name, $value] = array_pad(explode('=', $pair, 2), 2, '');
            $query[rawurldecode($name)] = rawurldecode($value);
        }
        return $query;
    }

    /** @return array<string, mixed> the JSON body of request `$index` */
    public function body(int $index): array
    {
        return json_decode((string) $this->requests[$index]->body, true, 512, JSON_THROW_ON_ERROR);
    }
}
