/**
 * The client: configuration, one request loop with retries and a whole-call deadline, and the
 * API's methods. Wire names are converted in `wire.ts`, errors mapped in `errors.ts`, retry
 * decisions made in `retry.ts`.
 */
import {
  APIConnectionError,
  APIStatusError,
  APITimeoutError,
  APIUserAbortError,
  DestinationExistsError,
  OrchestrationError,
  errorFor,
} from "./errors.js";
import { Page, PagePromise } from "./pagination.js";
import {
  DEFAULT_MAX_RETRIES,
  DEFAULT_RETRY_BACKOFF,
  backoffDelay,
  decideRetry,
  isRecord,
} from "./retry.js";
import { SSEDecoder, readLines, type ServerSentEvent } from "./sse.js";
import type {
  ApiKey,
  BatchItemData,
  BatchRequest,
  BatchResponseData,
  EditRequest,
  Generation,
  GenerationPageData,
  GenerationRequest,
  GenerationResponse,
  ImageInfo,
  ImageToImageRequest,
  KeyCreated,
  KeyCreateRequest,
  KeyList,
  ModelInfo,
  ModelList,
  RemoveBackgroundRequest,
  UpscaleRequest,
  UsageStats,
  VariationRequest,
  WebhookCreateRequest,
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookEndpoint,
  WebhookEndpointCreated,
  WebhookEndpointList,
  WebhookUpdateRequest,
} from "./types.js";
import { OPERATIONS, checkCache, operationBody, type OperationName } from "./operations.js";
import { VERSION } from "./version.js";
import { decode, encode, type SchemaName } from "./wire.js";

/** A `fetch`-compatible function (the global one by default). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export const DEFAULT_BASE_URL = "http://localhost:8000";
/** Milliseconds: how long one call may take in all (retries and job waiting included). */
export const DEFAULT_TIMEOUT = 600_000;
const API_PREFIX = "/api/v1";
const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

export interface ClientOptions {
  /** Server URL. Default `$ORCHESTRATOR_BASE_URL`, else `http://localhost:8000`. */
  baseUrl?: string;
  /** `sk-test-…` / `sk-live-…`, sent as `Authorization: Bearer`. Default `$ORCHESTRATOR_API_KEY`. */
  apiKey?: string;
  /** A JWT instead of an API key (not both). */
  bearerToken?: string;
  /** Milliseconds one call may take in all, retries included (default 600 000); `null` = no limit. */
  timeout?: number | null;
  /** Retries after the first attempt (default 2); `0` turns retries off. */
  maxRetries?: number;
  /** Base of the exponential backoff, in milliseconds (default 500). */
  retryBackoff?: number;
  /** Your own `fetch` (proxies, tests). Default: the global `fetch`. */
  fetch?: FetchLike;
  /** Headers added to every request. */
  defaultHeaders?: Record<string, string>;
}

/** Per-call options, accepted by every method. */
export interface RequestOptions {
  /** Milliseconds this call may take in all (overrides the client's `timeout`). */
  timeout?: number | null;
  /** Abort the call (throws `APIUserAbortError`). */
  signal?: AbortSignal;
  /** Retries for this call (overrides the client's `maxRetries`). */
  maxRetries?: number;
  /** Extra headers for this call. */
  headers?: Record<string, string>;
}

/** Options of the calls that create something (POST): one idempotency key per call. */
export interface MutationOptions extends RequestOptions {
  /** Reused on every retry; pass your own to make the call safe to repeat across restarts. */
  idempotencyKey?: string;
}

/** Options of the image operations: as `generate()`'s, plus `wait`. */
export interface OperationOptions extends MutationOptions {
  /** `false`: resolve at once to the queued job (a `Generation`) instead of the finished one. */
  wait?: boolean;
  /** Milliseconds between polls of a job the server handed back (default 500; grows to 4x). */
  pollInterval?: number;
}

/** `OperationOptions` with `wait` left on: the call resolves to the finished generation. */
export type WaitingOperationOptions = OperationOptions & { wait?: true };

export interface WaitOptions {
  /** Milliseconds to wait in all (default 600 000). */
  timeout?: number | null;
  /** Milliseconds between polls at first (default 500; grows to 4x). */
  pollInterval?: number;
  signal?: AbortSignal;
}

export interface BatchOptions extends MutationOptions {
  /** Throw the first failed item's error instead of returning it in the result. */
  raiseOnError?: boolean;
  pollInterval?: number;
}

export interface HistoryParams {
  /** Page size. */
  limit?: number;
  /** Only this model (the seed's name for `model`). */
  filterByModel?: string;
  model?: string;
  status?: Generation["status"];
  /** Created at or after. */
  since?: string | Date;
  /** Created before. */
  until?: string | Date;
  /** Your metadata tags, sent as `metadata.<key>=<value>`. */
  metadata?: Record<string, string | number | boolean>;
  /** Text the prompt contains. */
  query?: string;
  batchId?: string;
  /** Start from this `nextCursor`. */
  cursor?: string;
}

export interface UsageParams {
  /** First day, inclusive (`YYYY-MM-DD`, or a `Date`: its UTC day). */
  startDate: string | Date;
  /** Last day, inclusive. */
  endDate: string | Date;
  /** Extra breakdown: `model`, `day`, `key` or `metadata.<key>`. */
  groupBy?: string;
}

export interface DownloadOptions extends RequestOptions {
  /** Save the thumbnails instead of the full images. */
  thumbnail?: boolean;
  /** Replace files that exist (default: refuse, and write nothing). */
  overwrite?: boolean;
  /** Save only this image of a generation (its index in `images`), under the same name. */
  index?: number;
}

/** One Server-Sent Event of a job. */
export interface GenerationEvent {
  /** The event name: the job's status (`queued`, `running`, `succeeded`…). */
  event: string;
  data: Generation;
  id: string | null;
}

/** The outcome for one prompt of a batch, with helpers. */
export interface BatchItem extends BatchItemData {
  /** `true` when this prompt's generation succeeded. */
  ok: boolean;
  /** The first image's URL, or `null` when the item failed. */
  imageUrl: string | null;
  /** The error the single-generation call would throw for this item, or `null`. */
  exception: APIStatusError | null;
}

