/**
 * The one place where the API's snake_case meets the client's camelCase.
 *
 * Each schema of `openapi.json` the client reads or sends is described field by field: the
 * camelCase name, the kind of value, and whether it may be `null`. `decode` and `encode` walk
 * these descriptions; a unit test compares them with the committed `openapi.json`, and the
 * compile-time checks at the bottom tie them to the interfaces of `types.ts`.
 */
import { isRecord } from "./retry.js";
import type * as T from "./types.js";

/** Every schema, by its `openapi.json` name (plus the client-side `BatchError`). */
export type SchemaName =
  | "GenerationResponse"
  | "ImageOut"
  | "ErrorInfo"
  | "FailedAttempt"
  | "BudgetStatus"
  | "SourceOut"
  | "GenerationPage"
  | "ModelInfo"
  | "ModelList"
  | "UsageBucket"
  | "UsageStats"
  | "BatchError"
  | "BatchItem"
  | "BatchResponse"
  | "KeyOut"
  | "KeyCreated"
  | "KeyList"
  | "KeyDefaults"
  | "GenerateRequest"
  | "BatchRequest"
  | "KeyCreate"
  | "WebhookOut"
  | "WebhookCreated"
  | "WebhookList"
  | "DeliveryOut"
  | "DeliveryList"
  | "WebhookCreate"
  | "WebhookUpdate";

type Scalar = "string" | "number" | "integer" | "boolean" | "object" | "date" | "datetime";
/** A value of one kind, a list of them, or (`oneOf`) a value of any of several scalar kinds. */
export type FieldKind =
  | Scalar
  | { ref: SchemaName }
  | { array: Scalar | { ref: SchemaName } }
  | { oneOf: readonly Scalar[] };

export interface FieldSpec<N extends string = string> {
  readonly name: N;
  readonly kind: FieldKind;
  readonly nullable: boolean;
  /** What `decode` gives when an older server leaves the field out (else `null`, `[]` or `{}`). */
  readonly absent?: unknown;
}

function f<N extends string>(name: N, kind: FieldKind, nullable = false, absent?: unknown): FieldSpec<N> {
  return absent === undefined ? { name, kind, nullable } : { name, kind, nullable, absent };
}

const generation = {
  id: f("id", "string"),
  object: f("object", "string"),
  status: f("status", "string"),
  image_url: f("imageUrl", "string", true),
  thumbnail_url: f("thumbnailUrl", "string", true),
  images: f("images", { array: { ref: "ImageOut" } }),
  prompt: f("prompt", "string"),
  model: f("model", "string"),
  style: f("style", "string", true),
  size: f("size", "string"),
  quality: f("quality", "string"),
  n: f("n", "integer"),
  seed: f("seed", "integer", true),
  negative_prompt: f("negativePrompt", "string", true),
  metadata: f("metadata", "object"),
  provider: f("provider", "string", true),
  livemode: f("livemode", "boolean"),
  cost: f("cost", "number", true),
  currency: f("currency", "string"),
  price_version: f("priceVersion", "string"),
  progress: f("progress", "number"),
  processing_time: f("processingTime", "number", true),
  revised_prompt: f("revisedPrompt", "string", true),
  batch_id: f("batchId", "string", true),
  operation: f("operation", "string"),
  operation_params: f("operationParams", "object"),
  cached: f("cached", "boolean", false, false),
  cached_from: f("cachedFrom", "string", true),
  sources: f("sources", { array: { ref: "SourceOut" } }),
  parents: f("parents", { array: "string" }),
  children: f("children", { array: "string" }, true),
  error: f("error", { ref: "ErrorInfo" }, true),
  failed_attempts: f("failedAttempts", { array: { ref: "FailedAttempt" } }),
  created_at: f("createdAt", "datetime"),
  started_at: f("startedAt", "datetime", true),
  finished_at: f("finishedAt", "datetime", true),
};

const imageOut = {
  url: f("url", "string"),
  thumbnail_url: f("thumbnailUrl", "string"),
  width: f("width", "integer"),
  height: f("height", "integer"),
  content_type: f("contentType", "string"),
};

