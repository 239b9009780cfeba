<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/** The orchestrator itself failed (5xx other than 502/504, and 503 without model info). */
class InternalServerException extends ApiStatusException
{
}
