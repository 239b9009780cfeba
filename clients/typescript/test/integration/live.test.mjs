// Every method against a real `orchestrator serve` (test key: the offline renderer).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";

import * as sdk from "../../dist/esm/index.js";
import { KEY, LIMITED_KEY, NO_SERVER, URL_, client, pngSize, runId } from "./support.mjs";

describe("live server", { skip: NO_SERVER }, () => {
  const tmp = mkdtempSync(join(tmpdir(), "orchestrator-ts-live-"));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test("generate: the seed's call and response shape", async () => {
    const response = await client().generate({
      prompt: "A beautiful sunset over mountains",
      model: "dall-e-3",
      style: "photorealistic",
      size: "1024x1024",
      quality: "hd",
      metadata: { campaign: "summer-2024" },
    });
    assert.equal(response.status, "succeeded");
    assert.match(response.id, /^gen_/);
    assert.match(response.imageUrl, /^https?:\/\//);
    assert.match(response.thumbnailUrl, /^https?:\/\//);
    assert.equal(response.style, "photorealistic");
    assert.equal(response.quality, "hd");
    assert.deepEqual(response.metadata, { campaign: "summer-2024" });
    assert.ok(response.createdAt instanceof Date && !Number.isNaN(response.createdAt.getTime()));
    assert.equal(typeof response.processingTime, "number");
    assert.equal(response.cost, 0.08); // dall-e-3 1024x1024 hd, priced as the real model
    assert.equal(response.livemode, false);
    assert.match(response._requestId, /^req_/);
  });

  test("a bad key throws AuthenticationError", async () => {
    const bad = client({ apiKey: "sk-test-thisKeyDoesNotExist0000000000000" });
    await assert.rejects(bad.listModels(), (err) => {
      assert.ok(err instanceof sdk.AuthenticationError);
      assert.equal(err.status, 401);
      assert.equal(err.code, "invalid_api_key");
      assert.match(err.requestId, /^req_/);
      return true;
    });
  });

  test("an exhausted rate limit with retries off throws RateLimitError with retryAfter", async () => {
    const limited = client({ apiKey: LIMITED_KEY, maxRetries: 0 });
    await limited.listModels(); // the one request this minute
    await assert.rejects(limited.listModels(), (err) => {
      assert.ok(err instanceof sdk.RateLimitError);
      assert.equal(err.status, 429);
      assert.ok(err.retryAfter > 0, `retryAfter ${err.retryAfter}`);
      assert.equal(err.limit, 1);
      assert.equal(err.remaining, 0);
      return true;
    });
    // With retries on, a hint over 30 s is handed back at once rather than slept through.
    const started = performance.now();
    await assert.rejects(client({ apiKey: LIMITED_KEY }).listModels(), sdk.RateLimitError);
    assert.ok(performance.now() - started < 10_000);
  });

  test("an unknown model throws ModelNotAvailableError", async () => {
    await assert.rejects(client().generate({ prompt: "x", model: "no-such-model" }), (err) => {
      assert.ok(err instanceof sdk.ModelNotAvailableError);
      assert.equal(err.status, 404);
      assert.equal(err.param, "model");
      return true;
    });
    await assert.rejects(client().getModelInfo("no-such-model"), sdk.ModelNotAvailableError);
  });

  test("invalid input names the field", async () => {
    await assert.rejects(client().generate({ prompt: "x", model: "dall-e-3", size: "3x3" }), (err) => {
      assert.ok(err instanceof sdk.InvalidRequestError);
      assert.equal(err.param, "size");
      return true;
    });
  });

  test("history pages across 3 pages without overlap", async () => {
    const run = runId();
    const c = client();
    const created = [];
    for (let i = 0; i < 6; i++) {
      created.push((await c.generate({ prompt: `History ${i}`, model: "dall-e-2", metadata: { run } })).id);
    }
    const first = await c.getGenerationHistory({ limit: 2, metadata: { run } });
    assert.equal(first.data.length, 2);
    let pages = 0;
    for await (const page of first.iterPages()) {
      pages++;
      assert.ok(page.data.length <= 2);
    }
    assert.equal(pages, 3);
    const seen = [];
    for await (const g of c.getGenerationHistory({ limit: 2, metadata: { run } })) seen.push(g.id);
    assert.equal(new Set(seen).size, seen.length, "no generation twice");
    assert.deepEqual(seen, [...created].reverse(), "every one, newest first");
    const filtered = await c.getGenerationHistory({ limit: 10, filterByModel: "dall-e-3", metadata: { run } });
    assert.equal(filtered.data.length, 0);
  });

  test("download writes real PNG files", async () => {
    const c = client();
    const response = await c.generate({ prompt: "A lighthouse", model: "flux-schnell", n: 2 });
    assert.equal(response.images.length, 2);
    const dir = join(tmp, "images");
    const paths = await c.download(response, dir);
    assert.deepEqual(readdirSync(dir).sort(), [`${response.id}-0.png`, `${response.id}-1.png`]);
    paths.forEach((path, i) => {
      const size = pngSize(readFileSync(path));
      assert.deepEqual(size, { width: response.images[i].width, height: response.images[i].height });
    });
    await assert.rejects(c.download(response, dir), (err) => err.code === "file_exists");
    const thumbs = await c.download(response, dir, { thumbnail: true });
    assert.equal(thumbs.length, 2);
  });

  test("a batch of 3 comes back in order", async () => {
    const prompts = ["First: a red cube", "Second: a green sphere", "Third: a blue cone"];
    const result = await client().generateBatch({ prompts, model: "dall-e-2", batchSize: 3 });
    assert.deepEqual(result.data.map((i) => i.index), [0, 1, 2]);
    assert.deepEqual(result.data.map((i) => i.prompt), prompts);
    assert.deepEqual(result.generations.map((g) => g.prompt), prompts);
    assert.ok(result.data.every((i) => i.ok && i.imageUrl));
    assert.equal(result.succeeded, 3);
    assert.ok(result.totalCost > 0);
  });

  test("models, usage and keys", async () => {
    const c = client();
    const models = await c.listModels();
    const dalle = models.find((m) => m.name === "dall-e-3");
    assert.ok(dalle && dalle.supportedStyles.includes("photorealistic"));
    const info = await c.getModelInfo("dall-e-3");
    assert.equal(info.maxResolution, dalle.maxResolution);
    assert.equal(typeof info.pricingPerImage, "number");
    const today = new Date();
    const usage = await c.getUsageStats({ startDate: today, endDate: today, groupBy: "model" });
    assert.ok(usage.totalGenerations > 0);
    assert.ok(usage.byModel.length > 0);

    const created = await c.createKey({ name: `ts-${runId()}`, scopes: ["read"], rateLimitPerMinute: 50 });
    assert.match(created.key, /^sk-test-/);
    assert.equal(created.rateLimitPerMinute, 50);
    const reader = client({ apiKey: created.key });
    assert.ok((await reader.listModels()).length > 0);
    await assert.rejects(reader.generate({ prompt: "x", model: "dall-e-3" }), sdk.PermissionDeniedError);
    assert.ok((await c.listKeys()).some((k) => k.id === created.id));
    const revoked = await c.revokeKey(created.id);
    assert.ok(revoked.revokedAt instanceof Date);
    await assert.rejects(reader.listModels(), sdk.AuthenticationError);
  });

  test("result cache: a second identical seeded request is served from the first at $0", async () => {
    // A key of its own (created with the cache on), so its usage counts only this test.
    const created = await client().createKey({ name: `ts-cache-${runId()}`, scopes: ["generate", "read"], cache: true });
    assert.equal(created.cache, true);
    const c = client({ apiKey: created.key });
    const request = { prompt: `a lighthouse at dusk ${runId()}`, model: "stable-image-core", seed: 42, cache: true };
    const first = await c.generate(request);
    assert.equal(first.cached, false);
    assert.equal(first.cachedFrom, null);
    const second = await c.generate(request);
    assert.notEqual(second.id, first.id);
    assert.equal(second.cached, true);
    assert.equal(second.cachedFrom, first.id);
    assert.equal(second.cost, 0);
    const today = new Date().toISOString().slice(0, 10); // the server's days are UTC
    const usage = await c.getUsageStats({ startDate: `${today.slice(0, 8)}01`, endDate: today, groupBy: "cache" });
    assert.ok(usage.cachedGenerations >= 1, JSON.stringify(usage));
    assert.ok(usage.groups.reduce((sum, bucket) => sum + bucket.cached, 0) >= 1);
  });

  test("cancel after the end is a ConflictError; a missing job is NotFoundError", async () => {
    const c = client();
    const done = await c.generate({ prompt: "done", model: "dall-e-2" });
    await assert.rejects(c.cancel(done.id), sdk.ConflictError);
    await assert.rejects(c.getGeneration("gen_doesnotexist"), sdk.NotFoundError);
  });

  test("a replayed POST returns the first answer", async () => {
    const c = client();
    const key = `replay-${runId()}`;
    const one = await c.generate({ prompt: "same", model: "dall-e-2" }, { idempotencyKey: key });
    const two = await c.generate({ prompt: "same", model: "dall-e-2" }, { idempotencyKey: key });
    assert.equal(two.id, one.id);
    assert.equal(two._idempotentReplayed, true);
  });

  test("the environment supplies URL and key", async () => {
    assert.ok(URL_ && KEY);
    const fromEnv = new sdk.OrchestrationClient();
    assert.ok((await fromEnv.listModels()).length > 0);
  });
});

// GET /models reports each model's generation prices, not its operations' (those are in the
// server's catalog, server/src/orchestrator/catalog/models.yaml): the upscale and cut-out prices
// are that file's.
const UPSCALE_2X_PRICE = 0.1; // magnific-upscaler, 2x
const REMOVE_BACKGROUND_PRICE = 0.01; // freepik-remove-background

describe("image operations on the live server", { skip: NO_SERVER }, () => {
  test("a chain by id: generate → edit → upscale ×2 → remove background, linked and priced", async () => {
    const c = client();
    const metadata = { run: runId() };
    const dalle2 = await c.getModelInfo("dall-e-2");
    const root = await c.generate({ prompt: "a red kite", model: "dall-e-2", size: "256x256", metadata });
    const edited = await c.edit({ prompt: "paint it teal", images: root.id, model: "dall-e-2", metadata });
    const up1 = await c.upscale({ image: edited.id, factor: 2, metadata });
    const up2 = await c.upscale({ image: `${up1.id}:0`, factor: 2, metadata });
    const cut = await c.removeBackground({ image: up2.id, metadata });
    for (const result of [edited, up1, up2, cut]) assert.equal(result.status, "succeeded");
    assert.deepEqual([cut.images[0].width, cut.images[0].height, cut.images[0].contentType], [1024, 1024, "image/png"]);

    const history = [];
    for await (const g of c.getGenerationHistory({ metadata, limit: 2 })) history.push(g);
    const chain = [root, edited, up1, up2, cut];
    assert.deepEqual(history.map((g) => g.id), chain.map((g) => g.id).reverse());
    const generationPrice = dalle2.pricing["256x256"].standard;
    assert.deepEqual(
      history.map((g) => [g.operation, g.cost]),
      [
        ["remove_background", REMOVE_BACKGROUND_PRICE],
        ["upscale", UPSCALE_2X_PRICE],
        ["upscale", UPSCALE_2X_PRICE],
        ["edit", generationPrice], // dall-e-2 edits cost what its generations of that size do
        ["generate", generationPrice],
      ],
    );
    const byId = new Map(history.map((g) => [g.id, g]));
    for (let i = 1; i < chain.length; i++) {
      const item = byId.get(chain[i].id);
      assert.deepEqual(item.parents, [chain[i - 1].id]);
      assert.deepEqual(
        item.sources.map((s) => [s.role, s.origin, s.generationId, s.index]),
        [["image", "generation", chain[i - 1].id, 0]],
      );
    }
    assert.deepEqual(byId.get(root.id).parents, []);
    const middle = await c.getGeneration(up1.id);
    assert.deepEqual(middle.parents, [edited.id]);
    assert.deepEqual(middle.children, [up2.id]);
  });

  test("uploads by Uint8Array and Blob, mixed with an id; wait: false", async () => {
    const c = client();
    const metadata = { run: runId() };
    const source = await c.generate({ prompt: "a blue square", model: "dall-e-2", size: "256x256", metadata });
    // The bytes of a real PNG to upload (this test's only download).
    const png = new Uint8Array(await (await fetch(source.imageUrl)).arrayBuffer());
    const up = await c.upscale({ image: png, factor: 2, metadata });
    assert.deepEqual(up.sources.map((s) => [s.origin, s.width, s.height]), [["upload", 256, 256]]);
    assert.deepEqual([up.images[0].width, up.images[0].height], [512, 512]);
    assert.equal(up.cost, UPSCALE_2X_PRICE);
    assert.deepEqual(up.parents, []);

    const edited = await c.edit({
      prompt: "a yellow sun",
      images: [source.id, new Blob([png], { type: "image/png" })],
      model: "gpt-image-1",
      size: "1024x1024",
      metadata,
    });
    assert.deepEqual(edited.sources.map((s) => [s.origin, s.generationId]), [["generation", source.id], ["upload", null]]);
    assert.deepEqual(edited.parents, [source.id]);

    const job = await c.removeBackground({ image: png.buffer }, { wait: false });
    assert.ok(["queued", "running", "succeeded"].includes(job.status));
    const done = await c.waitFor(job.id);
    assert.equal(done.status, "succeeded");
    assert.equal(done.operation, "remove_background");
    await assert.rejects(c.upscale({ image: "gen_doesnotexist0000", factor: 2 }), (err) => {
      assert.ok(err instanceof sdk.NotFoundError);
      assert.equal(err.param, "image");
      return true;
    });
  });
});
