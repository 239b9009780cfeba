<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator;

/**
 * Time as the client sees it. Tests inject a fake that records sleeps and moves time forward
 * instantly; everything else uses SystemClock.
 */
interface Clock
{
    /** Wall-clock UNIX time in seconds (for HTTP-date Retry-After hints). */
    public function now(): float;

    /** A monotonic reading in seconds (for deadlines). */
    public function monotonic(): float;

    /** Wait `$seconds` before the next attempt or poll. */
    public function sleep(float $seconds): void;
}
