<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Http;

/** No HTTP response was received: connection refused or reset, DNS failure, or a timeout. */
final class TransportException extends \RuntimeException
{
    public function __construct(string $message, public readonly bool $timedOut = false, ?\Throwable $previous = null)
    {
        parent::__construct($message, 0, $previous);
    }
}
