<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Http;

/**
 * Sends one HTTP request. The client adds retries, headers and error mapping on top; a transport
 * only moves bytes. Implement it to plug in another HTTP stack (or a fake in tests).
 */
interface Transport
{
    /**
     * Send `$request` and return the response, whatever its status.
     *
     * @throws TransportException when no HTTP response was received
     */
    public function send(Request $request): Response;
}
