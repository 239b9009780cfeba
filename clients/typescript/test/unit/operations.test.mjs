// The image operations (edit, createVariation, upscale, removeBackground, imageToImage), driven by
// clients/spec/conformance.json (`operations`): which endpoint, which body (JSON or multipart),
// which part carries each input, and the argument errors thrown before any request.
import assert from "node:assert/strict";
import { File } from "node:buffer"; // a global only from Node 20; the package supports 18
import { describe, test } from "node:test";

import * as sdk from "../../dist/esm/index.js";
import { FakeServer, fakeClient, generation, json, loadOpenApi, loadSpec } from "../support.mjs";

const SPEC = loadSpec().operations;
const API = loadOpenApi();
const METHODS = Object.fromEntries(SPEC.methods.map((m) => [m.operation, m]));
const PNG = Uint8Array.from(Buffer.from("iVBORw0KGgo=", "base64")); // the spec's bytes case
const FIELD = (operation) => (operation === "edit" ? "images" : "image");

// A call of each method with its required arguments, the input given as `image`.
const CALLS = {
  edit: (c, image, extra = {}, options) => c.edit({ prompt: "paint it teal", images: image, ...extra }, options),
  variation: (c, image, extra = {}, options) => c.createVariation({ image, ...extra }, options),
  upscale: (c, image, extra = {}, options) => c.upscale({ image, ...extra }, options),
  remove_background: (c, image, extra = {}, options) => c.removeBackground({ image, ...extra }, options),
  image_to_image: (c, image, extra = {}, options) => c.imageToImage({ prompt: "a field at dawn", image, ...extra }, options),
};

/** A FormData's entries in order: [name, text] or [name, { filename, type, bytes }]. */
async function entries(form) {
  const out = [];
  for (const [name, value] of form.entries()) {
    if (typeof value === "string") out.push([name, value]);
    else out.push([name, { filename: value.name, type: value.type, bytes: new Uint8Array(await value.arrayBuffer()) }]);
  }
  return out;
}

function operationSchema(operationId) {
  for (const methods of Object.values(API.paths)) {
    for (const op of Object.values(methods)) if (op.operationId === operationId) return op.requestBody.content;
  }
  throw new Error(`no ${operationId}`);
}

const OPERATION_IDS = {
  edit: "editImage",
  variation: "createImageVariation",
  upscale: "upscaleImage",
  remove_background: "removeImageBackground",
  image_to_image: "imageToImage",
};

test("every method has its spec name, and the spec's fields are the server's", () => {
  assert.deepEqual(Object.keys(CALLS).sort(), Object.keys(METHODS).sort());
  for (const method of SPEC.methods) {
    assert.equal(typeof sdk.OrchestrationClient.prototype[method.names.typescript], "function", method.names.typescript);
    const schema = operationSchema(OPERATION_IDS[method.operation])["application/json"].schema;
    const spec = [...method.required, ...method.optional].sort();
    assert.deepEqual(spec, Object.keys(schema.properties).sort(), method.operation);
  }
});

describe("each method posts JSON to its endpoint", () => {
  for (const operation of Object.keys(METHODS)) {
    test(operation, async () => {
      const server = new FakeServer().add(json(200, generation({ id: "gen_op", operation, parents: ["gen_abc"] })));
      const client = fakeClient(server);
      const result = await CALLS[operation](client, "gen_abc", { model: "some-model", metadata: { run: 1 } });
      assert.equal(result.id, "gen_op");
      assert.equal(result.operation, operation);
      assert.deepEqual(result.parents, ["gen_abc"]);
      const [request] = server.requests;
      const [method, path] = METHODS[operation].endpoint.split(" ");
      assert.equal(request.method, method);
      assert.equal(request.url.pathname, path);
      assert.equal(request.headers.get("content-type"), "application/json");
      const field = FIELD(operation);
      assert.deepEqual(request.body[field], operation === "edit" ? ["gen_abc"] : "gen_abc");
      assert.equal(request.body.model, "some-model");
      assert.deepEqual(request.body.metadata, { run: 1 });
      const allowed = new Set([field, ...METHODS[operation].required, ...METHODS[operation].optional]);
      for (const key of Object.keys(request.body)) assert.ok(allowed.has(key), key);
      assert.ok(request.headers.get("idempotency-key"));
      assert.match(request.headers.get("prefer"), /^wait=\d+$/);
    });
  }
});

