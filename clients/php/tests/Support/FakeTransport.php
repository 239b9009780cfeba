<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Support;

use Freepik\AiOrchestrator\Http\Request;
use Freepik\AiOrchestrator\Http\Response;
use Freepik\AiOrchestrator\Http\Transport;
use Freepik\AiOrchestrator\Http\TransportException;

/** Answers from a queue (responses, exceptions or callables) and records every request. */
final class FakeTransport implements Transport
{
    /** @var list<Request> */
    public array $requests = [];

    /** @var list<Response|TransportException|\Closure(Request): Response> */
    private array $queue = [];

    public function add(Response|TransportException|\Closure $answer): self
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
