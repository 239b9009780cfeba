/**
 * Verifying the orchestrator's webhooks (Standard Webhooks 1.0) with Web Crypto, so it runs on
 * Node 18+, Bun, Deno and edge runtimes alike.
 */
import { WebhookVerificationError } from "./errors.js";
import type { WebhookEventType } from "./types.js";

/** Every event type an endpoint can subscribe to (without a list: the `generation.*` ones). */
export const WEBHOOK_EVENTS: readonly WebhookEventType[] = [
  "generation.succeeded",
  "generation.failed",
  "generation.canceled",
  "budget.threshold_crossed",
];

const SECRET_PREFIX = "whsec_";
/** Seconds a delivery's timestamp may be from now (replayed or forged deliveries are older). */
export const DEFAULT_WEBHOOK_TOLERANCE = 300;

export interface VerifyWebhookOptions {
  /** Seconds the `webhook-timestamp` may differ from `now` (default 300). */
  tolerance?: number;
  /** The current Unix time in seconds (default: the clock). */
  now?: number;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? "";
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() === name) return (Array.isArray(value) ? value[0] : value) ?? "";
  }
  return "";
}

function base64Bytes(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

async function subtle(): Promise<SubtleCrypto> {
  const global = (globalThis as { crypto?: Crypto }).crypto;
  if (global?.subtle) return global.subtle;
  const name = "node:crypto"; // Node 18 has Web Crypto only under node:crypto
  const nodeCrypto = (await import(name)) as { webcrypto: Crypto };
  return nodeCrypto.webcrypto.subtle;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/**
 * Check a webhook delivery and resolve to its parsed JSON event.
 *
 * `payload` is the raw request body, byte for byte (not a re-serialised object); `headers` the
 * request's headers (a `Headers` or a plain object, any case); `secret` the endpoint's
 * `whsec_…` secret, shown once when it was created. Retries keep their `webhook-id`: use it to
 * drop duplicates. Rejects with `WebhookVerificationError` when a header is missing, no `v1`
 * signature matches, or the timestamp is more than `tolerance` seconds from now.
 */
export async function verifyWebhook(
  payload: string | Uint8Array,
  headers: HeaderSource,
  secret: string,
  options: VerifyWebhookOptions = {},
): Promise<unknown> {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError("webhook-timestamp is not a Unix time");
  const now = options.now ?? Date.now() / 1000;
  if (Math.abs(now - Number(timestamp)) > (options.tolerance ?? DEFAULT_WEBHOOK_TOLERANCE)) {
    throw new WebhookVerificationError("webhook timestamp is outside the tolerance");
  }
  const key = base64Bytes(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
  if (!key || key.length === 0) throw new WebhookVerificationError("the secret is not a whsec_ secret");
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const prefix = new TextEncoder().encode(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);
  const crypto = await subtle();
  const hmacKey = await crypto.importKey("raw", new Uint8Array(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const expected = new Uint8Array(await crypto.sign("HMAC", hmacKey, signed));
  for (const candidate of signatures.trim().split(/\s+/)) {
    const [version, value] = candidate.split(",", 2);
    const given = version === "v1" && value ? base64Bytes(value) : null;
    if (given && sameBytes(expected, given)) {
      try {
        return JSON.parse(new TextDecoder().decode(body)) as unknown;
      } catch (err) {
        throw new WebhookVerificationError("the signed body is not JSON", { cause: err });
      }
    }
  }
  throw new WebhookVerificationError("no matching webhook signature");
}
