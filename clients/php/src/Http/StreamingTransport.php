<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Http;

/** A transport that can also hand over a response body as it arrives (Server-Sent Events). */
interface StreamingTransport extends Transport
{
    /**
     * Send `$request` and return as soon as the response headers are in; the body is read
     * through StreamedResponse::chunks().
     *
     * @throws TransportException when no HTTP response was received
     */
    public function open(Request $request): StreamedResponse;
}
