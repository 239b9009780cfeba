<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/** One image of a generation. URLs are absolute, signed and usable without credentials. */
final class ImageInfo
{
    public function __construct(
        public readonly string $url,
        public readonly ?string $thumbnailUrl = null,
        public readonly ?int $width = null,
        public readonly ?int $height = null,
        public readonly ?string $contentType = null,
    ) {
    }

    /** @param array<mixed> $data */
    public static function fromArray(array $data): self
    {
        return new self(
            url: Data::str($data, 'url'),
            thumbnailUrl: Data::optStr($data, 'thumbnail_url'),
            width: Data::optInt($data, 'width'),
            height: Data::optInt($data, 'height'),
            contentType: Data::optStr($data, 'content_type'),
        );
    }
}
