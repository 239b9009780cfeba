/**
 * Errors thrown by the client, and the one function that maps an HTTP error to a class.
 *
 * ```text
 * OrchestrationError
 * ├── APIConnectionError            the request never got an HTTP answer
 * │   └── APITimeoutError           ... because the call's timeout expired
 * ├── APIUserAbortError             your AbortSignal fired
 * └── APIStatusError                the server answered with an error status
 *     ├── InvalidRequestError       400, 422 (and other unmapped 4xx)
 *     │   └── ContentPolicyError    422 content_policy_violation
 *     ├── AuthenticationError       401
 *     │   └── PermissionDeniedError 403
 *     ├── BudgetExceededError       402
 *     ├── NotFoundError             404
 *     ├── ModelNotAvailableError    404 / 503 with type model_not_available
 *     ├── ConflictError             409
 *     ├── RateLimitError            429 (retryAfter)
 *     ├── ProviderError             502, 504
 *     │   └── ProviderTimeoutError  504 provider_timeout
 *     └── InternalServerError       other 5xx
 * ```
 */
import { isRecord, type HeaderSource } from "./retry.js";

export interface ErrorFields {
  status?: number | null;
  code?: string | null;
  type?: string | null;
  param?: string | null;
  requestId?: string | null;
  generationId?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
  cause?: unknown;
}

/** Base class of every error this client throws. */
export class OrchestrationError extends Error {
  /** The HTTP status, when the server answered. */
  readonly status: number | null;
  /** The server's machine-readable error code, e.g. `invalid_api_key`. */
  readonly code: string | null;
  /** The error envelope's `type`, e.g. `authentication_error`. */
  readonly type: string | null;
  /** The request field the error is about, if any. */
  readonly param: string | null;
  /** The server's request id (`X-Request-ID`): quote it when reporting a problem. */
  readonly requestId: string | null;
  /** The generation that failed, when the error reports a job's failure. */
  readonly generationId: string | null;
  /** The decoded error body (or raw text) as received. */
  readonly body: unknown;
  /** The response headers, lower-cased names. */
  readonly headers: Record<string, string>;

  constructor(message: string, fields: ErrorFields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = new.target.name;
    this.status = fields.status ?? null;
    this.code = fields.code ?? null;
    this.type = fields.type ?? null;
    this.param = fields.param ?? null;
    this.requestId = fields.requestId ?? null;
    this.generationId = fields.generationId ?? null;
    this.body = fields.body ?? null;
    this.headers = fields.headers ?? {};
  }
}

/**
 * `download()` would replace an existing file and `overwrite` is not set. `filename` names it;
 * nothing was fetched when every name was known up front.
 */
export class DestinationExistsError extends OrchestrationError {
  /** The path that exists. */
  readonly filename: string;

  constructor(filename: string, fields: ErrorFields = {}) {
    super(`${filename} already exists; pass overwrite: true to replace it`, { code: "file_exists", ...fields });
    this.filename = filename;
  }
}

/**
 * A webhook delivery failed verification: a header is missing, no v1 signature matches, or
 * its timestamp is outside the tolerance.
 */
export class WebhookVerificationError extends OrchestrationError {}

/** No HTTP response was received (DNS, refused connection, reset...). `cause` holds the fetch error. */
export class APIConnectionError extends OrchestrationError {}

/** The call's `timeout` expired (or the deadline given to `waitFor`). */
export class APITimeoutError extends APIConnectionError {}

/** The `signal` you passed was aborted. */
export class APIUserAbortError extends OrchestrationError {}

/** The server answered with an error status; `status` is always set. */
export class APIStatusError extends OrchestrationError {
  declare readonly status: number;
}

/** The request was malformed or refused by validation (400, 422). */
export class InvalidRequestError extends APIStatusError {}

/** The prompt was refused by a safety system (422 `content_policy_violation`). */
export class ContentPolicyError extends InvalidRequestError {}

/** Missing, unknown or revoked credentials (401). */
export class AuthenticationError extends APIStatusError {}

/** Valid credentials without the needed scope (403). */
export class PermissionDeniedError extends AuthenticationError {}

/** The key's or project's budget is spent (402). */
export class BudgetExceededError extends APIStatusError {}

/** No such resource (404). */
export class NotFoundError extends APIStatusError {}

/** The model is unknown (404) or no provider can serve it now (503). */
export class ModelNotAvailableError extends APIStatusError {}

/** Idempotency conflict, or an operation that does not fit the resource's state (409). */
export class ConflictError extends APIStatusError {}

/** Too many requests (429). */
export class RateLimitError extends APIStatusError {
  /** The server's wait hint in **seconds** (as `Retry-After`), or `null`. */
  readonly retryAfter: number | null;
  /** `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` when sent. */
  readonly limit: number | null;
  readonly remaining: number | null;
  readonly reset: number | null;

  constructor(message: string, fields: ErrorFields & { retryAfter?: number | null } = {}) {
    super(message, fields);
    this.retryAfter = fields.retryAfter ?? null;
    this.limit = intHeader(this.headers, "ratelimit-limit");
    this.remaining = intHeader(this.headers, "ratelimit-remaining");
    this.reset = intHeader(this.headers, "ratelimit-reset");
  }
}