const errorInfo = { code: f("code", "string"), message: f("message", "string") };

const failedAttempt = {
  provider: f("provider", "string"),
  model: f("model", "string"),
  code: f("code", "string"),
  message: f("message", "string"),
};

const sourceOut = {
  role: f("role", "string"),
  origin: f("origin", "string"),
  generation_id: f("generationId", "string", true),
  index: f("index", "integer", true),
  url: f("url", "string"),
  width: f("width", "integer"),
  height: f("height", "integer"),
  content_type: f("contentType", "string"),
};

const generationPage = {
  object: f("object", "string"),
  data: f("data", { array: { ref: "GenerationResponse" } }),
  has_more: f("hasMore", "boolean"),
  next_cursor: f("nextCursor", "string", true),
};

const modelInfo = {
  name: f("name", "string"),
  description: f("description", "string"),
  text_to_image: f("textToImage", "boolean"),
  max_resolution: f("maxResolution", "string"),
  supported_styles: f("supportedStyles", { array: "string" }),
  supported_sizes: f("supportedSizes", { array: "string" }),
  supported_qualities: f("supportedQualities", { array: "string" }),
  default_size: f("defaultSize", "string"),
  default_quality: f("defaultQuality", "string"),
  default_style: f("defaultStyle", "string", true),
  pricing_per_image: f("pricingPerImage", "number", true),
  pricing: f("pricing", "object"),
  currency: f("currency", "string"),
  average_time: f("averageTime", "number", true),
  max_images: f("maxImages", "integer"),
  supports_seed: f("supportsSeed", "boolean"),
  supports_negative_prompt: f("supportsNegativePrompt", "boolean"),
  providers: f("providers", { array: "string" }),
  available: f("available", "boolean"),
  unavailable_reason: f("unavailableReason", "string", true),
  notes: f("notes", "string", true),
  operations: f("operations", "object"),
};

const modelList = { object: f("object", "string"), data: f("data", { array: { ref: "ModelInfo" } }) };

const usageBucket = {
  key: f("key", "string"),
  name: f("name", "string", true),
  generations: f("generations", "integer"),
  succeeded: f("succeeded", "integer"),
  failed: f("failed", "integer"),
  canceled: f("canceled", "integer"),
  active: f("active", "integer"),
  images: f("images", "integer"),
  cost: f("cost", "number"),
  cached: f("cached", "integer", false, 0),
  cache_savings: f("cacheSavings", "number", false, 0),
};

const budgetStatus = {
  scope: f("scope", "string"),
  key_id: f("keyId", "string"),
  monthly_budget: f("monthlyBudget", "number"),
  spent: f("spent", "number"),
  reserved: f("reserved", "number"),
  remaining: f("remaining", "number"),
  period_start: f("periodStart", "date"),
};

const usageStats = {
  object: f("object", "string"),
  start_date: f("startDate", "date"),
  end_date: f("endDate", "date"),
  livemode: f("livemode", "boolean"),
  total_generations: f("totalGenerations", "integer"),
  succeeded_generations: f("succeededGenerations", "integer"),
  active_generations: f("activeGenerations", "integer"),
  total_images: f("totalImages", "integer"),
  total_cost: f("totalCost", "number"),
  failed_generations: f("failedGenerations", "integer"),
  canceled_generations: f("canceledGenerations", "integer"),
  unpriced_generations: f("unpricedGenerations", "integer"),
  storage_bytes: f("storageBytes", "integer"),
  cached_generations: f("cachedGenerations", "integer", false, 0),
  cache_savings: f("cacheSavings", "number", false, 0),
  currency: f("currency", "string"),
  by_model: f("byModel", { array: { ref: "UsageBucket" } }),
  by_day: f("byDay", { array: { ref: "UsageBucket" } }),
  group_by: f("groupBy", "string", true),
  groups: f("groups", { array: { ref: "UsageBucket" } }, true),
  budget: f("budget", { array: { ref: "BudgetStatus" } }),
};

