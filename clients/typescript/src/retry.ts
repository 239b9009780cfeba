/**
 * Retry arithmetic, with no I/O: which failures are retried, and how long to wait.
 *
 * The rules are written as data in `clients/spec/conformance.json`, shared by every SDK:
 *
 * 1. Never more than `maxRetries` retries.
 * 2. Connection errors and timeouts are retried with backoff.
 * 3. `x-should-retry: false` forbids a retry; `x-should-retry: true` asks for one.
 * 4. A wait hint (`retry-after-ms`, else `Retry-After` as seconds or an HTTP date) longer than
 *    {@link MAX_RETRY_AFTER} means "not now": the error is raised with `retryAfter` set.
 * 5. An error naming a `generation_id` reports a job that ran and failed: final.
 * 6. Otherwise retried: 408, 429, 5xx except 501/505, and 409 with a wait hint.
 * 7. The wait is the hint when there is one, else
 *    `min(backoff * 2^n, max(8, backoff)) * (1 - 0.25 * random)`.
 *
 * Every duration in this module is in seconds, as in the spec.
 */

export const DEFAULT_MAX_RETRIES = 2;
/** Seconds. */
export const DEFAULT_RETRY_BACKOFF = 0.5;
/** Seconds. */
export const MAX_BACKOFF = 8.0;
/** Seconds: a longer server hint is handed back to the caller instead of slept through. */
export const MAX_RETRY_AFTER = 30.0;
export const JITTER = 0.25;

/** Header lookup over a plain record or a `Headers`, case-insensitively. */
export type HeaderSource = Headers | Record<string, string | undefined>;

export function headerValue(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") {
    return (headers as Headers).get(name) ?? undefined;
  }
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers as Record<string, string | undefined>)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function nonNegativeNumber(raw: string | undefined): number | null {
  if (raw === undefined) return null;
  const text = raw.trim();
  if (!FLOAT.test(text)) return null; // rejects "", "inf", "NaN", "soon"
  const value = Number(text);
  return Number.isFinite(value) && value >= 0 ? value : null;
}

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};

/**
 * An RFC 9110 HTTP date (IMF-fixdate, RFC 850 or asctime; always GMT) as epoch milliseconds,
 * or `null`. Parsed by hand: `Date.parse` reads asctime dates as local time.
 */
export function parseHttpDate(raw: string): number | null {
  const text = raw.trim();
  let m = /^[A-Za-z]{3}, (\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(text);
  if (m) return utc(m[3], m[2], m[1], m[4], m[5], m[6]);
  m = /^[A-Za-z]+, (\d{1,2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(text);
  if (m) {
    const yy = Number(m[3]);
    // Two-digit years as Python's email.utils reads them (RFC 850 dates are rare and old).
    const year = yy > 68 ? 1900 + yy : 2000 + yy;
    return utc(String(year), m[2], m[1], m[4], m[5], m[6]);
  }
  m = /^[A-Za-z]{3} ([A-Za-z]{3}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/.exec(text);
  if (m) return utc(m[6], m[1], m[2], m[3], m[4], m[5]);
  return null;
}

function utc(
  year: string | undefined,
  month: string | undefined,
  day: string | undefined,
  hour: string | undefined,
  minute: string | undefined,
  second: string | undefined,
): number | null {
  const index = MONTHS[(month ?? "").toLowerCase()];
  if (index === undefined) return null;
  const ms = Date.UTC(Number(year), index, Number(day), Number(hour), Number(minute), Number(second));
  return Number.isFinite(ms) ? ms : null;
}

/**
 * Seconds the server asks us to wait, or `null`: `retry-after-ms` first, then `Retry-After` as
 * seconds, then as an HTTP date relative to `nowMs` (epoch milliseconds; a past date means 0).
 */
export function parseRetryAfter(headers: HeaderSource, nowMs: number): number | null {
  const millis = nonNegativeNumber(headerValue(headers, "retry-after-ms"));
  if (millis !== null) return millis / 1000;
  const raw = headerValue(headers, "retry-after");
  if (raw === undefined) return null;
  const seconds = nonNegativeNumber(raw);
  if (seconds !== null) return seconds;
  const when = parseHttpDate(raw);
  return when === null ? null : Math.max(0, (when - nowMs) / 1000);
}

/** Exponential backoff in seconds, capped, with downward jitter (`random` in [0, 1)). */
export function backoffDelay(retriesSoFar: number, retryBackoff: number, random: number): number {
  const cap = Math.max(MAX_BACKOFF, retryBackoff);
  const nominal = Math.min(retryBackoff * 2 ** retriesSoFar, cap);
  return nominal * (1 - JITTER * random);
}

/** Statuses retried without an explicit `x-should-retry`. */
export function isRetryableStatus(status: number, hasWaitHint: boolean): boolean {
  if (status === 408 || status === 429) return true;
  if (status === 409) return hasWaitHint;
  return status >= 500 && status !== 501 && status !== 505;
}

export interface RetryDecision {
  retry: boolean;
  /** Seconds to wait before the next attempt (0 when not retrying). */
  delay: number;
  /** The server's wait hint in seconds, kept even when not retrying. */
  retryAfter: number | null;
}

export interface RetryInput {
  retriesSoFar: number;
  maxRetries: number;
  /** Seconds. */
  retryBackoff: number;
  /** `null` for a connection error or timeout (no HTTP answer). */
  status: number | null;
  headers: HeaderSource;
  /** Epoch milliseconds (for HTTP-date hints). */
  nowMs: number;
  random: number;
  /** The decoded error body, if any. */
  body?: unknown;
}

/** Decide for one failed attempt, in the spec's order. */
export function decideRetry(input: RetryInput): RetryDecision {
  const retryAfter = input.status === null ? null : parseRetryAfter(input.headers, input.nowMs);
  const no: RetryDecision = { retry: false, delay: 0, retryAfter };
  if (input.retriesSoFar >= input.maxRetries) return no;
  const backoff = backoffDelay(input.retriesSoFar, input.retryBackoff, input.random);
  if (input.status === null) return { retry: true, delay: backoff, retryAfter: null };
  const should = (headerValue(input.headers, "x-should-retry") ?? "").trim().toLowerCase();
  if (should === "false") return no;
  if (retryAfter !== null && retryAfter > MAX_RETRY_AFTER) return no;
  if (namesGeneration(input.body)) return no;
  if (should === "true" || isRetryableStatus(input.status, retryAfter !== null)) {
    return { retry: true, delay: retryAfter ?? backoff, retryAfter };
  }
  return no;
}

function namesGeneration(body: unknown): boolean {
  if (!isRecord(body)) return false;
  const error = body["error"];
  return isRecord(error) && Boolean(error["generation_id"]);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
