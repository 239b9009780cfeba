// The package as users get it: `npm pack`, installed from the tarball into a temporary project,
// then the client reference's JavaScript snippet and every example of README.md run there
// against a real server (only URL and key substituted), and its TypeScript types are checked
// with `tsc --strict` as the reference declares them.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";

import { PACKAGE_ROOT, REPO_ROOT } from "../support.mjs";
import { KEY, NO_SERVER, URL_ } from "./support.mjs";

const run = promisify(execFile);
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const TSC = join(PACKAGE_ROOT, "node_modules", "typescript", "bin", "tsc");
const NAME = "@freepik/ai-orchestrator-client";

const SEED_FILE =
  process.env.ORCHESTRATOR_SEED_FILE || join(REPO_ROOT, "..", "shared", "seed", "000_e80767665285fc9c.txt");
const NO_SEED = existsSync(SEED_FILE) ? false : `client reference not found at ${SEED_FILE} (shared/ is not beside the repository)`;

const URLS = ["http://localhost:8000", "https://your-domain.com"];
const KEYS = ["sk-your-api-key-here", "your-api-key", "sk-test-…"];

/** The only changes allowed to a snippet: the server URL and the credentials. */
function adapt(snippet) {
  let out = snippet;
  for (const url of URLS) out = out.split(`'${url}'`).join(JSON.stringify(URL_));
  for (const key of KEYS) out = out.split(`'${key}'`).join(JSON.stringify(KEY));
  return out;
}

function fences(markdown, language) {
  const re = new RegExp("^```" + language + "[ \\t]*\\n([\\s\\S]*?)^```", "gm");
  return [...markdown.matchAll(re)].map((m) => m[1]);
}

/** The JavaScript/TypeScript section of the client reference. */
function seedSection() {
  const text = readFileSync(SEED_FILE, "utf8");
  const start = text.indexOf("## JavaScript/TypeScript Client");
  assert.ok(start >= 0, "the reference has a JavaScript/TypeScript section");
  const end = text.indexOf("\n## ", start + 3);
  return text.slice(start, end === -1 ? undefined : end);
}

