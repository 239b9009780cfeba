<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Internal;

/**
 * A multipart/form-data body, encoded once: a retried call sends the same bytes, and any
 * Transport can send it (a string body, like JSON). Built by hand rather than with CURLFile
 * because an edit repeats the `images` field, which curl's array of fields cannot express.
 *
 * @internal
 */
final class Multipart
{
    public readonly string $contentType;
    public readonly string $body;

    /** @param list<array{0: string, 1: string|UploadPart}> $parts field name => text or file, in order */
    public function __construct(array $parts)
    {
        $boundary = '----freepik-ai-orchestrator-' . bin2hex(random_bytes(12));
        $body = '';
        foreach ($parts as [$name, $value]) {
            $body .= "--{$boundary}\r\n";
            if ($value instanceof UploadPart) {
                $body .= 'Content-Disposition: form-data; name="' . self::quote($name) . '"; filename="'
                    . self::quote($value->filename) . "\"\r\n";
                $body .= "Content-Type: {$value->contentType}\r\n\r\n{$value->bytes}\r\n";
            } else {
                $body .= 'Content-Disposition: form-data; name="' . self::quote($name) . "\"\r\n\r\n{$value}\r\n";
            }
        }
        $this->body = $body . "--{$boundary}--\r\n";
        $this->contentType = "multipart/form-data; boundary={$boundary}";
    }

    /** A header parameter value: no quote, backslash or line break can end it early (RFC 7578 §4.2). */
    private static function quote(string $value): string
    {
        return str_replace(['\\', '"', "\r", "\n"], ['\\\\', '%22', '%0D', '%0A'], $value);
    }
}