/** What `generateBatch()` returns: one item per prompt, in order. */
export class BatchResult implements Iterable<BatchItem> {
  readonly id: string;
  readonly data: BatchItem[];
  readonly succeeded: number;
  readonly failed: number;
  readonly totalCost: number | null;

  constructor(response: BatchResponseData) {
    this.id = response.id;
    this.data = response.data.map(toBatchItem);
    this.succeeded = this.data.filter((i) => i.ok).length;
    this.failed = this.data.length - this.succeeded;
    const costs = this.data.filter((i) => i.ok).map((i) => i.generation?.cost ?? null);
    this.totalCost = costs.some((c) => c === null)
      ? null
      : Math.round(costs.reduce<number>((a, c) => a + (c ?? 0), 0) * 1e6) / 1e6;
  }

  get length(): number {
    return this.data.length;
  }

  /** The successful generations, in prompt order. */
  get generations(): GenerationResponse[] {
    return this.data.filter((i) => i.ok && i.generation !== null).map((i) => asResult(i.generation as Generation));
  }

  /** The items that failed. */
  get errors(): BatchItem[] {
    return this.data.filter((i) => !i.ok);
  }

  [Symbol.iterator](): Iterator<BatchItem> {
    return this.data[Symbol.iterator]();
  }
}

function toBatchItem(item: BatchItemData): BatchItem {
  const ok = item.status === "succeeded" && item.generation !== null;
  let exception: APIStatusError | null = null;
  if (!ok) {
    const e = item.error;
    exception = errorFor(null, {
      error: e
        ? {
            type: e.type,
            code: e.code,
            message: e.message ?? "batch item failed",
            param: e.param,
            request_id: e.requestId,
            generation_id: e.generationId,
          }
        : { message: "batch item failed" },
    });
  }
  return { ...item, ok, imageUrl: ok ? (item.generation?.imageUrl ?? null) : null, exception };
}

/** A timeout or a caller's abort, told apart when the fetch rejects. */
class Call {
  readonly signal: AbortSignal;
  readonly deadline: number | null;
  private readonly controller = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout> | undefined;
  private readonly unlink: (() => void) | undefined;
  private timedOut = false;

  constructor(
    readonly timeoutMs: number | null,
    userSignal: AbortSignal | undefined,
    private readonly monotonic: () => number,
  ) {
    this.signal = this.controller.signal;
    this.deadline = timeoutMs === null ? null : monotonic() + timeoutMs;
    if (timeoutMs !== null) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.controller.abort();
      }, timeoutMs);
      // A pending deadline alone must not keep a Node process alive.
      (this.timer as { unref?: () => void }).unref?.();
    }
    if (userSignal) {
      if (userSignal.aborted) this.controller.abort(userSignal.reason);
      else {
        const onAbort = (): void => this.controller.abort(userSignal.reason);
        userSignal.addEventListener("abort", onAbort, { once: true });
        this.unlink = () => userSignal.removeEventListener("abort", onAbort);
      }
    }
  }

  /** Milliseconds left, or `null` without a deadline. */
  remaining(): number | null {
    return this.deadline === null ? null : Math.max(0, this.deadline - this.monotonic());
  }

  abortError(what: string, cause?: unknown, generationId?: string): OrchestrationError {
    if (this.timedOut || (this.deadline !== null && this.remaining() === 0)) {
      return new APITimeoutError(`${what} timed out after ${this.timeoutMs} ms`, { cause, generationId });
    }
    return new APIUserAbortError(`${what} was aborted`, { cause, generationId });
  }

  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.unlink?.();
  }
}

interface Outgoing {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  url: string;
  query?: Array<[string, string]>;
  body?: unknown;
  idempotencyKey?: string;
  headers?: Record<string, string>;
  accept?: string;
  authenticated?: boolean;
}

function readEnv(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const value = proc?.env?.[name];
  return value ? value : undefined;
}

function newIdempotencyKey(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  const hex = Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16));
  hex[12] = "4";
  return `${hex.slice(0, 8).join("")}-${hex.slice(8, 12).join("")}-${hex.slice(12, 16).join("")}-${hex
    .slice(16, 20)
    .join("")}-${hex.slice(20).join("")}`;
}

function pathId(value: string): string {
  if (typeof value !== "string" || !value) throw new TypeError("an id or name is required");
  return encodeURIComponent(value);
}

function dayParam(value: string | Date, name: string): string {
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  if (typeof value === "string") return value;
  throw new TypeError(`${name} must be a YYYY-MM-DD string or a Date`);
}

