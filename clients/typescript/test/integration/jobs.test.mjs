// Async jobs against a slow real server (offline renderer latency above the server's
// synchronous wait): 202s, waiting, Server-Sent Events, cancellation, deadlines.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as sdk from "../../dist/esm/index.js";
import { NO_SERVER, client } from "./support.mjs";

const SLOW = process.env.ORCHESTRATOR_TEST_SLOW === "1" ? false : "needs the slow server (ORCHESTRATOR_TEST_SLOW=1)";

describe("async jobs", { skip: NO_SERVER || SLOW }, () => {
  test("a job followed over SSE to succeeded", async () => {
    const c = client();
    const job = await c.submit({ prompt: "A lighthouse in a storm", model: "dall-e-3" });
    assert.ok(["queued", "running"].includes(job.status));
    const events = [];
    for await (const event of c.streamEvents(job.id)) events.push(event);
    const names = events.map((e) => e.event);
    assert.equal(names.at(-1), "succeeded");
    assert.ok(names.includes("running"), `events: ${names}`);
    const progress = events.map((e) => e.data.progress);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b), "progress only grows");
    const last = events.at(-1).data;
    assert.equal(last.id, job.id);
    assert.match(last.imageUrl, /^https?:\/\//);
    assert.ok(last.createdAt instanceof Date);
  });

  test("generate() waits for a job the server hands back (202)", async () => {
    const response = await client().generate({ prompt: "Slow but sure", model: "dall-e-3" });
    assert.equal(response.status, "succeeded");
    assert.ok(response.imageUrl);
  });

  test("waitFor returns the terminal job", async () => {
    const c = client();
    const job = await c.submit({ prompt: "Wait for me", model: "dall-e-2" });
    const done = await c.waitFor(job.id, { pollInterval: 100 });
    assert.equal(done.status, "succeeded");
  });

  test("cancel a running job; its events end with canceled", async () => {
    const c = client();
    const job = await c.submit({ prompt: "Cancel me", model: "dall-e-3" });
    const canceled = await c.cancel(job.id);
    assert.equal(canceled.status, "canceled");
    const names = [];
    for await (const event of c.streamEvents(job.id)) names.push(event.event);
    assert.deepEqual(names, ["canceled"]);
    await assert.rejects(c.cancel(job.id), sdk.ConflictError);
  });

  test("the timeout bounds the whole call, job waiting included", async () => {
    const c = client();
    await assert.rejects(c.generate({ prompt: "Too slow", model: "dall-e-3" }, { timeout: 1200 }), (err) => {
      assert.ok(err instanceof sdk.APITimeoutError);
      assert.match(err.generationId ?? "", /^gen_/, "names the job that keeps running");
      return true;
    });
    const job = await c.submit({ prompt: "Still too slow", model: "dall-e-3" });
    await assert.rejects(c.waitFor(job.id, { timeout: 200, pollInterval: 50 }), (err) => {
      assert.ok(err instanceof sdk.APITimeoutError);
      assert.equal(err.generationId, job.id);
      return true;
    });
  });

  test("an AbortSignal stops an event stream", async () => {
    const c = client();
    const job = await c.submit({ prompt: "Abort the stream", model: "dall-e-3" });
    const controller = new AbortController();
    const iterate = async () => {
      for await (const event of c.streamEvents(job.id, { signal: controller.signal })) {
        if (event.event === "running" || event.event === "queued") controller.abort();
      }
    };
    await assert.rejects(iterate(), sdk.APIUserAbortError);
  });
});
