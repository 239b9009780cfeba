<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/** Valid credentials without the needed scope (403). */
class PermissionDeniedException extends AuthenticationException
{
}
