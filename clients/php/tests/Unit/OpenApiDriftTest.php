<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Tests\Unit;

use Freepik\AiOrchestrator\Model;
use Freepik\AiOrchestrator\OrchestrationClient;
use PHPUnit\Framework\TestCase;

/**
 * Fails when the server adds, renames or drops a field this package models, or an operation,
 * so the package is updated with the server (openapi.json is generated from the app).
 */
final class OpenApiDriftTest extends TestCase
{
    /** openapi.json schema => [model class, constructor parameters that are not wire fields, wire fields it leaves out] */
    private const MODELLED = [
        'GenerationResponse' => [Model\GenerationResponse::class, ['raw', 'requestId', 'idempotentReplayed'], ['object']],
        'SourceOut' => [Model\SourceImage::class, [], []],
        'ImageOut' => [Model\ImageInfo::class, [], []],
        'ErrorInfo' => [Model\GenerationError::class, [], []],
        'FailedAttempt' => [Model\FailedAttempt::class, [], []],
        'ModelInfo' => [Model\ModelInfo::class, ['raw'], []],
        'OperationInfo' => [Model\OperationInfo::class, [], []],
        'UsageStats' => [Model\UsageStats::class, ['raw'], ['object']],
        'UsageBucket' => [Model\UsageBucket::class, [], []],
        'BudgetStatus' => [Model\BudgetStatus::class, [], []],
        'BatchItem' => [Model\BatchItem::class, [], []],
        // `data` is read into `items`; the list is also iterable.
        'BatchResponse' => [Model\BatchResult::class, ['items', 'requestId'], ['data', 'object']],
        'WebhookCreated' => [Model\WebhookEndpoint::class, [], ['object']],
        'DeliveryOut' => [Model\WebhookDelivery::class, [], ['object']],
    ];

    /** Schemas read through another model, sent as method arguments, or not used by this package. */
    private const NOT_MODELLED = [
        'WebhookOut' => 'WebhookCreated without the secret (WebhookEndpoint)',
        'WebhookList' => 'a list of WebhookOut', 'DeliveryList' => 'a list of DeliveryOut',
        'GenerationPage' => 'read by Page', 'ModelList' => 'a list of ModelInfo',
        'GenerateRequest' => 'generate() arguments', 'BatchRequest' => 'generateBatch() arguments',
        'WebhookCreate' => 'createWebhook() arguments', 'WebhookUpdate' => 'updateWebhook() arguments',
        'ErrorBody' => 'read by ErrorMapper', 'ErrorEnvelope' => 'read by ErrorMapper',
        'ErrorCode' => 'an enum of ErrorBody', 'ErrorType' => 'an enum of ErrorBody',
        'HTTPValidationError' => "FastAPI's default, not sent", 'ValidationError' => 'part of HTTPValidationError',
        'Readiness' => 'operations probe', 'ImageGenerationRequest' => 'OpenAI-compatible /v1',
        'ImageData' => 'OpenAI-compatible /v1', 'ImagesResponse' => 'OpenAI-compatible /v1',
        'OpenAIModel' => 'OpenAI-compatible /v1', 'OpenAIModelList' => 'OpenAI-compatible /v1',
        'KeyCreate' => 'key management (dashboard, CLI)', 'KeyCreated' => 'key management', 'KeyDefaults' => 'key management',
        'KeyList' => 'key management', 'KeyOut' => 'key management',
        'GalleryItem' => 'team gallery (dashboard)', 'GalleryPage' => 'team gallery', 'Deleted' => 'team gallery',
        'BoardName' => 'team gallery', 'BoardOut' => 'team gallery', 'BoardList' => 'team gallery',
        'GenerationIds' => 'team gallery',
    ];

    /** Request bodies: the method that sends them and its parameters that are body fields. */
    private const REQUESTS = [
        'GenerateRequest' => ['generate', ['prompt', 'model', 'style', 'size', 'quality', 'metadata', 'n', 'seed', 'negativePrompt', 'cache']],
        'BatchRequest' => ['generateBatch', ['prompts', 'model', 'batchSize', 'style', 'size', 'quality', 'metadata', 'n', 'seed', 'negativePrompt']],
        'WebhookCreate' => ['createWebhook', ['url', 'events', 'description']],
        'WebhookUpdate' => ['updateWebhook', ['enabled', 'events', 'description']],
    ];

