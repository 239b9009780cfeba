// The verifier's refusals (its acceptance of the server's real signatures is in
// test/integration/webhooks.test.mjs), and the management calls' requests.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";

import * as sdk from "../../dist/esm/index.js";
import { FakeServer, fakeClient, json, loadOpenApi } from "../support.mjs";

const KEY = Buffer.from("0123456789abcdef0123456789abcdef");
const SECRET = `whsec_${KEY.toString("base64")}`;
const BODY = '{"type":"webhook.test","data":{}}';
const NOW = 1767225600;

function headers(body = BODY, key = KEY, id = "msg_1") {
  const signature = createHmac("sha256", key).update(`${id}.${NOW}.${body}`).digest("base64");
  return { "Webhook-Id": id, "Webhook-Timestamp": String(NOW), "Webhook-Signature": `v0,x v1,${signature}` };
}

test("a valid signature gives the event", async () => {
  assert.deepEqual(await sdk.verifyWebhook(BODY, headers(), SECRET, { now: NOW }), { type: "webhook.test", data: {} });
});

test("a changed body is refused", async () => {
  await assert.rejects(sdk.verifyWebhook(BODY.replace("test", "tset"), headers(), SECRET, { now: NOW }), /no matching webhook signature/);
});

test("another secret is refused", async () => {
  await assert.rejects(sdk.verifyWebhook(BODY, headers(BODY, Buffer.alloc(32, 1)), SECRET, { now: NOW }), sdk.WebhookVerificationError);
});

test("a timestamp outside the tolerance is refused", async () => {
  assert.equal((await sdk.verifyWebhook(BODY, headers(), SECRET, { now: NOW + 300 })).type, "webhook.test");
  await assert.rejects(sdk.verifyWebhook(BODY, headers(), SECRET, { now: NOW + 301 }), sdk.WebhookVerificationError);
});

test("a missing header is refused, with the base error", async () => {
  for (const name of ["Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"]) {
    const partial = headers();
    delete partial[name];
    await assert.rejects(sdk.verifyWebhook(BODY, partial, SECRET, { now: NOW }), (err) => err instanceof sdk.OrchestrationError);
  }
});

test("pause sends enabled false; update needs a change", async () => {
  const server = new FakeServer().add(
    json(200, { id: "wh_1", object: "webhook_endpoint", url: "https://example.com/h", events: [], description: null, status: "disabled", disabled_reason: "paused", livemode: false, created_at: "2026-01-01T00:00:00Z" }),
  );
  const client = fakeClient(server);
  assert.equal((await client.pauseWebhook("wh_1")).status, "disabled");
  const request = server.requests[0];
  assert.deepEqual([request.method, request.url.pathname, request.body], ["PATCH", "/api/v1/webhooks/wh_1", { enabled: false }]);
  await assert.rejects(client.updateWebhook("wh_1", {}), TypeError);
});

test("WEBHOOK_EVENTS are the server's subscribable events, budget alerts included", () => {
  const events = loadOpenApi().components.schemas.WebhookCreate.properties.events.items.enum;
  assert.deepEqual([...sdk.WEBHOOK_EVENTS], events);
  assert.ok(sdk.WEBHOOK_EVENTS.includes("budget.threshold_crossed"));
});
