<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

/** One Server-Sent Event of GET /generations/{id}/events: the job as it is at that moment. */
final class GenerationEvent
{
    /**
     * @param string $event the event name: the job's status (queued, running, succeeded...)
     * @param string|null $id the event id (sent back as Last-Event-ID on a reconnect)
     */
    public function __construct(
        public readonly string $event,
        public readonly GenerationResponse $data,
        public readonly ?string $id = null,
    ) {
    }

    public function status(): GenerationStatus
    {
        return $this->data->status;
    }

    public function isTerminal(): bool
    {
        return $this->data->isTerminal();
    }
}
