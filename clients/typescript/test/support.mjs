// Test helpers: a fake fetch that answers from a queue and records every request, a fake
// clock, and the shared conformance spec (read at test time, never copied).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { OrchestrationClient } from "../dist/esm/index.js";

const here = dirname(fileURLToPath(import.meta.url));
export const PACKAGE_ROOT = join(here, "..");
export const REPO_ROOT = join(PACKAGE_ROOT, "..", "..");

export function loadSpec() {
  return JSON.parse(readFileSync(join(REPO_ROOT, "clients", "spec", "conformance.json"), "utf8"));
}

export function loadOpenApi() {
  return JSON.parse(readFileSync(join(REPO_ROOT, "openapi.json"), "utf8"));
}

export function isoMs(iso) {
  return Date.parse(iso);
}

export function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

export function generation(overrides = {}) {
  return {
    id: "gen_1",
    object: "generation",
    status: "succeeded",
    image_url: "http://test.local/api/v1/images/gen_1-0.png?sig=x",
    thumbnail_url: "http://test.local/api/v1/images/gen_1-0-thumb.webp?sig=x",
    images: [
      {
        url: "http://test.local/api/v1/images/gen_1-0.png?sig=x",
        thumbnail_url: "http://test.local/api/v1/images/gen_1-0-thumb.webp?sig=x",
        width: 1024,
        height: 1024,
        content_type: "image/png",
      },
    ],
    prompt: "A beautiful sunset over mountains",
    model: "dall-e-3",
    style: "photorealistic",
    size: "1024x1024",
    quality: "standard",
    n: 1,
    seed: null,
    negative_prompt: null,
    metadata: { campaign: "summer-2024" },
    provider: "offline",
    livemode: false,
    cost: 0.04,
    currency: "USD",
    price_version: "2026-11-24",
    progress: 1.0,
    processing_time: 0.25,
    revised_prompt: null,
    batch_id: null,
    error: null,
    created_at: "2026-01-01T00:00:00Z",
    started_at: "2026-01-01T00:00:00.100Z",
    finished_at: "2026-01-01T00:00:00.350Z",
    ...overrides,
  };
}

/** A fetch that answers from a queue (Responses, Errors to throw, or functions). */
export class FakeServer {
  constructor() {
    this.queue = [];
    this.requests = [];
    this.fetch = async (url, init = {}) => {
      const request = {
        url: new URL(url),
        method: init.method ?? "GET",
        headers: new Headers(init.headers),
        // A multipart body stays the FormData the client built (`form`); JSON is parsed.
        form: init.body instanceof FormData ? init.body : undefined,
        body: init.body === undefined || init.body instanceof FormData ? undefined : JSON.parse(init.body),
        signal: init.signal,
      };
      this.requests.push(request);
      const next = this.queue.shift();
      if (next === undefined) throw new Error(`FakeServer: no answer queued for ${request.method} ${url}`);
      if (next instanceof Error) throw next;
      if (typeof next === "function") return next(request);
      return next;
    };
  }

  add(...answers) {
    this.queue.push(...answers);
    return this;
  }
}

/** A client on a fake server, with a fake clock: sleeping advances it and is recorded. */
export function fakeClient(server, options = {}, { now = "2026-01-01T00:00:00Z", random = 0 } = {}) {
  const client = new OrchestrationClient({
    baseUrl: "http://test.local",
    apiKey: "sk-test-unit",
    fetch: server.fetch,
    ...options,
  });
  const clock = { wall: isoMs(now), mono: 0 };
  client.sleeps = [];
  client._sleep = async (ms, signal) => {
    if (signal.aborted) throw signal.reason;
    client.sleeps.push(ms);
    clock.wall += ms;
    clock.mono += ms;
  };
  client._now = () => clock.wall;
  client._monotonic = () => clock.mono;
  client._random = () => random;
  client.clock = clock;
  return client;
}

/** A Response whose body arrives in the given chunks (strings), one per read. */
export function streamed(chunks, headers = { "content-type": "text/event-stream" }) {
  const encoder = new TextEncoder();
  let i = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(encoder.encode(chunks[i++]));
      else controller.close();
    },
  });
  return new Response(body, { status: 200, headers });
}
