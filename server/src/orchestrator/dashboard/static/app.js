// The dashboard: a client of the public API, nothing more. No inline script (the page's CSP
// forbids it), no third-party code, and every value from the API is set as text, never as HTML.

const KEY_STORAGE = "orchestrator.apiKey";
const API = "/api/v1";
const PAGE_SIZE = 24;

const $ = (selector, root = document) => root.querySelector(selector);

/** Build an element: h("a", {href: "#", class: "x"}, "text", child). */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code;
  }
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

async function api(path, { method = "GET", body, query } = {}) {
  const url = new URL(API + path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== "" && value !== null && value !== undefined) url.searchParams.append(name, value);
  }
  const headers = { Authorization: `Bearer ${apiKey()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const payload = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    if (response.status === 401 && path !== "/models") signOut("Your key was refused; sign in again.");
    throw new ApiError(response.status, payload);
  }
  return payload;
}

const money = (value) => (value === null || value === undefined ? "—" : `$${Number(value).toFixed(value < 1 ? 4 : 2)}`);
const seconds = (value) => (value === null || value === undefined ? "—" : `${Number(value).toFixed(2)} s`);
const when = (value) => (value ? new Date(value).toLocaleString() : "—");

function showError(id, error) {
  $(id).textContent = error ? (error instanceof ApiError ? `${error.message} (${error.status})` : String(error)) : "";
}

// ---------------------------------------------------------------- sign-in and navigation

const views = ["signin", "gallery", "usage", "models", "keys", "live"];
const loaders = {};

function show(view) {
  for (const name of views) $(`#view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.view === view);
  }
  document.body.dataset.view = view;
  if (view !== "live") stopLive();
  loaders[view]?.();
}

function route() {
  if (!apiKey()) return show("signin");
  const view = location.hash.slice(1);
  show(views.includes(view) && view !== "signin" ? view : "gallery");
}

async function signIn(event) {
  event.preventDefault();
  const key = $("#signin-key").value.trim();
  sessionStorage.setItem(KEY_STORAGE, key);
  try {
    await api("/models");
  } catch (error) {
    sessionStorage.removeItem(KEY_STORAGE);
    showError("#signin-error", error.status === 401 ? "That key was not accepted." : error);
    return;
  }
  $("#signin-key").value = "";
  showError("#signin-error", null);
  signedIn();
  if (location.hash === "#gallery") route();
  else location.hash = "#gallery"; // hashchange routes
}

function signedIn() {
  const key = apiKey();
  $("#nav").hidden = false;
  $("#sign-out").hidden = false;
  $("#who").textContent = key ? `${key.slice(0, 12)}…` : "";
  $("#who").classList.toggle("test", Boolean(key && key.startsWith("sk-test-")));
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  $("#nav").hidden = true;
  $("#sign-out").hidden = true;
  $("#who").textContent = "";
  location.hash = "";
  show("signin");
  if (typeof message === "string") showError("#signin-error", message);
}

// ---------------------------------------------------------------- gallery

let galleryCursor = null;
let galleryLoad = 0; // a newer load makes older answers stale
let modelsCache = null;

async function models() {
  modelsCache ??= (await api("/models")).data;
  return modelsCache;
}

function galleryQuery() {
  const form = new FormData($("#gallery-filters"));
  const query = {
    limit: PAGE_SIZE,
    model: form.get("model"),
    status: form.get("status"),
    q: form.get("q").trim(),
    since: form.get("since") ? `${form.get("since")}T00:00:00Z` : "",
    until: form.get("until") ? `${form.get("until")}T23:59:59.999Z` : "",
  };
  const metadata = form.get("metadata").trim();
  if (metadata.includes("=")) {
    const [name, ...rest] = metadata.split("=");
    query[`metadata.${name.trim()}`] = rest.join("=").trim();
  }
  return query;
}

