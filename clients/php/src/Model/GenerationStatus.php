<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

/** A generation's (job's) status. */
enum GenerationStatus: string
{
    case Queued = 'queued';
    case Running = 'running';
    case Succeeded = 'succeeded';
    case Failed = 'failed';
    case Canceled = 'canceled';

    /** True once nothing changes any more (succeeded, failed or canceled). */
    public function isTerminal(): bool
    {
        return match ($this) {
            self::Succeeded, self::Failed, self::Canceled => true,
            self::Queued, self::Running => false,
        };
    }
}