// The API types a batch item's error as an open object; the client reads it as the envelope's
// error object (BatchError, not an openapi.json schema).
const batchError = {
  type: f("type", "string", true),
  code: f("code", "string", true),
  message: f("message", "string", true),
  param: f("param", "string", true),
  request_id: f("requestId", "string", true),
  generation_id: f("generationId", "string", true),
};

const batchItem = {
  index: f("index", "integer"),
  prompt: f("prompt", "string"),
  status: f("status", "string"),
  generation: f("generation", { ref: "GenerationResponse" }, true),
  error: f("error", { ref: "BatchError" }, true),
};

const batchResponse = {
  object: f("object", "string"),
  id: f("id", "string"),
  data: f("data", { array: { ref: "BatchItem" } }),
  succeeded: f("succeeded", "integer"),
  failed: f("failed", "integer"),
  total_cost: f("totalCost", "number", true),
};

const keyOut = {
  id: f("id", "string"),
  object: f("object", "string"),
  name: f("name", "string"),
  project: f("project", "string"),
  mode: f("mode", "string"),
  prefix: f("prefix", "string"),
  scopes: f("scopes", { array: "string" }),
  rate_limit_per_minute: f("rateLimitPerMinute", "integer", true),
  max_concurrent: f("maxConcurrent", "integer", true),
  monthly_budget: f("monthlyBudget", "number", true),
  cache: f("cache", "boolean", false, false),
  created_at: f("createdAt", "datetime"),
  last_used_at: f("lastUsedAt", "datetime", true),
  revoked_at: f("revokedAt", "datetime", true),
  expires_at: f("expiresAt", "datetime", true),
};

const keyCreated = { ...keyOut, key: f("key", "string") };

const keyDefaults = {
  rate_limit_per_minute: f("rateLimitPerMinute", "integer"),
  max_concurrent: f("maxConcurrent", "integer"),
};

const keyList = {
  object: f("object", "string"),
  data: f("data", { array: { ref: "KeyOut" } }),
  defaults: f("defaults", { ref: "KeyDefaults" }, true),
};

// Request bodies. Optional fields are left out when undefined, so server defaults apply.
const generateRequest = {
  prompt: f("prompt", "string"),
  model: f("model", "string"),
  style: f("style", "string", true),
  size: f("size", "string", true),
  quality: f("quality", "string", true),
  metadata: f("metadata", "object"),
  n: f("n", "integer"),
  seed: f("seed", "integer", true),
  negative_prompt: f("negativePrompt", "string", true),
  cache: f("cache", { oneOf: ["boolean", "string"] }, true),
};

const batchRequest = {
  prompts: f("prompts", { array: "string" }),
  model: f("model", "string"),
  batch_size: f("batchSize", "integer"),
  style: f("style", "string", true),
  size: f("size", "string", true),
  quality: f("quality", "string", true),
  metadata: f("metadata", "object"),
  n: f("n", "integer"),
  seed: f("seed", "integer", true),
  negative_prompt: f("negativePrompt", "string", true),
};

const keyCreate = {
  name: f("name", "string"),
  mode: f("mode", "string"),
  scopes: f("scopes", { array: "string" }),
  rate_limit_per_minute: f("rateLimitPerMinute", "integer", true),
  max_concurrent: f("maxConcurrent", "integer", true),
  monthly_budget: f("monthlyBudget", "number", true),
  expires_at: f("expiresAt", "datetime", true),
  cache: f("cache", "boolean"),
};

const webhookOut = {
  id: f("id", "string"),
  object: f("object", "string"),
  url: f("url", "string"),
  events: f("events", { array: "string" }),
  description: f("description", "string", true),
  status: f("status", "string"),
  disabled_reason: f("disabledReason", "string", true),
  livemode: f("livemode", "boolean"),
  created_at: f("createdAt", "datetime"),
};

const webhookCreated = { ...webhookOut, secret: f("secret", "string") };

const webhookList = { object: f("object", "string"), data: f("data", { array: { ref: "WebhookOut" } }) };

