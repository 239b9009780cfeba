<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/** Usage for one group (a model, a day, a key or a metadata value). */
final class UsageBucket
{
    public function __construct(
        public readonly string $key,
        public readonly int $generations = 0,
        public readonly int $images = 0,
        public readonly float $cost = 0.0,
    ) {
    }

    /** @param array<mixed> $data */
    public static function fromArray(array $data): self
    {
        return new self(
            key: Data::str($data, 'key'),
            generations: Data::optInt($data, 'generations') ?? 0,
            images: Data::optInt($data, 'images') ?? 0,
            cost: Data::optFloat($data, 'cost') ?? 0.0,
        );
    }
}
