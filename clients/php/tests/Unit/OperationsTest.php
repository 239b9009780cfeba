<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Unit;

use Freepik\AiOrchestrator\Exception\ProviderException;
use Freepik\AiOrchestrator\Http\Request;
use Freepik\AiOrchestrator\Http\Response;
use Freepik\AiOrchestrator\ImageFile;
use Freepik\AiOrchestrator\Model\GenerationStatus;
use Freepik\AiOrchestrator\Model\SourceImage;
use Freepik\AiOrchestrator\OrchestrationClient;
use Freepik\AiOrchestrator\RequestOptions;
use Freepik\AiOrchestrator\Tests\Support\FakeClock;
use Freepik\AiOrchestrator\Tests\Support\FakeTransport;
use Freepik\AiOrchestrator\Tests\Support\Spec;
use PHPUnit\Framework\TestCase;

/**
 * The image operations (conformance.json `operations`): each method's endpoint, how every kind
 * of input is sent (JSON or multipart), the argument errors raised before any request, and the
 * answer handled as generate() handles it.
 */
final class OperationsTest extends TestCase
{
    private const PNG = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    private FakeTransport $transport;
    private string $dir;

    protected function setUp(): void
    {
        $this->transport = new FakeTransport();
        $this->dir = sys_get_temp_dir() . '/orchestrator-php-ops-' . bin2hex(random_bytes(6));
        mkdir($this->dir);
    }

    protected function tearDown(): void
    {
        foreach (glob("{$this->dir}/*") ?: [] as $file) {
            unlink($file);
        }
        rmdir($this->dir);
    }

    private function client(): OrchestrationClient
    {
        return new OrchestrationClient(apiKey: 'sk-test-abc', baseUrl: 'http://api.test', transport: $this->transport, clock: new FakeClock());
    }

    /** @return array<string, mixed> */
    private static function generation(string $id = 'gen_op', string $status = 'succeeded', array $extra = []): array
    {
        return [
            'id' => $id, 'object' => 'generation', 'status' => $status, 'prompt' => 'p', 'model' => 'm',
            'image_url' => $status === 'succeeded' ? "http://api.test/api/v1/images/{$id}/1-0.png?sig=s" : null,
        ] + $extra;
    }

    /**
     * Call the method named for PHP in the conformance file with `$input` as its image(s).
     */
    private function call(string $operation, mixed $input, ?RequestOptions $options = null): mixed
    {
        $client = $this->client();
        return match ($operation) {
            'edit' => $client->edit(prompt: 'paint it teal', images: [$input], options: $options),
            'variation' => $client->createVariation(image: $input, options: $options),
            'upscale' => $client->upscale(image: $input, options: $options),
            'remove_background' => $client->removeBackground(image: $input, options: $options),
            'image_to_image' => $client->imageToImage(prompt: 'as a watercolour', image: $input, options: $options),
        };
    }

    /**
     * The parts of a multipart body, in order: [name, filename or null, content type or null, value].
     *
     * @return list<array{0: string, 1: string|null, 2: string|null, 3: string}>
     */
    private static function parts(Request $request): array
    {
        $type = (string) $request->header('Content-Type');
        self::assertSame(1, preg_match('/^multipart\/form-data; boundary=(.+)$/', $type, $match), $type);
        $body = (string) $request->body;
        self::assertStringEndsWith("--{$match[1]}--\r\n", $body);
        $parts = [];
        foreach (array_slice(explode("--{$match[1]}", $body), 1, -1) as $raw) {
            [$head, $value] = explode("\r\n\r\n", substr($raw, 2), 2);
            preg_match('/ name="([^"]*)"/', $head, $name);
            $file = preg_match('/ filename="([^"]*)"/', $head, $filename) === 1 ? $filename[1] : null;
            $contentType = preg_match('/\r\nContent-Type: (.+)/', $head, $ct) === 1 ? $ct[1] : null;
            $parts[] = [$name[1], $file, $contentType, substr($value, 0, -2)];
        }
        return $parts;
    }

    /** @return array<string, array{0: array<string, mixed>}> */
    public static function methods(): array
    {
        $rows = [];
        foreach (Spec::load()['operations']['methods'] as $method) {
            $rows[$method['names']['php']] = [$method];
        }
        return $rows;
    }

