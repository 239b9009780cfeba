<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator;

use Freepik\AiOrchestrator\Exception\ApiConnectionException;
use Freepik\AiOrchestrator\Exception\ApiStatusException;
use Freepik\AiOrchestrator\Exception\ApiTimeoutException;
use Freepik\AiOrchestrator\Exception\DestinationExistsException;
use Freepik\AiOrchestrator\Exception\ErrorMapper;
use Freepik\AiOrchestrator\Exception\OrchestrationException;
use Freepik\AiOrchestrator\Http\CurlTransport;
use Freepik\AiOrchestrator\Http\Request;
use Freepik\AiOrchestrator\Http\Response;
use Freepik\AiOrchestrator\Http\StreamedResponse;
use Freepik\AiOrchestrator\Http\StreamingTransport;
use Freepik\AiOrchestrator\Http\Transport;
use Freepik\AiOrchestrator\Http\TransportException;
use Freepik\AiOrchestrator\Internal\CallOptions;
use Freepik\AiOrchestrator\Internal\ImageInput;
use Freepik\AiOrchestrator\Internal\Multipart;
use Freepik\AiOrchestrator\Internal\UploadPart;
use Freepik\AiOrchestrator\Model\BatchError;
use Freepik\AiOrchestrator\Model\BatchItem;
use Freepik\AiOrchestrator\Model\BatchResult;
use Freepik\AiOrchestrator\Model\GenerationEvent;
use Freepik\AiOrchestrator\Model\GenerationResponse;
use Freepik\AiOrchestrator\Model\GenerationStatus;
use Freepik\AiOrchestrator\Model\ImageInfo;
use Freepik\AiOrchestrator\Model\ModelInfo;
use Freepik\AiOrchestrator\Model\UsageStats;
use Freepik\AiOrchestrator\Model\WebhookDelivery;
use Freepik\AiOrchestrator\Model\WebhookEndpoint;

/**
 * Client for the Freepik AI Orchestrator API.
 *
 * Every method takes named arguments with the Python client's parameter names in camelCase:
 * what the request sends (body fields, ids, filters), then `options:` (RequestOptions: timeout,
 * retries, idempotency key, headers, waiting) for how this one call is made.
 * Errors are thrown as subclasses of OrchestrationException.
 */
final class OrchestrationClient
{
    public const VERSION = '0.4.0';
    public const DEFAULT_BASE_URL = 'http://localhost:8000';
    /**
     * Seconds one call may take, retries and the wait for a generation included: the slow
     * models take minutes, and every SDK uses the same 600 s (clients/spec/conformance.json).
     */
    public const DEFAULT_TIMEOUT = 600.0;
    /** Seconds generate() and generateBatch() wait for jobs the server hands back unfinished (202). */
    public const DEFAULT_WAIT_TIMEOUT = 600.0;
    /** Seconds an event stream may stay silent (the server sends keep-alives well within it). */
    public const EVENTS_IDLE_TIMEOUT = 300.0;
    private const API_PREFIX = '/api/v1';

    public readonly string $baseUrl;
    private readonly ?string $token;
    private readonly Transport $transport;
    private readonly Clock $clock;
    /** @var \Closure(): float */
    private readonly \Closure $random;

    /**
     * @param string|null $baseUrl server URL; default $ORCHESTRATOR_BASE_URL or http://localhost:8000
     * @param string|null $apiKey `sk-test-…` / `sk-live-…`; default $ORCHESTRATOR_API_KEY
     * @param string|null $bearerToken a JWT, sent instead of an API key
     * @param float|null $timeout seconds one call may take, retries included; null for no limit
     * @param int $maxRetries retries after the first attempt (0 disables retries)
     * @param float $retryBackoff base of the exponential backoff, in seconds
     * @param array<string, string> $defaultHeaders headers added to every request
     * @param Transport|null $transport how requests are sent (default: ext-curl)
     * @param Clock|null $clock time and sleeping (tests pass a fake)
     * @param (\Closure(): float)|null $random jitter source in [0, 1)
     */
    public function __construct(
        ?string $baseUrl = null,
        ?string $apiKey = null,
        ?string $bearerToken = null,
        public readonly ?float $timeout = self::DEFAULT_TIMEOUT,
        public readonly int $maxRetries = RetryPolicy::DEFAULT_MAX_RETRIES,
        public readonly float $retryBackoff = RetryPolicy::DEFAULT_RETRY_BACKOFF,
        private readonly array $defaultHeaders = [],
        ?Transport $transport = null,
        ?Clock $clock = null,
        ?\Closure $random = null,
    ) {
        if ($apiKey !== null && $bearerToken !== null) {
            throw new \InvalidArgumentException('pass apiKey or bearerToken, not both');
        }
        if ($apiKey === null && $bearerToken === null) {
            $apiKey = self::env('ORCHESTRATOR_API_KEY');
        }
        $token = $bearerToken ?? $apiKey;
        if ($token === null || trim($token) === '') {
            throw new OrchestrationException(
                'no credentials: pass apiKey (or bearerToken), or set ORCHESTRATOR_API_KEY',
                errorCode: 'missing_credentials',
            );
        }
        if ($maxRetries < 0) {
            throw new \InvalidArgumentException("maxRetries must be >= 0 (0 disables retries), not {$maxRetries}");
        }
        if (!is_finite($retryBackoff) || $retryBackoff < 0) {
            throw new \InvalidArgumentException('retryBackoff must be a number of seconds >= 0');
        }
        if ($timeout !== null && (!is_finite($timeout) || $timeout <= 0)) {
            throw new \InvalidArgumentException('timeout must be a positive number of seconds, or null for no limit');
        }
        $this->token = $token;
        $this->baseUrl = self::normalizeBaseUrl($baseUrl ?? self::env('ORCHESTRATOR_BASE_URL') ?? self::DEFAULT_BASE_URL);
        $this->transport = $transport ?? new CurlTransport();
        $this->clock = $clock ?? new SystemClock();
        $this->random = $random ?? static fn (): float => mt_rand() / (mt_getrandmax() + 1);
    }

    // ------------------------------------------------------------------ generations

