<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Http;

/** A response whose body is read piece by piece, as the server sends it. */
final class StreamedResponse
{
    /** @var array<string, string> header names lower-cased */
    public readonly array $headers;

    /**
     * @param array<string, string> $headers
     * @param iterable<string> $chunks the body, in pieces; may throw TransportException
     * @param (\Closure(): void)|null $close releases the connection
     */
    public function __construct(
        public readonly int $status,
        array $headers,
        private readonly iterable $chunks,
        private readonly ?\Closure $close = null,
    ) {
        $this->headers = array_change_key_case($headers, CASE_LOWER);
    }

    public function header(string $name): ?string
    {
        return $this->headers[strtolower($name)] ?? null;
    }

    public function isSuccess(): bool
    {
        return $this->status >= 200 && $this->status < 300;
    }

    /** @return iterable<string> */
    public function chunks(): iterable
    {
        return $this->chunks;
    }

    /** Read the rest of the body into a plain Response (for error answers). */
    public function buffer(): Response
    {
        $body = '';
        try {
            foreach ($this->chunks as $chunk) {
                $body .= $chunk;
            }
        } finally {
            $this->close();
        }
        return new Response($this->status, $this->headers, $body);
    }

    public function close(): void
    {
        if ($this->close !== null) {
            ($this->close)();
        }
    }
}
