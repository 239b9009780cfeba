// The dashboard: a client of the public API, nothing more. No inline script (the page's CSP
// forbids it), no third-party code, and every value from the API is set as text, never as HTML.

const KEY_STORAGE = "orchestrator.apiKey";
const API = "/api/v1";
const PAGE_SIZE = 24;
const MAX_SEED = 4_294_967_294;

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

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
    this.param = error.param;
  }
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

function apiUrl(path, query) {
  const url = new URL(API + path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== "" && value !== null && value !== undefined) url.searchParams.append(name, value);
  }
  return url;
}

async function request(path, { method = "GET", body, query, headers = {} } = {}) {
  const all = { Authorization: `Bearer ${apiKey()}`, ...headers };
  const multipart = body instanceof FormData; // the browser sets the multipart boundary itself
  if (body !== undefined && !multipart) all["Content-Type"] = "application/json";
  const payload = body === undefined || multipart ? body : JSON.stringify(body);
  const response = await fetch(apiUrl(path, query), { method, headers: all, body: payload });
  if (!response.ok) {
    const payload = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
    if (response.status === 401 && path !== "/models") signOut("Your key was refused; sign in again.");
    throw new ApiError(response.status, payload);
  }
  return response;
}

async function api(path, options = {}) {
  const response = await request(path, options);
  return response.headers.get("content-type")?.includes("json") ? response.json() : null;
}

const money = (value) => (value === null || value === undefined ? "—" : `$${Number(value).toFixed(value !== 0 && value < 1 ? 4 : 2)}`);
const seconds = (value) => (value === null || value === undefined ? "—" : `${Number(value).toFixed(2)} s`);
const when = (value) => (value ? new Date(value).toLocaleString() : "—");

function showError(id, error) {
  $(id).textContent = error ? (error instanceof ApiError ? `${error.message} (${error.status})` : String(error)) : "";
}

/** Save a Blob as a file through a temporary link (the download attribute keeps us on the page). */
function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Select and copy";
  }
  setTimeout(() => (button.textContent = "Copy"), 1500);
}

/** An id with a copy button: ids are long and must be copied whole. */
function idWithCopy(id) {
  const button = h("button", { type: "button", class: "secondary small copy", "aria-label": `Copy ${id}` }, "Copy");
  button.addEventListener("click", () => copyText(id, button));
  return h("span", { class: "id-copy" }, h("code", {}, id), button);
}

// ---------------------------------------------------------------- dialogs: focus trap and restore

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
const openers = new WeakMap();

function openDialog(dialog) {
  if (!dialog.open) {
    openers.set(dialog, document.activeElement);
    dialog.showModal();
  }
  const first = $$(FOCUSABLE, dialog).find((el) => el.offsetParent !== null);
  first?.focus();
}

function closeDialog(dialog) {
  if (dialog.open) dialog.close();
}

for (const dialog of $$("dialog")) {
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const items = $$(FOCUSABLE, dialog).filter((el) => el.offsetParent !== null);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
  dialog.addEventListener("close", () => {
    const opener = openers.get(dialog);
    if (opener && document.contains(opener)) opener.focus();
  });
  for (const button of $$("[data-close]", dialog)) button.addEventListener("click", () => closeDialog(dialog));
}

/** Ask for a name in a small dialog; resolves to the text, or null when canceled. */
function askName(title, value = "") {
  const dialog = $("#prompt-dialog");
  const form = $("#prompt-form");
  $("#prompt-title").textContent = title;
  form.value.value = value;
  return new Promise((resolve) => {
    const done = (result) => {
      form.removeEventListener("submit", submit);
      dialog.removeEventListener("close", closed);
      resolve(result);
    };
    const submit = (event) => {
      event.preventDefault();
      const text = form.value.value.trim();
      closeDialog(dialog);
      done(text || null);
    };
    const closed = () => done(null);
    form.addEventListener("submit", submit);
    dialog.addEventListener("close", closed);
    openDialog(dialog);
    form.value.select();
  });
}

// ---------------------------------------------------------------- toast (undo)

let toastTimer = null;

function toast(text, undo) {
  clearTimeout(toastTimer);
  $("#toast-text").textContent = text;
  const button = $("#toast-undo");
  button.hidden = !undo;
  button.onclick = undo
    ? async () => {
        $("#toast").hidden = true;
        await undo();
      }
    : null;
  $("#toast").hidden = false;
  toastTimer = setTimeout(() => ($("#toast").hidden = true), undo ? 15_000 : 4_000);
}

// ---------------------------------------------------------------- sign-in and navigation

const views = ["signin", "gallery", "usage", "models", "keys", "webhooks", "live"];
const loaders = {};