    /**
     * Generate an image and return the finished generation.
     *
     * If the server hands back the job before it finishes (202), this waits for it (up to
     * `waitTimeout` seconds). A failed generation throws the mapped exception (e.g.
     * ProviderException, ContentPolicyException) with `generationId` set. With
     * `options: new RequestOptions(wait: false)` the queued job is returned at once (see submit()).
     *
     * @param array<string, mixed>|null $metadata
     * @param string|null $idempotencyKey deprecated: use `options: new RequestOptions(idempotencyKey: …)`
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     * @param bool $wait deprecated: use `options: new RequestOptions(wait: …)`
     * @param float|null $waitTimeout deprecated: use `options: new RequestOptions(waitTimeout: …)`
     * @param RequestOptions|null $options how this call is made; its fields win over the deprecated arguments
     * @param bool|string|null $cache the result cache: true serves a seeded request from an identical earlier
     *     result (or shares one in flight) at $0, 'always' unseeded requests too, false never; null: the key's default
     */
    public function generate(
        string $prompt,
        string $model,
        ?string $style = null,
        ?string $size = null,
        ?string $quality = null,
        ?array $metadata = null,
        ?int $n = null,
        ?int $seed = null,
        ?string $negativePrompt = null,
        ?string $idempotencyKey = null,
        ?float $timeout = null,
        bool $wait = true,
        ?float $waitTimeout = self::DEFAULT_WAIT_TIMEOUT,
        bool|string|null $cache = null,
        ?RequestOptions $options = null,
    ): GenerationResponse {
        $body = self::body([
            'prompt' => $prompt,
            'model' => $model,
            'style' => $style,
            'size' => $size,
            'quality' => $quality,
            'n' => $n,
            'seed' => $seed,
            'negative_prompt' => $negativePrompt,
            'metadata' => $metadata === null ? null : (object) $metadata,
            'cache' => self::cacheOption($cache),
        ]);
        return $this->createGeneration(
            $body,
            $this->callOptions($options, $timeout, $idempotencyKey),
            $options?->wait ?? $wait,
            self::waitLimit($options, $waitTimeout),
        );
    }

    /**
     * POST a job (a generation or an image operation) and, unless `$wait` is false, wait for it.
     *
     * @param array<string, mixed>|Multipart $body
     */
    private function createGeneration(array|Multipart $body, CallOptions $call, bool $wait, ?float $waitTimeout, string $path = '/generate'): GenerationResponse
    {
        $callTimeout = $call->timeout;
        if (!$wait) {
            $prefer = 'respond-async';
        } elseif ($callTimeout !== null) {
            // RFC 7240: ask the server to hand back the job (202) before our timeout cuts the call.
            $prefer = 'wait=' . max(1, (int) floor($callTimeout) - 1);
        } else {
            $prefer = null;
        }
        $response = $this->post($path, $body, $call, $prefer === null ? [] : ['Prefer' => $prefer]);
        $generation = $this->generation($response);
        if (!$wait) {
            return $generation;
        }
        if (!$generation->isTerminal()) {
            $generation = $this->poll($generation->id, $waitTimeout, 0.5, $call);
        }
        return $this->finished($generation);
    }

    /**
     * Create a generation job and return it without waiting (`status` is queued). Follow it
     * with waitFor() or getGeneration(). `options->wait` and `options->waitTimeout` do not apply.
     *
     * @param array<string, mixed>|null $metadata
     * @param string|null $idempotencyKey deprecated: use `options: new RequestOptions(idempotencyKey: …)`
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     * @param bool|string|null $cache the result cache, as on generate()
     */
    public function submit(
        string $prompt,
        string $model,
        ?string $style = null,
        ?string $size = null,
        ?string $quality = null,
        ?array $metadata = null,
        ?int $n = null,
        ?int $seed = null,
        ?string $negativePrompt = null,
        ?string $idempotencyKey = null,
        ?float $timeout = null,
        bool|string|null $cache = null,
        ?RequestOptions $options = null,
    ): GenerationResponse {
        $body = self::body([
            'prompt' => $prompt,
            'model' => $model,
            'style' => $style,
            'size' => $size,
            'quality' => $quality,
            'n' => $n,
            'seed' => $seed,
            'negative_prompt' => $negativePrompt,
            'metadata' => $metadata === null ? null : (object) $metadata,
            'cache' => self::cacheOption($cache),
        ]);
        return $this->createGeneration($body, $this->callOptions($options, $timeout, $idempotencyKey), false, null);
    }

    /**
     * Fetch one generation (also a job's current status).
     *
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     */
    public function getGeneration(string $generationId, ?float $timeout = null, ?RequestOptions $options = null): GenerationResponse
    {
        return $this->fetchGeneration($generationId, $this->callOptions($options, $timeout));
    }

    private function fetchGeneration(string $generationId, CallOptions $call): GenerationResponse
    {
        return $this->generation($this->get('/generations/' . self::pathId($generationId), [], $call));
    }

    /**
     * Poll a job until it succeeds, fails or is canceled, and return it (without throwing for a
     * failed job). Throws ApiTimeoutException after `timeout` seconds (null: wait forever);
     * the job keeps running on the server.
     *
     * @param float|null $timeout seconds to wait in all; `options->waitTimeout` wins when set
     * @param RequestOptions|null $options `timeout`, `maxRetries` and `headers` apply to each poll
     */
    public function waitFor(
        string $generationId,
        ?float $timeout = self::DEFAULT_WAIT_TIMEOUT,
        float $pollInterval = 0.5,
        ?RequestOptions $options = null,
    ): GenerationResponse {
        return $this->poll($generationId, self::waitLimit($options, $timeout), $pollInterval, $this->callOptions($options));
    }

    private function poll(string $generationId, ?float $timeout, float $pollInterval, CallOptions $call): GenerationResponse
    {
        $deadline = $timeout === null ? null : $this->clock->monotonic() + $timeout;
        for ($polls = 0; ; $polls++) {
            $generation = $this->fetchGeneration($generationId, $call);
            if ($generation->isTerminal()) {
                return $generation;
            }
            $delay = min($pollInterval * (1.5 ** $polls), $pollInterval * 4);
            if ($deadline !== null) {
                $remaining = $deadline - $this->clock->monotonic();
                if ($remaining <= 0) {
                    throw new ApiTimeoutException(
                        "generation {$generationId} did not finish in time; it keeps running on the server "
                        . '(waitFor() it again, or cancel() it)',
                        generationId: $generationId,
                    );
                }
                $delay = min($delay, $remaining);
            }
            $this->clock->sleep($delay);
        }
    }

    /**
     * The job's events (queued → running with progress → a terminal status) as the server sends
     * them (Server-Sent Events); the generator ends after the terminal event. The request is
     * made when iteration starts. A stream that drops before the job finishes is reopened (with
     * Last-Event-ID) up to `maxRetries` times, then ApiConnectionException is thrown.
     *
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     * @param RequestOptions|null $options `timeout`: seconds the stream may stay silent (default
     *        300); `maxRetries`: reconnects and retries of the opening request; `headers`
     * @return \Generator<int, GenerationEvent>
     */
    public function streamEvents(string $generationId, ?float $timeout = null, ?RequestOptions $options = null): \Generator
    {
        $url = $this->url('/generations/' . self::pathId($generationId) . '/events');
        $idle = $options?->timeout ?? $timeout ?? self::EVENTS_IDLE_TIMEOUT;
        $idle = is_infinite($idle) ? 86400.0 : $idle; // curl needs a finite low-speed window
        $maxRetries = $options?->maxRetries ?? $this->maxRetries;
        $lastEventId = null;
        for ($reconnects = 0; ; $reconnects++) {
            $headers = self::mergeHeaders($options?->headers ?? [], ['Accept' => 'text/event-stream', 'Cache-Control' => 'no-cache']);
            if ($lastEventId !== null) {
                $headers['Last-Event-ID'] = $lastEventId;
            }
            $stream = $this->open($url, $headers, $idle, $maxRetries);
            $decoder = new Internal\SseDecoder();
            $dropped = null;
            try {
                foreach ($stream->chunks() as $chunk) {
                    foreach ($decoder->feed($chunk) as $sse) {
                        $lastEventId = $sse['id'] ?? $lastEventId;
                        $event = $this->eventFrom($sse, $stream);
                        if ($event !== null) {
                            yield $event;
                            if ($event->isTerminal()) {
                                return;
                            }
                        }
                    }
                }
                foreach ($decoder->finish() as $sse) { // an unterminated last event
                    $event = $this->eventFrom($sse, $stream);
                    if ($event !== null) {
                        yield $event;
                        if ($event->isTerminal()) {
                            return;
                        }
                    }
                }
            } catch (TransportException $exception) {
                $dropped = $exception;
            } finally {
                $stream->close();
            }
            // The stream ended before the job did (a proxy cut it, or the server restarted):
            // reconnect; the server starts again with the job's current state.
            if ($reconnects >= $maxRetries) {
                throw new ApiConnectionException(
                    "the event stream of {$generationId} ended before the job finished ({$reconnects} reconnects); "
                    . 'use waitFor() to poll it instead',
                    generationId: $generationId,
                    previous: $dropped,
                );
            }
            $this->clock->sleep(RetryPolicy::backoffDelay($reconnects, $this->retryBackoff, ($this->random)()));
        }
    }

