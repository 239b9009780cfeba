// The result cache, driven by clients/spec/conformance.json (`cache`): the `cache` option of
// generate, submit, the five image operations and createKey (sent only when set, as JSON or a
// multipart text part; a bad value is a TypeError before any request), and the response fields.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { FakeServer, fakeClient, generation, json, loadSpec } from "../support.mjs";

const SPEC = loadSpec().cache;
const PNG = Uint8Array.from(Buffer.from("iVBORw0KGgo=", "base64"));

// A call of each method in the spec's `methods`, with its required arguments.
const CALLS = {
  generate: (c, extra) => c.generate({ prompt: "a red fox", model: "stable-image-core", seed: 7, ...extra }),
  edit: (c, extra) => c.edit({ prompt: "paint it teal", images: "gen_abc", ...extra }),
  variation: (c, extra) => c.createVariation({ image: "gen_abc", ...extra }),
  upscale: (c, extra) => c.upscale({ image: "gen_abc", ...extra }),
  remove_background: (c, extra) => c.removeBackground({ image: "gen_abc", ...extra }),
  image_to_image: (c, extra) => c.imageToImage({ prompt: "a field at dawn", image: "gen_abc", ...extra }),
};

test("the spec names every method", () => {
  assert.deepEqual(Object.keys(CALLS).sort(), [...SPEC.methods].sort());
});

describe("the option is sent only when set", () => {
  for (const method of Object.keys(CALLS)) {
    for (const value of SPEC.values) {
      test(`${method} cache=${JSON.stringify(value.value)}`, async () => {
        const server = new FakeServer().add(json(200, generation({ id: "gen_c" })));
        await CALLS[method](fakeClient(server), { cache: value.value });
        const { body } = server.requests[0];
        if (value.sent === "absent") assert.ok(!("cache" in body), JSON.stringify(body));
        else assert.strictEqual(body.cache, value.sent);
      });
    }
  }
});

test("submit sends the option", async () => {
  const server = new FakeServer().add(json(202, generation({ id: "gen_q", status: "queued", image_url: null, images: [] })));
  await fakeClient(server).submit({ prompt: "a red fox", model: "stable-image-core", seed: 7, cache: "always" });
  assert.equal(server.requests[0].body.cache, "always");
});

describe("a multipart body carries it as a text part", () => {
  for (const value of SPEC.values.filter((v) => "multipart" in v)) {
    test(JSON.stringify(value.value), async () => {
      const server = new FakeServer().add(json(200, generation({ id: "gen_c" })));
      await fakeClient(server).upscale({ image: PNG, cache: value.value });
      assert.equal(server.requests[0].form.get("cache"), value.multipart);
    });
  }
});

describe("a bad value is a TypeError naming cache, before any request", () => {
  for (const method of Object.keys(CALLS)) {
    for (const bad of SPEC.invalid_values) {
      test(`${method} cache=${JSON.stringify(bad)}`, async () => {
        const server = new FakeServer();
        await assert.rejects(CALLS[method](fakeClient(server), { cache: bad }), (error) => {
          assert.ok(error instanceof TypeError && error.message.startsWith("cache"), error.message);
          return true;
        });
        assert.equal(server.requests.length, 0);
      });
    }
  }
});

describe("the response fields", () => {
  for (const c of SPEC.cases) {
    test(c.name, async () => {
      const body = generation({ id: "gen_c" });
      Object.assign(body, c.generation);
      const server = new FakeServer()
        .add(json(200, body))
        .add(json(200, { object: "list", data: [body], has_more: false, next_cursor: null }));
      const client = fakeClient(server);
      const result = await client.generate({ prompt: "a red fox", model: "stable-image-core", seed: 7, cache: true });
      assert.deepEqual({ cached: result.cached, cachedFrom: result.cachedFrom, cost: result.cost }, {
        cached: c.expected.cached,
        cachedFrom: c.expected.cached_from,
        cost: c.expected.cost,
      });
      const page = await client.getGenerationHistory({ limit: 1 });
      assert.strictEqual(page.data[0].cached, c.expected.cached);
    });
  }
});

test("usage counts cached generations", async () => {
  const { usage, expected } = SPEC.usage_case;
  const server = new FakeServer().add(
    json(200, { object: "usage", start_date: "2026-01-01", end_date: "2026-01-31", ...usage }),
  );
  const stats = await fakeClient(server).getUsageStats({ startDate: "2026-01-01", endDate: "2026-01-31", groupBy: SPEC.group_by });
  assert.equal(server.requests[0].url.searchParams.get("group_by"), "cache");
  assert.equal(stats.cachedGenerations, expected.cached_generations);
  assert.equal(stats.cacheSavings, expected.cache_savings);
  const [bucket] = stats.groups;
  assert.deepEqual([bucket.key, bucket.cached, bucket.cacheSavings], [expected.group_key, expected.group_cached, expected.group_cache_savings]);
});

test("the fields take their defaults when an older server leaves them out", async () => {
  const server = new FakeServer().add(json(200, { object: "usage", start_date: "2026-01-01", end_date: "2026-01-31", groups: [{ key: "m" }] }));
  const stats = await fakeClient(server).getUsageStats({ startDate: "2026-01-01", endDate: "2026-01-31" });
  const fields = SPEC.response_fields;
  const camel = (s) => s.replace(/_([a-z])/g, (_, x) => x.toUpperCase());
  for (const [name, rule] of Object.entries(fields.usage)) assert.strictEqual(stats[camel(name)], rule.default, name);
  for (const [name, rule] of Object.entries(fields.usage_bucket)) assert.strictEqual(stats.groups[0][camel(name)], rule.default, name);
});

test("createKey sends the key's cache default", async () => {
  const created = {
    id: "key_1", object: "api_key", name: "cached", project: "default", mode: "test", prefix: "sk-test-ab",
    scopes: ["generate"], rate_limit_per_minute: null, max_concurrent: null, monthly_budget: null, cache: true,
    created_at: "2026-01-01T00:00:00Z", last_used_at: null, revoked_at: null, expires_at: null, key: "sk-test-abc",
  };
  const server = new FakeServer().add(json(201, created));
  const key = await fakeClient(server).createKey({ name: "cached", cache: true });
  assert.equal(server.requests[0].body.cache, true);
  assert.equal(key.cache, true);
});
