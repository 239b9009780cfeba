<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/**
 * The one place that decides the exception class for an error the server sends, so HTTP errors,
 * failed batch items and failed jobs cannot disagree. Pinned by clients/spec/conformance.json.
 */
final class ErrorMapper
{
    /** HTTP status implied by an envelope `type` when there is no response status. */
    private const STATUS_FOR_TYPE = [
        'invalid_request_error' => 422,
        'authentication_error' => 401,
        'permission_error' => 403,
        'budget_exceeded' => 402,
        'not_found' => 404,
        'model_not_available' => 404,
        'idempotency_conflict' => 409,
        'conflict' => 409,
        'rate_limit_error' => 429,
        'provider_error' => 502,
        'provider_timeout' => 504,
        'internal_error' => 500,
    ];

    /** A failed job reports only {code, message}: the statuses the synchronous endpoint answers. */
    private const STATUS_FOR_CODE = [
        'content_policy_violation' => 422,
        'provider_timeout' => 504,
        'provider_error' => 502,
        'provider_rejected_request' => 502,
        'provider_auth_failed' => 502,
        'model_not_available' => 503,
        'generation_canceled' => 409,
        'rate_limit_exceeded' => 429,
        'budget_exceeded' => 402,
    ];

    private const FIXED_4XX = [
        401 => AuthenticationException::class,
        402 => BudgetExceededException::class,
        403 => PermissionDeniedException::class,
        404 => NotFoundException::class,
        409 => ConflictException::class,
        429 => RateLimitException::class,
    ];

    private function __construct()
    {
    }

    /**
     * Build the exception for an error answer.
     *
     * `$body` is the decoded JSON body (the envelope {"error": {...}}, a bare error object, or
     * whatever a proxy sent). With `$status` null (a batch item or a failed job) the status is
     * inferred from the error's `status`, `code` or `type`.
     *
     * @param array<string, string> $headers
     */
    public static function exceptionFor(
        ?int $status,
        mixed $body,
        array $headers = [],
        ?float $retryAfter = null,
        ?string $text = null,
    ): ApiStatusException {
        $error = [];
        if (is_array($body)) {
            if (isset($body['error']) && is_array($body['error'])) {
                $error = $body['error'];
            } elseif (array_key_exists('code', $body) || array_key_exists('type', $body) || array_key_exists('message', $body)) {
                $error = $body;
            }
        }
        $type = self::str($error['type'] ?? null);
        $code = self::str($error['code'] ?? null);
        $status ??= self::inferredStatus($error, $type, $code);
        $message = self::str($error['message'] ?? null) ?? self::fallbackMessage($status, $body, $text);
        $lowered = array_change_key_case($headers, CASE_LOWER);
        $requestId = self::str($error['request_id'] ?? null) ?? ($lowered['x-request-id'] ?? null);
        $param = self::str($error['param'] ?? null);
        $generationId = self::str($error['generation_id'] ?? null);

        $class = self::classFor($status, $type, $code);
        if ($class === RateLimitException::class) {
            return new RateLimitException($message, $retryAfter, $status, $code, $type, $param, $requestId, $generationId, $body, $lowered);
        }
        return new $class($message, $status, $code, $type, $param, $requestId, $generationId, $body, $lowered);
    }

    /** @return class-string<ApiStatusException> */
    private static function classFor(int $status, ?string $type, ?string $code): string
    {
        if (($type === 'model_not_available' || $code === 'model_not_available') && ($status === 404 || $status === 503)) {
            return ModelNotAvailableException::class;
        }
        if ($status === 408) {
            return ApiStatusException::class; // the server gave up waiting for our request: retried, not a bad request
        }
        if ($status === 400 || $status === 422 || ($status >= 400 && $status < 500 && !isset(self::FIXED_4XX[$status]))) {
            return $code === 'content_policy_violation' ? ContentPolicyException::class : InvalidRequestException::class;
        }
        if (isset(self::FIXED_4XX[$status])) {
            return self::FIXED_4XX[$status];
        }
        if ($status === 502 || $status === 504) {
            return $code === 'provider_timeout' || $type === 'provider_timeout'
                ? ProviderTimeoutException::class
                : ProviderException::class;
        }
        return $status >= 500 ? InternalServerException::class : ApiStatusException::class;
    }

    /** @param array<mixed> $error */
    private static function inferredStatus(array $error, ?string $type, ?string $code): int
    {
        if (isset($error['status']) && is_int($error['status'])) {
            return $error['status'];
        }
        if ($code !== null && isset(self::STATUS_FOR_CODE[$code])) {
            return self::STATUS_FOR_CODE[$code];
        }
        if ($type !== null && isset(self::STATUS_FOR_TYPE[$type])) {
            return self::STATUS_FOR_TYPE[$type];
        }
        return 500; // as the synchronous endpoint answers for a failure it cannot classify
    }

    private static function fallbackMessage(int $status, mixed $body, ?string $text): string
    {
        $snippet = trim($text ?? (is_string($body) ? $body : ''));
        if ($snippet === '') {
            return "HTTP {$status}";
        }
        // 200 characters (not bytes) when the text is UTF-8; mbstring is not a dependency.
        $short = preg_match('/^.{0,200}/us', $snippet, $match) === 1 ? $match[0] : substr($snippet, 0, 200);
        return "HTTP {$status}: {$short}";
    }

    private static function str(mixed $value): ?string
    {
        return is_string($value) ? $value : null;
    }
}
