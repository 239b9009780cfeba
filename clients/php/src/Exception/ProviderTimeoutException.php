<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/** The upstream provider did not answer in time (504 provider_timeout). */
class ProviderTimeoutException extends ProviderException
{
}