/** The upstream image provider failed (502), or a generation failed while we waited for it. */
export class ProviderError extends APIStatusError {}

/** The upstream provider did not answer in time (504 `provider_timeout`). */
export class ProviderTimeoutError extends ProviderError {}

/** The orchestrator itself failed (5xx other than 502/504, and 503 without model info). */
export class InternalServerError extends APIStatusError {}

// The HTTP status implied by an envelope `type` when there is no response status (batch items
// and failed jobs carry only the error object).
const STATUS_FOR_TYPE: Record<string, number> = {
  invalid_request_error: 422,
  authentication_error: 401,
  permission_error: 403,
  budget_exceeded: 402,
  not_found: 404,
  model_not_available: 404,
  idempotency_conflict: 409,
  conflict: 409,
  rate_limit_error: 429,
  provider_error: 502,
  provider_timeout: 504,
  internal_error: 500,
};

// A failed job reports only {code, message}; these are the statuses the synchronous endpoint
// answers for the same codes, so both paths throw alike.
const STATUS_FOR_CODE: Record<string, number> = {
  content_policy_violation: 422,
  provider_timeout: 504,
  provider_error: 502,
  provider_rejected_request: 502,
  provider_auth_failed: 502,
  model_not_available: 503,
  generation_canceled: 409,
  rate_limit_exceeded: 429,
  budget_exceeded: 402,
};

type StatusErrorClass = new (message: string, fields: ErrorFields) => APIStatusError;

const FIXED_4XX: Record<number, StatusErrorClass> = {
  401: AuthenticationError,
  402: BudgetExceededError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  429: RateLimitError,
};

function classFor(status: number, type: string | null, code: string | null): StatusErrorClass {
  if ((type === "model_not_available" || code === "model_not_available") && (status === 404 || status === 503)) {
    return ModelNotAvailableError;
  }
  if (status === 408) return APIStatusError; // the server gave up waiting for us: retried, not a bad request
  const fixed = FIXED_4XX[status];
  if (status === 400 || status === 422 || (status >= 400 && status < 500 && fixed === undefined)) {
    return code === "content_policy_violation" ? ContentPolicyError : InvalidRequestError;
  }
  if (fixed !== undefined) return fixed;
  if (status === 502 || status === 504) {
    return code === "provider_timeout" || type === "provider_timeout" ? ProviderTimeoutError : ProviderError;
  }
  if (status >= 500) return InternalServerError;
  return APIStatusError;
}

/**
 * The error for an error answer. `body` is the decoded JSON body (the envelope
 * `{"error": {...}}`, a bare error object, or whatever a proxy sent). With `status` `null` (a
 * batch item or a failed job) the status is inferred from the error's `status`, `code` or `type`.
 */
export function errorFor(
  status: number | null,
  body: unknown,
  headers: HeaderSource = {},
  options: { retryAfter?: number | null; text?: string | null } = {},
): APIStatusError {
  let error: Record<string, unknown> = {};
  if (isRecord(body)) {
    const inner = body["error"];
    if (isRecord(inner)) error = inner;
    else if ("code" in body || "type" in body || "message" in body) error = body;
  }
  const type = str(error["type"]);
  const code = str(error["code"]);
  const resolved = status ?? inferredStatus(error, type, code);
  const message = str(error["message"]) ?? fallbackMessage(resolved, body, options.text ?? null);
  const lowered = lowerHeaders(headers);
  const fields: ErrorFields & { retryAfter?: number | null } = {
    status: resolved,
    code,
    type,
    param: str(error["param"]),
    requestId: str(error["request_id"]) ?? lowered["x-request-id"] ?? null,
    generationId: str(error["generation_id"]),
    body,
    headers: lowered,
  };
  const cls = classFor(resolved, type, code);
  if (cls === RateLimitError) fields.retryAfter = options.retryAfter ?? null;
  return new cls(message, fields);
}

function inferredStatus(error: Record<string, unknown>, type: string | null, code: string | null): number {
  const status = error["status"];
  if (typeof status === "number" && Number.isInteger(status)) return status;
  if (code !== null && STATUS_FOR_CODE[code] !== undefined) return STATUS_FOR_CODE[code];
  if (type !== null && STATUS_FOR_TYPE[type] !== undefined) return STATUS_FOR_TYPE[type];
  return 500; // as the synchronous endpoint answers for a failure it cannot classify
}

function fallbackMessage(status: number, body: unknown, text: string | null): string {
  const snippet = (text ?? (typeof body === "string" ? body : "")).trim();
  return snippet ? `HTTP ${status}: ${snippet.slice(0, 200)}` : `HTTP ${status}`;
}

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function intHeader(headers: Record<string, string>, name: string): number | null {
  const raw = headers[name];
  if (raw === undefined || !/^\s*-?\d+\s*$/.test(raw)) return null;
  return Number.parseInt(raw, 10);
}

export function lowerHeaders(headers: HeaderSource): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof (headers as Headers).forEach === "function" && typeof (headers as Headers).get === "function") {
    (headers as Headers).forEach((value, key) => {
      out[key.toLowerCase()] = value;
    });
    return out;
  }
  for (const [key, value] of Object.entries(headers as Record<string, string | undefined>)) {
    if (value !== undefined) out[key.toLowerCase()] = value;
  }
  return out;
}
