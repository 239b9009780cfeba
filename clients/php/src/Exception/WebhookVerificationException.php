<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/**
 * A webhook delivery failed verification: a header is missing, no v1 signature matches, or
 * its timestamp is outside the tolerance.
 */
class WebhookVerificationException extends OrchestrationException
{
}
