// The client's wire descriptions (src/wire.ts) against the committed openapi.json: a field,
// schema or endpoint added, removed or retyped on the server fails here until the client
// follows. (The interfaces of src/types.ts are tied to the same descriptions at compile time.)
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { OrchestrationClient } from "../../dist/esm/index.js";
import { CLIENT_ONLY_SCHEMAS, SCHEMAS, camelize } from "../../dist/esm/wire.js";
import { loadOpenApi } from "../support.mjs";

const API = loadOpenApi();
const COMPONENTS = API.components.schemas;

// Schemas the client reads without a description in wire.ts, and why.
const NOT_DESCRIBED = {
  ErrorBody: "read by errorFor() in errors.ts (checked below)",
  ErrorEnvelope: "read by errorFor() in errors.ts",
  ErrorCode: "the server's error table (clients/spec/conformance.json error_codes); errors map by type and status",
  ErrorType: "the envelope's type, mapped by errorFor() in errors.ts",
  HTTPValidationError: "FastAPI's default; the server answers validation errors with ErrorEnvelope",
  ValidationError: "part of HTTPValidationError",
  Readiness: "the body of /readyz, an operations probe the client does not call",
  ImageGenerationRequest: "the OpenAI-compatible /v1 surface, for OpenAI's own SDKs",
  ImageData: "the OpenAI-compatible /v1 surface",
  ImagesResponse: "the OpenAI-compatible /v1 surface",
  OpenAIModel: "the OpenAI-compatible /v1 surface",
  OpenAIModelList: "the OpenAI-compatible /v1 surface",
  GalleryItem: "the team gallery is used from the dashboard and plain HTTP, not from this client",
  GalleryPage: "the team gallery",
  Deleted: "the team gallery",
  BoardName: "the team gallery",
  BoardOut: "the team gallery",
  BoardList: "the team gallery",
  GenerationIds: "the team gallery",
  OperationInfo: "the values of ModelInfo.operations, kept as the wire sends them (like pricing)",
};

// Every API operation and the client method that calls it.
const OPERATIONS = {
  generate: ["generate", "submit"],
  generateBatch: ["generateBatch"],
  listGenerations: ["getGenerationHistory"],
  getGeneration: ["getGeneration", "waitFor"],
  cancelGeneration: ["cancel"],
  streamGenerationEvents: ["streamEvents"],
  getImage: ["download"],
  listKeys: ["listKeys"],
  createKey: ["createKey"],
  revokeKey: ["revokeKey"],
  listModels: ["listModels"],
  getModel: ["getModelInfo"],
  getUsage: ["getUsageStats"],
  createWebhook: ["createWebhook"],
  listWebhooks: ["listWebhooks"],
  getWebhook: ["getWebhook"],
  updateWebhook: ["updateWebhook", "pauseWebhook", "resumeWebhook"],
  testWebhook: ["sendTestWebhook"],
  deleteWebhook: ["deleteWebhook"],
  listWebhookDeliveries: ["listWebhookDeliveries"],
  editImage: ["edit"],
  createImageVariation: ["createVariation"],
  upscaleImage: ["upscale"],
  removeImageBackground: ["removeBackground"],
  imageToImage: ["imageToImage"],
};
const NOT_CALLED = {
  healthz: "operations probe",
  readyz: "operations probe",
  metrics: "Prometheus scrape endpoint",
  openaiCreateImage: "OpenAI-compatible surface, for OpenAI's own SDKs",
  openaiListModels: "OpenAI-compatible surface",
  openaiGetModel: "OpenAI-compatible surface",
  openaiEditImage: "OpenAI-compatible surface, for OpenAI's own SDKs",
  openaiCreateImageVariation: "OpenAI-compatible surface, for OpenAI's own SDKs",
  searchGallery: "the team gallery (dashboard, plain HTTP)",
  getGalleryItem: "the team gallery",
  starGalleryItem: "the team gallery",
  unstarGalleryItem: "the team gallery",
  deleteGalleryItem: "the team gallery",
  restoreGalleryItem: "the team gallery",
  downloadGalleryItems: "the team gallery",
  listBoards: "the team gallery",
  createBoard: "the team gallery",
  renameBoard: "the team gallery",
  deleteBoard: "the team gallery",
  addBoardItems: "the team gallery",
  removeBoardItem: "the team gallery",
  downloadBoard: "the team gallery",
};

function expectedKind(prop) {
  let p = prop;
  let nullable = false;
  if (p.anyOf) {
    const others = p.anyOf.filter((x) => x.type !== "null");
    nullable = others.length < p.anyOf.length;
    // A union of scalars (the `cache` option: a boolean or "always").
    if (others.length > 1 && others.every((x) => ["string", "number", "integer", "boolean"].includes(x.type))) {
      return { kind: { oneOf: others.map((x) => x.type) }, nullable };
    }
    assert.equal(others.length, 1, `a union the client cannot describe: ${JSON.stringify(prop)}`);
    p = others[0];
  }
  const ref = (r) => ({ ref: r.split("/").pop() });
  let kind;
  if (p.$ref) kind = ref(p.$ref);
  else if (p.type === "array") kind = { array: p.items.$ref ? ref(p.items.$ref) : p.items.type };
  else if (p.type === "string" && p.format === "date-time") kind = "datetime";
  else if (p.type === "string" && p.format === "date") kind = "date";
  else kind = p.type;
  return { kind, nullable };
}

describe("wire descriptions match openapi.json", () => {
  test("every schema is described or deliberately left out", () => {
    const described = Object.keys(SCHEMAS).filter((n) => !CLIENT_ONLY_SCHEMAS.includes(n));
    assert.deepEqual(
      [...described, ...Object.keys(NOT_DESCRIBED)].sort(),
      Object.keys(COMPONENTS).sort(),
    );
  });

  for (const [name, fields] of Object.entries(SCHEMAS)) {
    if (CLIENT_ONLY_SCHEMAS.includes(name)) continue;
    test(name, () => {
      const schema = COMPONENTS[name];
      assert.ok(schema, `${name} is not in openapi.json`);
      assert.deepEqual(Object.keys(fields).sort(), Object.keys(schema.properties).sort(), `${name}: field names`);
      for (const [wire, spec] of Object.entries(fields)) {
        assert.equal(spec.name, camelize(wire), `${name}.${wire}: camelCase name`);
        const want = expectedKind(schema.properties[wire]);
        let kind = spec.kind;
        // A client-side schema reading an open object (a batch item's error).
        if (typeof kind === "object" && "ref" in kind && CLIENT_ONLY_SCHEMAS.includes(kind.ref)) kind = "object";
        assert.deepEqual(kind, want.kind, `${name}.${wire}: kind`);
        assert.equal(spec.nullable, want.nullable, `${name}.${wire}: nullable`);
      }
    });
  }

  test("the error envelope has the fields errorFor() reads", () => {
    assert.deepEqual(Object.keys(COMPONENTS.ErrorBody.properties).sort(), [
      "code",
      "message",
      "param",
      "request_id",
      "type",
    ]);
  });
});

test("every API operation has a client method", () => {
  const ids = [];
  for (const methods of Object.values(API.paths)) for (const op of Object.values(methods)) ids.push(op.operationId);
  assert.deepEqual(ids.sort(), [...Object.keys(OPERATIONS), ...Object.keys(NOT_CALLED)].sort());
  for (const methods of Object.values(OPERATIONS)) {
    for (const method of methods) assert.equal(typeof OrchestrationClient.prototype[method], "function", method);
  }
});