    /**
     * Cancel a job that has not finished. Throws ConflictException if it already has.
     *
     * @param string|null $idempotencyKey deprecated: use `options: new RequestOptions(idempotencyKey: …)`
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     */
    public function cancel(
        string $generationId,
        ?string $idempotencyKey = null,
        ?float $timeout = null,
        ?RequestOptions $options = null,
    ): GenerationResponse {
        return $this->generation($this->post(
            '/generations/' . self::pathId($generationId) . '/cancel',
            null,
            $this->callOptions($options, $timeout, $idempotencyKey),
        ));
    }

    /**
     * Generate one image per prompt (`batchSize` at a time on the server).
     *
     * Returns one BatchItem per prompt, in order. Items the server hands back still running are
     * waited for (`waitTimeout` seconds for all of them). With `raiseOnError: true` the first
     * failed item's exception is thrown instead.
     *
     * @param list<string> $prompts
     * @param array<string, mixed>|null $metadata
     * @param string|null $idempotencyKey deprecated: use `options: new RequestOptions(idempotencyKey: …)`
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     * @param float|null $waitTimeout deprecated: use `options: new RequestOptions(waitTimeout: …)`
     * @param RequestOptions|null $options how this call is made; its fields win over the deprecated arguments
     */
    public function generateBatch(
        array $prompts,
        string $model,
        ?int $batchSize = null,
        ?string $style = null,
        ?string $size = null,
        ?string $quality = null,
        ?array $metadata = null,
        ?int $n = null,
        ?int $seed = null,
        ?string $negativePrompt = null,
        bool $raiseOnError = false,
        ?string $idempotencyKey = null,
        ?float $timeout = null,
        ?float $waitTimeout = self::DEFAULT_WAIT_TIMEOUT,
        ?RequestOptions $options = null,
    ): BatchResult {
        $call = $this->callOptions($options, $timeout, $idempotencyKey);
        $waitTimeout = self::waitLimit($options, $waitTimeout);
        foreach ($prompts as $prompt) {
            if (!is_string($prompt)) {
                throw new \InvalidArgumentException('prompts must be a list of strings');
            }
        }
        $body = self::body([
            'prompts' => array_values($prompts),
            'model' => $model,
            'batch_size' => $batchSize,
            'style' => $style,
            'size' => $size,
            'quality' => $quality,
            'n' => $n,
            'seed' => $seed,
            'negative_prompt' => $negativePrompt,
            'metadata' => $metadata === null ? null : (object) $metadata,
        ]);
        $response = $this->post('/generate/batch', $body, $call);
        $batch = $this->parse($response, static fn (array $data): BatchResult => BatchResult::fromArray($data, $response->header('x-request-id')));

        $pending = [];
        foreach ($batch->items as $item) {
            if ($item->generation !== null && !$item->generation->isTerminal()) {
                $pending[] = $item->generation->id;
            }
        }
        if ($pending !== []) {
            $deadline = $waitTimeout === null ? null : $this->clock->monotonic() + $waitTimeout;
            $finished = [];
            foreach ($pending as $id) {
                $left = $deadline === null ? null : max(0.0, $deadline - $this->clock->monotonic());
                $finished[$id] = $this->poll($id, $left, 0.5, $call);
            }
            $batch = self::resolveBatch($batch, $finished);
        }
        if ($raiseOnError) {
            foreach ($batch as $item) {
                $item->raiseForError();
            }
        }
        return $batch;
    }

    /**
     * Past generations, newest first. `limit` is the page size; iterating the returned Page walks
     * every later page lazily (`->data` is just this page).
     *
     * @param array<string, mixed>|null $metadata filters on metadata values (sent as metadata.<key>)
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     * @param RequestOptions|null $options applies to this page and every later page fetched
     * @return Page<GenerationResponse>
     */
    public function getGenerationHistory(
        ?int $limit = null,
        ?string $filterByModel = null,
        GenerationStatus|string|null $status = null,
        \DateTimeInterface|string|null $since = null,
        \DateTimeInterface|string|null $until = null,
        ?array $metadata = null,
        ?string $query = null,
        ?string $cursor = null,
        ?string $model = null,
        ?float $timeout = null,
        ?RequestOptions $options = null,
    ): Page {
        if ($filterByModel !== null && $model !== null && $filterByModel !== $model) {
            throw new \InvalidArgumentException('filterByModel and model name the same filter; pass one of them');
        }
        $params = [];
        if ($limit !== null) {
            $params[] = ['limit', (string) $limit];
        }
        if (($filterByModel ?? $model) !== null) {
            $params[] = ['model', (string) ($filterByModel ?? $model)];
        }
        if ($status !== null) {
            $params[] = ['status', $status instanceof GenerationStatus ? $status->value : $status];
        }
        if ($since !== null) {
            $params[] = ['since', self::timeParam($since)];
        }
        if ($until !== null) {
            $params[] = ['until', self::timeParam($until)];
        }
        if ($query !== null) {
            $params[] = ['q', $query];
        }
        foreach ($metadata ?? [] as $key => $value) {
            $params[] = ["metadata.{$key}", self::queryValue($value)];
        }
        return $this->historyPage($params, $cursor, $this->callOptions($options, $timeout));
    }

    // ------------------------------------------------------------------ image operations

