<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator;

/**
 * How one call is made, kept apart from what it sends (the request body, the path ids, the
 * query filters). Every public method of OrchestrationClient that makes a request takes one as
 * its last argument, `options:`. A field left null keeps the client's setting.
 *
 *     $client->generate(prompt: 'a red fox', model: 'dall-e-3',
 *         options: new RequestOptions(timeout: 30.0, maxRetries: 0, idempotencyKey: 'order-42'));
 */
final class RequestOptions
{
    /**
     * @param float|null $timeout seconds this call may take, retries included (`INF`: no limit);
     *        for streamEvents(), how long the stream may stay silent
     * @param int|null $maxRetries retries after the first attempt for this call (0: none)
     * @param string|null $idempotencyKey key for a POST, reused by its retries (default: a new UUID per call)
     * @param array<string, string> $headers headers added to this call's requests (over the client's defaultHeaders)
     * @param bool|null $wait generate(): wait for a job handed back unfinished (default true)
     * @param float|null $waitTimeout generate(), generateBatch(), waitFor(): seconds to wait for
     *        unfinished jobs (`INF`: no limit; default 600)
     */
    public function __construct(
        public readonly ?float $timeout = null,
        public readonly ?int $maxRetries = null,
        public readonly ?string $idempotencyKey = null,
        public readonly array $headers = [],
        public readonly ?bool $wait = null,
        public readonly ?float $waitTimeout = null,
    ) {
        if ($timeout !== null && (is_nan($timeout) || $timeout <= 0)) {
            throw new \InvalidArgumentException('RequestOptions timeout must be a positive number of seconds (INF for no limit)');
        }
        if ($waitTimeout !== null && (is_nan($waitTimeout) || $waitTimeout < 0)) {
            throw new \InvalidArgumentException('RequestOptions waitTimeout must be a number of seconds >= 0 (INF for no limit)');
        }
        if ($maxRetries !== null && $maxRetries < 0) {
            throw new \InvalidArgumentException("RequestOptions maxRetries must be >= 0 (0 disables retries), not {$maxRetries}");
        }
        if ($idempotencyKey !== null && trim($idempotencyKey) === '') {
            throw new \InvalidArgumentException('RequestOptions idempotencyKey must not be empty');
        }
        foreach ($headers as $name => $value) {
            if (!is_string($name) || $name === '' || preg_match('/[\s:]/', $name) === 1 || !is_string($value)
                || preg_match('/[\r\n]/', $value) === 1) {
                throw new \InvalidArgumentException('RequestOptions headers must map header names to single-line string values');
            }
        }
    }
}
