<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/**
 * Usage for one group (a model, a day, a key, a provider, an operation, cached or not, or a
 * metadata value). `generations` counts every status; `images` and `cost` count succeeded jobs.
 */
final class UsageBucket
{
    public function __construct(
        public readonly string $key,
        public readonly int $generations = 0,
        public readonly int $images = 0,
        public readonly float $cost = 0.0,
        /** The key's name, for `groupBy: 'key'` buckets. */
        public readonly ?string $name = null,
        public readonly int $succeeded = 0,
        public readonly int $failed = 0,
        public readonly int $canceled = 0,
        /** Still queued or running. */
        public readonly int $active = 0,
        /** Succeeded generations served from the result cache. */
        public readonly int $cached = 0,
        /** What those cached results cost their sources. */
        public readonly float $cacheSavings = 0.0,
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
            name: Data::optStr($data, 'name'),
            succeeded: Data::optInt($data, 'succeeded') ?? 0,
            failed: Data::optInt($data, 'failed') ?? 0,
            canceled: Data::optInt($data, 'canceled') ?? 0,
            active: Data::optInt($data, 'active') ?? 0,
            cached: Data::optInt($data, 'cached') ?? 0,
            cacheSavings: Data::optFloat($data, 'cache_savings') ?? 0.0,
        );
    }
}
