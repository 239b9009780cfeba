<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Unit;

use Freepik\AiOrchestrator\Exception\DestinationExistsException;
use Freepik\AiOrchestrator\Exception\OrchestrationException;
use Freepik\AiOrchestrator\Http\CurlTransport;
use Freepik\AiOrchestrator\Http\Request;
use Freepik\AiOrchestrator\Http\Response;
use Freepik\AiOrchestrator\Model\GenerationResponse;
use Freepik\AiOrchestrator\OrchestrationClient;
use Freepik\AiOrchestrator\Tests\Support\FakeClock;
use Freepik\AiOrchestrator\Tests\Support\FakeTransport;
use Freepik\AiOrchestrator\Tests\Support\Spec;
use PHPUnit\Framework\TestCase;

/**
 * The behaviour table every SDK shares (clients/spec/conformance.json): defaults, the
 * missing-key error, the error classes under their PHP names, and the download rules.
 */
final class BehaviourTableTest extends TestCase
{
    private FakeTransport $transport;
    private string|false $savedKey = false;

    protected function setUp(): void
    {
        $this->transport = new FakeTransport();
        $this->savedKey = getenv('ORCHESTRATOR_API_KEY');
        putenv('ORCHESTRATOR_API_KEY');
    }

    protected function tearDown(): void
    {
        putenv($this->savedKey === false ? 'ORCHESTRATOR_API_KEY' : "ORCHESTRATOR_API_KEY={$this->savedKey}");
    }

    private function client(): OrchestrationClient
    {
        return new OrchestrationClient(
            baseUrl: 'http://orchestrator.test',
            apiKey: 'sk-test-abc',
            transport: $this->transport,
            clock: new FakeClock(),
        );
    }

    public function testDefaultTimeoutsAndBaseUrlAreTheTables(): void
    {
        $defaults = Spec::load()['defaults'];
        self::assertSame((float) $defaults['timeout'], OrchestrationClient::DEFAULT_TIMEOUT);
        self::assertSame((float) $defaults['wait_timeout'], OrchestrationClient::DEFAULT_WAIT_TIMEOUT);
        self::assertSame((float) $defaults['connect_timeout'], CurlTransport::DEFAULT_CONNECT_TIMEOUT);
        self::assertSame($defaults['base_url'], OrchestrationClient::DEFAULT_BASE_URL);
        self::assertSame((float) $defaults['timeout'], $this->client()->timeout);
    }

    public function testEveryErrorClassExistsUnderItsParent(): void
    {
        $errors = Spec::load()['errors'];
        self::assertSame($errors['base']['php'], ltrim(OrchestrationException::class, '\\'));
        $byName = array_column($errors['classes'], null, 'name');
        foreach ($byName as $name => $entry) {
            self::assertTrue(class_exists($entry['php']), "{$entry['php']} exists");
            $parent = $entry['parent'] === null ? \RuntimeException::class : $byName[$entry['parent']]['php'];
            self::assertSame($parent, get_parent_class($entry['php']), $name);
        }
    }

    public function testAMissingKeyRaisesTheBaseErrorBeforeAnyRequest(): void
    {
        $failure = array_values(array_filter(
            Spec::load()['errors']['failures'],
            static fn (array $f): bool => $f['name'] === 'missing key',
        ))[0];
        putenv('ORCHESTRATOR_API_KEY=');
        try {
            new OrchestrationClient(baseUrl: 'http://orchestrator.test', transport: $this->transport);
            self::fail('a client without a credential was made');
        } catch (OrchestrationException $exception) {
            self::assertSame(Spec::exceptionClass($failure['raises']), $exception::class);
            self::assertSame($failure['code'], $exception->errorCode);
            foreach ($failure['message_contains'] as $part) {
                self::assertStringContainsStringIgnoringCase($part, $exception->getMessage());
            }
        }
        self::assertSame([], $this->transport->requests);
    }

    /** @return array<string, array{0: array<string, mixed>}> */
    public static function downloadCases(): array
    {
        return Spec::cases('downloads');
    }

    /**
     * @dataProvider downloadCases
     * @param array<string, mixed> $case
     */
    public function testDownloadRule(array $case): void
    {
        $served = $case['served_content_type'] ?? 'image/png';
        $folder = sys_get_temp_dir() . '/orchestrator-php-table-' . bin2hex(random_bytes(4));
        mkdir($folder);
        for ($i = 0; $i < 8; $i++) {
            $this->transport->add(static fn (Request $request): Response => new Response(200, ['content-type' => $served], 'new'));
        }
        try {
            foreach ($case['existing'] ?? [] as $name) {
                file_put_contents("{$folder}/{$name}", 'old');
            }
            $options = ['thumbnail' => ($case['thumbnail'] ?? false) === true, 'overwrite' => ($case['overwrite'] ?? false) === true];
            if ($case['source'] === 'url') {
                $target = $case['url'];
            } else {
                $target = GenerationResponse::fromArray([
                    'id' => $case['generation_id'], 'object' => 'generation', 'status' => 'succeeded',
                    'prompt' => 'p', 'model' => 'dall-e-3', 'image_url' => $case['images'][0]['url'],
                    'images' => $case['images'],
                ]);
                if (str_starts_with($case['source'], 'image ')) {
                    $options['index'] = (int) substr($case['source'], 6);
                }
            }
            if (isset($case['error'])) {
                try {
                    $this->client()->download($target, $folder, ...$options);
                    self::fail('an existing file was replaced');
                } catch (DestinationExistsException $exception) {
                    self::assertSame(Spec::exceptionClass($case['error']), $exception::class);
                    self::assertSame($case['error_names'], basename($exception->filename));
                }
                self::assertCount($case['fetches'], $this->transport->requests);
                foreach ($case['existing'] as $name) {
                    self::assertSame('old', file_get_contents("{$folder}/{$name}"));
                }
            } else {
                $paths = $this->client()->download($target, $folder, ...$options);
                self::assertSame($case['expected'], array_map('basename', $paths));
                foreach ($paths as $path) {
                    self::assertSame('new', file_get_contents($path));
                }
            }
            self::assertSame([], glob("{$folder}/*.part"));
        } finally {
            array_map('unlink', glob("{$folder}/*") ?: []);
            @rmdir($folder);
        }
    }
}
