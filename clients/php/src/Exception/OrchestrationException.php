<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/**
 * Base class of every error this client throws.
 *
 * Tree (mirrors the Python client's exceptions):
 *
 *     OrchestrationException
 *     ├── ApiConnectionException            the request never got an HTTP answer
 *     │   └── ApiTimeoutException           ... because a timeout expired
 *     └── ApiStatusException                the server answered with an error status
 *         ├── InvalidRequestException       400, 422 (and other unmapped 4xx)
 *         │   └── ContentPolicyException    422 content_policy_violation
 *         ├── AuthenticationException       401
 *         │   └── PermissionDeniedException 403
 *         ├── BudgetExceededException       402
 *         ├── NotFoundException             404
 *         ├── ModelNotAvailableException    404 / 503 with type model_not_available
 *         ├── ConflictException             409
 *         ├── RateLimitException            429 (->retryAfter)
 *         ├── ProviderException             502, 504
 *         │   └── ProviderTimeoutException  504 provider_timeout
 *         └── InternalServerException       other 5xx
 */
class OrchestrationException extends \RuntimeException
{
    /** @var array<string, string> response headers, names lower-cased */
    public readonly array $headers;

    /**
     * @param int|null $status HTTP status (inferred for failed jobs and batch items)
     * @param string|null $errorCode the server's machine-readable `code` (e.g. `invalid_api_key`)
     * @param string|null $type the server's error `type` (e.g. `authentication_error`)
     * @param string|null $param the request field the error is about
     * @param string|null $requestId the server's request id: quote it when reporting a problem
     * @param string|null $generationId the generation that failed, when one did
     * @param mixed $body the decoded error body
     * @param array<string, string> $headers
     */
    public function __construct(
        string $message,
        public readonly ?int $status = null,
        public readonly ?string $errorCode = null,
        public readonly ?string $type = null,
        public readonly ?string $param = null,
        public readonly ?string $requestId = null,
        public readonly ?string $generationId = null,
        public readonly mixed $body = null,
        array $headers = [],
        ?\Throwable $previous = null,
    ) {
        parent::__construct($message, 0, $previous);
        $this->headers = array_change_key_case($headers, CASE_LOWER);
    }

    public function __toString(): string
    {
        $details = [];
        foreach (['status' => $this->status, 'code' => $this->errorCode, 'request_id' => $this->requestId] as $name => $value) {
            if ($value !== null) {
                $details[] = "{$name}={$value}";
            }
        }
        $text = static::class . ': ' . $this->getMessage();
        return $details === [] ? $text : $text . ' (' . implode(', ', $details) . ')';
    }
}
