/**
 * The API's objects, camelCase. The snake_case names on the wire and the conversion between
 * the two live in `wire.ts` (and nowhere else); a unit test fails when these drift from the
 * committed `openapi.json`.
 */

/** A job's status; `succeeded`, `failed` and `canceled` are terminal. */
export type GenerationStatus = "queued" | "running" | "succeeded" | "failed" | "canceled";

/**
 * The result cache option: `true` serves a seeded request from an identical earlier result (or
 * shares an identical request in flight) at $0, `"always"` unseeded requests too, `false` never.
 * Left out, the API key's default applies.
 */
export type CacheOption = boolean | "always";

/** What `generate()` and `submit()` take (the seed's fields, plus `n`, `seed`, `negativePrompt`). */
export interface GenerationRequest {
  /** What to draw. */
  prompt: string;
  /** Catalog model name, e.g. `dall-e-3`. */
  model: string;
  /** One of the model's styles. */
  style?: string;
  /** `WIDTHxHEIGHT`, one of the model's sizes. */
  size?: string;
  /** One of the model's qualities, e.g. `standard`, `hd`. */
  quality?: string;
  /** Your own tags; filterable in history (`metadata.<key>=<value>`). */
  metadata?: Record<string, unknown>;
  /** Images to generate for the prompt (default 1). */
  n?: number;
  seed?: number | null;
  negativePrompt?: string | null;
  /** The result cache (see `CacheOption`); left out: the key's default. */
  cache?: CacheOption | null;
}

/** What `generateBatch()` takes: one generation per prompt, answered in order. */
export interface BatchRequest extends Omit<GenerationRequest, "prompt" | "cache"> {
  prompts: string[];
  /** How many prompts run at once on the server. */
  batchSize?: number;
}

/**
 * An input image of an image operation: a stored image id (`gen_…`, or `gen_…:N` for its N-th
 * image) or an `http(s)://` URL, sent as text; or the image itself (a `Blob`/`File`, a
 * `Uint8Array`/`Buffer`, an `ArrayBuffer`), uploaded as multipart/form-data. Any other string is
 * an argument error (read a file yourself and pass its bytes).
 */
export type ImageInput = string | Blob | Uint8Array | ArrayBuffer;

/** Fields every image operation takes. */
export interface OperationRequest {
  /** A catalog model that supports the operation (default: the server's for it). */
  model?: string;
  /** Your own tags; filterable in history. */
  metadata?: Record<string, unknown>;
  /** The result cache (see `CacheOption`); left out: the key's default. */
  cache?: CacheOption;
}

/** What `edit()` takes: repaint images from a prompt; with a mask, only its transparent pixels. */
export interface EditRequest extends OperationRequest {
  prompt: string;
  /** One input or several (1 to 16). */
  images: ImageInput | ImageInput[];
  /** A PNG with alpha, the first image's size. */
  mask?: ImageInput;
  n?: number;
  /** `WIDTHxHEIGHT`; default: the input's. */
  size?: string;
  quality?: string;
  seed?: number;
  background?: "transparent" | "opaque" | "auto";
  outputFormat?: "png" | "jpeg" | "webp";
  outputCompression?: number;
  moderation?: "low" | "auto";
}

/** What `createVariation()` takes: more images like this one (no prompt). */
export interface VariationRequest extends OperationRequest {
  image: ImageInput;
  n?: number;
  size?: string;
  seed?: number;
}

/** What `upscale()` takes: the image enlarged `factor` times. */
export interface UpscaleRequest extends OperationRequest {
  image: ImageInput;
  /** One of the model's factors (e.g. 2, 4). */
  factor?: number;
  /** For creative upscalers. */
  prompt?: string;
}

/** What `removeBackground()` takes: the subject on a transparent background (PNG). */
export interface RemoveBackgroundRequest extends OperationRequest {
  image: ImageInput;
}

/** What `imageToImage()` takes: a new image from a prompt, guided by the input. */
export interface ImageToImageRequest extends OperationRequest {
  prompt: string;
  image: ImageInput;
  /** 0 keeps the image, 1 ignores it. */
  strength?: number;
  negativePrompt?: string;
  n?: number;
  seed?: number;
}

/** One image of a generation. URLs are absolute, signed, expiring and need no credentials. */
export interface ImageInfo {
  url: string;
  thumbnailUrl: string;
  width: number;
  height: number;
  contentType: string;
}

/** An input image of an image operation (`Generation.sources`). */
export interface GenerationSource {
  role: string;
  /** `upload`, `url`, or `generation` (an image of `generationId`). */
  origin: string;
  generationId: string | null;
  index: number | null;
  url: string;
  width: number;
  height: number;
  contentType: string;
}

/** Why a generation failed (`Generation.error`). */
export interface GenerationError {
  code: string;
  message: string;
}

/** One provider call that failed before the generation's outcome (the attempt trail). */
export interface FailedAttempt {
  provider: string;
  /** The provider's own model id. */
  model: string;
  code: string;
  message: string;
}

