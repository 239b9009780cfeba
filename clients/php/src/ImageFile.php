<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator;

/**
 * An input image given as its bytes, for the image operations (edit(), upscale(), …).
 *
 * A plain string is read as a stored image id (`gen_…`), a URL, or a file path, so bytes
 * already in memory are wrapped in this to say what they are:
 *
 *     $client->upscale(image: ImageFile::fromBytes($png, 'cat.png'));
 *
 * The image is uploaded as a file (multipart/form-data).
 */
final class ImageFile
{
    /**
     * @param string $bytes the image itself (PNG, JPEG, WebP…)
     * @param string $filename the name the upload carries (the server reads the bytes, not the name)
     * @param string|null $contentType the part's Content-Type; null: told from the bytes
     */
    public function __construct(
        public readonly string $bytes,
        public readonly string $filename = 'image',
        public readonly ?string $contentType = null,
    ) {
        if ($bytes === '') {
            throw new \InvalidArgumentException('ImageFile: the image has no bytes');
        }
    }

    /** The image's bytes, uploaded under `$filename`. */
    public static function fromBytes(string $bytes, string $filename = 'image', ?string $contentType = null): self
    {
        return new self($bytes, $filename, $contentType);
    }
}