function show(view) {
  for (const name of views) $(`#view-${name}`).hidden = name !== view;
  for (const link of $$("#nav a")) {
    const active = link.dataset.view === view;
    link.classList.toggle("active", active);
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.body.dataset.view = view;
  $("#toast").hidden = true;
  setMenu(false);
  if (view !== "live") stopLive();
  loaders[view]?.();
}

function route() {
  if (!apiKey()) return show("signin");
  const view = location.hash.slice(1);
  show(views.includes(view) && view !== "signin" ? view : "gallery");
}

function setMenu(open) {
  $(".topbar").classList.toggle("open", open);
  $("#nav-toggle").setAttribute("aria-expanded", String(open));
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
  $("#nav-toggle").hidden = false;
  $("#sign-out").hidden = false;
  $("#who").textContent = key ? `${key.slice(0, 12)}…` : "";
  $("#mode-badge").hidden = !(key && key.startsWith("sk-test-"));
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  $("#nav").hidden = true;
  $("#nav-toggle").hidden = true;
  $("#sign-out").hidden = true;
  $("#mode-badge").hidden = true;
  $("#who").textContent = "";
  location.hash = "";
  show("signin");
  if (typeof message === "string") showError("#signin-error", message);
}

// ---------------------------------------------------------------- shared look-ups

let modelsCache = null;
let boardsCache = [];

async function models() {
  modelsCache ??= (await api("/models")).data;
  return modelsCache;
}

async function loadBoards() {
  boardsCache = (await api("/boards")).data;
  const current = $("#board-filter").value;
  $("#board-filter").replaceChildren(
    h("option", { value: "" }, "all images"),
    ...boardsCache.map((b) => h("option", { value: b.id }, `${b.name} (${b.image_count})`)),
  );
  $("#board-filter").value = boardsCache.some((b) => b.id === current) ? current : "";
  for (const select of [$("#selection-board"), $("#detail-board")]) {
    const keep = select.value;
    select.replaceChildren(...boardsCache.map((b) => h("option", { value: b.id }, b.name)));
    if (boardsCache.some((b) => b.id === keep)) select.value = keep;
  }
  updateBoardButtons();
}

function updateBoardButtons() {
  const board = boardsCache.find((b) => b.id === $("#board-filter").value);
  $("#board-rename").disabled = !board;
  $("#board-download").disabled = !board;
  $("#selection-remove").hidden = !board;
}

// ---------------------------------------------------------------- gallery

const gallery = { cursor: null, load: 0, loading: false, hasMore: false, items: new Map(), selecting: false, selected: new Set() };

function galleryQuery() {
  const form = new FormData($("#gallery-filters"));
  const query = {
    limit: PAGE_SIZE,
    q: form.get("q").trim(),
    model: form.get("model"),
    status: form.get("status"),
    seed: form.get("seed"),
    board_id: form.get("board_id"),
    starred: form.get("starred") ? "true" : "",
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

const OPERATIONS = {
  edit: { label: "Edit", path: "/images/edits" },
  variation: { label: "Variations", path: "/images/variations" },
  upscale: { label: "Upscale", path: "/images/upscale" },
  remove_background: { label: "Remove background", path: "/images/remove-background" },
  image_to_image: { label: "Image to image", path: "/images/image-to-image" },
};

const operationLabel = (operation) => OPERATIONS[operation]?.label ?? operation;

/** What an item shows as its name: its prompt, or for a prompt-less operation what it did. */
function describe(item) {
  if (item.prompt) return item.prompt;
  const parent = item.parents?.[0];
  return `${operationLabel(item.operation || "generate")}${parent ? ` of ${parent}` : ""}`;
}

function picture(item, { full = false } = {}) {
  const image = item.images[0];
  if (!image) return h("div", { class: `placeholder ${full ? "large" : ""} ${item.status}` }, item.error ? item.error.code : item.status);
  return h("img", {
    src: full ? image.url : image.thumbnail_url,
    alt: describe(item),
    width: image.width,
    height: image.height,
    loading: full ? null : "lazy",
    class: full ? "full" : null,
  });
}

function starLabel(item) {
  return item.starred ? `Unstar "${describe(item).slice(0, 40)}"` : `Star "${describe(item).slice(0, 40)}"`;
}

function tile(item) {
  const star = h("button", { type: "button", class: "star", "aria-pressed": String(item.starred), "aria-label": starLabel(item), title: item.starred ? "Starred" : "Star" }, item.starred ? "★" : "☆");
  star.addEventListener("click", () => toggleStar(item.id));
  const pick = h("input", { type: "checkbox", "aria-label": `Select "${describe(item).slice(0, 40)}"` });
  pick.checked = gallery.selected.has(item.id);
  pick.addEventListener("change", () => toggleSelected(item.id, pick.checked));
  return h(
    "div",
    { class: `tile${gallery.selected.has(item.id) ? " selected" : ""}`, dataset: { id: item.id, model: item.model, status: item.status, starred: String(item.starred) } },
    h(
      "button",
      { type: "button", class: "open", title: describe(item), "aria-label": `Open "${describe(item).slice(0, 60)}" (${item.model}, ${item.status})`, onclick: () => openDetail(item.id) },
      h("span", { class: "frame" }, picture(item)),
      h("span", { class: "caption" }, h("strong", {}, item.model), h("span", { class: `status ${item.status}` }, item.status)),
    ),
    star,
    gallery.selecting ? h("label", { class: "pick" }, pick) : null,
  );
}

function redrawTile(id) {
  const item = gallery.items.get(id);
  const node = $(`#gallery-grid .tile[data-id="${CSS.escape(id)}"]`);
  if (item && node) node.replaceWith(tile(item));
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
  if (!more) {
    try {
      await loadBoards();
    } catch (error) {
      showError("#gallery-error", error);
    }
  }
  const grid = $("#gallery-grid");
  const load = ++gallery.load;
  gallery.loading = true;
  try {
    const page = await api("/gallery", { query: { ...galleryQuery(), cursor: more ? gallery.cursor : "" } });
    if (load !== gallery.load) return;
    if (!more) {
      grid.replaceChildren();
      gallery.items.clear();
    }
    for (const item of page.data) gallery.items.set(item.id, item);
    grid.append(...page.data.map(tile));
    gallery.cursor = page.next_cursor;
    gallery.hasMore = page.has_more;
    $("#gallery-more").hidden = !page.has_more;
    $("#gallery-empty").hidden = grid.children.length > 0;
    grid.dataset.loaded = "true";
    grid.dataset.count = String(grid.children.length);
  } catch (error) {
    showError("#gallery-error", error);
  } finally {
    if (load === gallery.load) gallery.loading = false;
  }
}

// Infinite scroll: the next page loads when the end of the grid comes into view.
new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting) && gallery.hasMore && !gallery.loading && !$("#view-gallery").hidden) loadGallery(true);
}, { rootMargin: "400px" }).observe($("#gallery-sentinel"));

async function refreshItem(id) {
  const item = await api(`/gallery/${encodeURIComponent(id)}`);
  gallery.items.set(id, item);
  redrawTile(id);
  return item;
}

async function toggleStar(id) {
  const item = gallery.items.get(id) || (await api(`/gallery/${encodeURIComponent(id)}`));
  try {
    const updated = await api(`/gallery/${encodeURIComponent(id)}/star`, { method: item.starred ? "DELETE" : "PUT" });
    gallery.items.set(id, updated);
    redrawTile(id);
    if ($("#detail").open && $("#detail").dataset.id === id) fillDetail(updated);
  } catch (error) {
    showError("#gallery-error", error);
  }
}

function toggleSelected(id, on) {
  if (on) gallery.selected.add(id);
  else gallery.selected.delete(id);
  $(`#gallery-grid .tile[data-id="${CSS.escape(id)}"]`)?.classList.toggle("selected", on);
  $("#selection-count").textContent = `${gallery.selected.size} selected`;
}

function setSelecting(on) {
  gallery.selecting = on;
  if (!on) gallery.selected.clear();
  $("#select-toggle").setAttribute("aria-pressed", String(on));
  $("#select-toggle").textContent = on ? "Done selecting" : "Select";
  $("#selection-bar").hidden = !on;
  $("#selection-count").textContent = `${gallery.selected.size} selected`;
  for (const id of gallery.items.keys()) redrawTile(id);
}

async function deleteItems(ids) {
  const deleted = [];
  for (const id of ids) {
    try {
      await api(`/gallery/${encodeURIComponent(id)}`, { method: "DELETE" });
      deleted.push(id);
      gallery.items.delete(id);
      gallery.selected.delete(id);
      $(`#gallery-grid .tile[data-id="${CSS.escape(id)}"]`)?.remove();
    } catch (error) {
      showError("#gallery-error", error);
    }
  }
  if (!deleted.length) return;
  $("#selection-count").textContent = `${gallery.selected.size} selected`;
  $("#gallery-empty").hidden = $("#gallery-grid").children.length > 0;
  toast(deleted.length === 1 ? "Image deleted." : `${deleted.length} images deleted.`, async () => {
    for (const id of deleted) {
      try {
        await api(`/gallery/${encodeURIComponent(id)}/restore`, { method: "POST" });
      } catch (error) {
        showError("#gallery-error", error);
      }
    }
    await loadGallery(false);
    toast("Restored.");
  });
}

async function downloadZip(path, options, name) {
  showError("#gallery-error", null);
  try {
    const response = await request(path, options);
    saveBlob(await response.blob(), name);
  } catch (error) {
    showError("#gallery-error", error);
  }
}

