<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/** The model is unknown (404) or no provider can serve it now (503). */
class ModelNotAvailableException extends ApiStatusException
{
}
