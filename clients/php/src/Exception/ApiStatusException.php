<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/** The server answered with an error status; $status is always set. */
class ApiStatusException extends OrchestrationException
{
}