describe("input cases", () => {
  for (const operation of ["edit", "upscale"]) {
    for (const c of SPEC.input_cases) {
      test(`${operation}: ${c.name}`, async () => {
        const server = new FakeServer().add(json(200, generation({ id: "gen_op" })));
        const client = fakeClient(server);
        const extra = operation === "edit" ? { n: 2 } : { factor: 2 };
        const { kind, value } = c.input;
        if (kind === "path") {
          // The spec: any other string is an argument error in TypeScript (pass the bytes).
          await assert.rejects(CALLS[operation](client, value, extra), (err) => {
            assert.ok(err instanceof TypeError);
            assert.match(err.message, new RegExp(`^${FIELD(operation)}`));
            return true;
          });
          assert.equal(server.requests.length, 0);
          return;
        }
        const input = kind === "bytes" ? Uint8Array.from(Buffer.from(value, "base64")) : value;
        await CALLS[operation](client, input, extra);
        const [request] = server.requests;
        const field = FIELD(operation);
        if (c.body === "json") {
          assert.equal(request.headers.get("content-type"), "application/json");
          assert.deepEqual(request.body[field], operation === "edit" ? [c.sent_as] : c.sent_as);
          return;
        }
        assert.equal(c.sent_as, "file");
        assert.ok(request.form instanceof FormData, "a multipart body");
        assert.equal(request.headers.get("content-type"), null, "fetch sets the multipart boundary");
        const parts = await entries(request.form);
        const files = parts.filter(([, v]) => typeof v !== "string");
        assert.equal(files.length, 1);
        assert.equal(files[0][0], field);
        assert.deepEqual(files[0][1].bytes, PNG);
        assert.equal(files[0][1].type, "image/png");
        assert.equal(files[0][1].filename, "image.png");
        const texts = Object.fromEntries(parts.filter(([, v]) => typeof v === "string"));
        assert.deepEqual(texts, operation === "edit" ? { prompt: "paint it teal", n: "2" } : { factor: "2" });
      });
    }
  }
});

test("a Blob, a named File and an ArrayBuffer are uploaded; mixed inputs keep their order", async () => {
  const server = new FakeServer().add(json(200, generation({ id: "gen_op" })));
  const client = fakeClient(server);
  await client.edit({
    prompt: "a yellow sun",
    images: [new File([PNG], "cat.png", { type: "image/png" }), "gen_abc:2", "https://example.com/cat.png", PNG.buffer.slice(0)],
    mask: new Blob([PNG], { type: "image/png" }),
    model: "gpt-image-1",
    outputCompression: 80,
    metadata: { campaign: "summer", n: 2 },
  });
  const parts = await entries(server.requests[0].form);
  const inputs = parts.filter(([name]) => name === "images" || name === "mask");
  assert.deepEqual(
    inputs.map(([name, v]) => [name, typeof v === "string" ? v : v.filename]),
    [
      ["images", "cat.png"],
      ["images", "gen_abc:2"],
      ["images", "https://example.com/cat.png"],
      ["images", "image.png"],
      ["mask", "image.png"],
    ],
  );
  const texts = Object.fromEntries(parts.filter(([name, v]) => typeof v === "string" && name !== "images"));
  assert.equal(texts.model, "gpt-image-1");
  assert.equal(texts.output_compression, "80");
  assert.deepEqual(JSON.parse(texts.metadata), { campaign: "summer", n: 2 });
});

