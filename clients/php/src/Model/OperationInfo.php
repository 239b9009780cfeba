<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/** One image operation a catalog model offers (ModelInfo::$operations): its limits and prices. */
final class OperationInfo
{
    /**
     * @param array<string, array<string, float>> $pricing USD per result by output size (upscale: by factor, e.g. `2x`), then quality; `*` matches any
     * @param list<string> $providers
     * @param list<int>|null $factors upscale: the allowed factors
     * @param list<float>|null $strength image_to_image: the allowed strength range, [low, high]
     */
    public function __construct(
        public readonly int $maxInputImages = 1,
        public readonly bool $mask = false,
        public readonly bool $prompt = false,
        public readonly int $maxImages = 1,
        /** USD for one result at the default size and quality; null when unknown. */
        public readonly ?float $price = null,
        public readonly array $pricing = [],
        public readonly array $providers = [],
        public readonly ?array $factors = null,
        public readonly ?array $strength = null,
        public readonly ?float $defaultStrength = null,
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
        $numbers = static function (string $key, bool $integers) use ($data): ?array {
            if (($data[$key] ?? null) === null) {
                return null;
            }
            $items = Data::list($data, $key);
            foreach ($items as $item) {
                if (!is_int($item) && ($integers || !is_float($item))) {
                    throw new \UnexpectedValueException("field '{$key}' must be an array of numbers");
                }
            }
            return $integers ? $items : array_map(static fn (int|float $x): float => (float) $x, $items);
        };
        /** @var list<int>|null $factors */
        $factors = $numbers('factors', true);
        /** @var list<float>|null $strength */
        $strength = $numbers('strength', false);
        /** @var array<string, mixed> $data */
        return new self(
            maxInputImages: Data::optInt($data, 'max_input_images') ?? 1,
            mask: Data::optBool($data, 'mask') ?? false,
            prompt: Data::optBool($data, 'prompt') ?? false,
            maxImages: Data::optInt($data, 'max_images') ?? 1,
            price: Data::optFloat($data, 'price'),
            pricing: $pricing,
            providers: Data::strings($data, 'providers'),
            factors: $factors,
            strength: $strength,
            defaultStrength: Data::optFloat($data, 'default_strength'),
        );
    }
}