    private const OPERATIONS = [
        'generate' => 'generate', 'generateBatch' => 'generateBatch', 'listGenerations' => 'getGenerationHistory',
        'getGeneration' => 'getGeneration', 'cancelGeneration' => 'cancel', 'streamGenerationEvents' => 'streamEvents',
        'getImage' => 'download', 'listModels' => 'listModels', 'getModel' => 'getModelInfo', 'getUsage' => 'getUsageStats',
        'listWebhooks' => 'listWebhooks', 'createWebhook' => 'createWebhook', 'getWebhook' => 'getWebhook',
        'updateWebhook' => 'updateWebhook', 'deleteWebhook' => 'deleteWebhook',
        'listWebhookDeliveries' => 'listWebhookDeliveries', 'testWebhook' => 'sendTestWebhook',
        'editImage' => 'edit', 'createImageVariation' => 'createVariation', 'upscaleImage' => 'upscale',
        'removeImageBackground' => 'removeBackground', 'imageToImage' => 'imageToImage',
    ];

    /** Image operations: the JSON body's fields (inline in openapi.json) are the method's parameters. */
    private const OPERATION_BODIES = [
        '/api/v1/images/edits' => 'edit', '/api/v1/images/variations' => 'createVariation',
        '/api/v1/images/upscale' => 'upscale', '/api/v1/images/remove-background' => 'removeBackground',
        '/api/v1/images/image-to-image' => 'imageToImage',
    ];
    private const NOT_CALLED = [
        'healthz', 'readyz', 'metrics', 'openaiCreateImage', 'openaiListModels', 'openaiGetModel',
        'listKeys', 'createKey', 'revokeKey', 'listBoards', 'createBoard', 'deleteBoard', 'renameBoard',
        'downloadBoard', 'addBoardItems', 'removeBoardItem', 'searchGallery', 'downloadGalleryItems',
        'deleteGalleryItem', 'getGalleryItem', 'restoreGalleryItem', 'unstarGalleryItem', 'starGalleryItem',
        'openaiEditImage', 'openaiCreateImageVariation',
    ];

    /** @return array<string, mixed> */
    private static function api(): array
    {
        return json_decode((string) file_get_contents(dirname(__DIR__, 4) . '/openapi.json'), true, 512, JSON_THROW_ON_ERROR);
    }

    private static function camel(string $wire): string
    {
        return lcfirst(str_replace('_', '', ucwords($wire, '_')));
    }

    /** @return list<string> */
    private static function parameters(string $class, string $method): array
    {
        return array_map(static fn (\ReflectionParameter $p): string => $p->getName(), (new \ReflectionMethod($class, $method))->getParameters());
    }

    public function testEverySchemaIsModelledOrDeliberatelyLeftOut(): void
    {
        $schemas = array_keys(self::api()['components']['schemas']);
        $known = [...array_keys(self::MODELLED), ...array_keys(self::NOT_MODELLED)];
        sort($schemas);
        sort($known);
        self::assertSame($schemas, $known);
    }

    public function testModelFieldsAreTheSchemaFields(): void
    {
        $schemas = self::api()['components']['schemas'];
        foreach (self::MODELLED as $schema => [$class, $notWire, $leftOut]) {
            $wire = array_map(self::camel(...), array_diff(array_keys($schemas[$schema]['properties']), $leftOut));
            $fields = array_diff(self::parameters($class, '__construct'), $notWire);
            sort($wire);
            sort($fields);
            self::assertSame($wire, $fields, "{$schema} vs {$class}");
        }
    }

    public function testRequestBodiesAreTheMethodsParameters(): void
    {
        $schemas = self::api()['components']['schemas'];
        foreach (self::REQUESTS as $schema => [$method, $fields]) {
            $wire = array_map(self::camel(...), array_keys($schemas[$schema]['properties']));
            sort($wire);
            $sorted = $fields;
            sort($sorted);
            self::assertSame($wire, $sorted, $schema);
            foreach ($fields as $field) {
                self::assertContains($field, self::parameters(OrchestrationClient::class, $method), "{$method}() takes {$field}");
            }
        }
    }

    public function testImageOperationBodiesAreTheMethodsParameters(): void
    {
        $paths = self::api()['paths'];
        foreach (self::OPERATION_BODIES as $path => $method) {
            $schema = $paths[$path]['post']['requestBody']['content']['application/json']['schema'];
            $wire = array_map(self::camel(...), array_keys($schema['properties']));
            $parameters = array_values(array_diff(self::parameters(OrchestrationClient::class, $method), ['options']));
            sort($wire);
            sort($parameters);
            self::assertSame($wire, $parameters, "{$method}() vs {$path}");
        }
    }

    public function testEveryOperationHasAMethodOrIsDeliberatelyNotCalled(): void
    {
        $ids = [];
        foreach (self::api()['paths'] as $operations) {
            foreach ($operations as $operation) {
                $ids[] = $operation['operationId'];
            }
        }
        $known = [...array_keys(self::OPERATIONS), ...self::NOT_CALLED];
        sort($ids);
        sort($known);
        self::assertSame($ids, $known);
        foreach (self::OPERATIONS as $method) {
            self::assertTrue(method_exists(OrchestrationClient::class, $method), $method);
        }
    }
}
