<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Unit;

use Freepik\AiOrchestrator\Exception\ApiConnectionException;
use Freepik\AiOrchestrator\Exception\ApiTimeoutException;
use Freepik\AiOrchestrator\Http\CurlTransport;
use Freepik\AiOrchestrator\Http\Request;
use Freepik\AiOrchestrator\Http\TransportException;
use Freepik\AiOrchestrator\OrchestrationClient;
use PHPUnit\Framework\TestCase;

/** The curl transport's failures, on real loopback sockets (no orchestrator needed). */
final class CurlTransportTest extends TestCase
{
    /** A port nothing listens on: bound, then released. */
    private static function closedPort(): int
    {
        $server = stream_socket_server('tcp://127.0.0.1:0');
        self::assertIsResource($server);
        $name = (string) stream_socket_get_name($server, false);
        fclose($server);
        return (int) substr($name, strrpos($name, ':') + 1);
    }

    public function testARefusedConnectionIsAConnectionError(): void
    {
        $port = self::closedPort();
        $client = new OrchestrationClient(baseUrl: "http://127.0.0.1:{$port}", apiKey: 'sk-test-secret', maxRetries: 0);
        try {
            $client->listModels();
            self::fail('expected ApiConnectionException');
        } catch (ApiConnectionException $exception) {
            self::assertNotInstanceOf(ApiTimeoutException::class, $exception);
            self::assertInstanceOf(TransportException::class, $exception->getPrevious());
            self::assertStringContainsString("127.0.0.1:{$port}/api/v1/models", $exception->getMessage());
            self::assertStringNotContainsString('sk-test-secret', $exception->getMessage());
        }
    }

    public function testAServerThatNeverAnswersTimesOut(): void
    {
        // The kernel accepts the connection into the backlog; nobody ever answers.
        $server = stream_socket_server('tcp://127.0.0.1:0');
        self::assertIsResource($server);
        $name = (string) stream_socket_get_name($server, false);
        try {
            $client = new OrchestrationClient(baseUrl: "http://{$name}", apiKey: 'sk-test-x', timeout: 0.3, maxRetries: 0);
            $started = hrtime(true);
            try {
                $client->getGeneration('gen_1');
                self::fail('expected ApiTimeoutException');
            } catch (ApiTimeoutException $exception) {
                self::assertTrue($exception->getPrevious() instanceof TransportException && $exception->getPrevious()->timedOut);
            }
            self::assertLessThan(10.0, (hrtime(true) - $started) / 1e9, 'the timeout was not applied');
        } finally {
            fclose($server);
        }
    }

    public function testSignedUrlQueriesStayOutOfErrorMessages(): void
    {
        $port = self::closedPort();
        try {
            (new CurlTransport())->send(new Request('GET', "http://127.0.0.1:{$port}/img.png?sig=SECRET", timeout: 2.0));
            self::fail('expected TransportException');
        } catch (TransportException $exception) {
            self::assertStringNotContainsString('SECRET', $exception->getMessage());
        }
    }
}
