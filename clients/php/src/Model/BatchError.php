<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/** The error object of a failed batch item (the fields of the error envelope). */
final class BatchError
{
    public function __construct(
        public readonly ?string $type = null,
        public readonly ?string $code = null,
        public readonly ?string $message = null,
        public readonly ?string $param = null,
        public readonly ?string $requestId = null,
        public readonly ?string $generationId = null,
    ) {
    }

    /** @param array<mixed> $data */
    public static function fromArray(array $data): self
    {
        return new self(
            type: Data::optStr($data, 'type'),
            code: Data::optStr($data, 'code'),
            message: Data::optStr($data, 'message'),
            param: Data::optStr($data, 'param'),
            requestId: Data::optStr($data, 'request_id'),
            generationId: Data::optStr($data, 'generation_id'),
        );
    }

    /** @return array<string, string> the non-null fields, with the API's names */
    public function toArray(): array
    {
        return array_filter([
            'type' => $this->type,
            'code' => $this->code,
            'message' => $this->message,
            'param' => $this->param,
            'request_id' => $this->requestId,
            'generation_id' => $this->generationId,
        ], static fn (?string $value): bool => $value !== null);
    }
}