function checkDuration(value: number | null | undefined, name: string): void {
  if (value === undefined || value === null) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive number of milliseconds or null, not ${String(value)}`);
  }
}

/** Client for the Freepik AI Orchestrator API. */
export class OrchestrationClient {
  readonly baseUrl: string;
  readonly timeout: number | null;
  readonly maxRetries: number;
  /** Milliseconds. */
  readonly retryBackoff: number;
  private readonly apiKey: string | undefined;
  private readonly bearerToken: string | undefined;
  private readonly fetchImpl: FetchLike;
  private readonly defaultHeaders: Record<string, string>;

  /** @internal Seams for tests: sleep, wall clock (epoch ms), monotonic clock (ms), jitter. */
  _sleep: (ms: number, signal: AbortSignal) => Promise<void> = abortableSleep;
  /** @internal */
  _now: () => number = () => Date.now();
  /** @internal */
  _monotonic: () => number = () => performance.now();
  /** @internal */
  _random: () => number = Math.random;

  constructor(options: ClientOptions = {}) {
    if (options.apiKey !== undefined && options.bearerToken !== undefined) {
      throw new TypeError("pass apiKey or bearerToken, not both");
    }
    this.bearerToken = options.bearerToken;
    this.apiKey = options.bearerToken === undefined ? (options.apiKey ?? readEnv("ORCHESTRATOR_API_KEY")) : undefined;
    if (!this.apiKey && !this.bearerToken) {
      throw new OrchestrationError(
        "no credentials: pass apiKey (or bearerToken) to OrchestrationClient, or set ORCHESTRATOR_API_KEY",
        { code: "missing_credentials" },
      );
    }
    const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    if (!Number.isInteger(maxRetries) || maxRetries < 0) {
      throw new TypeError(`maxRetries must be an integer >= 0 (0 turns retries off), not ${String(maxRetries)}`);
    }
    const retryBackoff = options.retryBackoff ?? DEFAULT_RETRY_BACKOFF * 1000;
    if (typeof retryBackoff !== "number" || !Number.isFinite(retryBackoff) || retryBackoff < 0) {
      throw new TypeError(`retryBackoff must be a number of milliseconds >= 0, not ${String(retryBackoff)}`);
    }
    checkDuration(options.timeout, "timeout");
    const fetchImpl = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (typeof fetchImpl !== "function") {
      throw new OrchestrationError("no fetch: this runtime has no global fetch; pass the fetch option");
    }
    this.baseUrl = normalizeBaseUrl(options.baseUrl ?? readEnv("ORCHESTRATOR_BASE_URL") ?? DEFAULT_BASE_URL);
    this.timeout = options.timeout === undefined ? DEFAULT_TIMEOUT : options.timeout;
    this.maxRetries = maxRetries;
    this.retryBackoff = retryBackoff;
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.defaultHeaders = { ...(options.defaultHeaders ?? {}) };
  }

  // ------------------------------------------------------------------------------ generations

  /**
   * Generate an image and resolve to the finished generation. If the server hands back the
   * job before it finishes (202), this waits for it within the call's `timeout`. A failed
   * generation throws the mapped error (e.g. `ProviderError`, `ContentPolicyError`) with
   * `generationId` set.
   */
  async generate(request: GenerationRequest, options: MutationOptions & { pollInterval?: number } = {}): Promise<GenerationResponse> {
    const call = this.newCall(options);
    try {
      const body = this.requestBody("GenerateRequest", request);
      return (await this.runJob("/generate", body, call, { ...options, wait: true })) as GenerationResponse;
    } finally {
      call.close();
    }
  }

  /** Create a generation job and resolve at once to it (`status` `queued` or `running`). */
  async submit(request: GenerationRequest, options: MutationOptions = {}): Promise<Generation> {
    const call = this.newCall(options);
    try {
      const body = this.requestBody("GenerateRequest", request);
      return await this.json<Generation>(
        "GenerationResponse",
        call,
        this.post("/generate", body, options, { Prefer: "respond-async" }),
      );
    } finally {
      call.close();
    }
  }

  /** One generation (also a job's current status). */
  async getGeneration(generationId: string, options: RequestOptions = {}): Promise<Generation> {
    const call = this.newCall(options);
    try {
      return await this.fetchGeneration(generationId, call, options);
    } finally {
      call.close();
    }
  }

  /**
   * Poll a job until it succeeds, fails or is canceled, and resolve to it (a failed job is
   * returned, not thrown). Throws `APITimeoutError` (with `generationId`) after `timeout` ms.
   */
  async waitFor(generationId: string, options: WaitOptions = {}): Promise<Generation> {
    const call = this.newCall({ timeout: options.timeout === undefined ? DEFAULT_TIMEOUT : options.timeout, signal: options.signal });
    try {
      return await this.waitWithin(generationId, call, options.pollInterval ?? 500);
    } finally {
      call.close();
    }
  }

  /**
   * The job's events as the server sends them (Server-Sent Events): `queued`, `running` with
   * progress, then the terminal status, after which the iteration ends. A stream cut early is
   * reopened (up to `maxRetries` times) with `Last-Event-ID`.
   */
  async *streamEvents(generationId: string, options: RequestOptions = {}): AsyncGenerator<GenerationEvent> {
    const call = this.newCall(options);
    const url = this.url(`/generations/${pathId(generationId)}/events`);
    const maxRetries = options.maxRetries ?? this.maxRetries;
    let lastId: string | null = null;
    try {
      for (let reconnects = 0; ; reconnects++) {
        const headers: Record<string, string> = { ...(options.headers ?? {}) };
        if (lastId !== null) headers["Last-Event-ID"] = lastId;
        const response = await this.send(call, { method: "GET", url, headers, accept: "text/event-stream" }, maxRetries);
        const decoder = new SSEDecoder();
        let dropped: unknown;
        try {
          if (!response.body) throw new APIConnectionError("the event stream has no body");
          for await (const line of readLines(response.body)) {
            const sse = decoder.feed(line);
            if (sse === null) continue;
            if (sse.id) lastId = sse.id;
            const event = eventFrom(sse);
            if (event !== null) {
              yield event;
              if (TERMINAL.has(event.data.status)) return;
            }
          }
          const last = decoder.flush();
          const event = last === null ? null : eventFrom(last);
          if (event !== null) {
            yield event;
            if (TERMINAL.has(event.data.status)) return;
          }
        } catch (err) {
          if (call.signal.aborted) throw call.abortError(`events of ${generationId}`, err, generationId);
          if (err instanceof OrchestrationError) throw err;
          dropped = err;
        }
        // The stream ended before the job did (a proxy cut it, the server restarted): reopen it.
        if (reconnects >= maxRetries) {
          throw new APIConnectionError(
            `the event stream of ${generationId} ended before the job finished (${reconnects} reconnects); use waitFor() instead`,
            { generationId, cause: dropped },
          );
        }
        await this.pause(backoffDelay(reconnects, this.retryBackoff / 1000, this._random()) * 1000, call, "events");
      }
    } finally {
      call.close();
    }
  }

  /** Cancel a job that has not finished. Throws `ConflictError` if it already has. */
  async cancel(generationId: string, options: MutationOptions = {}): Promise<Generation> {
    const call = this.newCall(options);
    try {
      return await this.json<Generation>(
        "GenerationResponse",
        call,
        this.post(`/generations/${pathId(generationId)}/cancel`, undefined, options),
      );
    } finally {
      call.close();
    }
  }

  /**
   * One generation per prompt (`batchSize` at a time on the server), in order. Items the
   * server hands back still running are waited for within the call's `timeout`.
   */
  async generateBatch(request: BatchRequest, options: BatchOptions = {}): Promise<BatchResult> {
    if (!isRecord(request) || !Array.isArray(request.prompts)) {
      throw new TypeError("generateBatch takes { prompts: string[], model, ... }");
    }
    const call = this.newCall(options);
    try {
      const body = encode("BatchRequest", request);
      let batch = await this.json<BatchResponseData>("BatchResponse", call, this.post("/generate/batch", body, options));
      const pending = batch.data
        .map((item) => item.generation)
        .filter((g): g is Generation => g !== null && !TERMINAL.has(g.status));
      if (pending.length > 0) {
        const done = new Map<string, Generation>();
        for (const job of pending) done.set(job.id, await this.waitWithin(job.id, call, options.pollInterval ?? 500));
        batch = resolveBatch(batch, done);
      }
      const result = new BatchResult(batch);
      if (options.raiseOnError) {
        const failedItem = result.errors[0];
        if (failedItem?.exception) throw failedItem.exception;
      }
      return result;
    } finally {
      call.close();
    }
  }

  /**
   * Past generations, newest first. Await it for the first page, or iterate every generation
   * across pages with `for await (const g of client.getGenerationHistory({ limit: 50 }))`.
   */
  getGenerationHistory(params: HistoryParams = {}, options: RequestOptions = {}): PagePromise<Generation> {
    const query = historyQuery(params);
    const load = async (cursor: string | null): Promise<Page<Generation>> => {
      const pageQuery = query.filter(([k]) => k !== "cursor");
      if (cursor !== null) pageQuery.push(["cursor", cursor]);
      const listing = await this.simple<GenerationPageData>("GenerationPage", options, {
        method: "GET",
        url: this.url("/generations"),
        query: pageQuery,
      });
      return new Page<Generation>({
        data: listing.data,
        hasMore: listing.hasMore,
        nextCursor: listing.nextCursor,
        cursor,
        fetchPage: (next) => load(next),
      });
    };
    return new PagePromise(() => load(params.cursor ?? null));
  }

  // ------------------------------------------------------------------------------ image operations

  /**
   * Edit images from a prompt (`POST /images/edits`); with `mask`, only its transparent pixels
   * are repainted. Resolves like `generate()` (with `{ wait: false }`, to the queued job).
   * Each input is a stored image id (`gen_…`, `gen_…:N`), an http(s) URL, or the image itself
   * (`Blob`, `Uint8Array`, `ArrayBuffer`): ids and URLs go as JSON, images as multipart. A bad
   * argument (no image, a blank prompt, a number, another string) throws a `TypeError` naming
   * the field, before any request.
   */
  edit(request: EditRequest, options?: WaitingOperationOptions): Promise<GenerationResponse>;
  edit(request: EditRequest, options: OperationOptions & { wait: false }): Promise<Generation>;
  edit(request: EditRequest, options?: OperationOptions): Promise<GenerationResponse | Generation>;
  edit(request: EditRequest, options: OperationOptions = {}): Promise<GenerationResponse | Generation> {
    return this.operate("edit", request, options);
  }

  /** More images like `image` (`POST /images/variations`, no prompt). Inputs and options as in `edit()`. */
  createVariation(request: VariationRequest, options?: WaitingOperationOptions): Promise<GenerationResponse>;
  createVariation(request: VariationRequest, options: OperationOptions & { wait: false }): Promise<Generation>;
  createVariation(request: VariationRequest, options?: OperationOptions): Promise<GenerationResponse | Generation>;
  createVariation(request: VariationRequest, options: OperationOptions = {}): Promise<GenerationResponse | Generation> {
    return this.operate("variation", request, options);
  }

  /** `image` enlarged `factor` times (`POST /images/upscale`). Inputs and options as in `edit()`. */
  upscale(request: UpscaleRequest, options?: WaitingOperationOptions): Promise<GenerationResponse>;
  upscale(request: UpscaleRequest, options: OperationOptions & { wait: false }): Promise<Generation>;
  upscale(request: UpscaleRequest, options?: OperationOptions): Promise<GenerationResponse | Generation>;
  upscale(request: UpscaleRequest, options: OperationOptions = {}): Promise<GenerationResponse | Generation> {
    return this.operate("upscale", request, options);
  }

  /** The subject of `image` on a transparent background, a PNG (`POST /images/remove-background`). */
  removeBackground(request: RemoveBackgroundRequest, options?: WaitingOperationOptions): Promise<GenerationResponse>;
  removeBackground(request: RemoveBackgroundRequest, options: OperationOptions & { wait: false }): Promise<Generation>;
  removeBackground(request: RemoveBackgroundRequest, options?: OperationOptions): Promise<GenerationResponse | Generation>;
  removeBackground(request: RemoveBackgroundRequest, options: OperationOptions = {}): Promise<GenerationResponse | Generation> {
    return this.operate("remove_background", request, options);
  }

  /** A new image from `prompt` guided by `image` (`POST /images/image-to-image`); `strength` 0 to 1. */
  imageToImage(request: ImageToImageRequest, options?: WaitingOperationOptions): Promise<GenerationResponse>;
  imageToImage(request: ImageToImageRequest, options: OperationOptions & { wait: false }): Promise<Generation>;
  imageToImage(request: ImageToImageRequest, options?: OperationOptions): Promise<GenerationResponse | Generation>;
  imageToImage(request: ImageToImageRequest, options: OperationOptions = {}): Promise<GenerationResponse | Generation> {
    return this.operate("image_to_image", request, options);
  }

  private async operate(operation: OperationName, request: unknown, options: OperationOptions): Promise<GenerationResponse | Generation> {
    const body = operationBody(operation, request); // throws before any request
    const call = this.newCall(options);
    try {
      return await this.runJob(OPERATIONS[operation].path, body, call, options);
    } finally {
      call.close();
    }
  }

  /**
   * Post a job-creating request. Waiting (the default), the server holds it within our deadline
   * and a 202 is followed to the end: resolves to the finished generation or throws its error.
   * With `wait: false`, resolves at once to the job as answered.
   */
  private async runJob(
    path: string,
    body: Record<string, unknown> | FormData,
    call: Call,
    options: OperationOptions,
  ): Promise<GenerationResponse | Generation> {
    const wait = options.wait ?? true;
    const headers: Record<string, string> = {};
    const remaining = call.remaining();
    // RFC 7240: have the server hand back the job (202) before our deadline, not be cut off.
    if (!wait) headers["Prefer"] = "respond-async";
    else if (remaining !== null) headers["Prefer"] = `wait=${Math.max(1, Math.floor(remaining / 1000) - 1)}`;
    let generation = await this.json<Generation>("GenerationResponse", call, this.post(path, body, options, headers));
    if (!wait) return generation;
    if (!TERMINAL.has(generation.status)) {
      generation = await this.waitWithin(generation.id, call, options.pollInterval ?? 500);
    }
    return finished(generation);
  }

  // ------------------------------------------------------------------------------ catalog

  /** Every model in the catalog, with capabilities, pricing and availability. */
  async listModels(options: RequestOptions = {}): Promise<ModelInfo[]> {
    const list = await this.simple<ModelList>("ModelList", options, { method: "GET", url: this.url("/models") });
    return list.data;
  }

  /** One model; throws `ModelNotAvailableError` for an unknown name. */
  async getModelInfo(name: string, options: RequestOptions = {}): Promise<ModelInfo> {
    return this.simple<ModelInfo>("ModelInfo", options, { method: "GET", url: this.url(`/models/${pathId(name)}`) });
  }

  /** Usage and cost between two days (inclusive), optionally grouped. */
  async getUsageStats(params: UsageParams, options: RequestOptions = {}): Promise<UsageStats> {
    if (!isRecord(params)) throw new TypeError("getUsageStats takes { startDate, endDate, groupBy? }");
    const query: Array<[string, string]> = [
      ["start_date", dayParam(params.startDate, "startDate")],
      ["end_date", dayParam(params.endDate, "endDate")],
    ];
    if (params.groupBy !== undefined) query.push(["group_by", params.groupBy]);
    return this.simple<UsageStats>("UsageStats", options, { method: "GET", url: this.url("/usage"), query });
  }

  // ------------------------------------------------------------------------------ keys

  /** The project's API keys (never their secrets). Needs the `admin` scope. */
  async listKeys(options: RequestOptions = {}): Promise<ApiKey[]> {
    const list = await this.simple<KeyList>("KeyList", options, { method: "GET", url: this.url("/keys") });
    return list.data;
  }

  /** Create a key in the caller's project; its secret (`key`) is in this response only. */
  async createKey(request: KeyCreateRequest, options: MutationOptions = {}): Promise<KeyCreated> {
    const call = this.newCall(options);
    try {
      return await this.json<KeyCreated>("KeyCreated", call, this.post("/keys", encode("KeyCreate", request), options));
    } finally {
      call.close();
    }
  }

  /** Revoke a key: it stops working at once. */
  async revokeKey(keyId: string, options: RequestOptions = {}): Promise<ApiKey> {
    return this.simple<ApiKey>("KeyOut", options, { method: "DELETE", url: this.url(`/keys/${pathId(keyId)}`) });
  }

  // ------------------------------------------------------------------------------ webhooks

  /**
   * Register an endpoint (admin scope). The answer's `secret` (`whsec_…`) is shown only here:
   * keep it to check deliveries with `verifyWebhook()`.
   */
  async createWebhook(request: WebhookCreateRequest, options: MutationOptions = {}): Promise<WebhookEndpointCreated> {
    if (!isRecord(request) || typeof request.url !== "string" || !request.url) {
      throw new TypeError("pass { url } : the http(s) URL that receives the events");
    }
    const call = this.newCall(options);
    try {
      const outgoing = this.post("/webhooks", encode("WebhookCreate", request), options);
      return await this.json<WebhookEndpointCreated>("WebhookCreated", call, outgoing);
    } finally {
      call.close();
    }
  }

  /** Every endpoint of the project (without secrets). */
  async listWebhooks(options: RequestOptions = {}): Promise<WebhookEndpoint[]> {
    const list = await this.simple<WebhookEndpointList>("WebhookList", options, { method: "GET", url: this.url("/webhooks") });
    return list.data;
  }

  async getWebhook(webhookId: string, options: RequestOptions = {}): Promise<WebhookEndpoint> {
    return this.simple<WebhookEndpoint>("WebhookOut", options, { method: "GET", url: this.url(`/webhooks/${pathId(webhookId)}`) });
  }

  /** Change `enabled`, `events` or `description` (`description: null` clears it). */
  async updateWebhook(webhookId: string, changes: WebhookUpdateRequest, options: RequestOptions = {}): Promise<WebhookEndpoint> {
    const body = isRecord(changes) ? encode("WebhookUpdate", changes) : {};
    if (Object.keys(body).length === 0) throw new TypeError("updateWebhook() needs enabled, events or description");
    return this.simple<WebhookEndpoint>("WebhookOut", options, {
      method: "PATCH",
      url: this.url(`/webhooks/${pathId(webhookId)}`),
      body,
    });
  }

  /** Stop deliveries to the endpoint until `resumeWebhook()`; events meanwhile are not sent. */
  async pauseWebhook(webhookId: string, options: RequestOptions = {}): Promise<WebhookEndpoint> {
    return this.updateWebhook(webhookId, { enabled: false }, options);
  }

  async resumeWebhook(webhookId: string, options: RequestOptions = {}): Promise<WebhookEndpoint> {
    return this.updateWebhook(webhookId, { enabled: true }, options);
  }

  /** Delete the endpoint; resolves to it as it was. */
  async deleteWebhook(webhookId: string, options: RequestOptions = {}): Promise<WebhookEndpoint> {
    return this.simple<WebhookEndpoint>("WebhookOut", options, { method: "DELETE", url: this.url(`/webhooks/${pathId(webhookId)}`) });
  }

  /** The endpoint's recent deliveries, newest first. */
  async listWebhookDeliveries(webhookId: string, options: RequestOptions = {}): Promise<WebhookDelivery[]> {
    const url = this.url(`/webhooks/${pathId(webhookId)}/deliveries`);
    return (await this.simple<WebhookDeliveryList>("DeliveryList", options, { method: "GET", url })).data;
  }

  /** Send a signed `webhook.test` event to the endpoint; resolves to its delivery. */
  async sendTestWebhook(webhookId: string, options: MutationOptions = {}): Promise<WebhookDelivery> {
    const call = this.newCall(options);
    try {
      const outgoing = this.post(`/webhooks/${pathId(webhookId)}/test`, undefined, options);
      return await this.json<WebhookDelivery>("DeliveryOut", call, outgoing);
    } finally {
      call.close();
    }
  }

  // ------------------------------------------------------------------------------ images

  /**
   * Save images into `directory` (created if missing) and resolve to the paths written.
   * A generation gives one file per image, `<generation id>-<index>.<ext>` (index from 0, as
   * in `images`); a URL or an `ImageInfo` keeps the URL's file name. Existing files are never
   * replaced unless `overwrite` is set. Node (and Deno/Bun) only: it writes to the file system.
   */
  async download(
    target: string | Generation | ImageInfo,
    directory: string,
    options: DownloadOptions = {},
  ): Promise<string[]> {
    const fs = await nodeModule<FsPromises>("node:fs/promises");
    const path = await nodeModule<typeof import("node:path")>("node:path");
    let wanted = downloadTargets(target, options.thumbnail ?? false);
    if (options.index !== undefined) {
      const one = wanted[options.index];
      if (!one) throw new TypeError(`no image ${options.index}: there are ${wanted.length}`);
      wanted = [one];
    }
    if (!(options.overwrite ?? false)) {
      // Refuse before fetching anything when every name is already known.
      for (const { base, extension } of wanted) {
        if (extension === null) continue;
        const destination = path.join(directory, `${base}.${extension}`);
        if (await fs.access(destination).then(() => true, () => false)) throw new DestinationExistsError(destination);
      }
    }
    await fs.mkdir(directory, { recursive: true });
    const written: string[] = [];
    const call = this.newCall(options);
    try {
      for (const { url, base, extension } of wanted) {
        const absolute = new URL(url, this.baseUrl).toString();
        const response = await this.send(call, {
          method: "GET",
          url: absolute,
          accept: "image/*",
          headers: options.headers,
          // Signed URLs need no credentials: never hand the key to another host (CDN, bucket).
          authenticated: sameOrigin(absolute, this.baseUrl),
        }, options.maxRetries ?? this.maxRetries);
        let bytes: Uint8Array;
        try {
          bytes = new Uint8Array(await response.arrayBuffer());
        } catch (err) {
          if (call.signal.aborted) throw call.abortError(`download of ${base}`, err);
          throw new APIConnectionError(`download of ${absolute} was cut off`, { cause: err });
        }
        const name = `${base}.${extension ?? extensionFor(response.headers.get("content-type"))}`;
        const destination = path.join(directory, name);
        await writeNew(fs, destination, bytes, options.overwrite ?? false);
        written.push(destination);
      }
    } finally {
      call.close();
    }
    return written;
  }

  // ------------------------------------------------------------------------------ internals

  private newCall(options: { timeout?: number | null; signal?: AbortSignal }): Call {
    checkDuration(options.timeout, "timeout");
    const timeout = options.timeout === undefined ? this.timeout : options.timeout;
    return new Call(timeout, options.signal, () => this._monotonic());
  }

  private url(path: string): string {
    return `${this.baseUrl}${API_PREFIX}${path}`;
  }

  private requestBody(schema: SchemaName, request: GenerationRequest): Record<string, unknown> {
    if (!isRecord(request)) throw new TypeError("pass the request as an object: { prompt, model, ... }");
    checkCache(request.cache);
    const body = encode(schema, request);
    if (body["cache"] === null) delete body["cache"]; // null, like undefined: the key's default
    return body;
  }

  private post(
    path: string,
    body: unknown,
    options: MutationOptions,
    headers: Record<string, string> = {},
  ): Outgoing {
    // One key per logical call, made here once, so every retry of the call reuses it.
    return {
      method: "POST",
      url: this.url(path),
      body,
      idempotencyKey: options.idempotencyKey ?? newIdempotencyKey(),
      headers: { ...headers, ...(options.headers ?? {}) },
    };
  }

  private async simple<R>(schema: SchemaName, options: RequestOptions, outgoing: Outgoing): Promise<R> {
    const call = this.newCall(options);
    try {
      outgoing.headers = { ...(outgoing.headers ?? {}), ...(options.headers ?? {}) };
      return await this.json<R>(schema, call, outgoing, options.maxRetries);
    } finally {
      call.close();
    }
  }

  private async fetchGeneration(generationId: string, call: Call, options: RequestOptions = {}): Promise<Generation> {
    return this.json<Generation>(
      "GenerationResponse",
      call,
      { method: "GET", url: this.url(`/generations/${pathId(generationId)}`), headers: options.headers },
      options.maxRetries,
    );
  }

  private async waitWithin(generationId: string, call: Call, pollInterval: number): Promise<Generation> {
    try {
      for (let polls = 0; ; polls++) {
        const generation = await this.fetchGeneration(generationId, call);
        if (TERMINAL.has(generation.status)) return generation;
        let delay = Math.min(pollInterval * 1.5 ** polls, pollInterval * 4);
        const remaining = call.remaining();
        if (remaining !== null) {
          if (remaining <= 0) throw call.abortError(`waiting for ${generationId}`, undefined, generationId);
          delay = Math.min(delay, remaining);
        }
        await this.pause(delay, call, `waiting for ${generationId}`);
      }
    } catch (err) {
      if (err instanceof APITimeoutError && err.generationId === null) {
        throw new APITimeoutError(
          `generation ${generationId} did not finish in time; it keeps running on the server (waitFor() it again, or cancel() it)`,
          { generationId, cause: err },
        );
      }
      throw err;
    }
  }

  private async json<R>(schema: SchemaName, call: Call, outgoing: Outgoing, maxRetries?: number): Promise<R> {
    const response = await this.send(call, outgoing, maxRetries ?? this.maxRetries);
    let raw: unknown;
    try {
      raw = await response.json();
    } catch (err) {
      if (call.signal.aborted) throw call.abortError(`${outgoing.method} ${outgoing.url}`, err);
      throw new OrchestrationError(`unexpected response body (not JSON) from ${outgoing.method} ${outgoing.url}`, {
        status: response.status,
        requestId: response.headers.get("x-request-id"),
        cause: err,
      });
    }
    const value = decode<R>(schema, raw);
    if (isRecord(value)) {
      Object.defineProperty(value, "_requestId", { value: response.headers.get("x-request-id"), enumerable: false });
      Object.defineProperty(value, "_idempotentReplayed", {
        value: (response.headers.get("idempotent-replayed") ?? "").toLowerCase() === "true",
        enumerable: false,
      });
    }
    return value;
  }

  /** Send with retries; resolves to a successful response whose body is unread. */
  private async send(call: Call, outgoing: Outgoing, maxRetries: number): Promise<Response> {
    const what = `${outgoing.method} ${outgoing.url}`;
    let url = outgoing.url;
    if (outgoing.query && outgoing.query.length > 0) url += `?${new URLSearchParams(outgoing.query).toString()}`;
    // FormData is sent as it is (fetch writes the multipart body and its boundary, on every attempt).
    const body =
      outgoing.body === undefined
        ? undefined
        : typeof FormData !== "undefined" && outgoing.body instanceof FormData
          ? outgoing.body
          : JSON.stringify(outgoing.body);
    for (let retries = 0; ; retries++) {
      const headers = this.headersFor(outgoing, retries, call, typeof body === "string");
      let response: Response | undefined;
      let failure: unknown;
      try {
        response = await this.fetchImpl(url, { method: outgoing.method, headers, body, signal: call.signal, redirect: "follow" });
      } catch (err) {
        if (call.signal.aborted) throw call.abortError(what, err);
        failure = err;
      }
      let error: OrchestrationError;
      let retry: boolean;
      let delay: number;
      if (response !== undefined) {
        if (response.ok) return response;
        let text = "";
        try {
          text = await response.text();
        } catch (err) {
          if (call.signal.aborted) throw call.abortError(what, err);
        }
        let parsed: unknown = null;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {
          parsed = null;
        }
        const decision = decideRetry({
          retriesSoFar: retries,
          maxRetries,
          retryBackoff: this.retryBackoff / 1000,
          status: response.status,
          headers: response.headers,
          nowMs: this._now(),
          random: this._random(),
          body: parsed,
        });
        error = errorFor(response.status, parsed ?? (text || null), response.headers, {
          retryAfter: decision.retryAfter,
          text: parsed === null ? text : null,
        });
        ({ retry, delay } = decision);
      } else {
        const decision = decideRetry({
          retriesSoFar: retries,
          maxRetries,
          retryBackoff: this.retryBackoff / 1000,
          status: null,
          headers: {},
          nowMs: this._now(),
          random: this._random(),
        });
        const reason = failure instanceof Error ? (failure.cause instanceof Error ? failure.cause.message : failure.message) : String(failure);
        error = new APIConnectionError(`connection error: ${what}: ${reason}`, { cause: failure });
        ({ retry, delay } = decision);
      }
      if (!retry) throw error;
      const remaining = call.remaining();
      // No time left for the wait and another attempt: report the real failure, not a timeout.
      if (remaining !== null && delay * 1000 >= remaining) throw error;
      await this.pause(delay * 1000, call, what);
    }
  }

  private headersFor(outgoing: Outgoing, retries: number, call: Call, hasBody: boolean): Record<string, string> {
    const headers: Record<string, string> = {
      Accept: outgoing.accept ?? "application/json",
      "User-Agent": `freepik-ai-orchestrator-ts/${VERSION}`,
      // Observability: which attempt this is, and how long the client will wait in all.
      "X-Request-Attempt": String(retries + 1),
    };
    const remaining = call.remaining();
    if (remaining !== null) headers["X-Client-Timeout"] = String(Math.max(0, Math.round(remaining) / 1000));
    if (hasBody) headers["Content-Type"] = "application/json";
    if (outgoing.authenticated ?? true) {
      const token = this.bearerToken ?? this.apiKey;
      if (token) headers["Authorization"] = `Bearer ${token}`;
    }
    if (outgoing.idempotencyKey !== undefined) headers["Idempotency-Key"] = outgoing.idempotencyKey;
    return { ...headers, ...this.defaultHeaders, ...(outgoing.headers ?? {}) };
  }

  private async pause(ms: number, call: Call, what: string): Promise<void> {
    try {
      await this._sleep(ms, call.signal);
    } catch (err) {
      if (call.signal.aborted) throw call.abortError(what, err);
      throw err;
    }
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function normalizeBaseUrl(raw: string): string {
  let url = raw.trim().replace(/\/+$/, "");
  if (url.endsWith(API_PREFIX)) url = url.slice(0, -API_PREFIX.length); // tolerate a versioned base URL
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`baseUrl must be an absolute http(s) URL, not ${JSON.stringify(raw)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(`baseUrl must be an absolute http(s) URL, not ${JSON.stringify(raw)}`);
  }
  return url;
}

