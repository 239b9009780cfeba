/**
 * The image operations' request bodies (clients/spec/conformance.json, `operations`): ids and
 * URLs go as JSON; when any input is the image itself the body is multipart/form-data, with the
 * ids and URLs as text parts in their place beside the files, the other fields as text parts and
 * `metadata` as JSON text. Every argument is checked here, before any request.
 */
import { isRecord } from "./retry.js";
import { snakeize } from "./wire.js";

export type OperationName = "edit" | "variation" | "upscale" | "remove_background" | "image_to_image";

/** Each operation's path and the field of its input image(s). */
export const OPERATIONS: Record<OperationName, { path: string; field: "images" | "image"; prompt: boolean }> = {
  edit: { path: "/images/edits", field: "images", prompt: true },
  variation: { path: "/images/variations", field: "image", prompt: false },
  upscale: { path: "/images/upscale", field: "image", prompt: false },
  remove_background: { path: "/images/remove-background", field: "image", prompt: false },
  image_to_image: { path: "/images/image-to-image", field: "image", prompt: true },
};

type Resolved = { text: string } | { blob: Blob; filename: string };

const MAGIC: Array<[number[], string, string]> = [
  [[0x89, 0x50, 0x4e, 0x47], "image/png", "png"],
  [[0xff, 0xd8, 0xff], "image/jpeg", "jpg"],
  [[0x47, 0x49, 0x46, 0x38], "image/gif", "gif"],
];

const EXTENSIONS: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/gif": "gif",
  "image/webp": "webp",
};

function sniff(bytes: Uint8Array): string {
  for (const [magic, type] of MAGIC) if (magic.every((b, i) => bytes[i] === b)) return type;
  const ascii = (from: number, to: number): string => String.fromCharCode(...bytes.subarray(from, to));
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "image/webp";
  return "application/octet-stream";
}

function fromBytes(field: string, bytes: Uint8Array): Resolved {
  if (bytes.byteLength === 0) throw new TypeError(`${field}: the image's bytes are empty`);
  const type = sniff(bytes);
  const extension = EXTENSIONS[type];
  // A copy: the Blob must not change if the caller reuses the buffer while retries are pending.
  return { blob: new Blob([new Uint8Array(bytes)], { type }), filename: extension ? `image.${extension}` : "image" };
}

/** One input as text (an id or URL) or a file part; a TypeError naming `field` otherwise. */
export function resolveInput(field: string, value: unknown): Resolved {
  if (typeof value === "string") {
    const text = value.trim();
    if (text.startsWith("gen_") || /^https?:\/\//i.test(text)) return { text };
    throw new TypeError(
      `${field}: a string must be a stored image id (gen_...) or an http(s) URL, not ${JSON.stringify(value.slice(0, 80))}; ` +
        "pass an image's contents as a Blob, Uint8Array or ArrayBuffer",
    );
  }
  if (typeof Blob !== "undefined" && value instanceof Blob) {
    if (value.size === 0) throw new TypeError(`${field}: the image is empty`);
    const name = (value as { name?: unknown }).name;
    const extension = EXTENSIONS[value.type.split(";")[0]?.trim() ?? ""];
    const filename = typeof name === "string" && name ? name.split(/[/\\]/).pop() ?? name : extension ? `image.${extension}` : "image";
    return { blob: value, filename };
  }
  if (value instanceof Uint8Array) return fromBytes(field, value);
  if (value instanceof ArrayBuffer) return fromBytes(field, new Uint8Array(value));
  const kind = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
  throw new TypeError(
    `${field}: an image is a stored image id (gen_...), an http(s) URL, a Blob, a Uint8Array or an ArrayBuffer, not ${kind}`,
  );
}

/** `cache` is `true`, `false`, `"always"`, or left out (`undefined`/`null`: the key's default). */
export function checkCache(value: unknown): void {
  if (value === undefined || value === null || typeof value === "boolean" || value === "always") return;
  throw new TypeError(`cache: must be true, false or "always", not ${JSON.stringify(value)}`);
}

function formText(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** The JSON object or FormData to post for `operation`, every argument checked first. */
export function operationBody(operation: OperationName, request: unknown): Record<string, unknown> | FormData {
  const { field, prompt } = OPERATIONS[operation];
  if (!isRecord(request)) throw new TypeError(`pass the request as an object: { ${field}, ... }`);
  if (prompt || request["prompt"] !== undefined) {
    if (typeof request["prompt"] !== "string") throw new TypeError("prompt: must be a string");
    if (prompt && !request["prompt"].trim()) throw new TypeError("prompt: must not be blank");
  }
  const given = request[field];
  if (given === undefined || given === null) throw new TypeError(`${field}: an input image is required`);
  let inputs: Resolved[];
  if (operation === "edit") {
    const list = Array.isArray(given) ? given : [given];
    if (list.length === 0) throw new TypeError("images: at least one image is required");
    inputs = list.map((item, i) => resolveInput(`images[${i}]`, item));
  } else {
    if (Array.isArray(given)) throw new TypeError(`image: this operation takes one image, not an array`);
    inputs = [resolveInput("image", given)];
  }
  checkCache(request["cache"]);
  const mask = request["mask"] === undefined || request["mask"] === null ? null : resolveInput("mask", request["mask"]);

  const fields: Array<[string, unknown]> = [];
  for (const [key, value] of Object.entries(request)) {
    if (value === undefined || key === field || key === "mask") continue;
    if (key === "cache" && value === null) continue; // null, like undefined: the key's default
    fields.push([snakeize(key), value]);
  }
  const all = mask === null ? inputs : [...inputs, mask];
  if (all.every((input) => "text" in input)) {
    const texts = inputs.map((input) => (input as { text: string }).text);
    const body: Record<string, unknown> = Object.fromEntries(fields);
    body[field] = operation === "edit" ? texts : texts[0];
    if (mask !== null) body["mask"] = (mask as { text: string }).text;
    return body;
  }
  const form = new FormData();
  for (const [key, value] of fields) form.append(key, formText(value));
  const parts: Array<[string, Resolved]> = inputs.map((input) => [field, input]);
  if (mask !== null) parts.push(["mask", mask]);
  for (const [name, input] of parts) {
    if ("text" in input) form.append(name, input.text);
    else form.append(name, input.blob, input.filename);
  }
  return form;
}
