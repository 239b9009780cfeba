<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/** A timeout expired: the call's, or the deadline given to waitFor(). */
class ApiTimeoutException extends ApiConnectionException
{
}