function sameOrigin(a: string, b: string): boolean {
  return new URL(a).origin === new URL(b).origin;
}

function historyQuery(params: HistoryParams): Array<[string, string]> {
  if (params.filterByModel !== undefined && params.model !== undefined && params.filterByModel !== params.model) {
    throw new TypeError("filterByModel and model name the same filter; pass one of them");
  }
  const query: Array<[string, string]> = [];
  const time = (v: string | Date): string => (v instanceof Date ? v.toISOString() : v);
  if (params.limit !== undefined) query.push(["limit", String(params.limit)]);
  const model = params.filterByModel ?? params.model;
  if (model !== undefined) query.push(["model", model]);
  if (params.status !== undefined) query.push(["status", params.status]);
  if (params.since !== undefined) query.push(["since", time(params.since)]);
  if (params.until !== undefined) query.push(["until", time(params.until)]);
  if (params.query !== undefined) query.push(["q", params.query]);
  if (params.batchId !== undefined) query.push(["batch_id", params.batchId]);
  for (const [key, value] of Object.entries(params.metadata ?? {})) query.push([`metadata.${key}`, String(value)]);
  return query;
}

function eventFrom(sse: ServerSentEvent): GenerationEvent | null {
  if (!sse.data) return null; // pings
  let payload: unknown;
  try {
    payload = JSON.parse(sse.data);
  } catch {
    return null;
  }
  if (!isRecord(payload)) return null;
  if (isRecord(payload["error"]) && !("id" in payload)) throw errorFor(null, payload);
  if (typeof payload["id"] !== "string" || typeof payload["status"] !== "string") return null;
  return { event: sse.event, data: decode<Generation>("GenerationResponse", payload), id: sse.id };
}