    /**
     * Repaint images from a prompt (with a mask, only its transparent pixels) and return the
     * finished generation, like generate().
     *
     * Every input (`images`, `mask`) is a stored image id (`gen_…`, or `gen_…:N` for a
     * generation's N-th image), an http(s) URL, a file path, an \SplFileInfo, an open stream,
     * or an ImageFile (bytes). Ids and URLs alone are sent as JSON; with any file the body is
     * multipart/form-data. `options:` works as on generate() (wait, waitTimeout, idempotencyKey…).
     *
     * @param mixed $images one input, or a list of 1 to 16 inputs
     * @param mixed $mask an optional input: a PNG with alpha, the first image's size
     * @param array<string, mixed>|null $metadata
     */
    public function edit(
        string $prompt,
        mixed $images,
        mixed $mask = null,
        ?string $model = null,
        ?int $n = null,
        ?string $size = null,
        ?string $quality = null,
        ?int $seed = null,
        ?string $background = null,
        ?string $outputFormat = null,
        ?int $outputCompression = null,
        ?string $moderation = null,
        ?array $metadata = null,
        bool|string|null $cache = null,
        ?RequestOptions $options = null,
    ): GenerationResponse {
        self::requirePrompt($prompt);
        $list = is_array($images) ? array_values($images) : [$images];
        if ($list === []) {
            throw new \InvalidArgumentException('images: edit needs at least one image');
        }
        $inputs = [];
        foreach ($list as $i => $image) {
            $inputs[] = ['images', ImageInput::resolve($image, "images[{$i}]")];
        }
        if ($mask !== null) {
            $inputs[] = ['mask', ImageInput::resolve($mask, 'mask')];
        }
        return $this->operate('/images/edits', [
            'prompt' => $prompt, 'model' => $model, 'n' => $n, 'size' => $size, 'quality' => $quality, 'seed' => $seed,
            'background' => $background, 'output_format' => $outputFormat, 'output_compression' => $outputCompression,
            'moderation' => $moderation, 'metadata' => $metadata, 'cache' => self::cacheOption($cache),
        ], $inputs, $options);
    }

    /**
     * More images like this one (no prompt). `image` is any input edit() takes.
     *
     * @param mixed $image a stored image id, an http(s) URL, a file path, an \SplFileInfo, a stream or an ImageFile
     * @param array<string, mixed>|null $metadata
     */
    public function createVariation(
        mixed $image,
        ?string $model = null,
        ?int $n = null,
        ?string $size = null,
        ?int $seed = null,
        ?array $metadata = null,
        bool|string|null $cache = null,
        ?RequestOptions $options = null,
    ): GenerationResponse {
        return $this->operate('/images/variations', [
            'model' => $model, 'n' => $n, 'size' => $size, 'seed' => $seed, 'metadata' => $metadata,
            'cache' => self::cacheOption($cache),
        ], [['image', ImageInput::resolve($image, 'image')]], $options);
    }

    /**
     * The image enlarged `factor` times (one of the model's factors). `image` is any input edit() takes.
     *
     * @param mixed $image a stored image id, an http(s) URL, a file path, an \SplFileInfo, a stream or an ImageFile
     * @param array<string, mixed>|null $metadata
     */
    public function upscale(
        mixed $image,
        ?int $factor = null,
        ?string $prompt = null,
        ?string $model = null,
        ?array $metadata = null,
        bool|string|null $cache = null,
        ?RequestOptions $options = null,
    ): GenerationResponse {
        return $this->operate('/images/upscale', [
            'factor' => $factor, 'prompt' => $prompt, 'model' => $model, 'metadata' => $metadata,
            'cache' => self::cacheOption($cache),
        ], [['image', ImageInput::resolve($image, 'image')]], $options);
    }

    /**
     * The subject on a transparent background (PNG). `image` is any input edit() takes.
     *
     * @param mixed $image a stored image id, an http(s) URL, a file path, an \SplFileInfo, a stream or an ImageFile
     * @param array<string, mixed>|null $metadata
     */
    public function removeBackground(
        mixed $image,
        ?string $model = null,
        ?array $metadata = null,
        bool|string|null $cache = null,
        ?RequestOptions $options = null,
    ): GenerationResponse {
        return $this->operate('/images/remove-background', [
            'model' => $model, 'metadata' => $metadata, 'cache' => self::cacheOption($cache),
        ], [['image', ImageInput::resolve($image, 'image')]], $options);
    }

    /**
     * A new image from a prompt, guided by `image`; `strength` (0 to 1) says how far from it to
     * go. `image` is any input edit() takes.
     *
     * @param mixed $image a stored image id, an http(s) URL, a file path, an \SplFileInfo, a stream or an ImageFile
     * @param array<string, mixed>|null $metadata
     */
    public function imageToImage(
        string $prompt,
        mixed $image,
        ?float $strength = null,
        ?string $negativePrompt = null,
        ?string $model = null,
        ?int $n = null,
        ?int $seed = null,
        ?array $metadata = null,
        bool|string|null $cache = null,
        ?RequestOptions $options = null,
    ): GenerationResponse {
        self::requirePrompt($prompt);
        return $this->operate('/images/image-to-image', [
            'prompt' => $prompt, 'strength' => $strength, 'negative_prompt' => $negativePrompt, 'model' => $model,
            'n' => $n, 'seed' => $seed, 'metadata' => $metadata, 'cache' => self::cacheOption($cache),
        ], [['image', ImageInput::resolve($image, 'image')]], $options);
    }

    /**
     * Send an image operation as JSON when every input is an id or URL, else as multipart
     * (files, with ids and URLs as text parts beside them), and answer as generate() does.
     *
     * @param array<string, mixed> $fields the body fields; null ones are left out
     * @param list<array{0: string, 1: string|UploadPart}> $inputs [field, resolved input], in order
     */
    private function operate(string $path, array $fields, array $inputs, ?RequestOptions $options): GenerationResponse
    {
        $fields = self::body($fields);
        $files = array_filter($inputs, static fn (array $input): bool => $input[1] instanceof UploadPart);
        if ($files === []) {
            $body = $fields;
            if (isset($body['metadata'])) {
                $body['metadata'] = (object) $body['metadata'];
            }
            foreach ($inputs as [$name, $value]) {
                if ($name === 'images') {
                    $body['images'][] = $value;
                } else {
                    $body[$name] = $value;
                }
            }
        } else {
            $parts = [];
            foreach ($fields as $name => $value) {
                $parts[] = [$name, match (true) {
                    is_string($value) => $value,
                    is_bool($value) => $value ? 'true' : 'false',
                    is_int($value), is_float($value) => (string) $value,
                    default => json_encode((object) $value, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE),
                }];
            }
            $body = new Multipart([...$parts, ...$inputs]);
        }
        return $this->createGeneration(
            $body,
            $this->callOptions($options),
            $options?->wait ?? true,
            self::waitLimit($options, self::DEFAULT_WAIT_TIMEOUT),
            $path,
        );
    }

    /**
     * The `cache` option checked before anything is sent: true, false, 'always' or null (left
     * out: the key's default).
     */
    private static function cacheOption(bool|string|null $cache): bool|string|null
    {
        if (is_string($cache) && $cache !== 'always') {
            throw new \InvalidArgumentException("cache: must be true, false or 'always', not '{$cache}'");
        }
        return $cache;
    }

    private static function requirePrompt(string $prompt): void
    {
        if (trim($prompt) === '') {
            throw new \InvalidArgumentException('prompt: must not be blank');
        }
    }

    // ------------------------------------------------------------------ catalog and usage