    /**
     * @dataProvider methods
     * @param array<string, mixed> $method
     */
    public function testEachOperationIsAMethodPostingToItsEndpoint(array $method): void
    {
        self::assertTrue(method_exists(OrchestrationClient::class, $method['names']['php']));
        $this->transport->json(200, self::generation(extra: ['operation' => $method['operation']]));
        $result = $this->call($method['operation'], 'gen_abc');
        [$verb, $path] = explode(' ', $method['endpoint']);
        self::assertSame($verb, $this->transport->requests[0]->method);
        self::assertSame("http://api.test{$path}", $this->transport->requests[0]->url);
        self::assertSame($method['operation'], $result->operation);
        $parameters = array_map(
            static fn (\ReflectionParameter $p): string => $p->getName(),
            (new \ReflectionMethod(OrchestrationClient::class, $method['names']['php']))->getParameters(),
        );
        foreach ([...$method['required'], ...$method['optional']] as $field) {
            self::assertContains(lcfirst(str_replace('_', '', ucwords($field, '_'))), $parameters, "{$method['names']['php']}() takes {$field}");
        }
    }

    /** @return array<string, array{0: string, 1: array<string, mixed>}> */
    public static function inputCases(): array
    {
        $rows = [];
        foreach (Spec::load()['operations']['methods'] as $method) {
            foreach (Spec::load()['operations']['input_cases'] as $case) {
                $rows["{$method['names']['php']}: {$case['name']}"] = [$method['operation'], $case];
            }
        }
        return $rows;
    }

    /**
     * @dataProvider inputCases
     * @param array<string, mixed> $case
     */
    public function testEveryKindOfInputIsSentAsTheSpecSays(string $operation, array $case): void
    {
        $input = match ($case['input']['kind']) {
            'id', 'url' => $case['input']['value'],
            'bytes' => ImageFile::fromBytes((string) base64_decode($case['input']['value'], true)),
            'path' => $this->file($case['input']['value'], self::PNG),
        };
        $field = $operation === 'edit' ? 'images' : 'image';
        $this->transport->json(200, self::generation());
        $this->call($operation, $input);
        $request = $this->transport->requests[0];

        if ($case['body'] === 'json') {
            self::assertSame('application/json', $request->header('Content-Type'));
            $body = $this->transport->body(0);
            self::assertSame($operation === 'edit' ? [$case['sent_as']] : $case['sent_as'], $body[$field]);
            return;
        }
        $files = array_values(array_filter(self::parts($request), static fn (array $part): bool => $part[1] !== null));
        self::assertCount(1, $files);
        [$name, $filename, , $value] = $files[0];
        self::assertSame($field, $name);
        self::assertSame($case['input']['kind'] === 'bytes' ? base64_decode($case['input']['value'], true) : self::PNG, $value);
        if (isset($case['filename'])) {
            self::assertSame($case['filename'], $filename);
        }
    }

    public function testAMixedEditIsMultipartWithIdsAsTextAndTheOtherFieldsAsText(): void
    {
        $path = $this->file('mask.png', self::PNG . 'mask');
        $stream = fopen('php://memory', 'w+b');
        self::assertIsResource($stream);
        fwrite($stream, self::PNG . 'stream');
        rewind($stream);
        $this->transport->json(200, self::generation());
        $this->client()->edit(
            prompt: 'paint it teal',
            images: ['gen_abc:1', new \SplFileInfo($this->file('a.png', self::PNG . 'a')), $stream, 'https://example.com/c.png'],
            mask: $path,
            model: 'gpt-image-1',
            n: 2,
            outputCompression: 80,
            metadata: ['campaign' => 'summer', 'n' => 1],
        );
        self::assertSame([
            ['prompt', null, null, 'paint it teal'],
            ['model', null, null, 'gpt-image-1'],
            ['n', null, null, '2'],
            ['output_compression', null, null, '80'],
            ['metadata', null, null, '{"campaign":"summer","n":1}'],
            ['images', null, null, 'gen_abc:1'],
            ['images', 'a.png', 'image/png', self::PNG . 'a'],
            ['images', 'image', 'image/png', self::PNG . 'stream'],
            ['images', null, null, 'https://example.com/c.png'],
            ['mask', 'mask.png', 'image/png', self::PNG . 'mask'],
        ], self::parts($this->transport->requests[0]));
    }

