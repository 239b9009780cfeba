<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Internal;

/**
 * One call's settings once RequestOptions, the deprecated per-call arguments and the client's
 * settings are resolved (in that order of precedence). Not part of the public API.
 */
final class CallOptions
{
    /**
     * @param float|null $timeout seconds the call may take, retries included; null for no limit
     * @param array<string, string> $headers per-call headers
     */
    public function __construct(
        public readonly ?float $timeout,
        public readonly int $maxRetries,
        public readonly ?string $idempotencyKey,
        public readonly array $headers,
    ) {
    }
}
