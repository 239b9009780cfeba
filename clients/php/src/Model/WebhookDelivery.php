<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/** One event sent (or being sent) to an endpoint; `id` is the `webhook-id` header. */
final class WebhookDelivery
{
    public function __construct(
        public readonly string $id,
        public readonly ?string $eventType = null,
        public readonly ?string $status = null,
        public readonly ?int $attempts = null,
        public readonly ?int $lastStatusCode = null,
        public readonly ?string $lastError = null,
        public readonly ?\DateTimeImmutable $createdAt = null,
        public readonly ?\DateTimeImmutable $lastAttemptAt = null,
        public readonly ?\DateTimeImmutable $nextAttemptAt = null,
        public readonly ?\DateTimeImmutable $deliveredAt = null,
    ) {
    }

    /** @param array<mixed> $data */
    public static function fromArray(array $data): self
    {
        return new self(
            id: Data::str($data, 'id'),
            eventType: Data::optStr($data, 'event_type'),
            status: Data::optStr($data, 'status'),
            attempts: Data::optInt($data, 'attempts'),
            lastStatusCode: Data::optInt($data, 'last_status_code'),
            lastError: Data::optStr($data, 'last_error'),
            createdAt: Data::optDate($data, 'created_at'),
            lastAttemptAt: Data::optDate($data, 'last_attempt_at'),
            nextAttemptAt: Data::optDate($data, 'next_attempt_at'),
            deliveredAt: Data::optDate($data, 'delivered_at'),
        );
    }
}