    public function testCurlFilesAreUploadedWithTheirNamesAndTypes(): void
    {
        $path = $this->file('on-disk.png', self::PNG . 'disk');
        $this->transport->json(200, self::generation());
        $this->client()->edit(prompt: 'p', images: [
            new \CURLFile($path, 'image/png', 'kite.png'),
            new \CURLStringFile("\xff\xd8\xff\xe0jpeg", 'photo.jpg'),
        ]);
        self::assertSame([
            ['prompt', null, null, 'p'],
            ['images', 'kite.png', 'image/png', self::PNG . 'disk'],
            ['images', 'photo.jpg', 'image/jpeg', "\xff\xd8\xff\xe0jpeg"],
        ], self::parts($this->transport->requests[0]));
    }

    public function testAJsonEditSendsOnlyTheFieldsGiven(): void
    {
        $this->transport->json(200, self::generation());
        $this->client()->edit(prompt: 'p', images: 'gen_a', mask: 'gen_b:2', size: '256x256', metadata: []);
        self::assertSame(
            ['prompt' => 'p', 'size' => '256x256', 'metadata' => [], 'images' => ['gen_a'], 'mask' => 'gen_b:2'],
            $this->transport->body(0),
        );
        self::assertSame('{', ((string) $this->transport->requests[0]->body)[0]);
        self::assertStringContainsString('"metadata":{}', (string) $this->transport->requests[0]->body);
    }

    public function testUpscaleAndImageToImageSendTheirOwnFields(): void
    {
        $this->transport->json(200, self::generation())->json(200, self::generation());
        $this->client()->upscale(image: 'gen_a', factor: 4, prompt: 'crisp', model: 'magnific-upscaler');
        $this->client()->imageToImage(prompt: 'p', image: ImageFile::fromBytes(self::PNG, 'x.png'), strength: 0.35, negativePrompt: 'blur', seed: 7);
        self::assertSame(['factor' => 4, 'prompt' => 'crisp', 'model' => 'magnific-upscaler', 'image' => 'gen_a'], $this->transport->body(0));
        $text = array_column(array_filter(self::parts($this->transport->requests[1]), static fn (array $p): bool => $p[1] === null), 3, 0);
        self::assertSame(['prompt' => 'p', 'strength' => '0.35', 'negative_prompt' => 'blur', 'seed' => '7'], $text);
    }

    /** @return array<string, array{0: \Closure(OrchestrationClient): mixed, 1: string}> */
    public static function argumentErrors(): array
    {
        return [
            'edit without any image' => [static fn (OrchestrationClient $c) => $c->edit(prompt: 'p', images: []), 'images'],
            'edit with a blank prompt' => [static fn (OrchestrationClient $c) => $c->edit(prompt: '  ', images: 'gen_a'), 'prompt'],
            'image to image with a blank prompt' => [static fn (OrchestrationClient $c) => $c->imageToImage(prompt: '', image: 'gen_a'), 'prompt'],
            'a number' => [static fn (OrchestrationClient $c) => $c->upscale(image: 42), 'image'],
            'a number among the edit images' => [static fn (OrchestrationClient $c) => $c->edit(prompt: 'p', images: ['gen_a', 4.5]), 'images[1]'],
            'an array as one image' => [static fn (OrchestrationClient $c) => $c->createVariation(image: ['gen_a']), 'image'],
            'a missing file' => [static fn (OrchestrationClient $c) => $c->removeBackground(image: '/nonexistent/cat.png'), 'image'],
            'a missing mask file' => [static fn (OrchestrationClient $c) => $c->edit(prompt: 'p', images: 'gen_a', mask: 'no-such-mask.png'), 'mask'],
            'an empty string' => [static fn (OrchestrationClient $c) => $c->upscale(image: ''), 'image'],
            'a missing SplFileInfo' => [static fn (OrchestrationClient $c) => $c->upscale(image: new \SplFileInfo('/nonexistent/x.png')), 'image'],
        ];
    }

