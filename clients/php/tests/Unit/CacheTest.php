<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Unit;

use Freepik\AiOrchestrator\ImageFile;
use Freepik\AiOrchestrator\Model\GenerationResponse;
use Freepik\AiOrchestrator\Model\ModelInfo;
use Freepik\AiOrchestrator\Model\UsageBucket;
use Freepik\AiOrchestrator\Model\UsageStats;
use Freepik\AiOrchestrator\OrchestrationClient;
use Freepik\AiOrchestrator\Tests\Support\FakeClock;
use Freepik\AiOrchestrator\Tests\Support\FakeTransport;
use Freepik\AiOrchestrator\Tests\Support\Spec;
use PHPUnit\Framework\TestCase;

/**
 * The result cache (conformance.json `cache`): the `cache` argument of generate(), submit() and
 * the five image operations (sent only when set, as JSON or a multipart text part; a bad value is
 * an argument error before any request), and the response fields; plus the usage and catalog
 * fields modelled with them (budget, per-status counts, a model's operations).
 */
final class CacheTest extends TestCase
{
    private FakeTransport $transport;

    protected function setUp(): void
    {
        $this->transport = new FakeTransport();
    }

    private function client(): OrchestrationClient
    {
        return new OrchestrationClient(apiKey: 'sk-test-abc', baseUrl: 'http://api.test', transport: $this->transport, clock: new FakeClock());
    }

    /** @return array<string, mixed> */
    private static function generation(array $extra = []): array
    {
        return [
            'id' => 'gen_c', 'object' => 'generation', 'status' => 'succeeded', 'prompt' => 'p', 'model' => 'm',
            'image_url' => 'http://api.test/api/v1/images/gen_c/1-0.png?sig=s', 'cost' => 0.04,
        ] + $extra;
    }

    /** Call a method of the spec's `methods` with its required arguments and `cache`. */
    private function call(string $method, mixed $cache, mixed $image = 'gen_abc'): GenerationResponse
    {
        $client = $this->client();
        return match ($method) {
            'generate' => $client->generate(prompt: 'a red fox', model: 'stable-image-core', seed: 7, cache: $cache),
            'edit' => $client->edit(prompt: 'paint it teal', images: $image, cache: $cache),
            'variation' => $client->createVariation(image: $image, cache: $cache),
            'upscale' => $client->upscale(image: $image, cache: $cache),
            'remove_background' => $client->removeBackground(image: $image, cache: $cache),
            'image_to_image' => $client->imageToImage(prompt: 'a field at dawn', image: $image, cache: $cache),
        };
    }

    /** @return array<string, array{0: string, 1: array<string, mixed>}> */
    public static function methodsAndValues(): array
    {
        $rows = [];
        foreach (Spec::load()['cache']['methods'] as $method) {
            foreach (Spec::load()['cache']['values'] as $value) {
                $rows[$method . ' ' . json_encode($value['value'])] = [$method, $value];
            }
        }
        return $rows;
    }

    /**
     * @dataProvider methodsAndValues
     * @param array<string, mixed> $value
     */
    public function testTheOptionIsSentOnlyWhenSet(string $method, array $value): void
    {
        $this->transport->json(200, self::generation());
        $this->call($method, $value['value']);
        $body = $this->transport->body(0);
        if ($value['sent'] === 'absent') {
            self::assertArrayNotHasKey('cache', $body);
        } else {
            self::assertSame($value['sent'], $body['cache']);
        }
    }

    public function testSubmitSendsTheOption(): void
    {
        $this->transport->json(202, self::generation(['status' => 'queued', 'image_url' => null]));
        $this->client()->submit(prompt: 'a red fox', model: 'stable-image-core', seed: 7, cache: 'always');
        self::assertSame('always', $this->transport->body(0)['cache']);
    }

    public function testAMultipartBodyCarriesItAsATextPart(): void
    {
        foreach (Spec::load()['cache']['values'] as $i => $value) {
            if (!isset($value['multipart'])) {
                continue;
            }
            $this->transport->json(200, self::generation());
            $this->call('upscale', $value['value'], ImageFile::fromBytes("\x89PNG\r\n\x1a\n\0\0\0\rIHDR"));
            $body = (string) end($this->transport->requests)->body;
            self::assertStringContainsString("name=\"cache\"\r\n\r\n{$value['multipart']}\r\n", $body, json_encode($value['value']));
        }
    }

    /** @return array<string, array{0: string, 1: mixed}> */
    public static function invalidValues(): array
    {
        $rows = [];
        foreach (Spec::load()['cache']['methods'] as $method) {
            foreach (Spec::load()['cache']['invalid_values'] as $value) {
                $rows[$method . ' ' . json_encode($value)] = [$method, $value];
            }
        }
        return $rows;
    }

    /** @dataProvider invalidValues */
    public function testABadValueIsAnArgumentErrorBeforeAnyRequest(string $method, mixed $value): void
    {
        try {
            $this->call($method, $value);
            self::fail('no error');
        } catch (\InvalidArgumentException $error) {
            self::assertStringStartsWith('cache', $error->getMessage());
        } catch (\TypeError $error) {
            // Not a bool or a string: PHP's own check of the parameter's type (strict_types).
            self::assertStringContainsString('$cache', $error->getMessage());
        }
        self::assertSame([], $this->transport->requests);
    }