/** The wire error object the synchronous endpoint would answer for a failed or canceled job. */
function failure(generation: Generation): Record<string, unknown> {
  const requestId = (generation as { _requestId?: string | null })._requestId ?? null;
  if (generation.status === "canceled") {
    return {
      type: "invalid_request_error",
      code: "generation_canceled",
      message: `generation ${generation.id} was canceled`,
      generation_id: generation.id,
      request_id: requestId,
    };
  }
  return {
    code: generation.error?.code,
    message: generation.error?.message ?? `generation ${generation.id} ${generation.status}`,
    generation_id: generation.id,
    request_id: requestId,
  };
}

/** The generation if it succeeded; otherwise the error the synchronous endpoint would answer. */
function finished(generation: Generation): GenerationResponse {
  if (generation.status === "succeeded") return asResult(generation);
  throw errorFor(null, { error: failure(generation) });
}

/**
 * A succeeded generation as `generate()` promises it (clients/spec/conformance.json,
 * `result_types`): no style is `""`, an unknown price `NaN`. A copy, so the history item or batch
 * item it came from keeps the server's nulls; response metadata is carried over.
 */
function asResult(generation: Generation): GenerationResponse {
  const result = {
    ...generation,
    style: generation.style ?? "",
    cost: generation.cost ?? Number.NaN,
  } as GenerationResponse;
  for (const key of ["_requestId", "_idempotentReplayed"]) {
    const meta = Object.getOwnPropertyDescriptor(generation, key);
    if (meta) Object.defineProperty(result, key, meta);
  }
  return result;
}

