<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Http;

/** One HTTP request, as the client hands it to a Transport. */
final class Request
{
    /**
     * @param array<string, string> $headers
     * @param float|null $timeout seconds for the whole exchange; null for no limit
     * @param float|null $idleTimeout for streams: give up after this many seconds without data
     */
    public function __construct(
        public readonly string $method,
        public readonly string $url,
        public readonly array $headers = [],
        public readonly ?string $body = null,
        public readonly ?float $timeout = null,
        public readonly bool $followRedirects = false,
        public readonly ?float $idleTimeout = null,
    ) {
    }

    public function header(string $name): ?string
    {
        foreach ($this->headers as $key => $value) {
            if (strcasecmp($key, $name) === 0) {
                return $value;
            }
        }
        return null;
    }
}