    /**
     * @dataProvider argumentErrors
     * @param \Closure(OrchestrationClient): mixed $call
     */
    public function testArgumentErrorsNameTheFieldBeforeAnyRequest(\Closure $call, string $field): void
    {
        try {
            $call($this->client());
            self::fail('no argument error');
        } catch (\InvalidArgumentException $error) {
            self::assertStringStartsWith("{$field}:", $error->getMessage());
        }
        self::assertSame([], $this->transport->requests);
    }

    public function testAJobHandedBackUnfinishedIsWaitedForAndAFailureThrows(): void
    {
        $this->transport
            ->json(202, self::generation('gen_up', 'queued'))
            ->json(200, self::generation('gen_up', 'running'))
            ->json(200, self::generation('gen_up', 'failed', ['error' => ['code' => 'provider_error', 'message' => 'boom']]));
        try {
            $this->client()->upscale(image: 'gen_a');
            self::fail('no exception');
        } catch (ProviderException $error) {
            self::assertSame('gen_up', $error->generationId);
        }
        self::assertSame('http://api.test/api/v1/generations/gen_up', $this->transport->requests[1]->url);
        self::assertMatchesRegularExpression('/^wait=\d+$/', (string) $this->transport->requests[0]->header('Prefer'));
    }

    public function testOptionsWorkAsOnGenerate(): void
    {
        $this->transport->json(202, self::generation('gen_q', 'queued'));
        $job = $this->client()->removeBackground(
            image: 'gen_a',
            options: new RequestOptions(wait: false, idempotencyKey: 'order-42', headers: ['X-Trace' => 't1']),
        );
        self::assertSame(GenerationStatus::Queued, $job->status);
        $request = $this->transport->requests[0];
        self::assertSame('respond-async', $request->header('Prefer'));
        self::assertSame('order-42', $request->header('Idempotency-Key'));
        self::assertSame('t1', $request->header('X-Trace'));
        self::assertCount(1, $this->transport->requests);
    }

    public function testARetriedUploadResendsTheSameBodyUnderTheSameKey(): void
    {
        $this->transport->add(new Response(503, ['content-type' => 'application/json'], '{"error":{"type":"api_error","code":"service_unavailable","message":"x"}}'));
        $this->transport->json(200, self::generation());
        $this->client()->upscale(image: ImageFile::fromBytes(self::PNG, 'x.png'));
        [$first, $second] = $this->transport->requests;
        self::assertSame($first->body, $second->body);
        self::assertSame($first->header('Idempotency-Key'), $second->header('Idempotency-Key'));
        self::assertSame($first->header('Content-Type'), $second->header('Content-Type'));
    }

    public function testTheLinksOfAnOperationAreRead(): void
    {
        $this->transport->json(200, self::generation('gen_cut', extra: [
            'operation' => 'remove_background', 'operation_params' => ['factor' => 2], 'parents' => ['gen_up'],
            'children' => [], 'sources' => [[
                'role' => 'image', 'origin' => 'generation', 'generation_id' => 'gen_up', 'index' => 0,
                'url' => 'http://api.test/api/v1/images/in.png?sig=s', 'width' => 64, 'height' => 32, 'content_type' => 'image/png',
            ]],
        ]));
        $job = $this->client()->getGeneration('gen_cut');
        self::assertSame('remove_background', $job->operation);
        self::assertSame(['factor' => 2], $job->operationParams);
        self::assertSame(['gen_up'], $job->parents);
        self::assertSame([], $job->children);
        self::assertEquals([new SourceImage('image', 'generation', 'http://api.test/api/v1/images/in.png?sig=s', 'gen_up', 0, 64, 32, 'image/png')], $job->sources);

        $this->transport->json(200, self::generation());
        $plain = $this->client()->getGeneration('gen_op');
        self::assertSame('generate', $plain->operation);
        self::assertNull($plain->children);
        self::assertSame([], $plain->sources);
    }

    private function file(string $name, string $bytes): string
    {
        $path = "{$this->dir}/{$name}";
        file_put_contents($path, $bytes);
        return $path;
    }
}
