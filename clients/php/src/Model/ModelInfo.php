<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/** A catalog model: what it accepts, what it costs, and whether it can run now. */
final class ModelInfo
{
    /**
     * @param list<string> $supportedStyles
     * @param list<string> $supportedSizes
     * @param list<string> $supportedQualities
     * @param array<string, array<string, float>> $pricing price per image by size, then quality
     * @param list<string> $providers
     * @param array<string, mixed> $raw
     * @param array<string, OperationInfo> $operations image operations beyond text to image (edit, variation, upscale, remove_background, image_to_image)
     */
    public function __construct(
        public readonly string $name,
        public readonly string $description = '',
        public readonly ?string $maxResolution = null,
        public readonly array $supportedStyles = [],
        public readonly array $supportedSizes = [],
        public readonly array $supportedQualities = [],
        public readonly ?string $defaultSize = null,
        public readonly ?string $defaultQuality = null,
        public readonly ?string $defaultStyle = null,
        public readonly ?float $pricingPerImage = null,
        public readonly array $pricing = [],
        public readonly ?string $currency = null,
        public readonly ?float $averageTime = null,
        public readonly ?int $maxImages = null,
        public readonly ?bool $supportsSeed = null,
        public readonly ?bool $supportsNegativePrompt = null,
        public readonly array $providers = [],
        public readonly bool $available = true,
        public readonly ?string $unavailableReason = null,
        public readonly ?string $notes = null,
        public readonly array $raw = [],
        /** False for models that only transform images. */
        public readonly bool $textToImage = true,
        public readonly array $operations = [],
    ) {
    }

    /** @param array<mixed> $data */
    public static function fromArray(array $data): self
    {
        $pricing = [];
        foreach (Data::map($data, 'pricing') as $size => $byQuality) {
            if (!is_array($byQuality)) {
                throw new \UnexpectedValueException("field 'pricing' must map sizes to {quality: price}");
            }
            foreach ($byQuality as $quality => $price) {
                if (!is_int($price) && !is_float($price)) {
                    throw new \UnexpectedValueException("field 'pricing' must hold numbers");
                }
                $pricing[(string) $size][(string) $quality] = (float) $price;
            }
        }
        $operations = [];
        foreach (Data::map($data, 'operations') as $operation => $info) {
            if (!is_array($info)) {
                throw new \UnexpectedValueException("field 'operations' must map operation names to objects");
            }
            $operations[(string) $operation] = OperationInfo::fromArray($info);
        }
        /** @var array<string, mixed> $data */
        return new self(
            name: Data::str($data, 'name'),
            description: Data::optStr($data, 'description') ?? '',
            maxResolution: Data::optStr($data, 'max_resolution'),
            supportedStyles: Data::strings($data, 'supported_styles'),
            supportedSizes: Data::strings($data, 'supported_sizes'),
            supportedQualities: Data::strings($data, 'supported_qualities'),
            defaultSize: Data::optStr($data, 'default_size'),
            defaultQuality: Data::optStr($data, 'default_quality'),
            defaultStyle: Data::optStr($data, 'default_style'),
            pricingPerImage: Data::optFloat($data, 'pricing_per_image'),
            pricing: $pricing,
            currency: Data::optStr($data, 'currency'),
            averageTime: Data::optFloat($data, 'average_time'),
            maxImages: Data::optInt($data, 'max_images'),
            supportsSeed: Data::optBool($data, 'supports_seed'),
            supportsNegativePrompt: Data::optBool($data, 'supports_negative_prompt'),
            providers: Data::strings($data, 'providers'),
            available: Data::optBool($data, 'available') ?? true,
            unavailableReason: Data::optStr($data, 'unavailable_reason'),
            notes: Data::optStr($data, 'notes'),
            raw: $data,
            textToImage: Data::optBool($data, 'text_to_image') ?? true,
            operations: $operations,
        );
    }
}