const deliveryOut = {
  id: f("id", "string"),
  object: f("object", "string"),
  event_type: f("eventType", "string"),
  status: f("status", "string"),
  attempts: f("attempts", "integer"),
  last_status_code: f("lastStatusCode", "integer", true),
  last_error: f("lastError", "string", true),
  created_at: f("createdAt", "datetime"),
  last_attempt_at: f("lastAttemptAt", "datetime", true),
  next_attempt_at: f("nextAttemptAt", "datetime", true),
  delivered_at: f("deliveredAt", "datetime", true),
};

const deliveryList = { object: f("object", "string"), data: f("data", { array: { ref: "DeliveryOut" } }) };

const webhookCreate = {
  url: f("url", "string"),
  events: f("events", { array: "string" }),
  description: f("description", "string", true),
};

const webhookUpdate = {
  enabled: f("enabled", "boolean", true),
  events: f("events", { array: "string" }, true),
  description: f("description", "string", true),
};

/** The field descriptions of every schema. */
export const SCHEMAS = {
  GenerationResponse: generation,
  ImageOut: imageOut,
  ErrorInfo: errorInfo,
  FailedAttempt: failedAttempt,
  BudgetStatus: budgetStatus,
  SourceOut: sourceOut,
  GenerationPage: generationPage,
  ModelInfo: modelInfo,
  ModelList: modelList,
  UsageBucket: usageBucket,
  UsageStats: usageStats,
  BatchError: batchError,
  BatchItem: batchItem,
  BatchResponse: batchResponse,
  KeyOut: keyOut,
  KeyCreated: keyCreated,
  KeyList: keyList,
  KeyDefaults: keyDefaults,
  GenerateRequest: generateRequest,
  BatchRequest: batchRequest,
  KeyCreate: keyCreate,
  WebhookOut: webhookOut,
  WebhookCreated: webhookCreated,
  WebhookList: webhookList,
  DeliveryOut: deliveryOut,
  DeliveryList: deliveryList,
  WebhookCreate: webhookCreate,
  WebhookUpdate: webhookUpdate,
} as const satisfies Record<SchemaName, Record<string, FieldSpec>>;

/** Schemas that exist only on the client side (not in `openapi.json`). */
export const CLIENT_ONLY_SCHEMAS: readonly SchemaName[] = ["BatchError"];