/**
 * A generation, which is also a job: `status` tells where it is. Returned by `submit`,
 * `getGeneration`, `waitFor`, `cancel`, history and events.
 */
export interface Generation {
  id: string;
  object: "generation";
  status: GenerationStatus;
  /** The first image; `null` until the job succeeds. */
  imageUrl: string | null;
  thumbnailUrl: string | null;
  images: ImageInfo[];
  prompt: string;
  model: string;
  style: string | null;
  size: string;
  quality: string;
  n: number;
  seed: number | null;
  negativePrompt: string | null;
  metadata: Record<string, unknown>;
  provider: string | null;
  livemode: boolean;
  /** USD (see `currency`); `null` when the price is unknown, never a made-up 0. */
  cost: number | null;
  currency: string;
  priceVersion: string;
  progress: number;
  /** Seconds from start to finish. */
  processingTime: number | null;
  revisedPrompt: string | null;
  batchId: string | null;
  /** `generate`, or the image operation (edit, variation, upscale, remove_background, image_to_image). */
  operation: string;
  operationParams: Record<string, unknown>;
  /** Served from the result cache, or shared with an identical request in flight: `cost` is 0
   * and the images are those of `cachedFrom`. */
  cached: boolean;
  /** The generation whose result (and stored images) this one shares. */
  cachedFrom: string | null;
  sources: GenerationSource[];
  /** Generations whose images this one took as input. */
  parents: string[];
  /** Generations made from this one's images (`getGeneration` only; `null` elsewhere). */
  children: string[] | null;
  error: GenerationError | null;
  failedAttempts: FailedAttempt[];
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/**
 * A finished, successful generation: what `generate()` resolves to (it resolves only on success).
 * Assignable to the client reference's `GenerationResponse` under `tsc --strict`: the fields that
 * a queued, failed or canceled job leaves null are always set here. Nulls stay on `Generation`
 * (history items, jobs, events).
 */
export interface GenerationResponse extends Generation {
  status: "succeeded";
  imageUrl: string;
  thumbnailUrl: string;
  processingTime: number;
  /** The style applied; `""` when none was (the model has no default style and none was asked). */
  style: string;
  /**
   * USD charged (see `currency`). `NaN` in the rare case the server reports no price (an
   * operator's catalog without one for this size and quality): never a made-up 0.
   */
  cost: number;
}

/** One page of history. */
export interface GenerationPageData {
  object: "list";
  data: Generation[];
  hasMore: boolean;
  nextCursor: string | null;
}

/** A catalog model: what it accepts, what it costs, and whether it can run now. */
export interface ModelInfo {
  name: string;
  description: string;
  /** False for models that only transform images (upscalers, background removers). */
  textToImage: boolean;
  maxResolution: string;
  supportedStyles: string[];
  supportedSizes: string[];
  supportedQualities: string[];
  defaultSize: string;
  defaultQuality: string;
  defaultStyle: string | null;
  /** USD for one image at the default size and quality. */
  pricingPerImage: number | null;
  /** USD per image, by size then quality. */
  pricing: Record<string, Record<string, number>>;
  currency: string;
  /** Mean seconds of recent successful generations. */
  averageTime: number | null;
  maxImages: number;
  supportsSeed: boolean;
  supportsNegativePrompt: boolean;
  providers: string[];
  available: boolean;
  unavailableReason: string | null;
  notes: string | null;
  /**
   * Image operations beyond text to image (`edit`, `upscale`, …), each as the server sends it
   * (snake_case, like `pricing`): `max_input_images`, `mask`, `prompt`, `factors`, `strength`,
   * `default_strength`, `max_images`, `price`, `pricing`, `providers`.
   */
  operations: Record<string, Record<string, unknown>>;
}

export interface ModelList {
  object: "list";
  data: ModelInfo[];
}

/** Usage for one group (a model, a day, a key, a provider, an operation or a metadata value).
 * `generations` counts every status; `images` and `cost` count succeeded jobs only. */
export interface UsageBucket {
  key: string;
  /** The key's name, for `groupBy: "key"` buckets. */
  name: string | null;
  generations: number;
  succeeded: number;
  failed: number;
  canceled: number;
  /** Still queued or running. */
  active: number;
  images: number;
  cost: number;
  /** Succeeded generations served from the result cache. */
  cached: number;
  /** What those cached results cost their sources. */
  cacheSavings: number;
}

/** This month's budget of the calling key, or of the pool it draws from. */
export interface BudgetStatus {
  scope: string;
  keyId: string;
  monthlyBudget: number;
  spent: number;
  /** Held by queued and running jobs. */
  reserved: number;
  remaining: number;
  /** `YYYY-MM-DD` (UTC). */
  periodStart: string;
}

/** Totals for a date range (both ends inclusive). Dates are `YYYY-MM-DD` strings (UTC days). */
export interface UsageStats {
  object: "usage";
  startDate: string;
  endDate: string;
  livemode: boolean;
  /** Every job in the range, whatever its status (the history count). */
  totalGenerations: number;
  succeededGenerations: number;
  /** Still queued or running. */
  activeGenerations: number;
  totalImages: number;
  totalCost: number;
  failedGenerations: number;
  /** Canceled in the range (never charged). */
  canceledGenerations: number;
  unpricedGenerations: number;
  /** Bytes stored for the range's generations: their images and stored inputs. */
  storageBytes: number;
  /** Succeeded generations that shared another's result at $0 (part of `succeededGenerations`). */
  cachedGenerations: number;
  /** What the cached generations' results cost their sources: money not spent. */
  cacheSavings: number;
  currency: string;
  byModel: UsageBucket[];
  byDay: UsageBucket[];
  groupBy: string | null;
  groups: UsageBucket[] | null;
  /** Budgets of the calling key and its pool, where set. */
  budget: BudgetStatus[];
}

/** The error object of a failed batch item (same fields as the error envelope). */
export interface BatchError {
  type: string | null;
  code: string | null;
  message: string | null;
  param: string | null;
  requestId: string | null;
  generationId: string | null;
}

/** The outcome for one prompt of a batch. */
export interface BatchItemData {
  index: number;
  prompt: string;
  status: "succeeded" | "failed";
  /** The generation (a failed item may carry its failed generation too). */
  generation: Generation | null;
  error: BatchError | null;
}

export interface BatchResponseData {
  object: "batch";
  id: string;
  data: BatchItemData[];
  succeeded: number;
  failed: number;
  totalCost: number | null;
}

/** What `createKey()` takes. */
export interface KeyCreateRequest {
  name: string;
  mode?: "test" | "live";
  scopes?: Array<"generate" | "read" | "admin">;
  rateLimitPerMinute?: number | null;
  maxConcurrent?: number | null;
  /** USD per calendar month. */
  monthlyBudget?: number | null;
  /** When the key stops working (not after the creating key's own expiry). */
  expiresAt?: Date | null;
  /** The key's result cache default: its seeded requests use the cache unless they send `cache: false`. */
  cache?: boolean;
}

/** An API key (never its secret, except in `KeyCreated.key`). */
export interface ApiKey {
  id: string;
  object: "api_key";
  name: string;
  project: string;
  mode: string;
  prefix: string;
  scopes: string[];
  rateLimitPerMinute: number | null;
  maxConcurrent: number | null;
  monthlyBudget: number | null;
  /** Whether the key's seeded requests use the result cache by default. */
  cache: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  /** When the key stops working; null: never. */
  expiresAt: Date | null;
}

/** A new key: the secret is in this response only. */
export interface KeyCreated extends ApiKey {
  key: string;
}

/** The server's limits for keys that set none of their own. */
export interface KeyDefaults {
  rateLimitPerMinute: number;
  maxConcurrent: number;
}

export interface KeyList {
  object: "list";
  data: ApiKey[];
  /** What `null` limits mean on this server. */
  defaults: KeyDefaults | null;
}

/**
 * The events an endpoint can subscribe to (`webhook.test` goes to one endpoint on request).
 * `budget.threshold_crossed`: a key's or its pool's monthly budget reached 50, 80 or 100 %
 * (once each per month), sent only to endpoints that list it.
 */
export type WebhookEventType =
  | "generation.succeeded"
  | "generation.failed"
  | "generation.canceled"
  | "budget.threshold_crossed";

/** What `createWebhook()` takes. */
export interface WebhookCreateRequest {
  /** The public http(s) URL that receives the events. */
  url: string;
  /** Default: the three `generation.*` events (see `WEBHOOK_EVENTS` for all). */
  events?: WebhookEventType[];
  description?: string | null;
}

/** What `updateWebhook()` takes: at least one field. */
export interface WebhookUpdateRequest {
  enabled?: boolean | null;
  events?: WebhookEventType[] | null;
  /** `null` clears it. */
  description?: string | null;
}

/** A webhook endpoint. `status`: enabled, or disabled (paused, or given up: see `disabledReason`). */
export interface WebhookEndpoint {
  id: string;
  object: "webhook_endpoint";
  url: string;
  events: string[];
  description: string | null;
  status: string;
  disabledReason: string | null;
  livemode: boolean;
  createdAt: Date;
}

/** A new endpoint: its `whsec_…` secret is in this response only; keep it to verify deliveries. */
export interface WebhookEndpointCreated extends WebhookEndpoint {
  secret: string;
}

export interface WebhookEndpointList {
  object: "list";
  data: WebhookEndpoint[];
}

/** One event sent (or being sent) to an endpoint; `id` is the `webhook-id` header. */
export interface WebhookDelivery {
  id: string;
  object: "webhook_delivery";
  eventType: string;
  /** pending, retrying, delivered or dead. */
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: Date;
  lastAttemptAt: Date | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
}

export interface WebhookDeliveryList {
  object: "list";
  data: WebhookDelivery[];
}

/** Response metadata, kept on every object parsed from an HTTP response (not enumerable). */
export interface ResponseMeta {
  /** The server's `X-Request-ID`: quote it when reporting a problem. */
  readonly _requestId?: string | null;
  /** `true` when a retried POST was answered from its idempotency record. */
  readonly _idempotentReplayed?: boolean;
}
