<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/**
 * This month's spend against a budget: the calling key's own (`scope` "key") or that of the pool
 * it draws from ("pool"). Amounts in USD; `reserved` is held by queued or running jobs.
 */
final class BudgetStatus
{
    public function __construct(
        public readonly string $scope,
        public readonly string $keyId,
        public readonly float $monthlyBudget,
        public readonly float $spent = 0.0,
        public readonly float $reserved = 0.0,
        public readonly float $remaining = 0.0,
        /** The first day of the month (UTC). */
        public readonly ?\DateTimeImmutable $periodStart = null,
    ) {
    }

    /** @param array<mixed> $data */
    public static function fromArray(array $data): self
    {
        /** @var array<string, mixed> $data */
        return new self(
            scope: Data::str($data, 'scope'),
            keyId: Data::str($data, 'key_id'),
            monthlyBudget: Data::optFloat($data, 'monthly_budget') ?? 0.0,
            spent: Data::optFloat($data, 'spent') ?? 0.0,
            reserved: Data::optFloat($data, 'reserved') ?? 0.0,
            remaining: Data::optFloat($data, 'remaining') ?? 0.0,
            periodStart: ($data['period_start'] ?? null) === null ? null : Data::day($data, 'period_start'),
        );
    }
}