function resolveBatch(batch: BatchResponseData, done: Map<string, Generation>): BatchResponseData {
  const data = batch.data.map((item): BatchItemData => {
    const job = item.generation ? done.get(item.generation.id) : undefined;
    if (job === undefined) return item;
    if (job.status === "succeeded") return { ...item, status: "succeeded", generation: job, error: null };
    const e = failure(job);
    return {
      ...item,
      status: "failed",
      generation: job,
      error: {
        type: (e["type"] as string | undefined) ?? null,
        code: (e["code"] as string | undefined) ?? null,
        message: (e["message"] as string | undefined) ?? null,
        param: null,
        requestId: (e["request_id"] as string | null | undefined) ?? null,
        generationId: job.id,
      },
    };
  });
  return { ...batch, data };
}

interface DownloadTarget {
  url: string;
  /** The file name without its extension. */
  base: string;
  /** Known before fetching (the image's content type, else the URL's), or null: the answer decides. */
  extension: string | null;
}

/** The shared naming rules (clients/spec/conformance.json, "downloads"). */
function downloadTargets(target: string | Generation | ImageInfo, thumbnail: boolean): DownloadTarget[] {
  if (typeof target === "string") return [urlTarget(target, null)];
  if (!isRecord(target)) throw new TypeError("download takes a generation, an image or a URL");
  if ("url" in target && !("status" in target)) {
    const image = target as ImageInfo;
    const url = thumbnail ? image.thumbnailUrl : image.url;
    if (!url) throw new TypeError("this image has no thumbnail URL");
    return [urlTarget(url, thumbnail ? null : image.contentType)];
  }
  const generation = target as Generation;
  const images: Array<{ url: string | null; contentType: string | null }> =
    generation.images && generation.images.length > 0
      ? generation.images.map((i) => ({ url: thumbnail ? i.thumbnailUrl : i.url, contentType: thumbnail ? null : i.contentType }))
      : [{ url: thumbnail ? generation.thumbnailUrl : generation.imageUrl, contentType: null }];
  if (images.some((i) => !i.url)) {
    throw new TypeError(`generation ${generation.id} has no ${thumbnail ? "thumbnail" : "image"} URL (status: ${generation.status})`);
  }
  const suffix = thumbnail ? "-thumb" : "";
  return images.map(({ url, contentType }, index) => ({
    url: url as string,
    base: `${generation.id}-${index}${suffix}`,
    extension: knownExtension(contentType) ?? urlExtension(url as string),
  }));
}

