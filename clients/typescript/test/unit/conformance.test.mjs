// Every case of clients/spec/conformance.json, loaded at test time: the pure rules, and the
// same cases driven through the client over a fake fetch with a fake clock.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as sdk from "../../dist/esm/index.js";
import {
  DEFAULT_MAX_RETRIES,
  DEFAULT_RETRY_BACKOFF,
  JITTER,
  MAX_BACKOFF,
  MAX_RETRY_AFTER,
  backoffDelay,
  decideRetry,
  parseRetryAfter,
} from "../../dist/esm/retry.js";
import { errorFor } from "../../dist/esm/errors.js";
import { FakeServer, fakeClient, generation, isoMs, json, loadSpec } from "../support.mjs";

const SPEC = loadSpec();
const close = (a, b) => Math.abs(a - b) <= 1e-9;

// The spec names fields the Python way; these are the same fields in this SDK.
const FIELD = { status_code: "status", request_id: "requestId", generation_id: "generationId", retry_after: "retryAfter" };

test("defaults match the implementation", () => {
  const d = SPEC.defaults;
  assert.equal(d.max_retries, DEFAULT_MAX_RETRIES);
  assert.equal(d.retry_backoff, DEFAULT_RETRY_BACKOFF);
  assert.equal(d.max_backoff, MAX_BACKOFF);
  assert.equal(d.max_retry_after, MAX_RETRY_AFTER);
  assert.equal(d.jitter, JITTER);
  const client = new sdk.OrchestrationClient({ apiKey: "sk-test-x", fetch: async () => new Response() });
  assert.equal(client.maxRetries, d.max_retries);
  assert.equal(client.retryBackoff, d.retry_backoff * 1000);
});

describe("retry_after parsing", () => {
  for (const c of SPEC.retry_after.cases) {
    test(c.name, () => {
      const got = parseRetryAfter(c.headers, isoMs(SPEC.retry_after.now));
      if (c.expected === null) assert.equal(got, null);
      else assert.ok(got !== null && close(got, c.expected), `${got} != ${c.expected}`);
    });
  }
});

describe("backoff", () => {
  for (const c of SPEC.backoff.cases) {
    test(`backoff ${c.retry_backoff} n=${c.retries_so_far} r=${c.random}`, () => {
      assert.ok(close(backoffDelay(c.retries_so_far, c.retry_backoff, c.random), c.expected));
    });
  }
});

describe("retry decisions (rules)", () => {
  for (const c of SPEC.retry_decisions.cases) {
    test(c.name, () => {
      const d = decideRetry({
        retriesSoFar: c.retries_so_far,
        maxRetries: c.max_retries,
        retryBackoff: c.retry_backoff,
        status: c.status,
        headers: c.headers,
        nowMs: isoMs(SPEC.retry_decisions.now),
        random: c.random,
        body: c.body,
      });
      assert.equal(d.retry, c.expected.retry);
      if (c.expected.retry) assert.ok(close(d.delay, c.expected.delay), `delay ${d.delay}`);
      if (c.expected.retry_after == null) assert.equal(d.retryAfter, null);
      else assert.ok(close(d.retryAfter, c.expected.retry_after));
    });
  }
});

