<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/**
 * Too many requests (429). `retryAfter` is the server's wait hint in seconds, if it sent one;
 * `limit`, `remaining` and `reset` come from the RateLimit-* headers.
 */
class RateLimitException extends ApiStatusException
{
    public readonly ?int $limit;
    public readonly ?int $remaining;
    public readonly ?int $reset;

    /**
     * @param array<string, string> $headers
     */
    public function __construct(
        string $message,
        public readonly ?float $retryAfter = null,
        ?int $status = 429,
        ?string $errorCode = null,
        ?string $type = null,
        ?string $param = null,
        ?string $requestId = null,
        ?string $generationId = null,
        mixed $body = null,
        array $headers = [],
        ?\Throwable $previous = null,
    ) {
        parent::__construct($message, $status, $errorCode, $type, $param, $requestId, $generationId, $body, $headers, $previous);
        $this->limit = self::intHeader($this->headers, 'ratelimit-limit');
        $this->remaining = self::intHeader($this->headers, 'ratelimit-remaining');
        $this->reset = self::intHeader($this->headers, 'ratelimit-reset');
    }

    /** @param array<string, string> $headers */
    private static function intHeader(array $headers, string $name): ?int
    {
        $value = trim($headers[$name] ?? '');
        return preg_match('/^-?\d+$/', $value) === 1 ? (int) $value : null;
    }
}
