<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Support;

use Freepik\AiOrchestrator\Clock;

/** Time that moves only when the client sleeps; every sleep is recorded. */
final class FakeClock implements Clock
{
    /** @var list<float> */
    public array $sleeps = [];

    public function __construct(public float $wall = 1767225600.0, public float $mono = 1000.0)
    {
    }

    public function now(): float
    {
        return $this->wall;
    }

    public function monotonic(): float
    {
        return $this->mono;
    }

    public function sleep(float $seconds): void
    {
        $this->sleeps[] = $seconds;
        $this->wall += $seconds;
        $this->mono += $seconds;
    }
}
