<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/** Missing, unknown or revoked credentials (401). */
class AuthenticationException extends ApiStatusException
{
}