describe("retry decisions (through the client)", () => {
  // Reaching retries_so_far = n takes n earlier failures of the same kind: queue them first.
  for (const c of SPEC.retry_decisions.cases) {
    test(c.name, async () => {
      const server = new FakeServer();
      const failing = () => {
        if (c.status === null) return new TypeError(`fetch failed (${c.error})`);
        const body = c.body === undefined ? { error: { type: "x", code: "x", message: "m" } } : c.body;
        return json(c.status, body, c.headers);
      };
      // Earlier failures use a plain 500 (always retried, no hint), so only the last attempt
      // is the case under test.
      for (let i = 0; i < c.retries_so_far; i++) server.add(json(500, { error: { message: "earlier" } }));
      server.add(failing());
      server.add(json(200, generation()));
      const client = fakeClient(
        server,
        { maxRetries: c.max_retries, retryBackoff: c.retry_backoff * 1000 },
        { now: SPEC.retry_decisions.now, random: c.random },
      );
      const attempt = client.cancel("gen_1"); // a POST: the idempotency key must stay the same
      if (c.expected.retry) {
        const result = await attempt;
        assert.equal(result.id, "gen_1");
        assert.equal(server.requests.length, c.retries_so_far + 2);
        const last = client.sleeps.at(-1);
        assert.ok(Math.abs(last - c.expected.delay * 1000) < 1e-6, `slept ${last}`);
      } else {
        await assert.rejects(attempt, (err) => {
          assert.ok(err instanceof sdk.OrchestrationError);
          if (c.status === null) assert.ok(err instanceof sdk.APIConnectionError);
          else assert.equal(err.status, c.status);
          if (err instanceof sdk.RateLimitError) {
            if (c.expected.retry_after == null) assert.equal(err.retryAfter, null);
            else assert.ok(close(err.retryAfter, c.expected.retry_after));
          }
          return true;
        });
        assert.equal(server.requests.length, c.retries_so_far + 1);
      }
      const keys = new Set(server.requests.map((r) => r.headers.get("idempotency-key")));
      assert.equal(keys.size, 1, "one Idempotency-Key for every attempt of the call");
      assert.deepEqual(
        server.requests.map((r) => r.headers.get("x-request-attempt")),
        server.requests.map((_, i) => String(i + 1)),
      );
    });
  }
});

function checkError(err, c) {
  assert.equal(err.constructor.name, c.expected);
  assert.equal(err.name, c.expected);
  assert.ok(err instanceof sdk.OrchestrationError);
  assert.ok(err instanceof sdk[c.expected], `instanceof ${c.expected}`);
  for (const [name, value] of Object.entries(c.fields)) {
    const got = err[FIELD[name] ?? name];
    if (typeof value === "number" && !Number.isInteger(value)) assert.ok(close(got, value), `${name}: ${got}`);
    else assert.equal(got, value, name);
  }
}

describe("error mapping (the function)", () => {
  for (const c of SPEC.error_mapping.cases) {
    test(c.name, () => {
      const err = errorFor(c.status, c.body, c.headers, {
        retryAfter: parseRetryAfter(c.headers, isoMs(SPEC.error_mapping.now)),
        text: typeof c.body === "string" ? c.body : null,
      });
      checkError(err, c);
    });
  }
});

describe("error mapping (through the client)", () => {
  for (const c of SPEC.error_mapping.cases.filter((x) => x.status !== null)) {
    test(c.name, async () => {
      const server = new FakeServer();
      let response;
      if (c.body === null) response = new Response(null, { status: c.status, headers: c.headers });
      else if (typeof c.body === "string") response = new Response(c.body, { status: c.status, headers: c.headers });
      else response = json(c.status, c.body, c.headers);
      server.add(response);
      const client = fakeClient(server, { maxRetries: 0 }, { now: SPEC.error_mapping.now });
      await assert.rejects(client.getGeneration("gen_1"), (err) => {
        checkError(err, c);
        assert.equal(err.status, c.status);
        return true;
      });
    });
  }
});

describe("pagination", () => {
  for (const c of SPEC.pagination.cases) {
    test(c.name, async () => {
      const server = new FakeServer();
      for (const page of c.pages) server.add(json(200, page.response));
      const client = fakeClient(server);
      const q = c.query;
      const metadata = Object.fromEntries(
        Object.entries(q)
          .filter(([k]) => k.startsWith("metadata."))
          .map(([k, v]) => [k.slice("metadata.".length), v]),
      );
      const history = client.getGenerationHistory({
        limit: q.limit === undefined ? undefined : Number(q.limit),
        filterByModel: q.model,
        status: q.status,
        metadata: Object.keys(metadata).length ? metadata : undefined,
      });
      const first = await history;
      assert.equal(first.data.length, c.expected_first_page_len);
      const ids = [];
      for await (const g of first) ids.push(g.id);
      assert.deepEqual(ids, c.expected_ids);
      assert.equal(server.requests.length, c.pages.length);
      server.requests.forEach((request, i) => {
        assert.equal(request.url.pathname, "/api/v1/generations");
        assert.deepEqual(Object.fromEntries(request.url.searchParams), c.pages[i].expect_query);
      });
      if (c.name.startsWith("unknown fields")) {
        assert.deepEqual(first.data[0].brandNewField, { x: 1 });
      }
    });
  }
});
