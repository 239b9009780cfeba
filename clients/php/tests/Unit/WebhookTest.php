<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Unit;

use Freepik\AiOrchestrator\Exception\OrchestrationException;
use Freepik\AiOrchestrator\Exception\WebhookVerificationException;
use Freepik\AiOrchestrator\OrchestrationClient;
use Freepik\AiOrchestrator\Tests\Support\FakeClock;
use Freepik\AiOrchestrator\Tests\Support\FakeTransport;
use Freepik\AiOrchestrator\Webhook;
use PHPUnit\Framework\TestCase;

/**
 * The verifier's refusals (its acceptance of the server's real signatures is in
 * tests/Integration/WebhooksTest.php), and the management calls' requests.
 */
final class WebhookTest extends TestCase
{
    private const KEY = '0123456789abcdef0123456789abcdef';
    private const BODY = '{"type":"webhook.test","data":{}}';
    private const NOW = 1767225600;

    private static function secret(): string
    {
        return 'whsec_' . base64_encode(self::KEY);
    }

    /** @return array<string, string> */
    private static function headers(string $body = self::BODY, string $key = self::KEY, string $id = 'msg_1'): array
    {
        $signature = base64_encode(hash_hmac('sha256', "{$id}." . self::NOW . ".{$body}", $key, true));
        return ['Webhook-Id' => $id, 'Webhook-Timestamp' => (string) self::NOW, 'Webhook-Signature' => "v0,x v1,{$signature}"];
    }

    public function testAValidSignatureGivesTheEvent(): void
    {
        self::assertSame(['type' => 'webhook.test', 'data' => []], Webhook::verify(self::BODY, self::headers(), self::secret(), now: self::NOW));
    }

    public function testAChangedBodyIsRefused(): void
    {
        $this->expectException(WebhookVerificationException::class);
        $this->expectExceptionMessage('no matching webhook signature');
        Webhook::verify(str_replace('test', 'tset', self::BODY), self::headers(), self::secret(), now: self::NOW);
    }

    public function testAnotherSecretIsRefused(): void
    {
        $this->expectException(WebhookVerificationException::class);
        Webhook::verify(self::BODY, self::headers(key: str_repeat('x', 32)), self::secret(), now: self::NOW);
    }

    public function testATimestampOutsideTheToleranceIsRefused(): void
    {
        self::assertSame('webhook.test', Webhook::verify(self::BODY, self::headers(), self::secret(), now: self::NOW + 300)['type']);
        $this->expectException(WebhookVerificationException::class);
        Webhook::verify(self::BODY, self::headers(), self::secret(), now: self::NOW + 301);
    }

    public function testAMissingHeaderIsRefused(): void
    {
        foreach (['Webhook-Id', 'Webhook-Timestamp', 'Webhook-Signature'] as $name) {
            $headers = self::headers();
            unset($headers[$name]);
            try {
                Webhook::verify(self::BODY, $headers, self::secret(), now: self::NOW);
                self::fail("verified without {$name}");
            } catch (WebhookVerificationException $exception) {
                self::assertInstanceOf(OrchestrationException::class, $exception);
            }
        }
    }

    public function testPauseSendsEnabledFalseAndUpdateNeedsAChange(): void
    {
        $transport = new FakeTransport();
        $transport->json(200, ['id' => 'wh_1', 'url' => 'https://example.com/h', 'status' => 'disabled', 'events' => []]);
        $client = new OrchestrationClient(apiKey: 'sk-test-abc', transport: $transport, clock: new FakeClock());
        self::assertSame('disabled', $client->pauseWebhook('wh_1')->status);
        self::assertSame('PATCH', $transport->requests[0]->method);
        self::assertSame('http://localhost:8000/api/v1/webhooks/wh_1', $transport->requests[0]->url);
        self::assertSame(['enabled' => false], $transport->body(0));
        $this->expectException(\InvalidArgumentException::class);
        $client->updateWebhook('wh_1');
    }
}