function tile(generation) {
  const picture = generation.thumbnail_url
    ? h("img", { src: generation.thumbnail_url, alt: generation.prompt, loading: "lazy" })
    : h("div", { class: `placeholder ${generation.status}` }, generation.error ? generation.error.code : generation.status);
  return h(
    "button",
    {
      type: "button",
      class: "tile",
      dataset: { id: generation.id, model: generation.model, status: generation.status },
      title: generation.prompt,
      onclick: () => openDetail(generation),
    },
    picture,
    h("span", { class: "caption" }, h("strong", {}, generation.model), " ", h("span", { class: `status ${generation.status}` }, generation.status)),
  );
}

async function loadGallery(more = false) {
  showError("#gallery-error", null);
  const select = $("#gallery-filters select[name=model]");
  if (select.options.length === 1) {
    try {
      for (const model of await models()) select.append(h("option", { value: model.name }, model.name));
    } catch (error) {
      showError("#gallery-error", error);
    }
  }
  const grid = $("#gallery-grid");
  const load = ++galleryLoad;
  try {
    const page = await api("/generations", { query: { ...galleryQuery(), cursor: more ? galleryCursor : "" } });
    if (load !== galleryLoad) return;
    if (!more) grid.replaceChildren();
    grid.append(...page.data.map(tile));
    galleryCursor = page.next_cursor;
    $("#gallery-more").hidden = !page.has_more;
    $("#gallery-empty").hidden = grid.children.length > 0;
    grid.dataset.loaded = "true";
  } catch (error) {
    showError("#gallery-error", error);
  }
}

function fact(name, value) {
  return [h("dt", {}, name), h("dd", {}, value === null || value === undefined || value === "" ? "—" : value)];
}

function openDetail(generation) {
  const images = $("#detail-images");
  images.replaceChildren(
    ...(generation.images.length
      ? generation.images.map((image) =>
          h("a", { href: image.url, target: "_blank", rel: "noopener" }, h("img", { src: image.url, alt: generation.prompt, class: "full" })),
        )
      : [h("div", { class: `placeholder large ${generation.status}` }, generation.status)]),
  );
  const error = generation.error ? `${generation.error.code}: ${generation.error.message}` : null;
  $("#detail-facts").replaceChildren(
    ...fact("Prompt", generation.prompt),
    ...(generation.revised_prompt ? fact("Revised prompt", generation.revised_prompt) : []),
    ...fact("Status", generation.status),
    ...fact("Model", generation.model),
    ...fact("Provider", generation.provider),
    ...fact("Style", generation.style),
    ...fact("Size", generation.size),
    ...fact("Quality", generation.quality),
    ...fact("Images", generation.n),
    ...fact("Seed", generation.seed),
    ...fact("Negative prompt", generation.negative_prompt),
    ...fact("Cost", generation.cost === null ? "unknown price" : `${money(generation.cost)} ${generation.currency}`),
    ...fact("Processing time", seconds(generation.processing_time)),
    ...fact("Created", when(generation.created_at)),
    ...fact("Finished", when(generation.finished_at)),
    ...fact("Mode", generation.livemode ? "live" : "test"),
    ...fact("Error", error),
    ...fact("Metadata", Object.keys(generation.metadata || {}).length ? JSON.stringify(generation.metadata, null, 2) : null),
    ...fact("Id", generation.id),
  );
  $("#detail").dataset.id = generation.id;
  $("#detail").showModal();
}

