<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Internal;

use Freepik\AiOrchestrator\ImageFile;

/**
 * How an image operation's input is sent: a stored image id or a URL as text (the body stays
 * JSON), anything else as a file (the body becomes multipart/form-data). Every refusal is an
 * \InvalidArgumentException naming the field, raised before any request is made.
 *
 * @internal
 */
final class ImageInput
{
    private const SIGNATURES = [
        "\x89PNG\r\n\x1a\n" => 'image/png',
        "\xff\xd8\xff" => 'image/jpeg',
        'GIF87a' => 'image/gif',
        'GIF89a' => 'image/gif',
    ];

    private function __construct()
    {
    }

    /**
     * The input as text (`gen_…`, `gen_…:N`, `http(s)://…`) or as a file to upload.
     *
     * @param mixed $value string id/URL/path, \SplFileInfo, stream resource, ImageFile, \CURLFile or \CURLStringFile
     */
    public static function resolve(mixed $value, string $field): string|UploadPart
    {
        if (is_string($value)) {
            $text = trim($value);
            if ($text === '') {
                throw new \InvalidArgumentException("{$field}: empty; pass a stored image id (gen_…), an http(s) URL, a file path or an ImageFile");
            }
            if (str_starts_with($text, 'gen_') || preg_match('#^https?://#i', $text) === 1) {
                return $text;
            }
            return self::fromPath($value, $field, null, null);
        }
        if ($value instanceof ImageFile) {
            return new UploadPart($value->bytes, self::filename($value->filename), $value->contentType ?? self::sniff($value->bytes));
        }
        if ($value instanceof \CURLStringFile) {
            // CURLStringFile's default type says nothing: tell it from the bytes then.
            $known = $value->mime !== '' && $value->mime !== 'application/octet-stream';
            return new UploadPart($value->data, self::filename($value->postname), $known ? $value->mime : self::sniff($value->data));
        }
        if ($value instanceof \CURLFile) {
            return self::fromPath($value->getFilename(), $field, $value->getPostFilename() ?: null, $value->getMimeType() ?: null);
        }
        if ($value instanceof \SplFileInfo) {
            return self::fromPath($value->getPathname(), $field, null, null);
        }
        if (is_resource($value) && get_resource_type($value) === 'stream') {
            $bytes = stream_get_contents($value);
            if ($bytes === false || $bytes === '') {
                throw new \InvalidArgumentException("{$field}: the stream gave no bytes (is it open for reading, and not at its end?)");
            }
            $uri = stream_get_meta_data($value)['uri'] ?? '';
            $name = is_string($uri) && $uri !== '' && !str_contains($uri, '://') ? basename($uri) : 'image';
            return new UploadPart($bytes, self::filename($name), self::sniff($bytes));
        }
        $type = get_debug_type($value);
        throw new \InvalidArgumentException(
            "{$field}: cannot send {$type} as an image; pass a stored image id (gen_…), an http(s) URL, "
            . 'a file path, an SplFileInfo, an open stream or an ImageFile',
        );
    }

    private static function fromPath(string $path, string $field, ?string $filename, ?string $contentType): UploadPart
    {
        if (!is_file($path) || !is_readable($path)) {
            throw new \InvalidArgumentException(
                "{$field}: no readable file at '{$path}' (a string is a stored image id gen_…, an http(s) URL, or a file path)",
            );
        }
        $bytes = file_get_contents($path);
        if ($bytes === false || $bytes === '') {
            throw new \InvalidArgumentException("{$field}: the file '{$path}' is empty or cannot be read");
        }
        return new UploadPart($bytes, self::filename($filename ?? basename($path)), $contentType ?? self::sniff($bytes));
    }

    /** The Content-Type the bytes say they are (the server checks the bytes itself). */
    private static function sniff(string $bytes): string
    {
        foreach (self::SIGNATURES as $signature => $type) {
            if (str_starts_with($bytes, $signature)) {
                return $type;
            }
        }
        if (str_starts_with($bytes, 'RIFF') && substr($bytes, 8, 4) === 'WEBP') {
            return 'image/webp';
        }
        return 'application/octet-stream';
    }

    private static function filename(string $name): string
    {
        return $name === '' ? 'image' : $name;
    }
}