/** A URL keeps the last segment of its path, percent-decoded ("image" when there is none). */
function urlTarget(url: string, contentType: string | null): DownloadTarget {
  const segment = new URL(url, "http://x").pathname.split("/").pop() ?? "";
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    name = segment;
  }
  name = name.replace(/[/\\]/g, "_");
  const dot = name.lastIndexOf(".");
  let base = dot > 0 && /^[A-Za-z0-9]{1,5}$/.test(name.slice(dot + 1)) ? name.slice(0, dot) : name;
  if (/^\.*$/.test(base)) base = "image";
  return { url, base, extension: knownExtension(contentType) ?? urlExtension(url) };
}

const EXTENSIONS: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/webp": "webp",
  "image/gif": "gif",
  "image/avif": "avif",
};

function knownExtension(contentType: string | null | undefined): string | null {
  const kind = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  return EXTENSIONS[kind] ?? null;
}

function urlExtension(url: string): string | null {
  const fromUrl = /\.([A-Za-z0-9]{1,5})$/.exec(new URL(url, "http://x").pathname);
  return fromUrl?.[1]?.toLowerCase() ?? null;
}

function extensionFor(contentType: string | null): string {
  return knownExtension(contentType) ?? "bin";
}

type FsPromises = typeof import("node:fs/promises");

/** Node's own modules, loaded on first use; the computed name keeps browser bundlers from
 * trying to resolve them (only `download` needs a file system). */
function nodeModule<M>(name: string): Promise<M> {
  return import(name) as Promise<M>;
}

/** Write to `<name>.part`, then move it in place: never a truncated file under the final name. */
async function writeNew(fs: FsPromises, destination: string, bytes: Uint8Array, overwrite: boolean): Promise<void> {
  const exists = async (): Promise<boolean> =>
    fs.access(destination).then(
      () => true,
      () => false,
    );
  if (!overwrite && (await exists())) throw new DestinationExistsError(destination);
  const partial = `${destination}.${Math.random().toString(16).slice(2, 10)}.part`;
  try {
    await fs.writeFile(partial, bytes);
    if (overwrite) await fs.rename(partial, destination);
    else {
      try {
        await fs.link(partial, destination); // fails if another writer got there first
      } catch (err) {
        if ((err as { code?: string }).code === "EEXIST") {
          throw new DestinationExistsError(destination, { cause: err });
        }
        await fs.copyFile(partial, destination, fs.constants.COPYFILE_EXCL); // no hard links here
      }
    }
  } finally {
    await fs.rm(partial, { force: true });
  }
}