// ---------------------------------------------------------------- usage

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function barChart(container, buckets, value, format) {
  const width = 560;
  const barHeight = 22;
  const label = 150;
  const max = Math.max(0, ...buckets.map(value)) || 1;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${Math.max(1, buckets.length) * barHeight + 4}`);
  svg.setAttribute("role", "img");
  const make = (tag, attrs, text) => {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, v] of Object.entries(attrs)) node.setAttribute(name, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  };
  buckets.forEach((bucket, index) => {
    const y = index * barHeight + 2;
    const length = ((width - label - 80) * value(bucket)) / max;
    svg.append(
      make("text", { x: label - 6, y: y + 15, "text-anchor": "end", class: "axis" }, bucket.key),
      make("rect", { x: label, y: y + 3, width: Math.max(1, length), height: barHeight - 6, rx: 3, class: "bar" }),
      make("text", { x: label + length + 6, y: y + 15, class: "value" }, format(value(bucket))),
    );
  });
  container.replaceChildren(buckets.length ? svg : h("p", { class: "empty" }, "Nothing in this range."));
  container.dataset.total = String(buckets.reduce((sum, bucket) => sum + value(bucket), 0));
}

async function loadUsage() {
  const form = $("#usage-range");
  if (!form.start_date.value) {
    const now = new Date();
    form.start_date.value = isoDay(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)));
    form.end_date.value = isoDay(now);
  }
  showError("#usage-error", null);
  try {
    const usage = await api("/usage", { query: { start_date: form.start_date.value, end_date: form.end_date.value } });
    const totals = $("#usage-totals");
    totals.replaceChildren(
      h("div", { class: "stat", id: "usage-total-cost", dataset: { value: usage.total_cost } }, h("span", {}, "Total cost"), h("strong", {}, money(usage.total_cost))),
      h("div", { class: "stat", id: "usage-total-generations", dataset: { value: usage.total_generations } }, h("span", {}, "Generations"), h("strong", {}, usage.total_generations)),
      h("div", { class: "stat" }, h("span", {}, "Images"), h("strong", {}, usage.total_images)),
      h("div", { class: "stat" }, h("span", {}, "Failed"), h("strong", {}, usage.failed_generations)),
      h("div", { class: "stat" }, h("span", {}, "Mode"), h("strong", {}, usage.livemode ? "live" : "test")),
    );
    const cost = (bucket) => bucket.cost;
    const count = (bucket) => bucket.generations;
    barChart($("#chart-cost-day"), usage.by_day, cost, money);
    barChart($("#chart-count-day"), usage.by_day, count, String);
    barChart($("#chart-cost-model"), usage.by_model, cost, money);
    barChart($("#chart-count-model"), usage.by_model, count, String);
    $("#view-usage").dataset.loaded = "true";
  } catch (error) {
    showError("#usage-error", error);
  }
}

// ---------------------------------------------------------------- models

async function loadModels() {
  showError("#models-error", null);
  try {
    modelsCache = null;
    const rows = (await models()).map((model) =>
      h(
        "tr",
        { dataset: { model: model.name } },
        h("td", {}, h("strong", {}, model.name), h("div", { class: "muted" }, model.description)),
        h("td", { class: model.available ? "ok" : "bad" }, model.available ? "available" : model.unavailable_reason || "unavailable"),
        h("td", {}, model.providers.join(", ")),
        h("td", {}, model.pricing_per_image === null ? "unknown" : money(model.pricing_per_image)),
        h("td", {}, seconds(model.average_time)),
        h("td", {}, model.supported_sizes.join(" ")),
        h("td", {}, model.supported_styles.join(", ")),
      ),
    );
    $("#models-table tbody").replaceChildren(...rows);
  } catch (error) {
    showError("#models-error", error);
  }
}

// ---------------------------------------------------------------- keys

async function loadKeys() {
  showError("#keys-error", null);
  try {
    const keys = (await api("/keys")).data;
    $("#keys-table tbody").replaceChildren(
      ...keys.map((key) =>
        h(
          "tr",
          { dataset: { id: key.id, name: key.name } },
          h("td", {}, key.name),
          h("td", {}, h("code", {}, `${key.prefix}…`)),
          h("td", {}, key.mode),
          h("td", {}, key.scopes.join(", ")),
          h("td", {}, [key.rate_limit_per_minute ? `${key.rate_limit_per_minute}/min` : null, key.monthly_budget !== null ? `${money(key.monthly_budget)}/month` : null].filter(Boolean).join(" · ") || "defaults"),
          h("td", {}, when(key.created_at)),
          h("td", {}, when(key.last_used_at)),
          h("td", { class: key.revoked_at ? "bad state" : "ok state" }, key.revoked_at ? "revoked" : "active"),
          h("td", {}, key.revoked_at ? "" : h("button", { type: "button", class: "danger revoke", onclick: () => revokeKey(key) }, "Revoke")),
        ),
      ),
    );
    $("#keys-table").dataset.loaded = "true";
  } catch (error) {
    showError("#keys-error", error.status === 403 ? "This key lacks the admin scope: it cannot manage keys." : error);
  }
}

async function createKey(event) {
  event.preventDefault();
  const form = event.target;
  const data = new FormData(form);
  const body = { name: data.get("name").trim(), mode: data.get("mode"), scopes: data.getAll("scopes") };
  if (data.get("rate_limit_per_minute")) body.rate_limit_per_minute = Number(data.get("rate_limit_per_minute"));
  if (data.get("monthly_budget")) body.monthly_budget = Number(data.get("monthly_budget"));
  showError("#keys-error", null);
  try {
    const created = await api("/keys", { method: "POST", body });
    $("#key-secret-value").textContent = created.key;
    $("#key-secret").hidden = false;
    form.reset();
    await loadKeys();
  } catch (error) {
    showError("#keys-error", error);
  }
}

async function revokeKey(key) {
  if (!confirm(`Revoke the key "${key.name}"? Requests with it will be refused.`)) return;
  try {
    await api(`/keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
    await loadKeys();
  } catch (error) {
    showError("#keys-error", error);
  }
}

