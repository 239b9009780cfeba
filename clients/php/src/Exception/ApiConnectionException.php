<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/** No HTTP response was received (DNS, refused connection, reset...); getPrevious() holds the cause. */
class ApiConnectionException extends OrchestrationException
{
}
