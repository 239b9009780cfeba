<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/** The prompt was refused by a safety system (422 content_policy_violation). */
class ContentPolicyException extends InvalidRequestException
{
}
