<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator;

/** Whether to send a request again, and after how many seconds. */
final class RetryDecision
{
    /**
     * @param float|null $retryAfter the server's wait hint in seconds, when it sent one (kept even
     *                               when not retrying)
     */
    public function __construct(
        public readonly bool $retry,
        public readonly float $delay = 0.0,
        public readonly ?float $retryAfter = null,
    ) {
    }
}
