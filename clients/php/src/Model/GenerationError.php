<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/** Why a generation failed (GenerationResponse::$error). */
final class GenerationError
{
    public function __construct(
        public readonly ?string $code = null,
        public readonly ?string $message = null,
    ) {
    }

    /** @param array<mixed> $data */
    public static function fromArray(array $data): self
    {
        return new self(Data::optStr($data, 'code'), Data::optStr($data, 'message'));
    }
}
