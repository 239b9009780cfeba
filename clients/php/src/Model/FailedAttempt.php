<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/** One provider route that failed before the one that answered (GenerationResponse::$failedAttempts). */
final class FailedAttempt
{
    public function __construct(
        public readonly ?string $provider = null,
        public readonly ?string $model = null,
        public readonly ?string $code = null,
        public readonly ?string $message = null,
    ) {
    }

    /** @param array<mixed> $data */
    public static function fromArray(array $data): self
    {
        return new self(
            provider: Data::optStr($data, 'provider'),
            model: Data::optStr($data, 'model'),
            code: Data::optStr($data, 'code'),
            message: Data::optStr($data, 'message'),
        );
    }
}
