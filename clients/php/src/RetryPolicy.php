<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator;

/**
 * Retry arithmetic, with no I/O: which failures are retried, and how long to wait.
 *
 * The rules (written as data in clients/spec/conformance.json, which every SDK's tests load):
 *
 * 1. Never more than `maxRetries` retries.
 * 2. Connection errors and timeouts are retried with backoff.
 * 3. `x-should-retry: false` forbids a retry; `x-should-retry: true` asks for one even on a status
 *    that is not normally retried.
 * 4. A server wait hint (`retry-after-ms`, else `Retry-After` as seconds or an HTTP date) longer
 *    than MAX_RETRY_AFTER (30 s) means "not now": no retry, the error keeps `retryAfter`.
 * 5. An error naming a `generation_id` reports a job that ran and failed: final.
 * 6. Otherwise retried: 408, 429, 5xx except 501 and 505, and 409 with a wait hint.
 * 7. The wait is the server's hint when there is one, else
 *    min(retryBackoff * 2**retriesSoFar, max(8, retryBackoff)) * (1 - 0.25 * random).
 */
final class RetryPolicy
{
    public const DEFAULT_MAX_RETRIES = 2;
    public const DEFAULT_RETRY_BACKOFF = 0.5;
    public const MAX_BACKOFF = 8.0;
    public const MAX_RETRY_AFTER = 30.0;
    public const JITTER = 0.25;

    /** HTTP-date layouts of RFC 9110 (IMF-fixdate, obsolete RFC 850, asctime), all GMT. */
    private const DATE_FORMATS = ['D, d M Y H:i:s \G\M\T', 'l, d-M-y H:i:s \G\M\T', 'D M j H:i:s Y'];

    private function __construct()
    {
    }

    /**
     * Seconds the server asks us to wait, or null.
     *
     * Reads `retry-after-ms` first, then `retry-after` as (fractional) seconds, then as an HTTP
     * date relative to `$now` (a UNIX timestamp); a date in the past means 0. Negative,
     * non-finite and unparsable values are ignored.
     *
     * @param array<string, string> $headers
     */
    public static function parseRetryAfter(array $headers, float $now): ?float
    {
        $headers = array_change_key_case($headers, CASE_LOWER);
        $millis = self::nonNegativeFloat($headers['retry-after-ms'] ?? null);
        if ($millis !== null) {
            return $millis / 1000.0;
        }
        $raw = $headers['retry-after'] ?? null;
        if ($raw === null) {
            return null;
        }
        $seconds = self::nonNegativeFloat($raw);
        if ($seconds !== null) {
            return $seconds;
        }
        $text = preg_replace('/\s+/', ' ', trim($raw)) ?? '';
        $utc = new \DateTimeZone('UTC');
        foreach (self::DATE_FORMATS as $format) {
            $when = \DateTimeImmutable::createFromFormat('!' . $format, $text, $utc);
            $errors = \DateTimeImmutable::getLastErrors();
            if ($when !== false && ($errors === false || ($errors['warning_count'] === 0 && $errors['error_count'] === 0))) {
                $moment = (float) $when->format('U.u');
                return max(0.0, $moment - $now);
            }
        }
        return null;
    }

    /**
     * Exponential backoff with a cap and downward jitter; `$random` is in [0, 1), so each wait is
     * within [75 %, 100 %] of the nominal value.
     */
    public static function backoffDelay(int $retriesSoFar, float $retryBackoff, float $random): float
    {
        $cap = max(self::MAX_BACKOFF, $retryBackoff);
        $nominal = min($retryBackoff * (2.0 ** $retriesSoFar), $cap);
        return $nominal * (1.0 - self::JITTER * $random);
    }

    /** Statuses retried without an explicit `x-should-retry`. */
    public static function isRetryableStatus(int $status, bool $hasWaitHint): bool
    {
        if ($status === 408 || $status === 429) {
            return true;
        }
        if ($status === 409) {
            return $hasWaitHint;
        }
        return $status >= 500 && $status !== 501 && $status !== 505;
    }

    /**
     * Decide for one failed attempt. `$status` is null for a connection error or timeout;
     * `$body` is the decoded error body, if any.
     *
     * @param array<string, string> $headers
     */
    public static function decide(
        int $retriesSoFar,
        int $maxRetries,
        float $retryBackoff,
        ?int $status,
        array $headers,
        float $now,
        float $random,
        mixed $body = null,
    ): RetryDecision {
        $retryAfter = $status !== null ? self::parseRetryAfter($headers, $now) : null;
        $no = new RetryDecision(false, 0.0, $retryAfter);
        if ($retriesSoFar >= $maxRetries) {
            return $no;
        }
        $backoff = self::backoffDelay($retriesSoFar, $retryBackoff, $random);
        if ($status === null) {
            return new RetryDecision(true, $backoff, null);
        }
        $should = strtolower(trim(array_change_key_case($headers, CASE_LOWER)['x-should-retry'] ?? ''));
        if ($should === 'false') {
            return $no;
        }
        if ($retryAfter !== null && $retryAfter > self::MAX_RETRY_AFTER) {
            return $no;
        }
        if (self::namesGeneration($body)) {
            return $no;
        }
        if ($should === 'true' || self::isRetryableStatus($status, $retryAfter !== null)) {
            return new RetryDecision(true, $retryAfter ?? $backoff, $retryAfter);
        }
        return $no;
    }

    private static function namesGeneration(mixed $body): bool
    {
        $error = is_array($body) ? ($body['error'] ?? null) : null;
        return is_array($error) && is_string($error['generation_id'] ?? null) && $error['generation_id'] !== '';
    }

    private static function nonNegativeFloat(?string $raw): ?float
    {
        if ($raw === null) {
            return null;
        }
        $raw = trim($raw);
        if (!is_numeric($raw)) {
            return null;
        }
        $value = (float) $raw;
        return is_finite($value) && $value >= 0 ? $value : null;
    }
}
