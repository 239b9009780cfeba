<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Http;

/**
 * The default transport, on ext-curl. It keeps one handle so connections are reused
 * (keep-alive) across requests of the same client.
 */
final class CurlTransport implements Transport
{
    private const DEFAULT_CONNECT_TIMEOUT = 10.0;

    private ?\CurlHandle $handle = null;

    /**
     * @param float $connectTimeout seconds to establish a connection (never more than the request's timeout)
     * @param array<int, mixed> $curlOptions extra CURLOPT_* options (proxies, CA bundle, mTLS...)
     */
    public function __construct(
        private readonly float $connectTimeout = self::DEFAULT_CONNECT_TIMEOUT,
        private readonly array $curlOptions = [],
    ) {
    }

    public function send(Request $request): Response
    {
        $handle = $this->handle ??= curl_init();
        curl_reset($handle);

        $headers = [];
        $headerLines = [];
        foreach ($request->headers as $name => $value) {
            $headerLines[] = "{$name}: {$value}";
        }
        $headerLines[] = 'Expect:'; // no 100-continue round trip for larger bodies

        $options = [
            CURLOPT_URL => $request->url,
            CURLOPT_CUSTOMREQUEST => $request->method,
            CURLOPT_HTTPHEADER => $headerLines,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_FOLLOWLOCATION => $request->followRedirects,
            CURLOPT_MAXREDIRS => 5,
            CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
            CURLOPT_ENCODING => '', // accept every encoding curl can decode
            CURLOPT_NOSIGNAL => true,
            CURLOPT_HEADERFUNCTION => static function ($ch, string $line) use (&$headers): int {
                if (preg_match('#^HTTP/\S+\s+\d+#', $line) === 1) {
                    $headers = []; // a new response (after a redirect or 1xx): keep only the last one's headers
                } elseif (str_contains($line, ':')) {
                    [$name, $value] = explode(':', $line, 2);
                    $headers[strtolower(trim($name))] = trim($value);
                }
                return strlen($line);
            },
        ];
        if ($request->method === 'HEAD') {
            $options[CURLOPT_NOBODY] = true;
        }
        if ($request->body !== null) {
            $options[CURLOPT_POSTFIELDS] = $request->body;
        }
        if ($request->timeout !== null) {
            $timeoutMs = max(1, (int) ceil($request->timeout * 1000));
            $options[CURLOPT_TIMEOUT_MS] = $timeoutMs;
            $options[CURLOPT_CONNECTTIMEOUT_MS] = min($timeoutMs, (int) ceil($this->connectTimeout * 1000));
        } else {
            $options[CURLOPT_CONNECTTIMEOUT_MS] = (int) ceil($this->connectTimeout * 1000);
        }
        curl_setopt_array($handle, $this->curlOptions + $options);

        $body = curl_exec($handle);
        if ($body === false) {
            $errno = curl_errno($handle);
            $error = curl_error($handle);
            throw new TransportException(
                "{$request->method} {$this->redacted($request->url)}: {$error} (curl error {$errno})",
                $errno === CURLE_OPERATION_TIMEDOUT,
            );
        }
        $status = (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
        return new Response($status, $headers, is_string($body) ? $body : '');
    }

    /** A URL without its query string: signed image URLs carry their signature there. */
    private function redacted(string $url): string
    {
        $cut = strpos($url, '?');
        return $cut === false ? $url : substr($url, 0, $cut) . '?…';
    }

    public function __destruct()
    {
        $this->handle = null;
    }
}