describe("packed tarball in a fresh project", { skip: NO_SERVER }, () => {
  let work;
  let project;

  async function node(file) {
    return run(process.execPath, [file], { cwd: project, timeout: 180_000, env: process.env });
  }

  async function typecheck(files) {
    const config = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        lib: ["ES2022", "DOM"],
        types: [], // a user's project without @types/node must compile against the typings
      },
      files,
    };
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify(config, null, 2));
    try {
      await run(process.execPath, [TSC, "-p", "tsconfig.json"], { cwd: project, timeout: 180_000 });
    } catch (err) {
      assert.fail(`tsc --strict failed:\n${err.stdout}${err.stderr}`);
    }
  }

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "orchestrator-ts-pack-"));
    const { stdout } = await run(NPM, ["pack", "--json", "--ignore-scripts", "--pack-destination", work], {
      cwd: PACKAGE_ROOT,
    });
    const [packed] = JSON.parse(stdout);
    const tarball = join(work, packed.filename);
    const files = packed.files.map((f) => f.path);
    assert.ok(files.includes("dist/esm/index.js") && files.includes("dist/cjs/index.js"));
    assert.ok(files.includes("dist/esm/index.d.ts") && files.includes("dist/cjs/index.d.ts"));
    assert.ok(files.includes("README.md") && files.includes("CHANGELOG.md"));
    assert.ok(!files.some((f) => f.startsWith("src/") || f.startsWith("test/")), "only the build is shipped");
    project = join(work, "app");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    await run(NPM, ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], {
      cwd: project,
      timeout: 180_000,
    });
    assert.ok(existsSync(join(project, "node_modules", "@freepik", "ai-orchestrator-client", "package.json")));
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("the client reference's JavaScript snippet runs as written", { skip: NO_SEED }, async () => {
    const snippets = fences(seedSection(), "javascript");
    assert.equal(snippets.length, 1, "the reference has one JavaScript snippet");
    writeFileSync(join(project, "seed.mjs"), adapt(snippets[0]));
    const { stdout } = await node("seed.mjs");
    assert.match(stdout, /^Generated image URL: https?:\/\/\S+\/api\/v1\/images\//m);
  });

  test("the client reference's TypeScript types type-check against the package", { skip: NO_SEED }, async () => {
    const [declared] = fences(seedSection(), "typescript");
    assert.ok(declared?.includes("interface GenerationResponse"), "the reference declares the types");
    // The reference's declarations, verbatim but renamed, side by side with the package's.
    const seed = declared
      .replace("interface GenerationRequest", "interface SeedGenerationRequest")
      .replace("interface GenerationResponse", "interface SeedGenerationResponse");
    const source = `import { OrchestrationClient } from "${NAME}";
import type { GenerationRequest, GenerationResponse } from "${NAME}";

${seed}

// A request written to the reference's declaration is a GenerationRequest, and back.
const asSeed: SeedGenerationRequest = {
  prompt: "A beautiful sunset over mountains",
  model: "dall-e-3",
  style: "photorealistic",
  size: "1024x1024",
  quality: "hd",
  metadata: { campaign: "summer-2024" },
};
const request: GenerationRequest = asSeed;
const back: SeedGenerationRequest = request;

// A GenerationResponse has every field of the reference's declaration, with its type.
const asSeedResponse = (r: GenerationResponse): SeedGenerationResponse => r;

export async function main(): Promise<void> {
  const client = new OrchestrationClient({ baseUrl: "http://localhost:8000", apiKey: "your-api-key" });
  const response: GenerationResponse = await client.generate(request);
  const seedView = asSeedResponse(response);
  const url: string = seedView.imageUrl;
  const thumbnail: string = seedView.thumbnailUrl;
  const createdAt: Date = seedView.createdAt;
  const seconds: number = seedView.processingTime + seedView.cost;
  console.log(url, thumbnail, createdAt.getTime(), seconds, seedView.style, back.prompt);
}
`;
    writeFileSync(join(project, "seed-types.ts"), source);
    await typecheck(["seed-types.ts"]);
  });

  test("every JavaScript example of the README runs", async () => {
    const readme = readFileSync(join(PACKAGE_ROOT, "README.md"), "utf8");
    const examples = fences(readme, "js");
    assert.ok(examples.length >= 8, `found ${examples.length} js examples`);
    for (const [i, example] of examples.entries()) {
      const file = `readme-${i}.mjs`;
      writeFileSync(join(project, file), adapt(example));
      try {
        await node(file);
      } catch (err) {
        assert.fail(`README example ${i} failed:\n${example}\n--- output ---\n${err.stdout}${err.stderr}`);
      }
    }
    // The quick start's download landed where it says.
    assert.ok(existsSync(join(project, "out")));
  });

  test("the README's TypeScript example and a CommonJS consumer type-check", async () => {
    const readme = readFileSync(join(PACKAGE_ROOT, "README.md"), "utf8");
    const examples = fences(readme, "ts");
    assert.ok(examples.length >= 1);
    const files = examples.map((example, i) => {
      writeFileSync(join(project, `readme-${i}.ts`), example);
      return `readme-${i}.ts`;
    });
    writeFileSync(
      join(project, "consumer.cts"),
      `import sdk = require("${NAME}");
const client: sdk.OrchestrationClient = new sdk.OrchestrationClient({ apiKey: "k" });
export = client;
`,
    );
    await typecheck([...files, "consumer.cts"]);
  });

  test("require() loads the CommonJS build", async () => {
    writeFileSync(
      join(project, "cjs.cjs"),
      `const { OrchestrationClient, RateLimitError, OrchestrationError } = require("${NAME}");
const client = new OrchestrationClient({ baseUrl: ${JSON.stringify(URL_)}, apiKey: ${JSON.stringify(KEY)} });
client.listModels().then((models) => {
  if (!(new RateLimitError("x", { status: 429 }) instanceof OrchestrationError)) process.exit(2);
  console.log("models:" + models.length);
});
`,
    );
    const { stdout } = await node("cjs.cjs");
    assert.match(stdout, /^models:\d+/);
  });
});
