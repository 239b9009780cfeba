// The real server comes from scripts/with_test_server.py (ORCHESTRATOR_* variables).
import { OrchestrationClient } from "../../dist/esm/index.js";

export const URL_ = process.env.ORCHESTRATOR_BASE_URL;
export const KEY = process.env.ORCHESTRATOR_API_KEY;
export const LIMITED_KEY = process.env.ORCHESTRATOR_TEST_LIMITED_KEY;

/** Skip reason when the suite is not run through the harness, else `false`. */
export const NO_SERVER =
  URL_ && KEY
    ? false
    : "no server: run through scripts/with_test_server.py (make test-typescript)";

export function client(options = {}) {
  return new OrchestrationClient({ baseUrl: URL_, apiKey: KEY, ...options });
}

export function runId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Width and height from a PNG's IHDR chunk (throws when the bytes are not a PNG). */
export function pngSize(bytes) {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  signature.forEach((b, i) => {
    if (bytes[i] !== b) throw new Error("not a PNG file");
  });
  if (bytes.toString("latin1", 12, 16) !== "IHDR") throw new Error("PNG without IHDR");
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}
