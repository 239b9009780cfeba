<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Internal;

/**
 * One file of a multipart body: its bytes, the name it is sent under and its Content-Type.
 *
 * @internal
 */
final class UploadPart
{
    public function __construct(
        public readonly string $bytes,
        public readonly string $filename,
        public readonly string $contentType,
    ) {
    }
}
