<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator;

use Freepik\AiOrchestrator\Exception\WebhookVerificationException;

/** Verifying the orchestrator's webhooks (Standard Webhooks 1.0), with PHP's own hash functions. */
final class Webhook
{
    public const DEFAULT_TOLERANCE = 300;
    private const SECRET_PREFIX = 'whsec_';

    /**
     * Check a delivery and return its decoded JSON event (an array).
     *
     * `$payload` is the raw request body, byte for byte (`file_get_contents('php://input')`);
     * `$headers` the request's headers (any case); `$secret` the endpoint's `whsec_…` secret,
     * shown once when it was created. Retries keep their `webhook-id`: use it to drop duplicates.
     *
     * @param array<string, string|list<string>> $headers
     * @return array<mixed>
     * @throws WebhookVerificationException a header is missing, no v1 signature matches, or the
     *     timestamp is more than `$tolerance` seconds from `$now`
     */
    public static function verify(
        string $payload,
        array $headers,
        #[\SensitiveParameter] string $secret,
        int $tolerance = self::DEFAULT_TOLERANCE,
        ?int $now = null,
    ): array {
        $lowered = [];
        foreach ($headers as $name => $value) {
            $lowered[strtolower((string) $name)] = is_array($value) ? (string) ($value[0] ?? '') : $value;
        }
        $id = $lowered['webhook-id'] ?? '';
        $timestamp = $lowered['webhook-timestamp'] ?? '';
        $signatures = $lowered['webhook-signature'] ?? '';
        if ($id === '' || $timestamp === '' || $signatures === '') {
            throw new WebhookVerificationException('missing webhook-id, webhook-timestamp or webhook-signature header');
        }
        if (preg_match('/^\d+$/', $timestamp) !== 1) {
            throw new WebhookVerificationException('webhook-timestamp is not a Unix time');
        }
        if (abs(($now ?? time()) - (int) $timestamp) > $tolerance) {
            throw new WebhookVerificationException('webhook timestamp is outside the tolerance');
        }
        $key = base64_decode(str_starts_with($secret, self::SECRET_PREFIX) ? substr($secret, strlen(self::SECRET_PREFIX)) : $secret, true);
        if ($key === false || $key === '') {
            throw new WebhookVerificationException('the secret is not a whsec_ secret');
        }
        $expected = hash_hmac('sha256', "{$id}.{$timestamp}.{$payload}", $key, true);
        foreach (preg_split('/\s+/', trim($signatures)) ?: [] as $candidate) {
            [$version, $value] = array_pad(explode(',', $candidate, 2), 2, '');
            $given = base64_decode($value, true);
            if ($version === 'v1' && $given !== false && hash_equals($expected, $given)) {
                try {
                    $event = json_decode($payload, true, 512, JSON_THROW_ON_ERROR);
                } catch (\JsonException $exception) {
                    throw new WebhookVerificationException('the signed body is not JSON', previous: $exception);
                }
                return is_array($event) ? $event : [];
            }
        }
        throw new WebhookVerificationException('no matching webhook signature');
    }
}
