<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/**
 * A webhook endpoint: where the server POSTs signed events. `status` is enabled, paused or
 * disabled (see `disabledReason`). `secret` (`whsec_…`) is set only on the answer to
 * createWebhook(): keep it to verify deliveries.
 */
final class WebhookEndpoint
{
    /** @param list<string> $events */
    public function __construct(
        public readonly string $id,
        public readonly string $url,
        public readonly array $events = [],
        public readonly ?string $description = null,
        public readonly ?string $status = null,
        public readonly ?string $disabledReason = null,
        public readonly ?bool $livemode = null,
        public readonly ?\DateTimeImmutable $createdAt = null,
        #[\SensitiveParameter] public readonly ?string $secret = null,
    ) {
    }

    /** @param array<mixed> $data */
    public static function fromArray(array $data): self
    {
        return new self(
            id: Data::str($data, 'id'),
            url: Data::str($data, 'url'),
            events: Data::strings($data, 'events'),
            description: Data::optStr($data, 'description'),
            status: Data::optStr($data, 'status'),
            disabledReason: Data::optStr($data, 'disabled_reason'),
            livemode: Data::optBool($data, 'livemode'),
            createdAt: Data::optDate($data, 'created_at'),
            secret: Data::optStr($data, 'secret'),
        );
    }
}
