<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/**
 * download() would replace an existing file and `overwrite` is false. `$filename` names it;
 * nothing was fetched when every name was known up front.
 */
class DestinationExistsException extends OrchestrationException
{
    public function __construct(public readonly string $filename)
    {
        parent::__construct("{$filename} already exists; pass overwrite: true to replace it", errorCode: 'file_exists');
    }
}