    /**
     * Every model in the catalog, with its capabilities, pricing and availability.
     *
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     * @return list<ModelInfo>
     */
    public function listModels(?float $timeout = null, ?RequestOptions $options = null): array
    {
        return $this->parse(
            $this->get('/models', [], $this->callOptions($options, $timeout)),
            static fn (array $data): array => Internal\Data::objects($data, 'data', ModelInfo::fromArray(...)),
        );
    }

    /**
     * One model; throws ModelNotAvailableException for an unknown name.
     *
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     */
    public function getModelInfo(string $name, ?float $timeout = null, ?RequestOptions $options = null): ModelInfo
    {
        return $this->parse($this->get('/models/' . self::pathId($name), [], $this->callOptions($options, $timeout)), ModelInfo::fromArray(...));
    }

    /**
     * Usage and cost between two dates (inclusive), optionally grouped by `model`, `day`, `key`
     * or `metadata.<key>`. Dates are `YYYY-MM-DD` strings or DateTimeInterface.
     *
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     */
    public function getUsageStats(
        \DateTimeInterface|string $startDate,
        \DateTimeInterface|string $endDate,
        ?string $groupBy = null,
        ?float $timeout = null,
        ?RequestOptions $options = null,
    ): UsageStats {
        $params = [['start_date', self::dateParam($startDate)], ['end_date', self::dateParam($endDate)]];
        if ($groupBy !== null) {
            $params[] = ['group_by', $groupBy];
        }
        return $this->parse($this->get('/usage', $params, $this->callOptions($options, $timeout)), UsageStats::fromArray(...));
    }

    // ------------------------------------------------------------------ webhooks

    /**
     * Register an endpoint (admin scope). The answer's `secret` (`whsec_…`) is shown only here:
     * keep it to verify deliveries with Webhook::verify(). `events`: null for every event.
     *
     * @param list<string>|null $events
     * @param string|null $idempotencyKey deprecated: use `options: new RequestOptions(idempotencyKey: …)`
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     */
    public function createWebhook(
        string $url,
        ?array $events = null,
        ?string $description = null,
        ?string $idempotencyKey = null,
        ?float $timeout = null,
        ?RequestOptions $options = null,
    ): WebhookEndpoint {
        if ($url === '') {
            throw new \InvalidArgumentException('url must be the http(s) URL that receives the events');
        }
        $body = array_filter(['url' => $url, 'events' => $events, 'description' => $description], static fn ($v): bool => $v !== null);
        return $this->parse($this->post('/webhooks', $body, $this->callOptions($options, $timeout, $idempotencyKey)), WebhookEndpoint::fromArray(...));
    }

    /**
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     * @return list<WebhookEndpoint> every endpoint of the project, without secrets
     */
    public function listWebhooks(?float $timeout = null, ?RequestOptions $options = null): array
    {
        return $this->parse(
            $this->get('/webhooks', [], $this->callOptions($options, $timeout)),
            static fn (array $data): array => Internal\Data::objects($data, 'data', WebhookEndpoint::fromArray(...)),
        );
    }

    /** @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)` */
    public function getWebhook(string $webhookId, ?float $timeout = null, ?RequestOptions $options = null): WebhookEndpoint
    {
        return $this->parse(
            $this->get('/webhooks/' . self::pathId($webhookId), [], $this->callOptions($options, $timeout)),
            WebhookEndpoint::fromArray(...),
        );
    }

