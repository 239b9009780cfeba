// The client reference's TypeScript interfaces, pasted verbatim into a user's file, accept what
// generate() returns under `tsc --strict` (and history items, which may carry nulls, are refused).
// Runs against the built package (dist/, as `npm pack` ships it), resolved by its name.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, test } from "node:test";

import { PACKAGE_ROOT, REPO_ROOT } from "../support.mjs";

const run = promisify(execFile);
const TSC = join(PACKAGE_ROOT, "node_modules", "typescript", "bin", "tsc");
const FIXTURE = join(PACKAGE_ROOT, "test", "fixtures", "seed-types.ts");
const SEED_FILE =
  process.env.ORCHESTRATOR_SEED_FILE || join(REPO_ROOT, "..", "shared", "seed", "000_e80767665285fc9c.txt");

let project;

before(() => {
  project = mkdtempSync(join(tmpdir(), "orchestrator-seed-types-"));
  mkdirSync(join(project, "node_modules", "@freepik"), { recursive: true });
  symlinkSync(PACKAGE_ROOT, join(project, "node_modules", "@freepik", "ai-orchestrator-client"), "dir");
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  copyFileSync(FIXTURE, join(project, "seed-types.ts"));
});

after(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

async function tscStrict(file) {
  const config = {
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib: ["ES2022", "DOM"],
      types: [],
    },
    files: [file],
  };
  writeFileSync(join(project, "tsconfig.json"), JSON.stringify(config));
  return run(process.execPath, [TSC, "-p", "tsconfig.json"], { cwd: project, timeout: 120_000 });
}

test("the reference's interfaces accept generate()'s result under tsc --strict", { timeout: 180_000 }, async () => {
  try {
    await tscStrict("seed-types.ts");
  } catch (err) {
    assert.fail(`tsc --strict failed:\n${err.stdout}${err.stderr}`);
  }
});

test("the check is real: a result type with a nullable cost is refused", { timeout: 180_000 }, async () => {
  const source = readFileSync(FIXTURE, "utf8").replace(
    "const r: GenerationResponse = await client.generate(request);",
    "const r: GenerationResponse = { ...(await client.generate(request)), cost: null as number | null };",
  );
  writeFileSync(join(project, "nullable.ts"), source);
  await assert.rejects(tscStrict("nullable.ts"), (err) =>
    /nullable\.ts\(\d+,\d+\): error TS2322: Type 'number \| null' is not assignable to type 'number'/.test(`${err.stdout}`),
  );
});

test("the fixture holds the reference's interfaces verbatim", { skip: !existsSync(SEED_FILE) && "client reference not beside the repository" }, () => {
  const seed = readFileSync(SEED_FILE, "utf8");
  const start = seed.indexOf("```typescript\n") + "```typescript\n".length;
  const declared = seed.slice(start, seed.indexOf("```", start));
  const fixture = readFileSync(FIXTURE, "utf8");
  const pasted = fixture.slice(
    fixture.indexOf("// --- client reference: begin\n") + "// --- client reference: begin\n".length,
    fixture.indexOf("// --- client reference: end"),
  );
  assert.equal(pasted, declared);
});