// ---------------------------------------------------------------- live jobs

const streams = new Map(); // generation id -> AbortController
let livePoll = null;

function stopLive() {
  clearInterval(livePoll);
  livePoll = null;
  for (const controller of streams.values()) controller.abort();
  streams.clear();
}

function liveRow(job) {
  const existing = $(`#live-table tr[data-id="${CSS.escape(job.id)}"]`);
  const row = h(
    "tr",
    { dataset: { id: job.id, status: job.status } },
    h("td", {}, h("code", {}, job.id)),
    h("td", {}, job.model),
    h("td", { class: "prompt" }, job.prompt),
    h("td", {}, h("span", { class: `status ${job.status}` }, job.status)),
    h("td", {}, h("progress", { max: 1, value: job.progress })),
    h("td", {}, when(job.started_at || job.created_at)),
  );
  if (existing) existing.replaceWith(row);
  else $("#live-table tbody").append(row);
  $("#live-empty").hidden = true;
}

/** Follow one job's Server-Sent Events. fetch, not EventSource: it must send the bearer token. */
async function follow(job) {
  const controller = new AbortController();
  streams.set(job.id, controller);
  try {
    const response = await fetch(`${API}/generations/${encodeURIComponent(job.id)}/events`, {
      headers: { Authorization: `Bearer ${apiKey()}`, Accept: "text/event-stream" },
      signal: controller.signal,
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trimStart()).join("\n");
        if (data) liveRow(JSON.parse(data));
      }
    }
  } catch (error) {
    if (error.name !== "AbortError") showError("#live-error", error);
  } finally {
    streams.delete(job.id);
  }
}

async function refreshLive() {
  try {
    const [running, queued] = await Promise.all([
      api("/generations", { query: { status: "running", limit: 100 } }),
      api("/generations", { query: { status: "queued", limit: 100 } }),
    ]);
    for (const job of [...running.data, ...queued.data]) {
      if (!streams.has(job.id)) {
        liveRow(job);
        follow(job);
      }
    }
    $("#live-empty").hidden = $("#live-table tbody").children.length > 0;
    $("#view-live").dataset.loaded = "true";
  } catch (error) {
    showError("#live-error", error);
  }
}

function loadLive() {
  stopLive();
  $("#live-table tbody").replaceChildren();
  refreshLive();
  livePoll = setInterval(refreshLive, 2000);
}

// ---------------------------------------------------------------- wiring

Object.assign(loaders, { gallery: () => loadGallery(false), usage: loadUsage, models: loadModels, keys: loadKeys, live: loadLive });

$("#signin-form").addEventListener("submit", signIn);
$("#sign-out").addEventListener("click", () => signOut());
$("#gallery-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  loadGallery(false);
});
$("#gallery-more").addEventListener("click", () => loadGallery(true));
$("#usage-range").addEventListener("submit", (event) => {
  event.preventDefault();
  loadUsage();
});
$("#key-create").addEventListener("submit", createKey);
$("#key-secret-copy").addEventListener("click", () => navigator.clipboard?.writeText($("#key-secret-value").textContent));
window.addEventListener("hashchange", route);

if (apiKey()) signedIn();
route();