    /**
     * Change `enabled`, `events` or `description` (`clearDescription: true` removes it).
     *
     * @param list<string>|null $events
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     */
    public function updateWebhook(
        string $webhookId,
        ?bool $enabled = null,
        ?array $events = null,
        ?string $description = null,
        bool $clearDescription = false,
        ?float $timeout = null,
        ?RequestOptions $options = null,
    ): WebhookEndpoint {
        $body = array_filter(['enabled' => $enabled, 'events' => $events, 'description' => $description], static fn ($v): bool => $v !== null);
        if ($clearDescription) {
            $body['description'] = null;
        }
        if ($body === []) {
            throw new \InvalidArgumentException('updateWebhook() needs enabled, events or description');
        }
        $json = json_encode($body, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        $response = $this->send('PATCH', $this->url('/webhooks/' . self::pathId($webhookId)), ['Content-Type' => 'application/json'], $json, $this->callOptions($options, $timeout));
        return $this->parse($response, WebhookEndpoint::fromArray(...));
    }

    /**
     * Stop deliveries to the endpoint until resumeWebhook(); events meanwhile are not sent.
     *
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     */
    public function pauseWebhook(string $webhookId, ?float $timeout = null, ?RequestOptions $options = null): WebhookEndpoint
    {
        return $this->updateWebhook($webhookId, enabled: false, timeout: $timeout, options: $options);
    }

    /** @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)` */
    public function resumeWebhook(string $webhookId, ?float $timeout = null, ?RequestOptions $options = null): WebhookEndpoint
    {
        return $this->updateWebhook($webhookId, enabled: true, timeout: $timeout, options: $options);
    }

    /**
     * Delete the endpoint; returns it as it was.
     *
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     */
    public function deleteWebhook(string $webhookId, ?float $timeout = null, ?RequestOptions $options = null): WebhookEndpoint
    {
        $response = $this->send('DELETE', $this->url('/webhooks/' . self::pathId($webhookId)), [], null, $this->callOptions($options, $timeout));
        return $this->parse($response, WebhookEndpoint::fromArray(...));
    }

    /**
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     * @return list<WebhookDelivery> the endpoint's recent deliveries, newest first
     */
    public function listWebhookDeliveries(string $webhookId, ?float $timeout = null, ?RequestOptions $options = null): array
    {
        return $this->parse(
            $this->get('/webhooks/' . self::pathId($webhookId) . '/deliveries', [], $this->callOptions($options, $timeout)),
            static fn (array $data): array => Internal\Data::objects($data, 'data', WebhookDelivery::fromArray(...)),
        );
    }

    /**
     * Send a signed `webhook.test` event to the endpoint; returns its delivery.
     *
     * @param string|null $idempotencyKey deprecated: use `options: new RequestOptions(idempotencyKey: …)`
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     */
    public function sendTestWebhook(
        string $webhookId,
        ?string $idempotencyKey = null,
        ?float $timeout = null,
        ?RequestOptions $options = null,
    ): WebhookDelivery {
        return $this->parse(
            $this->post('/webhooks/' . self::pathId($webhookId) . '/test', null, $this->callOptions($options, $timeout, $idempotencyKey)),
            WebhookDelivery::fromArray(...),
        );
    }

    // ------------------------------------------------------------------ images

    /**
     * Save images into `directory` (created if missing) and return the paths written.
     *
     * A GenerationResponse writes one file per image, named `<generation id>-<index>.<ext>`
     * (`<generation id>-<index>-thumb.<ext>` with `thumbnail: true`); `image: i` writes only
     * image `i`, under the same name. An ImageInfo or a URL writes one file named after the
     * URL (percent-decoded). An existing file is never replaced unless `overwrite: true`:
     * DestinationExistsException names it, before anything is fetched when every name is known.
     * Files are written to `<name>.part` and renamed when complete.
     *
     * @param float|null $timeout deprecated: use `options: new RequestOptions(timeout: …)`
     * @param RequestOptions|null $options applies to each file fetched (`headers` only go to this server)
     * @return list<string>
     */
    public function download(
        GenerationResponse|ImageInfo|string $image,
        string $directory,
        bool $thumbnail = false,
        bool $overwrite = false,
        ?float $timeout = null,
        ?int $index = null,
        ?RequestOptions $options = null,
    ): array {
        $call = $this->callOptions($options, $timeout);
        $targets = self::downloadTargets($image, $thumbnail);
        if ($index !== null) {
            if (!isset($targets[$index])) {
                throw new \InvalidArgumentException("no image {$index}: there are " . count($targets));
            }
            $targets = [$targets[$index]];
        }
        $directory = rtrim($directory, '/\\');
        if (!$overwrite) {
            foreach ($targets as [, $stem, $extension]) {
                if ($extension !== null) {
                    $this->refuseExisting("{$directory}/{$stem}.{$extension}");
                }
            }
        }
        if (!is_dir($directory) && !@mkdir($directory, 0777, true) && !is_dir($directory)) {
            throw new OrchestrationException("cannot create the directory {$directory}");
        }
        $written = [];
        foreach ($targets as [$url, $stem, $extension]) {
            $written[] = $this->downloadOne($url, $stem, $extension, $directory, $overwrite, $call);
        }
        return $written;
    }

    /**
     * [url, file name without extension, extension or null when only the answer can tell].
     *
     * @return list<array{0: string, 1: string, 2: string|null}>
     */
    private static function downloadTargets(GenerationResponse|ImageInfo|string $image, bool $thumbnail): array
    {
        if ($image instanceof GenerationResponse) {
            $images = $image->images !== [] ? $image->images : ($image->imageUrl !== null
                ? [new ImageInfo($image->imageUrl, $image->thumbnailUrl)] : []);
            if ($images === []) {
                throw new \InvalidArgumentException(
                    "generation {$image->id} has no image (status: {$image->status->value})"
                );
            }
            $targets = [];
            foreach (array_values($images) as $i => $info) {
                $url = $thumbnail ? $info->thumbnailUrl : $info->url;
                if ($url === null) {
                    throw new \InvalidArgumentException("image {$i} of generation {$image->id} has no thumbnail");
                }
                $extension = ($thumbnail ? null : self::extensionFor($info->contentType)) ?? self::urlExtension($url);
                $targets[] = [$url, "{$image->id}-{$i}" . ($thumbnail ? '-thumb' : ''), $extension];
            }
            return $targets;
        }
        if ($image instanceof ImageInfo) {
            $url = $thumbnail ? $image->thumbnailUrl : $image->url;
            if ($url === null) {
                throw new \InvalidArgumentException('this image has no thumbnail');
            }
            $extension = ($thumbnail ? null : self::extensionFor($image->contentType)) ?? self::urlExtension($url);
            return [[$url, self::urlStem($url), $extension]];
        }
        return [[$image, self::urlStem($image), self::urlExtension($image)]];
    }

    /** The last segment of a URL's path, percent-decoded, without its extension ('image' if none). */
    private static function urlStem(string $url): string
    {
        $name = rawurldecode(basename((string) parse_url($url, PHP_URL_PATH)));
        $name = str_replace(['/', '\\'], '_', $name);
        $stem = pathinfo($name, PATHINFO_EXTENSION) === '' ? $name : pathinfo($name, PATHINFO_FILENAME);
        return trim($stem, '.') === '' ? 'image' : $stem;
    }

    private static function urlExtension(string $url): ?string
    {
        $extension = pathinfo(basename((string) parse_url($url, PHP_URL_PATH)), PATHINFO_EXTENSION);
        return $extension === '' ? null : strtolower($extension);
    }

    // ------------------------------------------------------------------ internals: HTTP

    /**
     * @param array<string, mixed>|Multipart|null $body
     * @param array<string, string> $headers
     */
    private function post(string $path, array|Multipart|null $body, CallOptions $call, array $headers = []): Response
    {
        // One key per logical call, made here once, so every retry of the call reuses it.
        $headers['Idempotency-Key'] = $call->idempotencyKey ?? self::uuid4();
        if ($body === null) {
            return $this->send('POST', $this->url($path), $headers, '', $call); // Content-Length: 0
        }
        if ($body instanceof Multipart) {
            $headers['Content-Type'] = $body->contentType;
            return $this->send('POST', $this->url($path), $headers, $body->body, $call);
        }
        $headers['Content-Type'] = 'application/json';
        $json = json_encode($body, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
        return $this->send('POST', $this->url($path), $headers, $json, $call);
    }

    /** @param list<array{0: string, 1: string}> $params */
    private function get(string $path, array $params, CallOptions $call): Response
    {
        $url = $this->url($path);
        if ($params !== []) {
            $url .= '?' . implode('&', array_map(
                static fn (array $pair): string => rawurlencode($pair[0]) . '=' . rawurlencode($pair[1]),
                $params,
            ));
        }
        return $this->send('GET', $url, [], null, $call);
    }

    /**
     * Send with retries; return a successful response or throw.
     *
     * The call's timeout bounds every attempt and the waits between them: an attempt gets what
     * is left, and a retry whose wait would not fit is not made. The call's own headers win over
     * its per-call headers, which win over the client's defaultHeaders.
     *
     * @param array<string, string> $headers
     */
    private function send(
        string $method,
        string $url,
        array $headers,
        ?string $body,
        CallOptions $call,
        bool $authenticated = true,
        bool $followRedirects = false,
    ): Response {
        $headers = self::mergeHeaders($call->headers, $headers);
        $response = $this->attempts($method, $url, $headers, $body, $call->timeout, $call->maxRetries, $authenticated, $followRedirects, null);
        assert($response instanceof Response);
        return $response;
    }

    /**
     * Open an event stream (with retries for the opening request); its body is read lazily.
     *
     * @param array<string, string> $headers
     */
    private function open(string $url, array $headers, float $idleTimeout, int $maxRetries): StreamedResponse
    {
        $response = $this->attempts('GET', $url, $headers, null, null, $maxRetries, true, false, $idleTimeout);
        assert($response instanceof StreamedResponse);
        return $response;
    }

    /**
     * The retry loop shared by plain requests and streams (`$idleTimeout` set).
     *
     * @param array<string, string> $headers
     */
    private function attempts(
        string $method,
        string $url,
        array $headers,
        ?string $body,
        ?float $budget,
        int $maxRetries,
        bool $authenticated,
        bool $followRedirects,
        ?float $idleTimeout,
    ): Response|StreamedResponse {
        $deadline = $budget === null ? null : $this->clock->monotonic() + $budget;
        for ($retries = 0; ; $retries++) {
            $remaining = $deadline === null ? null : $deadline - $this->clock->monotonic();
            if ($remaining !== null && $remaining <= 0) {
                throw new ApiTimeoutException("request timed out: {$method} " . self::redact($url));
            }
            $request = new Request(
                $method,
                $url,
                $this->headers($headers, $retries, $remaining, $authenticated),
                $body,
                $remaining,
                $followRedirects,
                $idleTimeout,
            );
            try {
                if ($idleTimeout === null) {
                    $response = $this->transport->send($request);
                } else {
                    if (!$this->transport instanceof StreamingTransport) {
                        throw new \LogicException(
                            get_class($this->transport) . ' cannot stream responses (implement Http\\StreamingTransport); use waitFor() instead'
                        );
                    }
                    $stream = $this->transport->open($request);
                    if ($stream->isSuccess()) {
                        return $stream;
                    }
                    $response = $stream->buffer();
                }
            } catch (TransportException $exception) {
                $decision = RetryPolicy::decide($retries, $maxRetries, $this->retryBackoff, null, [], $this->clock->now(), ($this->random)());
                if (!$decision->retry || !self::fits($decision->delay, $deadline, $this->clock)) {
                    $class = $exception->timedOut ? ApiTimeoutException::class : ApiConnectionException::class;
                    $what = $exception->timedOut ? 'request timed out' : 'connection error';
                    throw new $class("{$what}: {$exception->getMessage()}", previous: $exception);
                }
                $this->clock->sleep($decision->delay);
                continue;
            }
            if ($response->isSuccess()) {
                return $response;
            }
            $decoded = $response->json();
            $decision = RetryPolicy::decide(
                $retries,
                $maxRetries,
                $this->retryBackoff,
                $response->status,
                $response->headers,
                $this->clock->now(),
                ($this->random)(),
                $decoded,
            );
            if (!$decision->retry || !self::fits($decision->delay, $deadline, $this->clock)) {
                throw $this->statusError($response, $decoded);
            }
            $this->clock->sleep($decision->delay);
        }
    }

    /**
     * @param array<string, string> $extra
     * @return array<string, string>
     */
    private function headers(array $extra, int $retries, ?float $remaining, bool $authenticated): array
    {
        $headers = [
            'Accept' => 'application/json',
            'User-Agent' => 'freepik-ai-orchestrator-php/' . self::VERSION . ' PHP/' . PHP_VERSION,
            // Observability: which attempt this is, and how long the client will wait for it.
            'X-Request-Attempt' => (string) ($retries + 1),
        ];
        if ($remaining !== null) {
            $headers['X-Client-Timeout'] = rtrim(rtrim(sprintf('%.3F', $remaining), '0'), '.');
        }
        if ($authenticated && $this->token !== null) {
            $headers['Authorization'] = 'Bearer ' . $this->token;
        }
        return self::mergeHeaders(self::mergeHeaders($headers, $this->defaultHeaders), $extra);
    }

    /**
     * One call's settings: RequestOptions first, then the deprecated per-call arguments, then
     * the client's settings. `INF` means no limit.
     */
    private function callOptions(?RequestOptions $options, ?float $timeout = null, ?string $idempotencyKey = null): CallOptions
    {
        $timeout = $options?->timeout ?? $timeout ?? $this->timeout;
        return new CallOptions(
            $timeout === null || is_infinite($timeout) ? null : $timeout,
            $options?->maxRetries ?? $this->maxRetries,
            $options?->idempotencyKey ?? $idempotencyKey,
            $options?->headers ?? [],
        );
    }

    /** Seconds to wait for unfinished jobs (null: no limit); `options->waitTimeout` wins. */
    private static function waitLimit(?RequestOptions $options, ?float $waitTimeout): ?float
    {
        $limit = $options?->waitTimeout ?? $waitTimeout;
        return $limit === null || is_infinite($limit) ? null : $limit;
    }

    /**
     * `$base` with `$overrides` applied; a name given in both (in any letter case) takes the
     * override's spelling and value.
     *
     * @param array<string, string> $base
     * @param array<string, string> $overrides
     * @return array<string, string>
     */
    private static function mergeHeaders(array $base, array $overrides): array
    {
        foreach ($overrides as $name => $value) {
            foreach (array_keys($base) as $existing) {
                if (strcasecmp($existing, $name) === 0) {
                    unset($base[$existing]);
                }
            }
            $base[$name] = $value;
        }
        return $base;
    }

    private static function fits(float $delay, ?float $deadline, Clock $clock): bool
    {
        return $deadline === null || $clock->monotonic() + $delay < $deadline;
    }

    private function statusError(Response $response, mixed $decoded): ApiStatusException
    {
        return ErrorMapper::exceptionFor(
            $response->status,
            $decoded,
            $response->headers,
            RetryPolicy::parseRetryAfter($response->headers, $this->clock->now()),
            $decoded === null ? $response->body : null,
        );
    }

    private function url(string $path): string
    {
        return $this->baseUrl . self::API_PREFIX . $path;
    }

    // ------------------------------------------------------------------ internals: parsing

    /**
     * @template T
     * @param callable(array<mixed>): T $make
     * @return T
     */
    private function parse(Response $response, callable $make): mixed
    {
        $data = $response->json();
        try {
            if (!is_array($data)) {
                throw new \UnexpectedValueException('the body is not a JSON object');
            }
            return $make($data);
        } catch (\UnexpectedValueException | \TypeError $exception) {
            throw new OrchestrationException(
                "unexpected response body: {$exception->getMessage()}",
                status: $response->status,
                requestId: $response->header('x-request-id'),
                headers: $response->headers,
                previous: $exception,
            );
        }
    }

    private function generation(Response $response): GenerationResponse
    {
        return $this->parse($response, static fn (array $data): GenerationResponse => GenerationResponse::fromArray(
            $data,
            $response->header('x-request-id'),
            strtolower($response->header('idempotent-replayed') ?? '') === 'true',
        ));
    }

    /**
     * @param list<array{0: string, 1: string}> $params
     * @return Page<GenerationResponse>
     */
    private function historyPage(array $params, ?string $cursor, CallOptions $call): Page
    {
        $query = $cursor === null ? $params : [...$params, ['cursor', $cursor]];
        $response = $this->get('/generations', $query, $call);
        return $this->parse($response, fn (array $data): Page => new Page(
            data: Internal\Data::objects(
                $data,
                'data',
                static fn (array $item): GenerationResponse => GenerationResponse::fromArray($item, $response->header('x-request-id')),
            ),
            hasMore: Internal\Data::optBool($data, 'has_more') ?? false,
            nextCursor: Internal\Data::optStr($data, 'next_cursor'),
            cursor: $cursor,
            fetch: fn (string $next): Page => $this->historyPage($params, $next, $call),
        ));
    }

    /**
     * A generation event, or null for events that carry no generation (pings, retry hints).
     *
     * @param array{event: string, data: string, id: string|null} $sse
     */
    private function eventFrom(array $sse, StreamedResponse $stream): ?GenerationEvent
    {
        if ($sse['data'] === '') {
            return null;
        }
        try {
            $payload = json_decode($sse['data'], true, 512, JSON_THROW_ON_ERROR);
        } catch (\JsonException) {
            return null;
        }
        if (!is_array($payload)) {
            return null;
        }
        if (isset($payload['error']) && is_array($payload['error']) && !isset($payload['id'])) {
            throw ErrorMapper::exceptionFor(null, $payload, $stream->headers);
        }
        try {
            $generation = GenerationResponse::fromArray($payload, $stream->header('x-request-id'));
        } catch (\UnexpectedValueException | \TypeError) {
            return null;
        }
        return new GenerationEvent($sse['event'], $generation, $sse['id']);
    }

    /** `$generation` if it succeeded; otherwise the exception the synchronous endpoint would throw. */
    private function finished(GenerationResponse $generation): GenerationResponse
    {
        if ($generation->status === GenerationStatus::Succeeded) {
            return $generation;
        }
        throw ErrorMapper::exceptionFor(null, ['error' => self::failure($generation)]);
    }

    /** @return array<string, string> the error object the synchronous endpoint would answer */
    private static function failure(GenerationResponse $generation): array
    {
        if ($generation->status === GenerationStatus::Canceled) {
            $error = [
                'type' => 'invalid_request_error',
                'code' => 'generation_canceled',
                'message' => "generation {$generation->id} was canceled",
            ];
        } else {
            $error = array_filter(
                ['code' => $generation->error?->code, 'message' => $generation->error?->message],
                static fn (?string $value): bool => $value !== null,
            );
            $error['message'] ??= "generation {$generation->id} {$generation->status->value}";
        }
        $error['generation_id'] ??= $generation->id;
        if ($generation->requestId !== null) {
            $error['request_id'] ??= $generation->requestId;
        }
        return $error;
    }

    /** @param array<string, GenerationResponse> $finished */
    private static function resolveBatch(BatchResult $batch, array $finished): BatchResult
    {
        $items = [];
        foreach ($batch->items as $item) {
            $job = $item->generation !== null ? ($finished[$item->generation->id] ?? null) : null;
            if ($job === null) {
                $items[] = $item;
            } elseif ($job->status === GenerationStatus::Succeeded) {
                $items[] = new BatchItem($item->index, $item->prompt, 'succeeded', $job, null);
            } else {
                $items[] = new BatchItem($item->index, $item->prompt, 'failed', $job, BatchError::fromArray(self::failure($job)));
            }
        }
        $ok = array_filter($items, static fn (BatchItem $item): bool => $item->ok());
        $costs = array_map(static fn (BatchItem $item): ?float => $item->generation?->cost, $ok);
        $total = in_array(null, $costs, true) ? null : round(array_sum($costs), 6);
        return new BatchResult($batch->id, $items, count($ok), count($items) - count($ok), $total, $batch->requestId);
    }

    // ------------------------------------------------------------------ internals: downloads

    private function downloadOne(
        string $url,
        string $stem,
        ?string $extension,
        string $directory,
        bool $overwrite,
        CallOptions $call,
    ): string {
        $absolute = parse_url($url, PHP_URL_SCHEME) !== null ? $url : $this->baseUrl . '/' . ltrim($url, '/');
        // Signed URLs need no credentials: never hand our key (nor per-call headers) to another host (a CDN, a bucket).
        $sameOrigin = $this->sameOrigin($absolute);
        if (!$sameOrigin) {
            $call = new CallOptions($call->timeout, $call->maxRetries, null, []);
        }
        $response = $this->send('GET', $absolute, ['Accept' => '*/*'], null, $call, $sameOrigin, true);
        $extension ??= self::extensionFor($response->header('content-type')) ?? 'bin';
        $path = "{$directory}/{$stem}.{$extension}";
        if (!$overwrite) {
            $this->refuseExisting($path);
        }
        $partial = $path . '.' . bin2hex(random_bytes(4)) . '.part';
        try {
            if (file_put_contents($partial, $response->body) !== strlen($response->body) || !rename($partial, $path)) {
                throw new OrchestrationException("cannot write {$path}");
            }
        } finally {
            if (is_file($partial)) {
                @unlink($partial); // never leave a truncated file behind
            }
        }
        return $path;
    }

    private function refuseExisting(string $path): void
    {
        if (file_exists($path)) {
            throw new DestinationExistsException($path);
        }
    }

    private function sameOrigin(string $url): bool
    {
        $a = parse_url($url);
        $b = parse_url($this->baseUrl);
        return is_array($a) && is_array($b)
            && strtolower($a['scheme'] ?? '') === strtolower($b['scheme'] ?? '')
            && strtolower($a['host'] ?? '') === strtolower($b['host'] ?? '')
            && ($a['port'] ?? null) === ($b['port'] ?? null);
    }

    private static function extensionFor(?string $contentType): ?string
    {
        $kind = strtolower(trim(explode(';', $contentType ?? '')[0]));
        return ['image/png' => 'png', 'image/jpeg' => 'jpg', 'image/webp' => 'webp', 'image/gif' => 'gif'][$kind] ?? null;
    }

    // ------------------------------------------------------------------ internals: values

    private static function env(string $name): ?string
    {
        $value = getenv($name);
        return is_string($value) && $value !== '' ? $value : null;
    }

    private static function normalizeBaseUrl(string $url): string
    {
        $url = rtrim(trim($url), '/');
        if (str_ends_with($url, self::API_PREFIX)) { // tolerate a base URL that already names the API version
            $url = substr($url, 0, -strlen(self::API_PREFIX));
        }
        $parts = parse_url($url);
        if (!is_array($parts) || !in_array($parts['scheme'] ?? '', ['http', 'https'], true) || ($parts['host'] ?? '') === '') {
            throw new \InvalidArgumentException("baseUrl must be an absolute http(s) URL, not '{$url}'");
        }
        return $url;
    }

    /**
     * A JSON body with the unset (null) fields left out, so server defaults apply.
     *
     * @param array<string, mixed> $fields
     * @return array<string, mixed>
     */
    private static function body(array $fields): array
    {
        return array_filter($fields, static fn (mixed $value): bool => $value !== null);
    }

    private static function pathId(string $value): string
    {
        if ($value === '') {
            throw new \InvalidArgumentException('an id or name is required');
        }
        return rawurlencode($value);
    }

    private static function dateParam(\DateTimeInterface|string $value): string
    {
        return $value instanceof \DateTimeInterface ? $value->format('Y-m-d') : $value;
    }

    private static function timeParam(\DateTimeInterface|string $value): string
    {
        return $value instanceof \DateTimeInterface ? $value->format(\DateTimeInterface::RFC3339_EXTENDED) : $value;
    }

    private static function queryValue(mixed $value): string
    {
        return match (true) {
            is_bool($value) => $value ? 'true' : 'false',
            is_string($value) => $value,
            is_int($value), is_float($value) => (string) $value,
            default => json_encode($value, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES),
        };
    }

    private static function uuid4(): string
    {
        $bytes = random_bytes(16);
        $bytes[6] = chr((ord($bytes[6]) & 0x0F) | 0x40);
        $bytes[8] = chr((ord($bytes[8]) & 0x3F) | 0x80);
        return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($bytes), 4));
    }

    private static function redact(string $url): string
    {
        $cut = strpos($url, '?');
        return $cut === false ? $url : substr($url, 0, $cut) . '?…';
    }
}
