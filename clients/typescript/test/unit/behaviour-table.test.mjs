// The behaviour table every SDK shares (clients/spec/conformance.json): defaults, the
// missing-key error, the error classes under their TypeScript names, and the download rules.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";

import * as sdk from "../../dist/esm/index.js";
import { DEFAULT_TIMEOUT } from "../../dist/esm/client.js";
import { FakeServer, fakeClient, loadSpec } from "../support.mjs";

const SPEC = loadSpec();
const ERRORS = SPEC.errors;
const tsName = (canonical) => ERRORS.classes.find((c) => c.name === canonical).typescript;

test("the default timeout is the table's, in milliseconds", () => {
  assert.equal(DEFAULT_TIMEOUT, SPEC.defaults.timeout * 1000);
  const client = new sdk.OrchestrationClient({ apiKey: "sk-test-x", fetch: async () => new Response() });
  assert.equal(client.timeout, SPEC.defaults.timeout * 1000);
  assert.equal(client.baseUrl, SPEC.defaults.base_url);
});

test("the base error is the table's and every class has the table's parent", () => {
  assert.equal(typeof sdk[ERRORS.base.typescript], "function");
  for (const entry of ERRORS.classes) {
    const cls = sdk[entry.typescript];
    assert.equal(typeof cls, "function", `${entry.typescript} is exported`);
    const parent = entry.parent === null ? Error : sdk[tsName(entry.parent)];
    assert.equal(Object.getPrototypeOf(cls), parent, entry.name);
  }
});

test("a missing key raises the base error before any request", () => {
  const failure = ERRORS.failures.find((f) => f.name === "missing key");
  const saved = process.env.ORCHESTRATOR_API_KEY;
  process.env.ORCHESTRATOR_API_KEY = "";
  const server = new FakeServer();
  try {
    assert.throws(
      () => new sdk.OrchestrationClient({ fetch: server.fetch }),
      (err) => {
        assert.equal(err.constructor, sdk[tsName(failure.raises)]);
        assert.equal(err.code, failure.code);
        for (const part of failure.message_contains) assert.match(err.message.toLowerCase(), new RegExp(part.toLowerCase()));
        return true;
      },
    );
    assert.equal(server.requests.length, 0);
  } finally {
    if (saved === undefined) delete process.env.ORCHESTRATOR_API_KEY;
    else process.env.ORCHESTRATOR_API_KEY = saved;
  }
});

test("both a key and a token is the argument error", () => {
  assert.throws(() => new sdk.OrchestrationClient({ apiKey: "a", bearerToken: "b" }), TypeError);
});

describe("download rules", () => {
  for (const c of SPEC.downloads.cases) {
    test(c.name, async () => {
      const folder = mkdtempSync(join(tmpdir(), "orchestrator-ts-table-"));
      try {
        const served = c.served_content_type ?? "image/png";
        const server = new FakeServer();
        for (let i = 0; i < 8; i++) server.add(() => new Response("new", { headers: { "content-type": served } }));
        const client = fakeClient(server, { baseUrl: "http://orchestrator.test" });
        for (const name of c.existing ?? []) writeFileSync(join(folder, name), "old");
        const options = { thumbnail: c.thumbnail === true, overwrite: c.overwrite === true };
        let target = c.url;
        if (c.source !== "url") {
          target = {
            id: c.generation_id,
            status: "succeeded",
            images: c.images.map((i) => ({ url: i.url, thumbnailUrl: i.thumbnail_url, contentType: i.content_type })),
          };
          if (c.source.startsWith("image ")) options.index = Number(c.source.slice(6));
        }
        if (c.error) {
          await assert.rejects(client.download(target, folder, options), (err) => {
            assert.equal(err.constructor, sdk[tsName(c.error)]);
            assert.equal(err.filename, join(folder, c.error_names));
            return true;
          });
          assert.equal(server.requests.length, c.fetches);
          for (const name of c.existing) assert.equal(readFileSync(join(folder, name), "utf8"), "old");
        } else {
          const paths = await client.download(target, folder, options);
          assert.deepEqual(paths, c.expected.map((name) => join(folder, name)));
          for (const path of paths) assert.equal(readFileSync(path, "utf8"), "new");
        }
        assert.deepEqual(readdirSync(folder).filter((n) => n.endsWith(".part")), []);
      } finally {
        rmSync(folder, { recursive: true, force: true });
      }
    });
  }
});