describe("argument errors name the field, before any request", () => {
  const cases = [
    ["edit without images", (c) => c.edit({ prompt: "paint", images: [] }), "images"],
    ["edit with a blank prompt", (c) => c.edit({ prompt: "   ", images: "gen_abc" }), "prompt"],
    ["edit without a prompt", (c) => c.edit({ images: ["gen_abc"] }), "prompt"],
    ["imageToImage with a blank prompt", (c) => c.imageToImage({ prompt: "", image: "gen_abc" }), "prompt"],
    ["a number among the images", (c) => c.edit({ prompt: "paint", images: ["gen_abc", 42] }), "images[1]"],
    ["a number as the mask", (c) => c.edit({ prompt: "paint", images: "gen_abc", mask: 3.5 }), "mask"],
    ["a number as the image", (c) => c.upscale({ image: 42 }), "image"],
    ["no image", (c) => c.upscale({ factor: 2 }), "image"],
    ["two images for one", (c) => c.upscale({ image: ["gen_a", "gen_b"] }), "image"],
    ["a file path", (c) => c.removeBackground({ image: "./cat.png" }), "image"],
    ["empty bytes", (c) => c.createVariation({ image: new Uint8Array(0) }), "image"],
    ["an empty string", (c) => c.createVariation({ image: "" }), "image"],
  ];
  for (const [name, call, field] of cases) {
    test(name, async () => {
      const server = new FakeServer();
      const client = fakeClient(server);
      await assert.rejects(call(client), (err) => {
        assert.ok(err instanceof TypeError, String(err));
        assert.ok(err.message.startsWith(field), err.message);
        return true;
      });
      assert.equal(server.requests.length, 0);
    });
  }
});

test("wait: false resolves to the queued job", async () => {
  const server = new FakeServer().add(json(202, generation({ id: "gen_q", status: "queued", image_url: null, images: [], cost: null })));
  const client = fakeClient(server);
  const job = await client.upscale({ image: PNG, factor: 2 }, { wait: false, idempotencyKey: "idem-1" });
  assert.equal(job.status, "queued");
  assert.equal(server.requests[0].headers.get("prefer"), "respond-async");
  assert.equal(server.requests[0].headers.get("idempotency-key"), "idem-1");
});

test("a 202 is waited for; a failed job throws its error", async () => {
  const server = new FakeServer().add(
    json(202, generation({ id: "gen_w", status: "running", image_url: null, images: [], cost: null })),
    json(200, generation({ id: "gen_w", operation: "image_to_image" })),
  );
  const client = fakeClient(server);
  const result = await client.imageToImage({ prompt: "a field", image: "gen_abc", strength: 0.4, negativePrompt: "fog" });
  assert.equal(result.id, "gen_w");
  assert.deepEqual(server.requests.map((r) => r.url.pathname), ["/api/v1/images/image-to-image", "/api/v1/generations/gen_w"]);
  assert.equal(server.requests[0].body.strength, 0.4);
  assert.equal(server.requests[0].body.negative_prompt, "fog");

  server.add(json(200, generation({ id: "gen_f", status: "failed", image_url: null, images: [], error: { code: "provider_error", message: "x" } })));
  await assert.rejects(client.removeBackground({ image: "gen_abc" }), (err) => {
    assert.ok(err instanceof sdk.ProviderError);
    assert.equal(err.generationId, "gen_f");
    return true;
  });
});

test("a retried multipart post sends the same form and key", async () => {
  const server = new FakeServer().add(
    json(503, { error: { type: "api_error", code: "service_unavailable", message: "busy" } }),
    json(200, generation({ id: "gen_r" })),
  );
  const client = fakeClient(server);
  await client.edit({ prompt: "paint", images: [PNG], size: "256x256" });
  const [first, second] = server.requests;
  assert.equal(first.headers.get("idempotency-key"), second.headers.get("idempotency-key"));
  assert.deepEqual(await entries(first.form), await entries(second.form));
  const body = await new Response(second.form).text(); // fetch can serialize it on every attempt
  assert.match(body, /name="images"; filename="image.png"/);
});