async function addToBoard(boardId, ids) {
  if (!boardId || !ids.length) return;
  try {
    const board = await api(`/boards/${encodeURIComponent(boardId)}/items`, { method: "POST", body: { ids } });
    await loadBoards();
    for (const id of ids) if (gallery.items.has(id)) await refreshItem(id);
    toast(`Added to "${board.name}".`);
  } catch (error) {
    showError("#gallery-error", error);
  }
}

function compare(ids) {
  const items = ids.map((id) => gallery.items.get(id)).filter((item) => item && item.images.length);
  if (items.length !== 2 && items.length !== 4) {
    showError("#gallery-error", "Select 2 or 4 finished images to compare.");
    return;
  }
  showError("#gallery-error", null);
  $("#compare-grid").replaceChildren(
    ...items.map((item) => h("figure", { dataset: { id: item.id } }, picture(item, { full: true }), h("figcaption", {}, `${item.model} · seed ${item.seed ?? "—"} · ${describe(item)}`))),
  );
  openDialog($("#compare"));
}

// ---------------------------------------------------------------- detail, remix

function fact(name, value) {
  return [h("dt", {}, name), h("dd", {}, value === null || value === undefined || value === "" ? "—" : value)];
}

let detailItem = null; // the item the detail dialog shows
let detailLoad = 0; // guards against a slow answer for an item no longer shown

async function openDetail(id) {
  const load = ++detailLoad;
  let item = gallery.items.get(id);
  try {
    item = await api(`/gallery/${encodeURIComponent(id)}`);
  } catch (error) {
    if (!item) {
      if ($("#detail").open) showError("#detail-error", error);
      else showError(`#${document.body.dataset.view}-error`, error);
      return;
    }
  }
  if (load !== detailLoad) return;
  showError("#detail-error", null);
  fillDetail(item);
  const form = $("#remix-form");
  form.prompt.value = item.prompt;
  form.seed_mode.value = "same";
  $("#remix-status").textContent = "";
  await prepareOperations(item);
  openDialog($("#detail"));
  loadChildren(item, load);
}

function fillDetail(item) {
  const dialog = $("#detail");
  detailItem = item;
  dialog.dataset.id = item.id;
  const name = describe(item);
  $("#detail-title").textContent = name.length > 60 ? `${name.slice(0, 60)}…` : name;
  $("#detail-images").replaceChildren(
    ...(item.images.length
      ? item.images.map((image) => h("a", { href: image.url, target: "_blank", rel: "noopener" }, h("img", { src: image.url, alt: name, class: "full", width: image.width, height: image.height })))
      : [picture(item, { full: true })]),
  );
  const star = $("#detail-star");
  star.setAttribute("aria-pressed", String(item.starred));
  star.textContent = item.starred ? "★ Starred" : "☆ Star";
  // Re-run and remix make a new text-to-image generation: only for those.
  $("#remix-form").hidden = (item.operation || "generate") !== "generate";
  fillParents(item);
  const onBoards = boardsCache.filter((b) => item.board_ids.includes(b.id)).map((b) => b.name);
  const error = item.error ? `${item.error.code}: ${item.error.message}` : null;
  const operation = item.operation || "generate";
  const params = Object.entries(item.operation_params || {}).map(([key, value]) => `${key} ${value}`);
  $("#detail-facts").replaceChildren(
    ...fact("Id", idWithCopy(item.id)),
    ...(operation !== "generate" ? fact("Operation", [operationLabel(operation), ...params].join(" · ")) : []),
    ...(item.cached_from ? fact("Cached from", chainButton(item.cached_from, item.cached_from)) : []),
    ...fact("Prompt", item.prompt),
    ...(item.revised_prompt ? fact("Revised prompt", item.revised_prompt) : []),
    ...fact("Status", item.status),
    ...fact("Model", item.model),
    ...fact("Provider", item.provider),
    ...fact("Style", item.style),
    ...fact("Size", item.size),
    ...fact("Quality", item.quality),
    ...fact("Images", item.n),
    ...fact("Seed", item.seed),
    ...fact("Negative prompt", item.negative_prompt),
    ...fact("Cost", item.cost === null ? "unknown price" : `${money(item.cost)} ${item.currency}`),
    ...fact("Processing time", seconds(item.processing_time)),
    ...fact("Created", when(item.created_at)),
    ...fact("Finished", when(item.finished_at)),
    ...fact("Mode", item.livemode ? "live" : "test"),
    ...fact("Boards", onBoards.join(", ")),
    ...fact("Error", error),
    ...fact("Metadata", Object.keys(item.metadata || {}).length ? JSON.stringify(item.metadata, null, 2) : null),
  );
}

// ---------------------------------------------------------------- provenance: parents and children

/** A link-like button that opens another generation in the detail view. */
function chainButton(id, label, extra = {}) {
  return h("button", { type: "button", class: "chain-open", "aria-label": `Open ${id}`, dataset: { id }, onclick: () => openDetail(id), ...extra }, label);
}

function chainThumb(src, alt) {
  return src ? h("img", { src, alt, class: "chain-thumb", loading: "lazy" }) : h("span", { class: "chain-thumb empty", "aria-hidden": "true" });
}

const ORIGINS = { upload: "Uploaded file", url: "Fetched from a URL" };

function fillParents(item) {
  const list = $("#chain-parents");
  const sources = item.sources || [];
  list.replaceChildren(
    ...sources.map((source, index) => {
      const role = source.role === "mask" ? "Mask" : sources.filter((s) => s.role !== "mask").length > 1 ? `Image ${index + 1}` : "Image";
      const size = `${source.width}×${source.height}`;
      const what =
        source.origin === "generation" && source.generation_id
          ? [chainButton(source.generation_id, h("code", {}, source.generation_id)), source.index ? ` · its image ${source.index + 1}` : ""]
          : [ORIGINS[source.origin] ?? source.origin];
      return h(
        "li",
        { class: "chain-item", dataset: { origin: source.origin, role: source.role, id: source.generation_id ?? "" } },
        chainThumb(source.url, `${role} input (${size})`),
        h("span", { class: "chain-text" }, h("strong", {}, role), " ", ...what, h("span", { class: "muted" }, ` · ${size}`)),
      );
    }),
  );
  if (!sources.length) {
    // Older records may know their parents without their sources.
    const parents = item.parents || [];
    list.replaceChildren(
      ...(parents.length
        ? parents.map((id) => h("li", { class: "chain-item", dataset: { origin: "generation", id } }, chainButton(id, h("code", {}, id))))
        : [h("li", { class: "chain-none muted" }, (item.operation || "generate") === "generate" ? "A prompt (text to image)." : "—")]),
    );
  }
}

