<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Integration;

use Freepik\AiOrchestrator\Exception\ConflictException;
use Freepik\AiOrchestrator\Exception\NotFoundException;
use Freepik\AiOrchestrator\Exception\WebhookVerificationException;
use Freepik\AiOrchestrator\Webhook;

/**
 * Webhook endpoints managed through a real server, and its real deliveries (recorded by
 * scripts/with_test_server.py --webhook-receiver) verified with this package.
 */
final class WebhooksTest extends IntegrationTestCase
{
    protected function setUp(): void
    {
        if (getenv('ORCHESTRATOR_TEST_WEBHOOK_URL') === false) {
            self::markTestSkipped('run through scripts/with_test_server.py --webhook-receiver');
        }
    }

    /**
     * The delivery whose webhook-id is `$id` (or the first of `$eventType`), waited for up to 30 s.
     *
     * @return array{0: string, 1: array<string, string>}
     */
    private static function received(string $path, ?string $id = null, ?string $eventType = null): array
    {
        $deadline = microtime(true) + 30;
        while (true) {
            foreach (glob(self::env('ORCHESTRATOR_TEST_WEBHOOK_DIR') . '/*.json') ?: [] as $file) {
                $record = json_decode((string) file_get_contents($file), true, 512, JSON_THROW_ON_ERROR);
                if ($record['path'] !== $path) {
                    continue;
                }
                $body = (string) base64_decode($record['body_base64'], true);
                $headers = array_change_key_case($record['headers'], CASE_LOWER);
                $type = json_decode($body, true)['type'] ?? null;
                if ($id !== null ? ($headers['webhook-id'] ?? null) === $id : $type === $eventType) {
                    return [$body, $headers];
                }
            }
            if (microtime(true) > $deadline) {
                self::fail('no webhook ' . ($id ?? $eventType) . ' received in 30 s');
            }
            usleep(50_000);
        }
    }

    public function testManageAnEndpointAndVerifyRealDeliveries(): void
    {
        $client = self::client();
        // A path of its own: the receiver may also get other suites' deliveries.
        $path = '/hooks/php-' . bin2hex(random_bytes(4));
        $url = (string) preg_replace('#/hooks$#', $path, self::env('ORCHESTRATOR_TEST_WEBHOOK_URL'));
        $endpoint = $client->createWebhook($url, events: ['generation.succeeded'], description: 'php sdk');
        self::assertStringStartsWith('whsec_', (string) $endpoint->secret);
        self::assertSame([$url, 'enabled'], [$endpoint->url, $endpoint->status]);
        self::assertContains($endpoint->id, array_map(static fn ($e) => $e->id, $client->listWebhooks()));
        self::assertNull($client->getWebhook($endpoint->id)->secret, 'the secret is shown once');

        $generation = $client->generate(prompt: 'a lighthouse', model: 'dall-e-3');
        [$body, $headers] = self::received($path, eventType: 'generation.succeeded');
        $event = Webhook::verify($body, $headers, (string) $endpoint->secret);
        self::assertSame($generation->id, $event['data']['id']);
        try {
            Webhook::verify(str_replace($generation->id, 'gen_forged', $body), $headers, (string) $endpoint->secret);
            self::fail('a forged body was accepted');
        } catch (WebhookVerificationException) {
        }

        $queued = $client->sendTestWebhook($endpoint->id);
        self::assertSame('webhook.test', $queued->eventType);
        [$body, $headers] = self::received($path, id: $queued->id);
        self::assertSame('webhook.test', Webhook::verify($body, $headers, (string) $endpoint->secret)['type']);
        self::assertContains($queued->id, array_map(static fn ($d) => $d->id, $client->listWebhookDeliveries($endpoint->id)));

        self::assertSame('disabled', $client->pauseWebhook($endpoint->id)->status);
        try {
            $client->sendTestWebhook($endpoint->id);
            self::fail('a paused endpoint was sent a test event');
        } catch (ConflictException $exception) {
            self::assertSame('webhook_disabled', $exception->errorCode);
        }
        self::assertSame('enabled', $client->resumeWebhook($endpoint->id)->status);
        self::assertNull($client->updateWebhook($endpoint->id, clearDescription: true)->description);

        self::assertSame($endpoint->id, $client->deleteWebhook($endpoint->id)->id);
        $this->expectException(NotFoundException::class);
        $client->getWebhook($endpoint->id);
    }
}
