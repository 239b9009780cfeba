<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Exception\ApiStatusException;
use Freepik\AiOrchestrator\Exception\ErrorMapper;
use Freepik\AiOrchestrator\Internal\Data;

/**
 * The outcome for one prompt of a batch: `generation` when it succeeded, else `error` (a failed
 * item may also carry its failed `generation`).
 */
final class BatchItem
{
    /** The generation's first image URL, or null when this item failed. */
    public readonly ?string $imageUrl;

    public function __construct(
        public readonly int $index,
        public readonly string $prompt,
        public readonly string $status,
        public readonly ?GenerationResponse $generation = null,
        public readonly ?BatchError $error = null,
    ) {
        $this->imageUrl = $this->ok() ? $generation?->imageUrl : null;
    }

    /** @param array<mixed> $data */
    public static function fromArray(array $data): self
    {
        $generation = Data::map($data, 'generation');
        $error = Data::map($data, 'error');
        return new self(
            index: Data::optInt($data, 'index') ?? 0,
            prompt: Data::str($data, 'prompt'),
            status: Data::str($data, 'status'),
            generation: $generation === [] ? null : GenerationResponse::fromArray($generation),
            error: $error === [] ? null : BatchError::fromArray($error),
        );
    }

    public function ok(): bool
    {
        return $this->status === 'succeeded' && $this->generation !== null;
    }

    /** The exception this item's error maps to (as the single-generation call would throw). */
    public function exception(): ?ApiStatusException
    {
        if ($this->ok()) {
            return null;
        }
        $error = $this->error?->toArray() ?? ['message' => 'batch item failed'];
        return ErrorMapper::exceptionFor(null, ['error' => $error]);
    }

    /** The generation, or throw the item's mapped exception. */
    public function raiseForError(): GenerationResponse
    {
        $exception = $this->exception();
        if ($exception !== null || $this->generation === null) {
            throw $exception ?? ErrorMapper::exceptionFor(null, ['error' => ['message' => 'batch item failed']]);
        }
        return $this->generation;
    }
}