/** Children are only on GET /generations/{id}; each is read once more for its thumbnail. */
async function loadChildren(item, load) {
  const list = $("#chain-children");
  list.replaceChildren(h("li", { class: "chain-none muted" }, "Loading…"));
  delete list.dataset.loaded;
  try {
    const generation = await api(`/generations/${encodeURIComponent(item.id)}`);
    const ids = generation.children || [];
    const shown = ids.slice(0, 24);
    const children = await Promise.all(shown.map((id) => api(`/generations/${encodeURIComponent(id)}`).catch(() => null)));
    if (load !== detailLoad) return;
    list.replaceChildren(
      ...shown.map((id, index) => {
        const child = children[index];
        const label = child ? `${operationLabel(child.operation || "generate")} · ${child.status}` : "";
        return h(
          "li",
          { class: "chain-item", dataset: { id, operation: child?.operation ?? "" } },
          chainThumb(child?.images?.[0]?.thumbnail_url, child ? describe(child) : id),
          h("span", { class: "chain-text" }, chainButton(id, h("code", {}, id)), label ? h("span", { class: "muted" }, ` · ${label}`) : null),
        );
      }),
    );
    if (ids.length > shown.length) list.append(h("li", { class: "chain-none muted" }, `and ${ids.length - shown.length} more`));
    if (!ids.length) list.append(h("li", { class: "chain-none muted" }, "Nothing yet."));
    list.dataset.loaded = "true";
  } catch (error) {
    if (load !== detailLoad) return;
    list.replaceChildren(h("li", { class: "chain-none muted" }, "Unknown."));
    showError("#detail-error", error);
  }
}

// ---------------------------------------------------------------- image actions on a stored image

/**
 * The operations each model offers, from /models when it says (`operations` on a model: an object
 * by operation, or a list of names). null when no model says: then every action is offered and
 * the server's 422 tells what fits.
 */
function operationSpecs(model) {
  const ops = model.operations;
  if (Array.isArray(ops)) return Object.fromEntries(ops.map((op) => (typeof op === "string" ? [op, {}] : [op.name ?? op.operation, op])));
  return ops && typeof ops === "object" ? ops : null;
}

async function operationCatalog() {
  let all = [];
  try {
    all = await models();
  } catch {
    // No catalog: offer every action with the server's default models.
  }
  const known = all.some((model) => operationSpecs(model) !== null);
  const byOperation = {};
  for (const operation of Object.keys(OPERATIONS)) {
    byOperation[operation] = known
      ? all.filter((model) => operationSpecs(model)?.[operation]).map((model) => ({ model, spec: operationSpecs(model)[operation] }))
      : all.map((model) => ({ model, spec: null }));
  }
  return { known, byOperation };
}

let opCatalog = null;

async function prepareOperations(item) {
  const form = $("#op-form");
  form.hidden = item.status !== "succeeded" || !item.images.length;
  showError("#op-error", null);
  $("#op-status").textContent = "";
  if (form.hidden) return;
  opCatalog = await operationCatalog();
  const offered = Object.keys(OPERATIONS).filter((op) => !opCatalog.known || opCatalog.byOperation[op].length);
  const kind = $("#op-kind");
  const keep = kind.value;
  kind.replaceChildren(...offered.map((op) => h("option", { value: op }, OPERATIONS[op].label)));
  if (offered.includes(keep)) kind.value = keep;
  $("#op-none").hidden = offered.length > 0;
  $(".op-fields", form).hidden = !offered.length;
  $("#op-run").hidden = !offered.length;
  const images = $("#op-image");
  images.replaceChildren(...item.images.map((image, index) => h("option", { value: String(index) }, `Image ${index + 1} (${image.width}×${image.height})`)));
  $("#op-image-field").hidden = item.images.length < 2;
  form.prompt.value = "";
  form.mask.value = "";
  operationChosen();
}

/** The fields of the chosen action, and the models that offer it. */
function operationChosen() {
  const form = $("#op-form");
  const operation = $("#op-kind").value;
  const entries = opCatalog?.byOperation[operation] ?? [];
  const select = $("#op-model");
  const keep = select.value;
  const options = entries.map(({ model }) => h("option", { value: model.name }, model.available === false ? `${model.name} (unavailable)` : model.name));
  // Without a catalog that says, the server picks its default model for the action.
  select.replaceChildren(...(opCatalog?.known ? options : [h("option", { value: "" }, "server default"), ...options]));
  if (entries.some(({ model }) => model.name === keep)) select.value = keep;
  for (const field of $$("[data-ops]", form)) field.hidden = !field.dataset.ops.split(" ").includes(operation);
  modelChosen();
}

function currentSpec() {
  const operation = $("#op-kind").value;
  return (opCatalog?.byOperation[operation] ?? []).find(({ model }) => model.name === $("#op-model").value)?.spec ?? null;
}

/** Parameters the chosen model allows: factors, mask, strength, and the price when known. */
function modelChosen() {
  const form = $("#op-form");
  const operation = $("#op-kind").value;
  const spec = currentSpec();
  const factors = Array.isArray(spec?.factors) && spec.factors.length ? spec.factors : [2, 4, 8, 16];
  const factor = $("#op-factor");
  const keep = factor.value;
  factor.replaceChildren(...factors.map((f) => h("option", { value: String(f) }, `${f}×`)));
  if (factors.map(String).includes(keep)) factor.value = keep;
  $("#op-mask-field").hidden = operation !== "edit" || spec?.mask === false;
  const strength = spec?.default_strength ?? 0.8;
  form.strength.value = String(strength);
  $("#op-strength-value").textContent = Number(strength).toFixed(2);
  $("#op-price").textContent = priceText(spec);
}

function priceText(spec) {
  if (!spec) return "";
  const price = spec.price ?? spec.price_per_image;
  if (typeof price === "number") return `Price: ${money(price)} per image.`;
  if (spec.pricing && typeof spec.pricing === "object") {
    const prices = Object.values(spec.pricing).flatMap((row) => (row && typeof row === "object" ? Object.values(row) : [row])).filter((p) => typeof p === "number");
    if (prices.length) {
      const low = Math.min(...prices);
      const high = Math.max(...prices);
      return low === high ? `Price: ${money(low)} per image.` : `Price: ${money(low)}–${money(high)} per image.`;
    }
  }
  return "";
}

/** The request body: JSON, or multipart when a mask file is uploaded (inputs by stored id). */
function operationBody(operation, item) {
  const form = $("#op-form");
  const ref = `${item.id}:${Number($("#op-image").value || 0)}`;
  const fields = {};
  if ($("#op-model").value) fields.model = $("#op-model").value;
  const prompt = form.prompt.value.trim();
  if (operation === "edit" || operation === "image_to_image") {
    if (!prompt) throw new Error("Prompt: required for this action (describe the change).");
    fields.prompt = prompt;
  }
  if (operation === "edit") fields.images = [ref];
  else fields.image = ref;
  if (operation === "upscale") fields.factor = Number(form.factor.value);
  if (operation === "image_to_image") fields.strength = Number(form.strength.value);
  const mask = operation === "edit" && !$("#op-mask-field").hidden ? form.mask.files[0] : null;
  if (!mask) return fields;
  const body = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (name === "images") for (const image of value) body.append("images", image);
    else body.append(name, String(value));
  }
  body.append("mask", mask, mask.name);
  return body;
}

