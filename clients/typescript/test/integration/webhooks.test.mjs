// Webhook endpoints managed through a real server, and its real deliveries (recorded by
// scripts/with_test_server.py --webhook-receiver) verified with this package.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";

import * as sdk from "../../dist/esm/index.js";
import { client } from "./support.mjs";

const RECEIVER = process.env.ORCHESTRATOR_TEST_WEBHOOK_URL;
const FOLDER = process.env.ORCHESTRATOR_TEST_WEBHOOK_DIR;

/** The delivery to `path` matching `wanted(body, headers)`, waited for up to 30 s. */
async function received(path, wanted) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    for (const name of readdirSync(FOLDER).filter((n) => n.endsWith(".json")).sort()) {
      const record = JSON.parse(readFileSync(join(FOLDER, name), "utf8"));
      if (record.path !== path) continue;
      const body = Buffer.from(record.body_base64, "base64");
      const headers = Object.fromEntries(Object.entries(record.headers).map(([k, v]) => [k.toLowerCase(), v]));
      if (wanted(JSON.parse(body.toString("utf8")), headers)) return { body: new Uint8Array(body), headers };
    }
    assert.ok(Date.now() < deadline, `no webhook to ${path} received in 30 s`);
    await delay(50);
  }
}

test("manage an endpoint and verify the server's real deliveries", { skip: !RECEIVER && "run with --webhook-receiver", timeout: 90_000 }, async () => {
  const api = client();
  // A path of its own: the receiver may also get other suites' deliveries.
  const path = `/hooks/ts-${randomBytes(4).toString("hex")}`;
  const url = RECEIVER.replace(/\/hooks$/, path);
  const endpoint = await api.createWebhook({ url, events: ["generation.succeeded"], description: "ts sdk" });
  assert.match(endpoint.secret, /^whsec_/);
  assert.deepEqual([endpoint.url, endpoint.status], [url, "enabled"]);
  assert.ok(endpoint.createdAt instanceof Date);
  assert.ok((await api.listWebhooks()).some((e) => e.id === endpoint.id));
  assert.equal("secret" in (await api.getWebhook(endpoint.id)), false, "the secret is shown once");

  const generation = await api.generate({ prompt: "a lighthouse", model: "dall-e-3" });
  const hook = await received(path, (event) => event.type === "generation.succeeded");
  const event = await sdk.verifyWebhook(hook.body, hook.headers, endpoint.secret);
  assert.equal(event.data.id, generation.id);
  const forged = new TextDecoder().decode(hook.body).replace(generation.id, "gen_forged");
  await assert.rejects(sdk.verifyWebhook(forged, hook.headers, endpoint.secret), sdk.WebhookVerificationError);

  const queued = await api.sendTestWebhook(endpoint.id);
  assert.deepEqual([queued.object, queued.eventType], ["webhook_delivery", "webhook.test"]);
  const test = await received(path, (_event, headers) => headers["webhook-id"] === queued.id);
  assert.equal((await sdk.verifyWebhook(test.body, new Headers(test.headers), endpoint.secret)).type, "webhook.test");
  assert.ok((await api.listWebhookDeliveries(endpoint.id)).some((d) => d.id === queued.id));

  assert.equal((await api.pauseWebhook(endpoint.id)).status, "disabled");
  await assert.rejects(api.sendTestWebhook(endpoint.id), (err) => err instanceof sdk.ConflictError && err.code === "webhook_disabled");
  assert.equal((await api.resumeWebhook(endpoint.id)).status, "enabled");
  assert.equal((await api.updateWebhook(endpoint.id, { description: null })).description, null);

  assert.equal((await api.deleteWebhook(endpoint.id)).id, endpoint.id);
  await assert.rejects(api.getWebhook(endpoint.id), sdk.NotFoundError);
});
