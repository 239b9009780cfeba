<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/**
 * An input image of an image operation (GenerationResponse::$sources): `role` is image or mask;
 * `origin` is upload, url, or generation (then `generationId` and `index` name the image it was).
 * `url` is the stored input, signed and expiring like output URLs.
 */
final class SourceImage
{
    public function __construct(
        public readonly string $role,
        public readonly string $origin,
        public readonly string $url,
        public readonly ?string $generationId = null,
        public readonly ?int $index = null,
        public readonly ?int $width = null,
        public readonly ?int $height = null,
        public readonly ?string $contentType = null,
    ) {
    }

    /** @param array<mixed> $data */
    public static function fromArray(array $data): self
    {
        return new self(
            role: Data::str($data, 'role'),
            origin: Data::str($data, 'origin'),
            url: Data::str($data, 'url'),
            generationId: Data::optStr($data, 'generation_id'),
            index: Data::optInt($data, 'index'),
            width: Data::optInt($data, 'width'),
            height: Data::optInt($data, 'height'),
            contentType: Data::optStr($data, 'content_type'),
        );
    }
}