function showProgress(job) {
  $("#op-progress").hidden = false;
  $("#op-progress-bar").value = job.progress ?? 0;
  $("#op-progress-text").textContent = `${job.status} · ${Math.round((job.progress ?? 0) * 100)}%`;
}

async function runOperation(event) {
  event.preventDefault();
  const item = detailItem;
  const operation = $("#op-kind").value;
  if (!item || !OPERATIONS[operation]) return;
  showError("#op-error", null);
  let body;
  try {
    body = operationBody(operation, item);
  } catch (error) {
    showError("#op-error", error.message);
    return;
  }
  $("#op-run").disabled = true;
  $("#op-status").textContent = `${OPERATIONS[operation].label}: submitting…`;
  try {
    // respond-async: the job comes back at once, and its events show the progress.
    const response = await request(OPERATIONS[operation].path, { method: "POST", body, headers: { Prefer: "respond-async" } });
    let job = await response.json();
    $("#detail").dataset.operating = job.id;
    $("#op-status").textContent = `${OPERATIONS[operation].label}: job ${job.id}`;
    showProgress(job);
    job = await watchJob(job, showProgress);
    loadGallery(false);
    if (job.status === "succeeded") {
      const opened = $("#detail").open && detailItem?.id === item.id;
      if (opened) await openDetail(job.id);
      $("#op-status").textContent = `${OPERATIONS[operation].label} done${opened ? ", shown here" : ""}: ${job.id}.`;
    } else {
      showError("#op-error", `${OPERATIONS[operation].label} ${job.status}${job.error ? `: ${job.error.message} (${job.error.code})` : ""}`);
      $("#op-status").textContent = "";
    }
    $("#detail").dataset.operated = job.id;
  } catch (error) {
    $("#op-status").textContent = "";
    showError("#op-error", error instanceof ApiError && error.param ? `${error.message} (${error.status}, field: ${error.param})` : error);
  } finally {
    $("#op-run").disabled = false;
    $("#op-progress").hidden = true;
  }
}

/** A job's state until it is terminal: its Server-Sent Events, then polling if the stream ends early. */
async function watchJob(job, onUpdate) {
  if (TERMINAL.has(job.status)) return job;
  let last = job;
  try {
    await jobEvents(job.id, new AbortController().signal, (update) => {
      last = update;
      onUpdate(update);
    });
  } catch (error) {
    if (error instanceof ApiError) throw error;
  }
  for (let wait = 250; !TERMINAL.has(last.status); wait = Math.min(wait * 2, 2000)) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    last = await api(`/generations/${encodeURIComponent(job.id)}`);
    onUpdate(last);
  }
  return last;
}

async function remix(event) {
  event.preventDefault();
  const item = gallery.items.get($("#detail").dataset.id) || (await api(`/gallery/${encodeURIComponent($("#detail").dataset.id)}`));
  const form = event.target;
  const model = (await models()).find((m) => m.name === item.model);
  const body = {
    prompt: form.prompt.value.trim(),
    model: item.model,
    size: item.size,
    quality: item.quality,
    n: item.n,
    metadata: { ...(item.metadata || {}), remix_of: item.id },
  };
  if (item.style) body.style = item.style;
  if (item.negative_prompt) body.negative_prompt = item.negative_prompt;
  if (!model || model.supports_seed) {
    if (form.seed_mode.value === "new") body.seed = crypto.getRandomValues(new Uint32Array(1))[0] % MAX_SEED;
    else if (item.seed !== null) body.seed = item.seed;
  }
  $("#remix-status").textContent = "Running…";
  $("#remix-run").disabled = true;
  try {
    const response = await request("/generate", { method: "POST", body, headers: { Prefer: "wait=20" } });
    const made = await response.json();
    await loadGallery(false);
    if (made.status === "succeeded" || made.status === "failed") {
      await openDetail(made.id);
      $("#remix-status").textContent = `New generation ${made.id} (${made.status}).`;
    } else {
      $("#remix-status").textContent = `Queued as ${made.id}: follow it in Live jobs.`;
    }
    $("#detail").dataset.remixed = made.id;
  } catch (error) {
    $("#remix-status").textContent = error instanceof ApiError ? `${error.message} (${error.status})` : String(error);
  } finally {
    $("#remix-run").disabled = false;
  }
}

// ---------------------------------------------------------------- usage

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function everyDay(start, end, buckets) {
  const byKey = new Map(buckets.map((b) => [b.key, b]));
  const days = [];
  for (let day = new Date(`${start}T00:00:00Z`); isoDay(day) <= end; day.setUTCDate(day.getUTCDate() + 1)) {
    const key = isoDay(day);
    days.push(byKey.get(key) || { key, generations: 0, images: 0, cost: 0 });
  }
  return days;
}

function barChart(container, buckets, value, format, label = (bucket) => bucket.key) {
  const width = 560;
  const barHeight = 22;
  const labelWidth = 150;
  const max = Math.max(0, ...buckets.map(value)) || 1;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${Math.max(1, buckets.length) * barHeight + 4}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", buckets.map((b) => `${label(b)}: ${format(value(b))}`).join("; ") || "no data");
  const make = (tag, attrs, text) => {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, v] of Object.entries(attrs)) node.setAttribute(name, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  };
  buckets.forEach((bucket, index) => {
    const y = index * barHeight + 2;
    const length = ((width - labelWidth - 90) * value(bucket)) / max;
    const name = label(bucket);
    svg.append(
      make("text", { x: labelWidth - 6, y: y + 15, "text-anchor": "end", class: "axis" }, name.length > 22 ? `${name.slice(0, 21)}…` : name),
      make("rect", { x: labelWidth, y: y + 3, width: Math.max(1, length), height: barHeight - 6, rx: 3, class: value(bucket) ? "bar" : "bar zero" }),
      make("text", { x: labelWidth + length + 6, y: y + 15, class: "value" }, format(value(bucket))),
    );
  });
  container.replaceChildren(buckets.length ? svg : h("p", { class: "empty" }, "Nothing in this range."));
  container.dataset.total = String(buckets.reduce((sum, bucket) => sum + value(bucket), 0));
  container.dataset.order = JSON.stringify(buckets.map(label));
}

const byValue = (value) => (a, b) => value(b) - value(a) || a.key.localeCompare(b.key);
let lastUsage = null;

