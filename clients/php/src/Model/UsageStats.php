<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/** Usage and cost for a date range (both ends inclusive; dates at midnight UTC). */
final class UsageStats
{
    /**
     * @param list<UsageBucket> $byModel
     * @param list<UsageBucket> $byDay
     * @param list<UsageBucket>|null $groups present when the call asked for `groupBy`
     * @param array<string, mixed> $raw
     * @param list<BudgetStatus> $budget this month's budgets of the calling key and of its pool, where set
     */
    public function __construct(
        public readonly \DateTimeImmutable $startDate,
        public readonly \DateTimeImmutable $endDate,
        public readonly ?bool $livemode = null,
        public readonly int $totalGenerations = 0,
        public readonly int $totalImages = 0,
        public readonly float $totalCost = 0.0,
        public readonly int $failedGenerations = 0,
        /** Canceled in the range (never charged). */
        public readonly int $canceledGenerations = 0,
        public readonly int $unpricedGenerations = 0,
        public readonly ?string $currency = null,
        public readonly array $byModel = [],
        public readonly array $byDay = [],
        public readonly ?string $groupBy = null,
        public readonly ?array $groups = null,
        public readonly array $raw = [],
        public readonly int $succeededGenerations = 0,
        /** Still queued or running. */
        public readonly int $activeGenerations = 0,
        /** Bytes stored for the range's generations: their images and stored inputs. */
        public readonly int $storageBytes = 0,
        /** Succeeded generations that shared another's result at $0 (part of succeededGenerations). */
        public readonly int $cachedGenerations = 0,
        /** What the cached generations' results cost their sources: money not spent. */
        public readonly float $cacheSavings = 0.0,
        public readonly array $budget = [],
    ) {
    }

    /** @param array<mixed> $data */
    public static function fromArray(array $data): self
    {
        /** @var array<string, mixed> $data */
        return new self(
            startDate: Data::day($data, 'start_date'),
            endDate: Data::day($data, 'end_date'),
            livemode: Data::optBool($data, 'livemode'),
            totalGenerations: Data::optInt($data, 'total_generations') ?? 0,
            totalImages: Data::optInt($data, 'total_images') ?? 0,
            totalCost: Data::optFloat($data, 'total_cost') ?? 0.0,
            failedGenerations: Data::optInt($data, 'failed_generations') ?? 0,
            canceledGenerations: Data::optInt($data, 'canceled_generations') ?? 0,
            unpricedGenerations: Data::optInt($data, 'unpriced_generations') ?? 0,
            currency: Data::optStr($data, 'currency'),
            byModel: Data::objects($data, 'by_model', UsageBucket::fromArray(...)),
            byDay: Data::objects($data, 'by_day', UsageBucket::fromArray(...)),
            groupBy: Data::optStr($data, 'group_by'),
            groups: ($data['groups'] ?? null) === null ? null : Data::objects($data, 'groups', UsageBucket::fromArray(...)),
            raw: $data,
            succeededGenerations: Data::optInt($data, 'succeeded_generations') ?? 0,
            activeGenerations: Data::optInt($data, 'active_generations') ?? 0,
            storageBytes: Data::optInt($data, 'storage_bytes') ?? 0,
            cachedGenerations: Data::optInt($data, 'cached_generations') ?? 0,
            cacheSavings: Data::optFloat($data, 'cache_savings') ?? 0.0,
            budget: Data::objects($data, 'budget', BudgetStatus::fromArray(...)),
        );
    }
}
