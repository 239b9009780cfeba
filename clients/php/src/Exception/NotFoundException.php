<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/** No such resource (404). */
class NotFoundException extends ApiStatusException
{
}