/** Key names for servers whose `group_by=key` buckets lack them (needs the admin scope). */
async function keyNames(groups) {
  if ((groups || []).every((bucket) => bucket.name)) return new Map();
  try {
    return new Map((await api("/keys")).data.map((k) => [k.id, k.name]));
  } catch {
    return new Map(); // without the admin scope, such keys show by id
  }
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
    const usage = await api("/usage", { query: { start_date: form.start_date.value, end_date: form.end_date.value, group_by: "key" } });
    const names = await keyNames(usage.groups);
    const stat = (id, name, value, shown) => h("div", { class: "stat", id, dataset: { value } }, h("span", {}, name), h("strong", {}, shown ?? value));
    // Cache figures only where the server reports them (an older server has neither field).
    const cache = [];
    if (typeof usage.cached_generations === "number") cache.push(stat("usage-cached", "Served from cache", usage.cached_generations));
    if (typeof usage.cache_savings === "number") cache.push(stat("usage-cache-savings", "Cache savings", usage.cache_savings, money(usage.cache_savings)));
    $("#usage-totals").replaceChildren(
      stat("usage-total-cost", "Total cost", usage.total_cost, money(usage.total_cost)),
      stat("usage-total-generations", "Generations", usage.total_generations),
      stat("usage-succeeded", "Succeeded", usage.succeeded_generations),
      stat("usage-total-images", "Images", usage.total_images),
      stat("usage-failed", "Failed", usage.failed_generations),
      stat("usage-canceled", "Canceled", usage.canceled_generations),
      ...cache,
      stat("usage-mode", "Mode", usage.livemode ? "live" : "test"),
    );
    const cost = (bucket) => bucket.cost;
    const count = (bucket) => bucket.generations;
    const days = everyDay(usage.start_date, usage.end_date, usage.by_day);
    const keyLabel = (bucket) => bucket.name || names.get(bucket.key) || bucket.key;
    barChart($("#chart-cost-day"), days, cost, money);
    barChart($("#chart-count-day"), days, count, String);
    barChart($("#chart-cost-model"), [...usage.by_model].sort(byValue(cost)), cost, money);
    barChart($("#chart-count-model"), [...usage.by_model].sort(byValue(count)), count, String);
    barChart($("#chart-cost-key"), [...(usage.groups || [])].sort(byValue(cost)), cost, money, keyLabel);
    lastUsage = { usage, days, keyLabel };
    $("#view-usage").dataset.loaded = "true";
  } catch (error) {
    showError("#usage-error", error);
  }
}

function csvCell(value) {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function exportUsage() {
  if (!lastUsage) return;
  const { usage, days, keyLabel } = lastUsage;
  const rows = [["breakdown", "key", "generations", "images", "cost_usd"]];
  for (const b of days) rows.push(["day", b.key, b.generations, b.images, b.cost]);
  for (const b of usage.by_model) rows.push(["model", b.key, b.generations, b.images, b.cost]);
  for (const b of usage.groups || []) rows.push(["api_key", keyLabel(b), b.generations, b.images, b.cost]);
  rows.push(["total", "all", usage.total_generations, usage.total_images, usage.total_cost]);
  rows.push(["total", "succeeded", usage.succeeded_generations, usage.total_images, usage.total_cost]);
  rows.push(["total", "failed", usage.failed_generations, 0, 0]);
  rows.push(["total", "canceled", usage.canceled_generations, 0, 0]);
  if (typeof usage.cached_generations === "number") rows.push(["total", "cached", usage.cached_generations, "", 0]);
  if (typeof usage.cache_savings === "number") rows.push(["cache_savings", "all", "", "", usage.cache_savings]);
  const text = rows.map((row) => row.map(csvCell).join(",")).join("\n") + "\n";
  saveBlob(new Blob([text], { type: "text/csv" }), `usage-${usage.start_date}-${usage.end_date}.csv`);
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
        h("td", { "data-label": "Model" }, h("strong", {}, model.name), h("div", { class: "muted" }, model.description)),
        h("td", { "data-label": "Available", class: model.available ? "ok" : "bad" }, model.available ? "available" : model.unavailable_reason || "unavailable"),
        h("td", { "data-label": "Providers" }, model.providers.join(", ")),
        h("td", { "data-label": "Price / image" }, model.pricing_per_image === null ? "unknown" : money(model.pricing_per_image)),
        h("td", { "data-label": "Avg. time" }, seconds(model.average_time)),
        h("td", { "data-label": "Sizes" }, model.supported_sizes.join(" ")),
        h("td", { "data-label": "Styles" }, model.supported_styles.join(", ")),
      ),
    );
    $("#models-table tbody").replaceChildren(...rows);
  } catch (error) {
    showError("#models-error", error);
  }
}

// ---------------------------------------------------------------- keys

/**
 * Load an admin-only table (keys, webhooks): `fill` renders `#<what>-table`; a failure shows in
 * `#<what>-error`, a 403 as what it means here (the key lacks the admin scope).
 */
async function loadAdminTable(what, fill) {
  showError(`#${what}-error`, null);
  try {
    await fill();
    $(`#${what}-table`).dataset.loaded = "true";
  } catch (error) {
    showError(`#${what}-error`, error.status === 403 ? `This key lacks the admin scope: it cannot manage ${what}.` : error);
  }
}

function limitsText(key, defaults) {
  const rate = key.rate_limit_per_minute ?? defaults?.rate_limit_per_minute;
  const concurrent = key.max_concurrent ?? defaults?.max_concurrent;
  const mark = (own) => (own === null ? " (default)" : "");
  return [
    `${rate ?? "—"} req/min${mark(key.rate_limit_per_minute)}`,
    `${concurrent ?? "—"} concurrent${mark(key.max_concurrent)}`,
    key.monthly_budget === null ? "no monthly budget" : `${money(key.monthly_budget)}/month`,
  ].join(" · ");
}

function loadKeys() {
  return loadAdminTable("keys", async () => {
    const [list, spend] = await Promise.all([api("/keys"), api("/usage", { query: { group_by: "key" } })]);
    const spent = new Map((spend.groups || []).map((b) => [b.key, b.cost]));
    const now = Date.now();
    $("#keys-table tbody").replaceChildren(
      ...list.data.map((key) => {
        const expired = key.expires_at && new Date(key.expires_at).getTime() <= now;
        const state = key.revoked_at ? "revoked" : expired ? "expired" : "active";
        return h(
          "tr",
          { dataset: { id: key.id, name: key.name } },
          h("td", { "data-label": "Name" }, key.name),
          h("td", { "data-label": "Prefix" }, h("code", {}, `${key.prefix}…`)),
          h("td", { "data-label": "Mode" }, key.mode),
          h("td", { "data-label": "Scopes" }, key.scopes.join(", ")),
          h("td", { "data-label": "Limits", class: "limits" }, limitsText(key, list.defaults)),
          h("td", { "data-label": "Spend this month", class: "spend", dataset: { value: spent.get(key.id) ?? 0 } }, money(spent.get(key.id) ?? 0)),
          h("td", { "data-label": "Expires" }, key.expires_at ? when(key.expires_at) : "never"),
          h("td", { "data-label": "Last used" }, when(key.last_used_at)),
          h("td", { "data-label": "State", class: state === "active" ? "ok state" : "bad state" }, state),
          h("td", {}, key.revoked_at ? "" : h("button", { type: "button", class: "danger small revoke", "aria-label": `Revoke ${key.name}`, onclick: () => revokeKey(key) }, "Revoke")),
        );
      }),
    );
  });
}

