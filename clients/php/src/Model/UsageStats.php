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
        );
    }
}
