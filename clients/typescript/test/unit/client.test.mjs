// Client behaviour over a fake fetch with a fake clock: configuration, the snake/camel
// mapping, idempotency, whole-call timeouts and aborts, job waiting, events, batches, downloads.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";

import * as sdk from "../../dist/esm/index.js";
import { FakeServer, fakeClient, generation, json, streamed } from "../support.mjs";

const { OrchestrationClient } = sdk;

describe("configuration", () => {
  let saved;
  beforeEach(() => {
    saved = { key: process.env.ORCHESTRATOR_API_KEY, url: process.env.ORCHESTRATOR_BASE_URL };
    delete process.env.ORCHESTRATOR_API_KEY;
    delete process.env.ORCHESTRATOR_BASE_URL;
  });
  afterEach(() => {
    for (const [name, value] of [
      ["ORCHESTRATOR_API_KEY", saved.key],
      ["ORCHESTRATOR_BASE_URL", saved.url],
    ]) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  test("no credential anywhere is a clear error", () => {
    assert.throws(() => new OrchestrationClient({ fetch: async () => new Response() }), (err) => {
      assert.ok(err instanceof sdk.OrchestrationError);
      assert.match(err.message, /apiKey.*ORCHESTRATOR_API_KEY/);
      return true;
    });
  });

  test("apiKey and bearerToken together are refused", () => {
    assert.throws(() => new OrchestrationClient({ apiKey: "sk-test-a", bearerToken: "jwt" }), /not both/);
  });

  test("environment defaults for the URL and key", async () => {
    process.env.ORCHESTRATOR_API_KEY = "sk-test-from-env";
    process.env.ORCHESTRATOR_BASE_URL = "http://env.local:9000/api/v1/";
    const server = new FakeServer().add(json(200, { object: "list", data: [] }));
    const client = new OrchestrationClient({ fetch: server.fetch });
    assert.equal(client.baseUrl, "http://env.local:9000");
    await client.listModels();
    assert.equal(server.requests[0].url.toString(), "http://env.local:9000/api/v1/models");
    assert.equal(server.requests[0].headers.get("authorization"), "Bearer sk-test-from-env");
  });

  test("a bearer token is sent instead of a key", async () => {
    process.env.ORCHESTRATOR_API_KEY = "sk-test-ignored";
    const server = new FakeServer().add(json(200, { object: "list", data: [] }));
    const client = new OrchestrationClient({ baseUrl: "http://t.local", bearerToken: "a.b.c", fetch: server.fetch });
    await client.listKeys();
    assert.equal(server.requests[0].headers.get("authorization"), "Bearer a.b.c");
  });

  test("bad options are refused", () => {
    assert.throws(() => new OrchestrationClient({ apiKey: "k", baseUrl: "ftp://x" }), TypeError);
    assert.throws(() => new OrchestrationClient({ apiKey: "k", maxRetries: -1 }), TypeError);
    assert.throws(() => new OrchestrationClient({ apiKey: "k", timeout: 0 }), TypeError);
  });
});

describe("generate", () => {
  test("camelCase in, snake_case on the wire, camelCase and Dates out", async () => {
    const server = new FakeServer().add(json(200, generation({ brand_new: 1 }), { "x-request-id": "req_9" }));
    const client = fakeClient(server);
    const response = await client.generate({
      prompt: "A beautiful sunset over mountains",
      model: "dall-e-3",
      style: "photorealistic",
      size: "1024x1024",
      quality: "hd",
      metadata: { campaign: "summer-2024", brandName: "x" },
      negativePrompt: "fog",
    });
    const sent = server.requests[0];
    assert.equal(sent.method, "POST");
    assert.equal(sent.url.pathname, "/api/v1/generate");
    assert.deepEqual(sent.body, {
      prompt: "A beautiful sunset over mountains",
      model: "dall-e-3",
      style: "photorealistic",
      size: "1024x1024",
      quality: "hd",
      metadata: { campaign: "summer-2024", brandName: "x" }, // your keys, untouched
      negative_prompt: "fog",
    });
    assert.equal(sent.headers.get("content-type"), "application/json");
    assert.match(sent.headers.get("idempotency-key"), /^[0-9a-f-]{36}$/);
    assert.match(sent.headers.get("prefer"), /^wait=\d+$/);
    assert.equal(response.imageUrl, generation().image_url);
    assert.equal(response.thumbnailUrl, generation().thumbnail_url);
    assert.equal(response.processingTime, 0.25);
    assert.equal(response.images[0].contentType, "image/png");
    assert.ok(response.createdAt instanceof Date);
    assert.equal(response.createdAt.toISOString(), "2026-01-01T00:00:00.000Z");
    assert.equal(response.brandNew, 1, "fields a newer server adds are kept");
    assert.equal(response._requestId, "req_9");
    assert.ok(!Object.keys(response).includes("_requestId"));
  });

  test("the result promises a style and a cost; history items keep the server's nulls", async () => {
    const unpriced = generation({ style: null, cost: null });
    const server = new FakeServer().add(
      json(200, unpriced, { "x-request-id": "req_7" }),
      json(200, { object: "list", data: [unpriced], has_more: false, next_cursor: null }),
    );
    const client = fakeClient(server);
    const response = await client.generate({ prompt: "p", model: "flux-dev" });
    assert.equal(response.style, "");
    assert.ok(Number.isNaN(response.cost));
    assert.equal(response._requestId, "req_7");
    const page = await client.getGenerationHistory();
    assert.equal(page.data[0].style, null);
    assert.equal(page.data[0].cost, null);
  });

  test("a 202 is waited for, polling with growing pauses", async () => {
    const server = new FakeServer().add(
      json(202, generation({ status: "queued", image_url: null })),
      json(200, generation({ status: "running", image_url: null })),
      json(200, generation({ status: "running", image_url: null })),
      json(200, generation()),
    );
    const client = fakeClient(server);
    const response = await client.generate({ prompt: "p", model: "dall-e-3" });
    assert.equal(response.status, "succeeded");
    assert.deepEqual(client.sleeps, [500, 750]);
    assert.deepEqual(
      server.requests.slice(1).map((r) => r.url.pathname),
      Array(3).fill("/api/v1/generations/gen_1"),
    );
  });

  test("a job that fails while we wait throws the mapped error", async () => {
    const server = new FakeServer().add(
      json(202, generation({ status: "running", image_url: null })),
      json(200, generation({ status: "failed", image_url: null, error: { code: "content_policy_violation", message: "refused" } })),
    );
    const client = fakeClient(server);
    await assert.rejects(client.generate({ prompt: "p", model: "dall-e-3" }), (err) => {
      assert.ok(err instanceof sdk.ContentPolicyError);
      assert.equal(err.generationId, "gen_1");
      assert.equal(err.message, "refused");
      return true;
    });
  });

  test("submit asks for the job at once", async () => {
    const server = new FakeServer().add(json(202, generation({ status: "queued" })));
    const job = await fakeClient(server).submit({ prompt: "p", model: "dall-e-3" });
    assert.equal(job.status, "queued");
    assert.equal(server.requests[0].headers.get("prefer"), "respond-async");
  });

  test("your own idempotency key is sent on every attempt", async () => {
    const server = new FakeServer().add(json(503, {}), json(200, generation()));
    await fakeClient(server).generate({ prompt: "p", model: "m" }, { idempotencyKey: "my-key" });
    assert.deepEqual(server.requests.map((r) => r.headers.get("idempotency-key")), ["my-key", "my-key"]);
  });
});

describe("timeouts and aborts", () => {
  // A hung request: a real socket keeps Node's event loop alive while it waits, so this does too
  // (the client's own deadline timer is unref'd and must not be what keeps the process up).
  const hang = (request) =>
    new Promise((_, reject) => {
      const socket = setInterval(() => {}, 1000);
      request.signal.addEventListener("abort", () => {
        clearInterval(socket);
        reject(new DOMException("aborted", "AbortError"));
      });
    });

  test("the timeout bounds a hung request", async () => {
    const server = new FakeServer().add(hang);
    const client = new OrchestrationClient({ baseUrl: "http://t.local", apiKey: "k", fetch: server.fetch });
    await assert.rejects(client.listModels({ timeout: 30 }), sdk.APITimeoutError);
  });

  test("the timeout bounds the whole call, retries included", async () => {
    const server = new FakeServer().add(
      json(503, { error: { message: "busy" } }, { "retry-after": "1" }),
      json(503, { error: { message: "busy" } }, { "retry-after": "1" }),
      json(200, { object: "list", data: [] }),
    );
    const client = fakeClient(server, { timeout: 1500 });
    // 1 s wait fits in 1.5 s once; the second would not, so the real failure is reported.
    await assert.rejects(client.listModels(), sdk.InternalServerError);
    assert.equal(server.requests.length, 2);
    assert.deepEqual(client.sleeps, [1000]);
  });

  test("waiting for a job past the deadline names the generation", async () => {
    const running = () => json(200, generation({ status: "running", image_url: null }));
    const server = new FakeServer().add(running(), running(), running(), running(), running());
    const client = fakeClient(server);
    await assert.rejects(client.waitFor("gen_1", { timeout: 1000, pollInterval: 400 }), (err) => {
      assert.ok(err instanceof sdk.APITimeoutError);
      assert.equal(err.generationId, "gen_1");
      return true;
    });
  });

  test("an AbortSignal aborts the call", async () => {
    const server = new FakeServer().add(hang);
    const client = new OrchestrationClient({ baseUrl: "http://t.local", apiKey: "k", fetch: server.fetch });
    const controller = new AbortController();
    const call = client.getGeneration("gen_1", { signal: controller.signal });
    setImmediate(() => controller.abort());
    await assert.rejects(call, sdk.APIUserAbortError);
  });

  test("no retry after an abort", async () => {
    const server = new FakeServer();
    const client = fakeClient(server);
    const controller = new AbortController();
    controller.abort();
    server.add(json(500, {}));
    await assert.rejects(client.listModels({ signal: controller.signal }), sdk.APIUserAbortError);
    assert.ok(server.requests.length <= 1);
  });
});

describe("streamEvents", () => {
  const event = (name, overrides, id) =>
    `id: ${id}\r\nevent: ${name}\r\ndata: ${JSON.stringify(generation({ status: name, ...overrides }))}\r\n\r\n`;

  test("parses the stream itself, across odd chunk borders, and stops at the terminal event", async () => {
    const text = ": ping\n\n" + event("queued", { progress: 0 }, "1") + event("running", { progress: 0.5 }, "2") + event("succeeded", {}, "3");
    const chunks = [];
    for (let i = 0; i < text.length; i += 7) chunks.push(text.slice(i, i + 7)); // splits CRLF pairs too
    const server = new FakeServer().add(streamed(chunks));
    const client = fakeClient(server);
    const seen = [];
    for await (const e of client.streamEvents("gen_1")) seen.push([e.event, e.data.progress, e.id]);
    assert.deepEqual(seen, [
      ["queued", 0, "1"],
      ["running", 0.5, "2"],
      ["succeeded", 1, "3"],
    ]);
    assert.equal(server.requests[0].headers.get("accept"), "text/event-stream");
    assert.equal(server.requests[0].url.pathname, "/api/v1/generations/gen_1/events");
  });

  test("a stream cut before the end is reopened with Last-Event-ID", async () => {
    const server = new FakeServer().add(streamed([event("running", {}, "7")]), streamed([event("succeeded", {}, "8")]));
    const client = fakeClient(server);
    const names = [];
    for await (const e of client.streamEvents("gen_1")) names.push(e.event);
    assert.deepEqual(names, ["running", "succeeded"]);
    assert.equal(server.requests[1].headers.get("last-event-id"), "7");
  });

  test("an error event throws the mapped error", async () => {
    const body = `event: error\ndata: ${JSON.stringify({ error: { type: "not_found", code: "not_found", message: "gone" } })}\n\n`;
    const server = new FakeServer().add(streamed([body]));
    const iterate = async () => {
      for await (const _ of fakeClient(server).streamEvents("gen_1"));
    };
    await assert.rejects(iterate(), sdk.NotFoundError);
  });
});

describe("generateBatch", () => {
  test("items in order; pending items are waited for; raiseOnError", async () => {
    const item = (index, status, gen, error = null) => ({ index, prompt: `P${index}`, status, generation: gen, error });
    const batch = {
      object: "batch",
      id: "bat_1",
      data: [
        item(0, "succeeded", generation({ id: "gen_a" })),
        item(1, "failed", generation({ id: "gen_b", status: "running", image_url: null }), {
          type: "invalid_request_error",
          code: "generation_pending",
          message: "still running",
          generation_id: "gen_b",
        }),
        item(2, "failed", null, { type: "provider_error", code: "provider_error", message: "upstream 500" }),
      ],
      succeeded: 1,
      failed: 2,
      total_cost: 0.04,
    };
    const server = new FakeServer().add(json(200, batch), json(200, generation({ id: "gen_b" })));
    const client = fakeClient(server);
    const result = await client.generateBatch({ prompts: ["P0", "P1", "P2"], model: "dall-e-3", batchSize: 3 });
    assert.deepEqual(server.requests[0].body, { prompts: ["P0", "P1", "P2"], model: "dall-e-3", batch_size: 3 });
    assert.deepEqual(result.data.map((i) => [i.prompt, i.ok]), [
      ["P0", true],
      ["P1", true],
      ["P2", false],
    ]);
    assert.equal(result.succeeded, 2);
    assert.equal(result.totalCost, 0.08);
    assert.deepEqual(result.generations.map((g) => g.id), ["gen_a", "gen_b"]);
    assert.ok(result.errors[0].exception instanceof sdk.ProviderError);
    assert.equal([...result].length, 3);

    const again = new FakeServer().add(json(200, { ...batch, data: [batch.data[0], batch.data[2]] }));
    await assert.rejects(
      fakeClient(again).generateBatch({ prompts: ["P0", "P2"], model: "dall-e-3" }, { raiseOnError: true }),
      sdk.ProviderError,
    );
  });
});

describe("keys and usage", () => {
  test("createKey maps its fields; usage takes Dates", async () => {
    const key = {
      id: "key_1", object: "api_key", name: "ci", project: "default", mode: "test", prefix: "sk-test-ab",
      scopes: ["read"], rate_limit_per_minute: 5, max_concurrent: null, monthly_budget: 10,
      created_at: "2026-01-01T00:00:00Z", last_used_at: null, revoked_at: null, key: "sk-test-secret",
    };
    const server = new FakeServer().add(json(201, key), json(200, { object: "usage", start_date: "2026-01-01", end_date: "2026-01-31" }));
    const client = fakeClient(server);
    const created = await client.createKey({ name: "ci", scopes: ["read"], rateLimitPerMinute: 5, monthlyBudget: 10 });
    assert.deepEqual(server.requests[0].body, { name: "ci", scopes: ["read"], rate_limit_per_minute: 5, monthly_budget: 10 });
    assert.equal(created.rateLimitPerMinute, 5);
    assert.equal(created.key, "sk-test-secret");
    assert.ok(created.createdAt instanceof Date);
    const usage = await client.getUsageStats({ startDate: new Date(Date.UTC(2026, 0, 1)), endDate: "2026-01-31", groupBy: "model" });
    assert.deepEqual(Object.fromEntries(server.requests[1].url.searchParams), {
      start_date: "2026-01-01", end_date: "2026-01-31", group_by: "model",
    });
    assert.equal(usage.startDate, "2026-01-01");
    assert.deepEqual(usage.byModel, []);
  });
});

describe("download", () => {
  let dir;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "orchestrator-ts-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const png = () => new Response(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]), { headers: { "content-type": "image/png" } });

  test("one file per image, named <id>-<index>.<ext>, never overwritten unless asked", async () => {
    const gen = generation({
      id: "gen_7",
      images: [
        { url: "http://test.local/api/v1/images/a?sig=1", thumbnail_url: "http://test.local/t/a", width: 1, height: 1, content_type: "image/png" },
        { url: "https://cdn.example/b?sig=2", thumbnail_url: "https://cdn.example/t/b", width: 1, height: 1, content_type: "image/png" },
      ],
    });
    const server = new FakeServer().add(json(200, gen), png(), png());
    const client = fakeClient(server);
    const g = await client.getGeneration("gen_7");
    const target = join(dir, "nested", "out");
    const paths = await client.download(g, target);
    assert.deepEqual(paths, [join(target, "gen_7-0.png"), join(target, "gen_7-1.png")]);
    assert.deepEqual(readdirSync(target).sort(), ["gen_7-0.png", "gen_7-1.png"]);
    assert.deepEqual([...readFileSync(paths[0]).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    // The key goes to the orchestrator only, never to another host.
    assert.equal(server.requests[1].headers.get("authorization"), "Bearer sk-test-unit");
    assert.equal(server.requests[2].headers.get("authorization"), null);

    writeFileSync(paths[0], "mine");
    server.add(png());
    // One image (or a URL) keeps the URL's file name.
    assert.deepEqual(await client.download(g.images[0], target), [join(target, "a.png")]);
    server.add(png());
    await assert.rejects(client.download(g, target), (err) => err.code === "file_exists");
    assert.equal(readFileSync(paths[0], "utf8"), "mine");
    server.queue.length = 0;
    server.add(png(), png());
    await client.download(g, target, { overwrite: true });
    assert.notEqual(readFileSync(paths[0], "utf8"), "mine");
  });
});

describe("package", () => {
  test("the CommonJS build exports the same names", async () => {
    const { createRequire } = await import("node:module");
    const require = createRequire(import.meta.url);
    const cjs = require("../../dist/cjs/index.js");
    assert.deepEqual(Object.keys(cjs).sort(), Object.keys(sdk).sort());
    assert.equal(typeof cjs.OrchestrationClient, "function");
    // download() loads Node's file system lazily; the CommonJS build must find it too.
    const dir = mkdtempSync(join(tmpdir(), "orchestrator-ts-cjs-"));
    try {
      const server = new FakeServer().add(new Response(new Uint8Array([0x89, 0x50]), { headers: { "content-type": "image/png" } }));
      const client = new cjs.OrchestrationClient({ baseUrl: "http://test.local", apiKey: "k", fetch: server.fetch });
      assert.deepEqual(await client.download("http://test.local/api/v1/images/x", dir), [join(dir, "x.png")]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("VERSION matches package.json", async () => {
    const { PACKAGE_ROOT } = await import("../support.mjs");
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8"));
    assert.equal(sdk.VERSION, pkg.version);
    assert.deepEqual(pkg.dependencies ?? {}, {}, "no runtime dependencies");
  });
});
