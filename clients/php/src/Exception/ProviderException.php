<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/** The upstream image provider failed (502), or a generation failed while we waited for it. */
class ProviderException extends ApiStatusException
{
}
