<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/** The request was malformed or refused by validation (400, 422). */
class InvalidRequestException extends ApiStatusException
{
}