/** `snake_case` → `camelCase`, for fields a newer server adds (kept, not dropped). */
export function camelize(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `camelCase` → `snake_case`, for request fields this version does not know. */
export function snakeize(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function decodeValue(kind: FieldKind, value: unknown): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (typeof kind === "string") {
    if (kind === "datetime" && typeof value === "string") {
      const date = new Date(value);
      return Number.isNaN(date.getTime()) ? value : date;
    }
    return value;
  }
  if ("oneOf" in kind) return value;
  if ("ref" in kind) return decode(kind.ref, value);
  if (!Array.isArray(value)) return value;
  const item = kind.array;
  return value.map((v) => decodeValue(item, v));
}

function emptyFor(spec: FieldSpec): unknown {
  if (spec.absent !== undefined) return spec.absent;
  if (spec.nullable) return null;
  if (typeof spec.kind === "object" && "array" in spec.kind) return [];
  if (spec.kind === "object") return {};
  return null;
}

/**
 * A wire object (snake_case JSON) as the client's camelCase object. Known fields are converted
 * (dates to `Date`, nested objects by their schema); fields a newer server adds are kept under
 * their camelCase name; fields an older server omits are `null` (`[]`/`{}` for lists and maps).
 */
export function decode<R = unknown>(schema: SchemaName, raw: unknown): R {
  if (!isRecord(raw)) return raw as R;
  const specs = SCHEMAS[schema] as Record<string, FieldSpec>;
  const out: Record<string, unknown> = {};
  for (const [wire, spec] of Object.entries(specs)) {
    out[spec.name] = wire in raw ? decodeValue(spec.kind, raw[wire]) : emptyFor(spec);
  }
  for (const [wire, value] of Object.entries(raw)) {
    if (!(wire in specs)) out[camelize(wire)] = value;
  }
  return out as R;
}

/**
 * A camelCase request object as the wire's snake_case JSON. `undefined` fields are left out;
 * `metadata` and other open objects are sent as given (their keys are yours).
 */
export function encode(schema: SchemaName, value: object): Record<string, unknown> {
  const specs = SCHEMAS[schema] as Record<string, FieldSpec>;
  const byCamel = new Map<string, string>();
  for (const [wire, spec] of Object.entries(specs)) byCamel.set(spec.name, wire);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    out[byCamel.get(key) ?? snakeize(key)] = v instanceof Date ? v.toISOString() : v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Compile-time checks: the camelCase names above are exactly the keys of the public interfaces.

type CamelNames<S> = { [K in keyof S]: S[K] extends FieldSpec<infer N> ? N : never }[keyof S];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Schemas = typeof SCHEMAS;

export type WireTypeChecks = [
  Same<CamelNames<Schemas["GenerationResponse"]>, keyof T.Generation>,
  Same<CamelNames<Schemas["ImageOut"]>, keyof T.ImageInfo>,
  Same<CamelNames<Schemas["ErrorInfo"]>, keyof T.GenerationError>,
  Same<CamelNames<Schemas["FailedAttempt"]>, keyof T.FailedAttempt>,
  Same<CamelNames<Schemas["BudgetStatus"]>, keyof T.BudgetStatus>,
  Same<CamelNames<Schemas["SourceOut"]>, keyof T.GenerationSource>,
  Same<CamelNames<Schemas["GenerationPage"]>, keyof T.GenerationPageData>,
  Same<CamelNames<Schemas["ModelInfo"]>, keyof T.ModelInfo>,
  Same<CamelNames<Schemas["ModelList"]>, keyof T.ModelList>,
  Same<CamelNames<Schemas["UsageBucket"]>, keyof T.UsageBucket>,
  Same<CamelNames<Schemas["UsageStats"]>, keyof T.UsageStats>,
  Same<CamelNames<Schemas["BatchError"]>, keyof T.BatchError>,
  Same<CamelNames<Schemas["BatchItem"]>, keyof T.BatchItemData>,
  Same<CamelNames<Schemas["BatchResponse"]>, keyof T.BatchResponseData>,
  Same<CamelNames<Schemas["KeyOut"]>, keyof T.ApiKey>,
  Same<CamelNames<Schemas["KeyCreated"]>, keyof T.KeyCreated>,
  Same<CamelNames<Schemas["KeyList"]>, keyof T.KeyList>,
  Same<CamelNames<Schemas["KeyDefaults"]>, keyof T.KeyDefaults>,
  Same<CamelNames<Schemas["GenerateRequest"]>, keyof T.GenerationRequest>,
  Same<CamelNames<Schemas["BatchRequest"]>, keyof T.BatchRequest>,
  Same<CamelNames<Schemas["KeyCreate"]>, keyof T.KeyCreateRequest>,
  Same<CamelNames<Schemas["WebhookOut"]>, keyof T.WebhookEndpoint>,
  Same<CamelNames<Schemas["WebhookCreated"]>, keyof T.WebhookEndpointCreated>,
  Same<CamelNames<Schemas["WebhookList"]>, keyof T.WebhookEndpointList>,
  Same<CamelNames<Schemas["DeliveryOut"]>, keyof T.WebhookDelivery>,
  Same<CamelNames<Schemas["DeliveryList"]>, keyof T.WebhookDeliveryList>,
  Same<CamelNames<Schemas["WebhookCreate"]>, keyof T.WebhookCreateRequest>,
  Same<CamelNames<Schemas["WebhookUpdate"]>, keyof T.WebhookUpdateRequest>,
];
/** Fails to compile when any check above is `false`. */
type AllTrue<C extends readonly true[]> = C;
export type WireTypeChecksHold = AllTrue<WireTypeChecks>;
