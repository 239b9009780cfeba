<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/** Idempotency conflict, or an operation that does not fit the resource's state (409). */
class ConflictException extends ApiStatusException
{
}
