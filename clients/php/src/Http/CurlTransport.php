<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Http;

/**
 * The default transport, on ext-curl. It keeps one handle so connections are reused
 * (keep-alive) across requests of the same client; streams (Server-Sent Events) get a handle of
 * their own, driven by curl_multi so the body can be consumed as it arrives.
 */
final class CurlTransport implements StreamingTransport
{
    public const DEFAULT_CONNECT_TIMEOUT = 10.0;

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
        curl_setopt_array($handle, $this->options($request, $headers) + [CURLOPT_RETURNTRANSFER => true]);

        $body = curl_exec($handle);
        if ($body === false) {
            throw $this->failure($request, curl_errno($handle), curl_error($handle));
        }
        $status = (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
        return new Response($status, $headers, is_string($body) ? $body : '');
    }

    public function open(Request $request): StreamedResponse
    {
        $handle = curl_init();
        $multi = curl_multi_init();
        $headers = [];
        $buffer = '';
        $headersDone = false;
        $options = $this->options($request, $headers, $headersDone);
        $options[CURLOPT_WRITEFUNCTION] = static function ($ch, string $data) use (&$buffer): int {
            $buffer .= $data;
            return strlen($data);
        };
        curl_setopt_array($handle, $options);
        curl_multi_add_handle($multi, $handle);

        $closed = false;
        $close = static function () use (&$closed, $multi, $handle): void {
            if (!$closed) {
                $closed = true;
                curl_multi_remove_handle($multi, $handle);
                curl_multi_close($multi);
            }
        };
        // Drive the transfer one step; return false once it has finished (throwing if it failed).
        $pump = function () use ($multi, $handle, $request, $close): bool {
            $running = 0;
            curl_multi_exec($multi, $running);
            while (($info = curl_multi_info_read($multi)) !== false) {
                if ($info['handle'] === $handle && $info['result'] !== CURLE_OK) {
                    $error = curl_error($handle) ?: curl_strerror($info['result']);
                    $close();
                    throw $this->failure($request, $info['result'], (string) $error);
                }
            }
            if ($running > 0) {
                curl_multi_select($multi, 0.5);
            }
            return $running > 0;
        };

        $running = true;
        while (!$headersDone && $running) {
            $running = $pump();
        }
        $status = (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
        $chunks = (static function () use (&$buffer, &$running, $pump): \Generator {
            while (true) {
                if ($buffer !== '') {
                    $chunk = $buffer;
                    $buffer = '';
                    yield $chunk;
                    continue;
                }
                if (!$running) {
                    return;
                }
                $running = $pump();
            }
        })();
        return new StreamedResponse($status, $headers, $chunks, $close);
    }

    /**
     * The curl options for `$request`; response headers are collected into `$headers`, and
     * `$headersDone` turns true when the final response's header block has ended.
     *
     * @param array<string, string> $headers
     * @return array<int, mixed>
     */
    private function options(Request $request, array &$headers, bool &$headersDone = false): array
    {
        $headerLines = [];
        foreach ($request->headers as $name => $value) {
            $headerLines[] = "{$name}: {$value}";
        }
        $headerLines[] = 'Expect:'; // no 100-continue round trip for larger bodies

        $status = 0;
        $options = [
            CURLOPT_URL => $request->url,
            CURLOPT_CUSTOMREQUEST => $request->method,
            CURLOPT_HTTPHEADER => $headerLines,
            CURLOPT_FOLLOWLOCATION => $request->followRedirects,
            CURLOPT_MAXREDIRS => 5,
            CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
            CURLOPT_ENCODING => '', // accept every encoding curl can decode
            CURLOPT_NOSIGNAL => true,
            CURLOPT_HEADERFUNCTION => static function ($ch, string $line) use (&$headers, &$headersDone, &$status, $request): int {
                if (preg_match('#^HTTP/\S+\s+(\d+)#', $line, $match) === 1) {
                    // A new response (after a redirect or a 1xx): keep only the last one's headers.
                    $headers = [];
                    $status = (int) $match[1];
                } elseif (trim($line) === '') {
                    $redirect = $request->followRedirects && $status >= 300 && $status < 400 && isset($headers['location']);
                    $headersDone = $status >= 200 && !$redirect;
                } elseif (str_contains($line, ':')) {
                    [$name, $value] = explode(':', $line, 2);
                    $headers[strtolower(trim($name))] = trim($value);
                }
                return strlen($line);
            },
        ];
        if ($request->body !== null) {
            $options[CURLOPT_POSTFIELDS] = $request->body;
        }
        $connectMs = (int) ceil($this->connectTimeout * 1000);
        if ($request->timeout !== null) {
            $timeoutMs = max(1, (int) ceil($request->timeout * 1000));
            $options[CURLOPT_TIMEOUT_MS] = $timeoutMs;
            $connectMs = min($timeoutMs, $connectMs);
        }
        $options[CURLOPT_CONNECTTIMEOUT_MS] = $connectMs;
        if ($request->idleTimeout !== null) {
            // Abort a stream that sends nothing (not even a keep-alive) for this long.
            $options[CURLOPT_LOW_SPEED_LIMIT] = 1;
            $options[CURLOPT_LOW_SPEED_TIME] = max(1, (int) ceil($request->idleTimeout));
        }
        return $this->curlOptions + $options;
    }

    private function failure(Request $request, int $errno, string $error): TransportException
    {
        return new TransportException(
            "{$request->method} {$this->redacted($request->url)}: {$error} (curl error {$errno})",
            $errno === CURLE_OPERATION_TIMEDOUT,
        );
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