async function createKey(event) {
  event.preventDefault();
  const form = event.target;
  const data = new FormData(form);
  const body = { name: data.get("name").trim(), mode: data.get("mode"), scopes: data.getAll("scopes") };
  for (const name of ["rate_limit_per_minute", "max_concurrent"]) if (data.get(name)) body[name] = Number(data.get(name));
  if (data.get("monthly_budget")) body.monthly_budget = Number(data.get("monthly_budget"));
  if (data.get("expires_at")) body.expires_at = new Date(data.get("expires_at")).toISOString();
  const where = { error: "#keys-error", secret: "#key-secret", field: "key", reload: loadKeys };
  await createShowingSecret(form, "/keys", body, where);
}

/** POST a new key or webhook endpoint, show its secret (this is the only time it is sent), and
 *  reload the list; a refusal is shown in the form's error line. */
async function createShowingSecret(form, path, body, { error: errorId, secret, field, reload }) {
  showError(errorId, null);
  try {
    const created = await api(path, { method: "POST", body });
    $(`${secret}-value`).textContent = created[field];
    $(secret).hidden = false;
    form.reset();
    await reload();
  } catch (error) {
    showError(errorId, error);
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

// ---------------------------------------------------------------- webhooks

let webhookOperations = null; // operationIds this server has: pause and test events are newer

async function webhookFeatures() {
  if (!webhookOperations) {
    try {
      const document = await (await fetch("/openapi.json")).json();
      webhookOperations = new Set(Object.values(document.paths).flatMap((path) => Object.values(path).map((op) => op.operationId)));
    } catch {
      webhookOperations = new Set();
    }
  }
  return { pause: webhookOperations.has("updateWebhook"), test: webhookOperations.has("testWebhook") };
}

function loadWebhooks() {
  return loadAdminTable("webhooks", async () => {
    const [list, features] = await Promise.all([api("/webhooks"), webhookFeatures()]);
    const endpoints = list.data;
    $("#webhooks-table tbody").replaceChildren(
      ...endpoints.map((endpoint) =>
        h(
          "tr",
          { dataset: { id: endpoint.id, status: endpoint.status } },
          h("td", { "data-label": "URL", class: "url" }, h("code", {}, endpoint.url), endpoint.description ? h("div", { class: "muted" }, endpoint.description) : null),
          h("td", { "data-label": "Events" }, endpoint.events.join(", ")),
          h("td", { "data-label": "Status", class: endpoint.status === "enabled" ? "ok" : "bad" }, endpoint.status, endpoint.disabled_reason ? h("div", { class: "muted" }, endpoint.disabled_reason) : null),
          h("td", { "data-label": "Created" }, when(endpoint.created_at)),
          h(
            "td",
            {},
            h(
              "div",
              { class: "row-actions" },
              h("button", { type: "button", class: "secondary small deliveries", "aria-label": `Deliveries of ${endpoint.url}`, onclick: () => showDeliveries(endpoint) }, "Deliveries"),
              features.test ? h("button", { type: "button", class: "secondary small test", "aria-label": `Send a test event to ${endpoint.url}`, onclick: () => testWebhook(endpoint) }, "Send test") : null,
              features.pause
                ? h(
                    "button",
                    { type: "button", class: "secondary small pause", "aria-label": `${endpoint.status === "enabled" ? "Pause" : "Resume"} ${endpoint.url}`, onclick: () => pauseWebhook(endpoint) },
                    endpoint.status === "enabled" ? "Pause" : "Resume",
                  )
                : null,
              h("button", { type: "button", class: "danger small delete", "aria-label": `Delete ${endpoint.url}`, onclick: () => deleteWebhook(endpoint) }, "Delete"),
            ),
          ),
        ),
      ),
    );
    $("#webhooks-empty").hidden = endpoints.length > 0;
  });
}

async function createWebhook(event) {
  event.preventDefault();
  const form = event.target;
  const data = new FormData(form);
  const body = { url: data.get("url").trim(), events: data.getAll("events") };
  if (data.get("description").trim()) body.description = data.get("description").trim();
  const where = { error: "#webhooks-error", secret: "#webhook-secret", field: "secret", reload: loadWebhooks };
  await createShowingSecret(form, "/webhooks", body, where);
}

async function deleteWebhook(endpoint) {
  if (!confirm(`Delete the endpoint ${endpoint.url}? Its pending deliveries are dropped.`)) return;
  try {
    await api(`/webhooks/${encodeURIComponent(endpoint.id)}`, { method: "DELETE" });
    $("#deliveries").hidden = true;
    await loadWebhooks();
  } catch (error) {
    showError("#webhooks-error", error);
  }
}

async function pauseWebhook(endpoint) {
  try {
    await api(`/webhooks/${encodeURIComponent(endpoint.id)}`, { method: "PATCH", body: { enabled: endpoint.status !== "enabled" } });
    await loadWebhooks();
  } catch (error) {
    showError("#webhooks-error", error);
  }
}

async function testWebhook(endpoint) {
  try {
    const delivery = await api(`/webhooks/${encodeURIComponent(endpoint.id)}/test`, { method: "POST" });
    await showDeliveries(endpoint);
    // Follow the test event until it is settled, for a few seconds.
    for (let i = 0; i < 20 && ["pending", "retrying"].includes($(`#deliveries-table tr[data-id="${CSS.escape(delivery.id)}"]`)?.dataset.status ?? "pending"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      if ($("#deliveries").dataset.endpoint !== endpoint.id) return;
      await showDeliveries(endpoint);
    }
  } catch (error) {
    showError("#webhooks-error", error);
  }
}

async function showDeliveries(endpoint) {
  try {
    const deliveries = (await api(`/webhooks/${encodeURIComponent(endpoint.id)}/deliveries`)).data;
    $("#deliveries-title").textContent = `Deliveries to ${endpoint.url}`;
    $("#deliveries-table tbody").replaceChildren(
      ...deliveries.map((d) =>
        h(
          "tr",
          { dataset: { id: d.id, status: d.status } },
          h("td", { "data-label": "Delivery" }, h("code", {}, d.id)),
          h("td", { "data-label": "Event" }, d.event_type),
          h("td", { "data-label": "Status", class: d.status === "delivered" ? "ok" : ["pending", "retrying"].includes(d.status) ? "" : "bad" }, d.status),
          h("td", { "data-label": "Response", class: "code" }, d.last_status_code ?? d.last_error ?? "—"),
          h("td", { "data-label": "Attempts" }, d.attempts),
          h("td", { "data-label": "Created" }, when(d.created_at)),
        ),
      ),
    );
    if (!deliveries.length) $("#deliveries-table tbody").append(h("tr", {}, h("td", { colspan: 6 }, "No deliveries yet.")));
    $("#deliveries").hidden = false;
    $("#deliveries").dataset.endpoint = endpoint.id;
  } catch (error) {
    showError("#webhooks-error", error);
  }
}

// ---------------------------------------------------------------- live jobs

const streams = new Map(); // generation id -> AbortController
let livePoll = null;
const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

function stopLive() {
  clearInterval(livePoll);
  livePoll = null;
  for (const controller of streams.values()) controller.abort();
  streams.clear();
}

function liveEmpty() {
  $("#live-empty").hidden = $("#live-table tbody").children.length > 0;
}

function liveRow(job) {
  const existing = $(`#live-table tr[data-id="${CSS.escape(job.id)}"]`);
  if (TERMINAL.has(job.status)) {
    // Finished jobs leave the list; their outcome is in the gallery.
    existing?.remove();
    liveEmpty();
    return;
  }
  const row = h(
    "tr",
    { dataset: { id: job.id, status: job.status } },
    h("td", { "data-label": "Job" }, h("button", { type: "button", class: "link-like secondary small detail-link", "aria-label": `Details of ${job.id}`, onclick: () => openDetail(job.id) }, job.id)),
    h("td", { "data-label": "Model" }, job.model),
    h("td", { "data-label": "Prompt", class: "prompt" }, job.prompt),
    h("td", { "data-label": "Status" }, h("span", { class: `status ${job.status}` }, job.status)),
    h("td", { "data-label": "Progress" }, h("progress", { max: 1, value: job.progress, "aria-label": `Progress of ${job.id}` }), ` ${Math.round(job.progress * 100)}%`),
    h("td", { "data-label": "Started" }, when(job.started_at || job.created_at)),
    h("td", {}, h("button", { type: "button", class: "danger small cancel", "aria-label": `Cancel ${job.id}`, onclick: () => cancelJob(job.id) }, "Cancel")),
  );
  if (existing) existing.replaceWith(row);
  else $("#live-table tbody").append(row);
  liveEmpty();
}

async function cancelJob(id) {
  try {
    liveRow(await api(`/generations/${encodeURIComponent(id)}/cancel`, { method: "POST" }));
  } catch (error) {
    showError("#live-error", error);
  }
}

/**
 * A job's Server-Sent Events, each event's generation passed to onJob, until the stream ends
 * (the job is terminal). fetch, not EventSource: it must send the bearer token.
 */
async function jobEvents(id, signal, onJob) {
  const response = await fetch(`${API}/generations/${encodeURIComponent(id)}/events`, {
    headers: { Authorization: `Bearer ${apiKey()}`, Accept: "text/event-stream" },
    signal,
  });
  if (!response.ok) throw new ApiError(response.status, response.headers.get("content-type")?.includes("json") ? await response.json() : null);
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
      if (!data) continue;
      const job = JSON.parse(data);
      if (job && job.id) onJob(job);
    }
  }
}

/** Follow one live job's events into its row. */
async function follow(job) {
  const controller = new AbortController();
  streams.set(job.id, controller);
  try {
    await jobEvents(job.id, controller.signal, (update) => {
      if (streams.has(job.id)) liveRow(update);
    });
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
    liveEmpty();
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

Object.assign(loaders, { gallery: () => loadGallery(false), usage: loadUsage, models: loadModels, keys: loadKeys, webhooks: loadWebhooks, live: loadLive });

$("#signin-form").addEventListener("submit", signIn);
$("#sign-out").addEventListener("click", () => signOut());
$("#nav-toggle").addEventListener("click", () => setMenu(!$(".topbar").classList.contains("open")));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && $(".topbar").classList.contains("open")) {
    setMenu(false);
    $("#nav-toggle").focus();
  }
});
$("#gallery-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  loadGallery(false);
});
$("#board-filter").addEventListener("change", () => {
  updateBoardButtons();
  loadGallery(false);
});
$("#gallery-more").addEventListener("click", () => loadGallery(true));
$("#select-toggle").addEventListener("click", () => setSelecting(!gallery.selecting));
$("#board-new").addEventListener("click", async () => {
  const name = await askName("New board");
  if (!name) return;
  try {
    const board = await api("/boards", { method: "POST", body: { name } });
    await loadBoards();
    $("#selection-board").value = board.id;
    $("#detail-board").value = board.id;
    toast(`Board "${board.name}" created.`);
  } catch (error) {
    showError("#gallery-error", error);
  }
});
$("#board-rename").addEventListener("click", async () => {
  const board = boardsCache.find((b) => b.id === $("#board-filter").value);
  if (!board) return;
  const name = await askName("Rename board", board.name);
  if (!name || name === board.name) return;
  try {
    await api(`/boards/${encodeURIComponent(board.id)}`, { method: "PATCH", body: { name } });
    await loadBoards();
  } catch (error) {
    showError("#gallery-error", error);
  }
});
$("#board-download").addEventListener("click", () => {
  const board = boardsCache.find((b) => b.id === $("#board-filter").value);
  if (board) downloadZip(`/boards/${encodeURIComponent(board.id)}/download`, {}, `${board.name}.zip`);
});
$("#selection-add").addEventListener("click", () => addToBoard($("#selection-board").value, [...gallery.selected]));
$("#selection-remove").addEventListener("click", async () => {
  const boardId = $("#board-filter").value;
  for (const id of gallery.selected) {
    try {
      await api(`/boards/${encodeURIComponent(boardId)}/items/${encodeURIComponent(id)}`, { method: "DELETE" });
    } catch (error) {
      showError("#gallery-error", error);
    }
  }
  gallery.selected.clear();
  await loadGallery(false);
});
$("#selection-download").addEventListener("click", () => {
  if (gallery.selected.size) downloadZip("/gallery/download", { method: "POST", body: { ids: [...gallery.selected] } }, "images.zip");
});
$("#selection-compare").addEventListener("click", () => compare([...gallery.selected]));
$("#selection-delete").addEventListener("click", () => deleteItems([...gallery.selected]));
$("#detail-star").addEventListener("click", () => toggleStar($("#detail").dataset.id));
$("#detail-add-board").addEventListener("click", async () => {
  const id = $("#detail").dataset.id;
  await addToBoard($("#detail-board").value, [id]);
  fillDetail(gallery.items.get(id) || (await api(`/gallery/${encodeURIComponent(id)}`)));
});
$("#detail-delete").addEventListener("click", async () => {
  const id = $("#detail").dataset.id;
  closeDialog($("#detail"));
  await deleteItems([id]);
});
$("#remix-form").addEventListener("submit", remix);
$("#op-form").addEventListener("submit", runOperation);
$("#op-kind").addEventListener("change", operationChosen);
$("#op-model").addEventListener("change", modelChosen);
$("#op-strength").addEventListener("input", (event) => ($("#op-strength-value").textContent = Number(event.target.value).toFixed(2)));
$("#remix-form").addEventListener("change", (event) => {
  if (event.target.name === "seed_mode") $("#remix-run").textContent = event.target.value === "new" ? "Remix" : "Re-run";
});
$("#usage-range").addEventListener("submit", (event) => {
  event.preventDefault();
  loadUsage();
});
$("#usage-csv").addEventListener("click", exportUsage);
$("#key-create").addEventListener("submit", createKey);
$("#key-secret-copy").addEventListener("click", (event) => copyText($("#key-secret-value").textContent, event.target));
$("#webhook-create").addEventListener("submit", createWebhook);
$("#webhook-secret-copy").addEventListener("click", (event) => copyText($("#webhook-secret-value").textContent, event.target));
window.addEventListener("hashchange", route);

if (apiKey()) signedIn();
route();