    /** @return array<string, array{0: array<string, mixed>}> */
    public static function responseCases(): array
    {
        return Spec::cases('cache');
    }

    /**
     * @dataProvider responseCases
     * @param array<string, mixed> $case
     */
    public function testTheResponseFields(array $case): void
    {
        $this->transport->json(200, array_merge(self::generation(), $case['generation']));
        $result = $this->call('generate', true);
        self::assertSame($case['expected']['cached'], $result->cached);
        self::assertSame($case['expected']['cached_from'], $result->cachedFrom);
        self::assertEqualsWithDelta($case['expected']['cost'], $result->cost, 1e-12);
    }

    public function testUsageCountsCachedGenerations(): void
    {
        $case = Spec::load()['cache']['usage_case'];
        $this->transport->json(200, ['object' => 'usage', 'start_date' => '2026-01-01', 'end_date' => '2026-01-31'] + $case['usage']);
        $usage = $this->client()->getUsageStats('2026-01-01', '2026-01-31', groupBy: Spec::load()['cache']['group_by']);
        self::assertSame('cache', $this->transport->query(0)['group_by']);
        $expected = $case['expected'];
        self::assertSame($expected['cached_generations'], $usage->cachedGenerations);
        self::assertEqualsWithDelta($expected['cache_savings'], $usage->cacheSavings, 1e-12);
        self::assertNotNull($usage->groups);
        self::assertSame($expected['group_key'], $usage->groups[0]->key);
        self::assertSame($expected['group_cached'], $usage->groups[0]->cached);
        self::assertEqualsWithDelta($expected['group_cache_savings'], $usage->groups[0]->cacheSavings, 1e-12);
    }

    public function testTheFieldsDefaultWhenAnOlderServerLeavesThemOut(): void
    {
        $fields = Spec::load()['cache']['response_fields'];
        $camel = static fn (string $wire): string => lcfirst(str_replace('_', '', ucwords($wire, '_')));
        $objects = [
            'generation' => GenerationResponse::fromArray(self::generation()),
            'usage' => UsageStats::fromArray(['start_date' => '2026-01-01', 'end_date' => '2026-01-31']),
            'usage_bucket' => UsageBucket::fromArray(['key' => 'k']),
        ];
        foreach ($objects as $name => $object) {
            foreach ($fields[$name] as $field => $rule) {
                self::assertEquals($rule['default'], $object->{$camel($field)}, "{$name}.{$field}");
            }
        }
    }

    public function testUsageReadsTheBudgetAndThePerStatusCounts(): void
    {
        $usage = UsageStats::fromArray([
            'start_date' => '2026-01-01', 'end_date' => '2026-01-31', 'succeeded_generations' => 3,
            'active_generations' => 1, 'storage_bytes' => 2048,
            'budget' => [['scope' => 'key', 'key_id' => 'key_1', 'monthly_budget' => 10, 'spent' => 2.5,
                'reserved' => 0.5, 'remaining' => 7.0, 'period_start' => '2026-01-01']],
            'groups' => [['key' => 'key_1', 'name' => 'ci', 'generations' => 5, 'succeeded' => 3, 'failed' => 1, 'canceled' => 0, 'active' => 1]],
        ]);
        self::assertSame([3, 1, 2048], [$usage->succeededGenerations, $usage->activeGenerations, $usage->storageBytes]);
        self::assertCount(1, $usage->budget);
        $budget = $usage->budget[0];
        self::assertSame(['key', 'key_1', 10.0, 2.5, 0.5, 7.0, '2026-01-01'], [
            $budget->scope, $budget->keyId, $budget->monthlyBudget, $budget->spent, $budget->reserved,
            $budget->remaining, $budget->periodStart?->format('Y-m-d'),
        ]);
        $bucket = $usage->groups[0] ?? null;
        self::assertNotNull($bucket);
        self::assertSame(['ci', 3, 1, 0, 1], [$bucket->name, $bucket->succeeded, $bucket->failed, $bucket->canceled, $bucket->active]);
    }

    public function testAModelsOperationsAreRead(): void
    {
        $model = ModelInfo::fromArray([
            'name' => 'stable-image-core', 'text_to_image' => false,
            'operations' => ['upscale' => [
                'max_input_images' => 1, 'mask' => false, 'prompt' => false, 'max_images' => 1, 'price' => 0.025,
                'pricing' => ['2x' => ['*' => 0.025], '4x' => ['*' => 0.05]], 'providers' => ['stability'], 'factors' => [2, 4],
                'strength' => null, 'default_strength' => null,
            ]],
        ]);
        self::assertFalse($model->textToImage);
        self::assertSame(['upscale'], array_keys($model->operations));
        $upscale = $model->operations['upscale'];
        self::assertSame([2, 4], $upscale->factors);
        self::assertSame(0.05, $upscale->pricing['4x']['*']);
        self::assertSame(['stability'], $upscale->providers);
        self::assertNull($upscale->strength);
        self::assertTrue(ModelInfo::fromArray(['name' => 'dall-e-3'])->textToImage);
    }
}
