<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/**
 * A generation, which is also a job: `status` is queued, running, succeeded, failed or canceled.
 * `imageUrl` is the first image; `images` lists all of them. `cost` is in `currency` (USD), null
 * when the price is unknown (never a made-up 0); `processingTime` is in seconds.
 * `operation` is `generate` or the image operation that made it (edit, variation, upscale,
 * remove_background, image_to_image); `sources` are its input images, `parents` the generations
 * they came from, and `children` (on getGeneration() only, else null) the jobs that took this
 * one's images as input.
 */
final class GenerationResponse
{
    /**
     * @param list<ImageInfo> $images
     * @param array<string, mixed> $metadata
     * @param list<FailedAttempt> $failedAttempts provider routes that failed before the one that answered
     * @param array<string, mixed> $raw the whole decoded object, including fields newer servers add
     * @param string|null $requestId the X-Request-ID of the response this came from
     * @param bool $idempotentReplayed true when the server answered a retried POST from its record
     * @param array<string, mixed> $operationParams the operation's own fields (factor, strength, output options)
     * @param list<SourceImage> $sources
     * @param list<string> $parents
     * @param list<string>|null $children
     * @param bool $cached served from the result cache, or shared with an identical request in flight: cost 0, the images those of `cachedFrom`
     * @param string|null $cachedFrom the generation whose result (and stored images) this one shares
     */
    public function __construct(
        public readonly string $id,
        public readonly GenerationStatus $status,
        public readonly string $prompt,
        public readonly string $model,
        public readonly ?string $imageUrl = null,
        public readonly ?string $thumbnailUrl = null,
        public readonly array $images = [],
        public readonly ?string $style = null,
        public readonly ?string $size = null,
        public readonly ?string $quality = null,
        public readonly ?int $n = null,
        public readonly ?int $seed = null,
        public readonly ?string $negativePrompt = null,
        public readonly array $metadata = [],
        public readonly ?string $provider = null,
        public readonly ?bool $livemode = null,
        public readonly ?float $cost = null,
        public readonly ?string $currency = null,
        public readonly ?string $priceVersion = null,
        public readonly ?float $progress = null,
        public readonly ?float $processingTime = null,
        public readonly ?string $revisedPrompt = null,
        public readonly ?string $batchId = null,
        public readonly ?GenerationError $error = null,
        public readonly array $failedAttempts = [],
        public readonly ?\DateTimeImmutable $createdAt = null,
        public readonly ?\DateTimeImmutable $startedAt = null,
        public readonly ?\DateTimeImmutable $finishedAt = null,
        public readonly array $raw = [],
        public readonly ?string $requestId = null,
        public readonly bool $idempotentReplayed = false,
        public readonly string $operation = 'generate',
        public readonly array $operationParams = [],
        public readonly array $sources = [],
        public readonly array $parents = [],
        public readonly ?array $children = null,
        public readonly bool $cached = false,
        public readonly ?string $cachedFrom = null,
    ) {
    }

    /** @param array<mixed> $data */
    public static function fromArray(array $data, ?string $requestId = null, bool $idempotentReplayed = false): self
    {
        $status = GenerationStatus::tryFrom(Data::str($data, 'status'))
            ?? throw new \UnexpectedValueException("unknown generation status '{$data['status']}'");
        $error = Data::map($data, 'error');
        /** @var array<string, mixed> $metadata */
        $metadata = Data::map($data, 'metadata');
        /** @var array<string, mixed> $operationParams */
        $operationParams = Data::map($data, 'operation_params');
        /** @var array<string, mixed> $data */
        return new self(
            id: Data::str($data, 'id'),
            status: $status,
            prompt: Data::str($data, 'prompt'),
            model: Data::str($data, 'model'),
            imageUrl: Data::optStr($data, 'image_url'),
            thumbnailUrl: Data::optStr($data, 'thumbnail_url'),
            images: Data::objects($data, 'images', ImageInfo::fromArray(...)),
            style: Data::optStr($data, 'style'),
            size: Data::optStr($data, 'size'),
            quality: Data::optStr($data, 'quality'),
            n: Data::optInt($data, 'n'),
            seed: Data::optInt($data, 'seed'),
            negativePrompt: Data::optStr($data, 'negative_prompt'),
            metadata: $metadata,
            provider: Data::optStr($data, 'provider'),
            livemode: Data::optBool($data, 'livemode'),
            cost: Data::optFloat($data, 'cost'),
            currency: Data::optStr($data, 'currency'),
            priceVersion: Data::optStr($data, 'price_version'),
            progress: Data::optFloat($data, 'progress'),
            processingTime: Data::optFloat($data, 'processing_time'),
            revisedPrompt: Data::optStr($data, 'revised_prompt'),
            batchId: Data::optStr($data, 'batch_id'),
            error: $error === [] ? null : GenerationError::fromArray($error),
            failedAttempts: array_key_exists('failed_attempts', $data) && $data['failed_attempts'] !== null
                ? Data::objects($data, 'failed_attempts', FailedAttempt::fromArray(...)) : [],
            createdAt: Data::optDate($data, 'created_at'),
            startedAt: Data::optDate($data, 'started_at'),
            finishedAt: Data::optDate($data, 'finished_at'),
            raw: $data,
            requestId: $requestId,
            idempotentReplayed: $idempotentReplayed,
            operation: Data::optStr($data, 'operation') ?? 'generate',
            operationParams: $operationParams,
            sources: Data::objects($data, 'sources', SourceImage::fromArray(...)),
            parents: Data::strings($data, 'parents'),
            children: ($data['children'] ?? null) === null ? null : Data::strings($data, 'children'),
            cached: Data::optBool($data, 'cached') ?? false,
            cachedFrom: Data::optStr($data, 'cached_from'),
        );
    }

    /** True once the job has succeeded, failed or been canceled. */
    public function isTerminal(): bool
    {
        return $this->status->isTerminal();
    }
}
