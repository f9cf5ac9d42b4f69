// modelport studio: a single-page app over the studio's JSON API (modelport/studio/app.py).
// Every piece of data reaches the page as a text node or an attribute value set through the DOM
// (h() below); nothing is ever parsed as HTML, so a model name, tag or log line cannot run.
"use strict";

const state = { csrf: null, timers: [], streams: [], generation: 0 };

// Every route() starts a new generation. A page awaits its data before it draws, so a route the
// user has already left may finish late: its view() notices after each await and stops (Stale),
// instead of drawing over the page now asked for (a slow services list once replaced a service's
// page that way, and a test waited 30 s for a button that was gone).
class Stale extends Error {}

function view() {
  const generation = ++state.generation;
  const v = {
    live: () => generation === state.generation,
    check() { if (!v.live()) throw new Stale(); },
    async api(...args) { const data = await api(...args); v.check(); return data; },
    every(ms, fn) { v.check(); state.timers.push(setInterval(() => { if (v.live()) fn(); }, ms)); },
    stream(source) { if (!v.live()) { source.close(); throw new Stale(); } state.streams.push(source); return source; },
  };
  return v;
}

// -- helpers -------------------------------------------------------------------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

async function api(method, path, body, contentType) {
  const headers = {};
  if (method !== "GET") headers["X-Studio-CSRF"] = state.csrf;
  let payload;
  if (body instanceof Blob || typeof body === "string") {
    payload = body;
    headers["Content-Type"] = contentType || "application/octet-stream";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  const resp = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = { message: text }; }
  if (!resp.ok) throw new Error((data && data.message) || `${resp.status} ${resp.statusText}`);
  return data;
}

const enc = encodeURIComponent;
function when(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+.*$/, "") : ""; }
function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
function badge(text, kind) { return h("span", { class: `badge ${kind}-${String(text).replace(/ /g, "-")}` }, text); }
function tags(obj) { return Object.entries(obj || {}).map(([k, v]) => h("span", { class: "tag" }, v === "" ? k : `${k}=${v}`)); }
function kv(obj) {
  if (!Object.keys(obj || {}).length) return h("span", { class: "muted" }, "none");
  return h("dl", { class: "kv" }, Object.entries(obj).map(([k, v]) => [
    h("dt", {}, k),
    h("dd", {}, v instanceof Node ? v : v === null || v === undefined || v === "" ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v)),
  ]));
}
// Each package its own unbreakable item: the list wraps between packages, never inside a name.
function packages(list) {
  if (!list || !list.length) return "";
  return h("span", { class: "packages" }, list.map((p) => h("code", { class: "pkg" }, p)));
}
function apiLink(url) {
  return url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer", id: "api-page" }, url) : "";
}
function showError(err) {
  const banner = document.getElementById("banner");
  banner.textContent = err ? String(err.message || err) : "";
  banner.hidden = !err;
}
function copy(text, button) {
  navigator.clipboard.writeText(text).then(() => {
    const old = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = old; }, 1200);
  }, showError);
}
function setMain(v, ...children) {
  v.check();
  const main = document.getElementById("main");
  main.replaceChildren(...children.flat());
  return main;
}

// -- router --------------------------------------------------------------------------------------
function stop() {
  state.timers.forEach(clearInterval);
  state.streams.forEach((s) => s.close());
  state.timers = [];
  state.streams = [];
}

// <main> says which route it shows (data-route) and whether that route is still loading
// (aria-busy): screen readers announce the change, and the browser tests wait on it.
async function route(message) {
  stop();
  const v = view();
  const main = document.getElementById("main");
  main.dataset.route = location.hash;
  main.setAttribute("aria-busy", "true");
  showError(null);
  const parts = (location.hash.replace(/^#\/?/, "") || "services").split("/").map(decodeURIComponent);
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === parts[0]));
  try {
    if (parts[0] === "services" && parts[1]) await servicePage(v, parts[1], parts[2] || "details");
    else if (parts[0] === "models" && parts[1]) await modelVersionPage(v, parts[1], parts[2]);
    else if (parts[0] === "models") await modelsPage(v, message);
    else if (parts[0] === "environments") await environmentsPage(v);
    else await servicesPage(v);
  } catch (err) {
    if (err instanceof Stale) return;  // a newer route owns the page now
    if (v.live()) showError(err);
  }
  if (v.live()) main.setAttribute("aria-busy", "false");
}

// -- services ------------------------------------------------------------------------------------
const STATES = ["", "Healthy", "Transitioning", "Unhealthy", "Failed", "Deleting"];

async function servicesPage(v) {
  const stateFilter = h("select", { id: "state-filter", "aria-label": "state" }, STATES.map((s) => h("option", { value: s }, s || "all states")));
  const tagFilter = h("input", { id: "tag-filter", placeholder: "tag or tag=value", "aria-label": "tag" });
  const body = h("tbody");
  const count = h("span", { class: "muted" });
  let rows = [];
  // Rows are kept by name and redrawn only when their data changed: the list is polled every
  // 2 s, and rebuilding every row each time detached the button a user (or a test) was clicking.
  const drawn = new Map();
  const rowFor = (s) => {
    const key = JSON.stringify(s);
    const old = drawn.get(s.name);
    if (old && old.key === key) return old.tr;
    const tr = serviceRow(s);
    drawn.set(s.name, { key, tr });
    return tr;
  };
  const render = () => {
    const wanted = stateFilter.value;
    const text = tagFilter.value.trim();
    const eq = text.indexOf("=");
    const [tk, tv] = eq < 0 ? [text, undefined] : [text.slice(0, eq), text.slice(eq + 1)];
    const shown = rows.filter((s) => (!wanted || s.state === wanted)
      && (!tk || (tk in s.tags && (tv === undefined || s.tags[tk] === tv))));
    count.textContent = `${shown.length} of ${rows.length} services`;
    for (const name of [...drawn.keys()]) if (!rows.some((s) => s.name === name)) drawn.delete(name);
    const next = shown.length ? shown.map(rowFor)
      : [h("tr", {}, h("td", { colspan: 9, class: "muted" }, rows.length ? "No service matches the filters." : "No services yet: deploy one with Model.deploy or `modelport deploy`."))];
    const same = next.length === body.children.length && next.every((tr, i) => body.children[i] === tr);
    if (!same) body.replaceChildren(...next);
  };
  const load = async () => {
    try { rows = await api("GET", "/api/services"); render(); if (v.live()) showError(null); } catch (err) { if (v.live()) showError(err); }
  };
  stateFilter.addEventListener("change", render);
  tagFilter.addEventListener("input", render);
  // The rows first, then the page: shown empty while the list loads, the table blinked empty
  // after every delete (the page is rebuilt) and a row seemed gone that was not.
  try {
    rows = await v.api("GET", "/api/services");
  } catch (err) {
    if (err instanceof Stale) throw err;
    showError(err);  // the page still draws, and its polling may recover
  }
  render();
  setMain(v,
    h("h1", {}, "Services"),
    h("div", { class: "toolbar" }, h("label", {}, "State"), stateFilter, h("label", {}, "Tag"), tagFilter,
      h("button", { onclick: load, id: "reload" }, "Reload"), count),
    h("div", { class: "table-wrap" }, h("table", { id: "services" },
      h("thead", {}, h("tr", {}, ["Name", "State", "Target", "Scoring URI", "Models", "Created", "Updated", "Tags", ""].map((c, i) => h("th", { class: [3, 5].includes(i) ? "hide-narrow" : null }, c)))),
      body)),
  );
  v.every(2000, load);
}

function serviceRow(s) {
  const target = s.target === "local" ? `local (${s.compute_type})` : `${s.target} (${s.compute_type})`;
  return h("tr", { "data-service": s.name },
    h("td", {}, h("a", { href: `#/services/${enc(s.name)}` }, s.name)),
    h("td", { class: "state" }, badge(s.state, "state"), s.reason && s.state === "Failed" ? h("div", { class: "muted" }, s.reason) : null),
    h("td", {}, target),
    h("td", { class: "uri hide-narrow" }, s.scoring_uri || "—"),
    h("td", {}, s.models.map((id) => h("div", {}, modelLink(id)))),
    h("td", { class: "hide-narrow" }, when(s.created_time)),
    h("td", {}, when(s.updated_time)),
    h("td", {}, tags(s.tags)),
    h("td", { class: "actions" }, serviceActions(s.name, route)));
}

function modelLink(id) {
  const at = id.lastIndexOf(":");
  return h("a", { href: `#/models/${enc(id.slice(0, at))}/${enc(id.slice(at + 1))}` }, id);
}

function serviceActions(name, after) {
  const restart = async (ev) => {
    ev.target.disabled = true;
    try { await api("POST", `/api/services/${enc(name)}/restart`); await after(); } catch (err) { showError(err); }
    ev.target.disabled = false;
  };
  const remove = async () => {
    if (!confirm(`Delete service '${name}'? Its processes stop and its keys are removed.`)) return;
    try {
      await api("DELETE", `/api/services/${enc(name)}`);
      if (location.hash === "#/services") await route(); else location.hash = "#/services";  // hashchange routes
    } catch (err) { showError(err); }
  };
  return [h("button", { onclick: restart, "data-action": "restart" }, "Restart"), " ",
    h("button", { class: "danger", onclick: remove, "data-action": "delete" }, "Delete")];
}

const TABS = ["details", "test", "consume", "logs", "metrics", "monitoring"];

async function servicePage(v, name, tab) {
  const detail = await v.api("GET", `/api/services/${enc(name)}`);
  const stateBadge = h("span", { id: "service-state" }, badge(detail.state, "state"));
  const pane = h("div", { id: "pane" });
  setMain(v,
    h("div", { class: "muted" }, h("a", { href: "#/services" }, "Services"), " / ", name),
    h("h1", {}, name, stateBadge, h("span", { class: "actions" }, serviceActions(name, route))),
    h("div", { class: "tabs" }, TABS.map((t) => h("a", { href: `#/services/${enc(name)}/${t}`, class: t === tab ? "active" : null, "data-tab": t }, t[0].toUpperCase() + t.slice(1)))),
    pane,
  );
  v.every(3000, async () => {
    try { stateBadge.replaceChildren(badge((await api("GET", `/api/services/${enc(name)}`)).state, "state")); } catch (err) { /* shown on the next action */ }
  });
  const pages = { details: detailsTab, test: testTab, consume: consumeTab, logs: logsTab, metrics: metricsTab, monitoring: monitoringTab };
  await (pages[tab] || detailsTab)(v, pane, detail);
}

function detailsTab(v, pane, d) {
  const env = d.environment;
  const cards = [
    h("div", { class: "card", id: "card-endpoint" }, h("h2", {}, "Endpoint"), kv({
      "scoring URI": d.scoring_uri, "swagger URI": d.swagger_uri, "API page": apiLink(d.api_page),
      target: d.target, "compute type": d.compute_type,
      auth: d.auth, "entry script": d.entry_script, "source directory": d.source_directory,
      "deployment": d.deployment_id, created: when(d.created_time), updated: when(d.updated_time),
      description: d.description,
    })),
    h("div", { class: "card", id: "card-configuration" }, h("h2", {}, "Configuration"), kv(d.configuration)),
    Object.keys(d.deployment_keywords || {}).length ? h("div", { class: "card", id: "card-keywords" },
      h("h2", {}, "v1 keywords"), kv(d.deployment_keywords),
      d.keyword_notice ? h("p", { class: "muted", id: "keyword-notice" }, d.keyword_notice) : null) : null,
    h("div", { class: "card" }, h("h2", {}, "Models"), d.models.map((id) => h("div", {}, modelLink(id))),
      h("h2", {}, "Tags"), tags(d.tags).length ? tags(d.tags) : h("span", { class: "muted" }, "none"),
      h("h2", {}, "Properties"), kv(d.properties)),
    h("div", { class: "card", id: "card-environment" }, h("h2", {}, "Environment"), env ? kv({
      name: env.name, version: env.version, python: env.python_version,
      "pip packages": packages(env.pip_packages), "conda packages": packages(env.conda_packages),
      "user managed": env.user_managed_dependencies,
      "base image": env.docker_base_image,
    }) : h("p", { class: "muted" }, "none: the service runs in modelport's own interpreter"),
    (d.environment_notices || []).length ? h("ul", { id: "environment-notices" },
      d.environment_notices.map((line) => h("li", {}, line))) : null),
  ];
  const failure = d.state === "Failed" || d.error ? [
    h("h2", { class: "bad" }, `Failure (${d.state})`),
    h("pre", { class: "traceback", id: "failure" }, d.error || "no reason recorded"),
  ] : [];
  pane.replaceChildren(
    ...failure,
    h("div", { class: "grid" }, cards),
    h("h2", {}, "State history"),
    h("div", { class: "table-wrap" }, h("table", { id: "history" },
      h("thead", {}, h("tr", {}, h("th", {}, "Time"), h("th", {}, "State"), h("th", {}, "Reason"))),
      h("tbody", {}, d.history.slice().reverse().map((e) => h("tr", {},
        h("td", {}, when(e.time)), h("td", {}, badge(e.state, "state")),
        h("td", {}, e.error ? h("pre", {}, e.error) : "")))))),
    d.events.length ? [h("h2", {}, "Events"), h("ul", {}, d.events.map((e) => h("li", {}, e)))] : [],
    h("h2", {}, "Deployment log"),
    h("pre", { class: "log", id: "init-log" }, d.init_log || "(empty)"),
  );
}

// How the studio authenticates a Test tab call, per the service's auth (the truth, not a guess).
const SENT_WITH = {
  key: "The studio sends it with the service's primary key.",
  token: "The studio sends it with a fresh token for the service.",
  none: "This service needs no key (auth is off); the studio sends the body as it is.",
};

async function testTab(v, pane, d) {
  const ex = await v.api("GET", `/api/services/${enc(d.name)}/example`);
  // No example declared: no body is made up (an empty {"data": []} answered 500 from the
  // tutorial's model); the placeholder says what a body looks like and Send waits for one.
  const editor = h("textarea", {
    id: "test-body", spellcheck: "false", "aria-label": "request body",
    placeholder: '{"data": [[ ...one row of the model\'s inputs... ]]}',
  }, ex.example !== null ? JSON.stringify(ex.example) : "");
  const result = h("div", { class: "result", id: "test-result" });
  const sendButton = h("button", { class: "primary", id: "send" }, "Send");
  const ready = () => { sendButton.disabled = !editor.value.trim(); };
  editor.addEventListener("input", ready);
  const send = async () => {
    result.replaceChildren(h("span", { class: "muted" }, "Sending…"));
    try {
      const r = await api("POST", `/api/services/${enc(d.name)}/test`, editor.value, "application/json");
      result.replaceChildren(
        h("div", {}, h("span", { class: `status ${r.status === 200 ? "ok" : "bad"}`, id: "test-status" }, `${r.status}`),
          h("span", { class: "muted" }, ` in `), h("span", { id: "test-latency" }, `${r.latency_ms.toFixed(1)} ms`)),
        h("pre", { id: "test-response" }, r.response));
      return r;
    } catch (err) {
      result.replaceChildren(h("pre", { class: "traceback" }, String(err.message)));
      return null;
    }
  };
  sendButton.addEventListener("click", send);
  const canvasArea = h("div", { id: "canvas-area" });
  const showCanvas = () => { canvasArea.replaceChildren(digitCanvas(editor, send, ready)); toggle.hidden = true; };
  const toggle = h("button", { id: "show-canvas", onclick: showCanvas }, "Draw a digit (28×28 canvas, 784 inputs)");
  const source = { schema: "its swagger document", sample: "the sample input given at deployment", array: "zeros in the shape of its array input" };
  const said = ex.declared
    ? `The body is prefilled from the service's input example (${source[ex.source] || "its swagger"}).`
    : "This service declares no input example, so nothing is prefilled: write the JSON body its run() reads. "
      + "Deploy it with a sample input (InferenceConfig(sample_input=...), modelport deploy --sample-input FILE, "
      + "or a model registered with sample_input_dataset) and the example appears here, in /swagger and in its V2 metadata.";
  pane.replaceChildren(
    h("p", { class: "muted", id: "test-note" }, said, " ", SENT_WITH[d.auth] || ""),
    editor,
    h("div", { class: "row" }, sendButton, ex.canvas ? null : toggle),
    // The canvas above the answer: an answer arriving while a digit is drawn must not move the
    // canvas under the pen (the result area grows, and it once sat above the canvas).
    canvasArea,
    result,
  );
  ready();
  if (ex.canvas) showCanvas();
}

function digitCanvas(editor, send, edited) {
  const canvas = h("canvas", { class: "draw", id: "digit-canvas", width: 280, height: 280, "aria-label": "drawing canvas" });
  const ctx = canvas.getContext("2d");
  const prediction = h("div", { class: "prediction", id: "prediction" }, "?");
  const clear = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, 280, 280); prediction.textContent = "?"; };
  clear();
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 22;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  let drawing = false;
  const at = (ev) => {
    const box = canvas.getBoundingClientRect();
    return [(ev.clientX - box.left) * 280 / box.width, (ev.clientY - box.top) * 280 / box.height];
  };
  canvas.addEventListener("pointerdown", (ev) => {
    drawing = true;
    clearTimeout(timer);  // a new stroke: the prediction waits for it
    canvas.setPointerCapture(ev.pointerId);
    const [x, y] = at(ev);
    ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x, y); ctx.stroke();
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!drawing) return;
    const [x, y] = at(ev);
    ctx.lineTo(x, y); ctx.stroke();
  });
  const predict = async () => {
    // 280x280 -> 28x28 by averaging each 10x10 block: 784 numbers in 0..1, as MNIST's pixels.
    const pixels = ctx.getImageData(0, 0, 280, 280).data;
    const row = [];
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        let sum = 0;
        for (let dy = 0; dy < 10; dy++) for (let dx = 0; dx < 10; dx++) sum += pixels[((y * 10 + dy) * 280 + x * 10 + dx) * 4];
        row.push(Math.round(sum / 100 / 255 * 1000) / 1000);
      }
    }
    editor.value = JSON.stringify({ data: [row] });
    edited();
    prediction.textContent = "…";
    const mine = ++asked;
    const r = await send();
    if (mine !== asked) return;
    let label = "?";
    if (r && r.status === 200) {
      try { const out = JSON.parse(r.response); label = Array.isArray(out) ? String(out[0]) : String(out); } catch (e) { label = r.response; }
    }
    prediction.textContent = label;
  };
  // One prediction shortly after the last stroke (none while a stroke is drawn); an older answer
  // never overwrites a newer one.
  let timer = null;
  let asked = 0;
  const finish = () => {
    if (!drawing) return;
    drawing = false;
    clearTimeout(timer);
    timer = setTimeout(predict, 350);
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  return h("div", { class: "card" }, h("h2", {}, "Draw a digit"),
    h("div", { class: "canvas-box" }, canvas,
      h("div", {}, h("div", { class: "muted" }, "Prediction"), prediction,
        h("div", { class: "row" }, h("button", { onclick: clear, id: "clear-canvas" }, "Clear"), h("button", { onclick: predict, id: "predict" }, "Predict")))));
}

async function consumeTab(v, pane, d) {
  const render = (c) => {
    const keyRow = (label, field, which) => h("div", { class: "row" },
      h("strong", {}, label), h("span", { class: "secret", id: `key-${which}` }, c.keys[field] || "—"),
      c.revealed ? h("button", { onclick: (ev) => copy(c.keys[field], ev.target) }, "Copy") : null,
      h("button", { "data-regenerate": which, onclick: async () => {
        if (!confirm(`Regenerate the ${which} key? Clients using it stop working.`)) return;
        try { await api("POST", `/api/services/${enc(d.name)}/keys/regenerate`, { key: which }); render(await api("POST", `/api/services/${enc(d.name)}/keys`)); } catch (err) { showError(err); }
      } }, "Regenerate"));
    const auth = [];
    if (c.auth === "key") {
      auth.push(keyRow("Primary key", "primary_key", "primary"), keyRow("Secondary key", "secondary_key", "secondary"));
      if (!c.revealed) auth.push(h("button", { id: "reveal", onclick: async () => { try { render(await api("POST", `/api/services/${enc(d.name)}/keys`)); } catch (err) { showError(err); } } }, "Reveal keys"));
    } else if (c.auth === "token") {
      const out = h("span", { class: "secret", id: "token" }, "—");
      auth.push(h("div", { class: "row" }, h("button", { id: "get-token", onclick: async () => {
        try { const t = await api("POST", `/api/services/${enc(d.name)}/token`); out.textContent = t.token; } catch (err) { showError(err); }
      } }, "Get a token (valid 1 hour)"), out));
      if (!c.revealed) auth.push(h("button", { id: "reveal", onclick: async () => render(await api("POST", `/api/services/${enc(d.name)}/keys`)) }, "Put a token in the snippets"));
    } else {
      auth.push(h("p", { class: "muted" }, "This service needs no key (auth is off)."));
    }
    const snippet = (title, key) => h("div", { class: "card" }, h("h2", {}, title,
      " ", h("button", { onclick: (ev) => copy(c.snippets[key], ev.target) }, "Copy")),
      h("pre", { id: `snippet-${key}` }, c.snippets[key]));
    pane.replaceChildren(
      h("div", { class: "card" }, h("h2", {}, "Endpoint"), kv({ "scoring URI": c.scoring_uri, "swagger URI": c.swagger_uri, "API page": apiLink(c.api_page), auth: c.auth })),
      h("div", { class: "card" }, h("h2", {}, "Authentication"), auth),
      h("p", { class: "muted" }, c.revealed ? "The snippets below carry the real credential." : "The snippets show a placeholder until the keys are revealed."),
      h("div", { class: "grid" }, snippet("curl", "curl"), snippet("Python (requests)", "python"), snippet("modelport SDK", "sdk")),
    );
  };
  render(await v.api("GET", `/api/services/${enc(d.name)}/consume`));
}

async function logsTab(v, pane, d) {
  const init = await v.api("GET", `/api/services/${enc(d.name)}/logs?init=1`);
  const live = h("pre", { class: "log", id: "live-log" });
  const status = h("span", { class: "muted", id: "log-status" }, "connecting…");
  pane.replaceChildren(
    h("h2", {}, "Service log ", status),
    live,
    h("h2", {}, "Deployment (init) log"),
    h("pre", { class: "log", id: "init-log" }, init.text || "(empty)"),
  );
  const stream = v.stream(new EventSource(`/api/services/${enc(d.name)}/logs/follow`));
  stream.onopen = () => { status.textContent = "following live"; };
  stream.onerror = () => { status.textContent = "disconnected: retrying…"; };
  stream.onmessage = (ev) => {
    const near = live.scrollTop + live.clientHeight >= live.scrollHeight - 30;
    for (const line of JSON.parse(ev.data)) live.append(document.createTextNode(line + "\n"));
    while (live.childNodes.length > 5000) live.removeChild(live.firstChild);
    if (near) live.scrollTop = live.scrollHeight;
  };
}

function chart(title, points, lines, unit, xfmt, rule) {
  const W = 560, H = 160, L = 44, R = 8, T = 10, B = 20;
  const values = points.flatMap((p) => lines.map((l) => p[l.key])).filter((v) => v !== null && v !== undefined);
  const max = Math.max(1e-9, rule || 0, ...values) * 1.15;
  const xLabel = xfmt || ((t) => new Date(t * 1000).toLocaleTimeString());
  const t0 = points.length ? points[0].time : 0;
  const t1 = points.length ? points[points.length - 1].time : 1;
  const x = (t) => L + (W - L - R) * (t1 > t0 ? (t - t0) / (t1 - t0) : 1);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const fmt = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
  const paths = lines.map((l) => {
    const pts = points.filter((p) => p[l.key] !== null && p[l.key] !== undefined).map((p) => `${x(p.time).toFixed(1)},${y(p[l.key]).toFixed(1)}`);
    return pts.length ? svg("polyline", { points: pts.join(" "), fill: "none", stroke: l.color, "stroke-width": 2 }) : null;
  }).filter(Boolean);
  const last = points.length ? points[points.length - 1] : null;
  return h("div", { class: "card" },
    h("h2", {}, title),
    h("div", { class: "legend" }, lines.map((l) => h("span", {}, h("i", { style: null, "data-color": l.color }), `${l.label}: `,
      last && last[l.key] !== null && last[l.key] !== undefined ? `${fmt(last[l.key])} ${unit}` : "—"))),
    svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title },
      svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }),
      svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }),
      svg("text", { x: 2, y: T + 8, class: "y-max" }, `${fmt(max)} ${unit}`),
      svg("text", { x: 2, y: H - B }, "0"),
      svg("text", { x: L, y: H - 4 }, points.length ? xLabel(t0) : ""),
      svg("text", { x: W - R - 60, y: H - 4 }, points.length ? xLabel(t1) : ""),
      rule ? svg("line", { class: "rule", x1: L, y1: y(rule), x2: W - R, y2: y(rule), stroke: "#57606a", "stroke-dasharray": "4" }) : null,
      paths));
}

async function metricsTab(v, pane, d) {
  const body = h("div", { id: "metrics" });
  pane.replaceChildren(h("p", { class: "muted" }, "From the service's Prometheus metrics (/metrics), sampled every few seconds while this tab is open; the studio keeps the last ten minutes."), body);
  const load = async () => {
    let m;
    try { m = await api("GET", `/api/services/${enc(d.name)}/metrics`); } catch (err) { if (v.live()) showError(err); return; }
    const pts = m.points;
    body.replaceChildren(
      h("div", { class: "row" }, h("span", {}, "Requests since start: "), h("strong", { id: "total-requests" }, m.total_requests ?? "—"),
        h("span", {}, " · errors: "), h("strong", { id: "total-errors" }, m.total_errors ?? "—"),
        m.error ? h("span", { class: "bad" }, ` · cannot scrape: ${m.error}`) : null),
      h("div", { class: "grid" },
        chart("Request rate (requests/s)", pts, [{ key: "rps", label: "requests/s", color: "#0969da" }], "/s"),
        chart("Latency (ms)", pts, [{ key: "p50", label: "p50", color: "#1a7f37" }, { key: "p90", label: "p90", color: "#9a6700" }, { key: "p99", label: "p99", color: "#cf222e" }], "ms"),
        chart("Errors (errors/s)", pts, [{ key: "errors", label: "errors/s (status ≥ 400)", color: "#cf222e" }], "/s")));
    // Legend colours: set through the DOM, as the CSP forbids inline style attributes.
    body.querySelectorAll("i[data-color]").forEach((i) => { i.style.background = i.dataset.color; });
  };
  await load();  // the tab is drawn (and no longer busy) with its first figures
  v.every(2000, load);
}

// The Monitoring tab: what the service collects (ModelDataCollector) and the drift detectors that
// watch it (DataDriftDetector results, kept in the workspace). Days are drawn at noon UTC.
function dayTime(day) { return Date.parse(`${day}T12:00:00Z`) / 1000; }
function dayLabel(t) { return new Date(t * 1000).toISOString().slice(0, 10); }

async function monitoringTab(v, pane, d) {
  const body = h("div", { id: "monitoring" });
  pane.replaceChildren(body);
  const load = async () => {
    let m;
    try { m = await api("GET", `/api/services/${enc(d.name)}/monitoring`); } catch (err) { if (v.live()) showError(err); return; }
    const perDay = new Map();
    for (const c of m.days) {
      const p = perDay.get(c.day) || { time: dayTime(c.day), inputs: 0, predictions: 0, other: 0 };
      p[c.designation === "inputs" || c.designation === "predictions" ? c.designation : "other"] += c.rows;
      perDay.set(c.day, p);
    }
    const points = [...perDay.values()].sort((a, b) => a.time - b.time);
    const dropped = m.counters ? Object.entries(m.counters.dropped) : [];
    const collection = h("div", { class: "card", id: "card-collection" }, h("h2", {}, "Collection"),
      kv({
        collection: h("span", { id: "collection-state" }, badge(m.collecting ? "on" : "off", "collect")),
        "kept for": m.retention_days ? `${m.retention_days} days, at most ${m.retention_mb} MB` : null,
        "rows written since start": m.counters ? String(m.counters.collected) : "— (service not answering)",
        "rows dropped since start": m.counters ? (dropped.length ? dropped.map(([r, n]) => `${n} (${r})`).join(", ") : "0") : "—",
        folder: m.folder,
      }),
      m.collecting ? null : h("p", { class: "muted" }, "Switch it on with service.update(collect_model_data=True), then collect in score.py with ModelDataCollector."));
    const table = h("div", { class: "table-wrap" }, h("table", { id: "collected-days" },
      h("thead", {}, h("tr", {}, ["Day", "Model", "Designation", "Rows", "Size"].map((c) => h("th", {}, c)))),
      h("tbody", {}, m.days.length ? m.days.slice().reverse().map((c) => h("tr", { "data-day": c.day, "data-designation": c.designation },
        h("td", {}, c.day), h("td", {}, `${c.model}:${c.version}`), h("td", {}, c.designation), h("td", { class: "rows" }, c.rows), h("td", {}, bytes(c.bytes))))
        : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "Nothing collected in the last 30 days.")))));
    const detectors = m.detectors.map((det) => {
      const pts = det.series.map((p) => ({ time: dayTime(p.start_date), share: p.drift_share, ...Object.fromEntries(Object.entries(p.features).map(([k, val]) => [`f:${k}`, val])) }));
      const colors = ["#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0550ae", "#57606a"];
      const l = det.latest;
      return h("div", { class: "card detector", "data-detector": det.name },
        h("h2", {}, `Drift: ${det.name} `, badge(l.has_drift ? "drift" : "no drift", "drift")),
        kv({ window: `${l.start_date} .. ${l.end_date}`, "drift share": `${l.drift_share.toFixed(3)} (threshold ${det.threshold})`,
          features: `${l.drifted_features} of ${l.tested_features} drifted`, rows: `baseline ${l.baseline_rows}, target ${l.target_rows}`,
          computed: when(l.computed_at),
          report: h("a", { href: `/api/services/${enc(d.name)}/monitoring/report/${enc(det.name)}`, download: "", class: "report-link" }, "Download the HTML report") }),
        h("div", { class: "grid" },
          chart("Drift share per window", pts, [{ key: "share", label: "drift share", color: "#cf222e" }], "", dayLabel, det.threshold),
          det.top_features.length
            ? chart("Most drifted features (test figure)", pts, det.top_features.map((f, i) => ({ key: `f:${f}`, label: f, color: colors[i % colors.length] })), "", dayLabel)
            : h("p", { class: "muted" }, "No feature has drifted.")),
        h("h3", {}, "Latest window, drifted features first"),
        h("div", { class: "table-wrap" }, h("table", { class: "drift-features" },
          h("thead", {}, h("tr", {}, ["Feature", "Kind", "Test", "Value", "Threshold", "Drifted", "PSI"].map((c) => h("th", {}, c)))),
          h("tbody", {}, l.features.map((f) => h("tr", { "data-feature": f.name, class: f.drifted ? "bad" : null },
            h("td", {}, f.name), h("td", {}, f.kind), h("td", {}, f.method),
            h("td", {}, f.value === null ? "—" : Number(f.value).toPrecision(4)), h("td", {}, f.threshold),
            h("td", {}, f.drifted ? "yes" : "no"), h("td", {}, f.psi === null || f.psi === undefined ? "—" : Number(f.psi).toPrecision(3))))))));
    });
    body.replaceChildren(
      h("div", { class: "grid" }, collection,
        chart("Rows collected per day", points, [{ key: "inputs", label: "inputs", color: "#0969da" }, { key: "predictions", label: "predictions", color: "#1a7f37" }, { key: "other", label: "other", color: "#9a6700" }], "", dayLabel)),
      table,
      ...(detectors.length ? detectors : [h("p", { class: "muted", id: "no-detectors" }, "No drift detector watches this service: `modelport monitor drift --service " + d.name + "` makes one.")]));
    body.querySelectorAll("i[data-color]").forEach((i) => { i.style.background = i.dataset.color; });
  };
  await load();
  v.every(5000, load);
}

// -- models --------------------------------------------------------------------------------------
async function modelsPage(v, message) {
  const list = await v.api("GET", "/api/models");
  const rows = list.flatMap((m) => m.versions.map((v) => h("tr", { "data-model": v.id },
    h("td", {}, v.name), h("td", {}, h("a", { href: `#/models/${enc(v.name)}/${v.version}` }, `v${v.version}`)),
    h("td", {}, [v.framework, v.framework_version].filter(Boolean).join(" ") || "—"),
    h("td", {}, bytes(v.size)), h("td", {}, tags(v.tags)), h("td", { class: "hide-narrow" }, tags(v.properties)),
    h("td", { class: "hide-narrow" }, when(v.created_time)),
    h("td", {}, v.services.length ? v.services.map((s) => h("div", {}, h("a", { href: `#/services/${enc(s)}` }, s))) : "—"))));
  const name = h("input", { id: "upload-name", required: true, placeholder: "sklearn_mnist" });
  const file = h("input", { id: "upload-file", type: "file", required: true });
  const tagInput = h("input", { id: "upload-tags", placeholder: "key=value, key2=value2" });
  const description = h("input", { id: "upload-description" });
  const said = h("div", { id: "upload-message" }, message ? h("span", { class: "ok" }, message) : null);
  const upload = async (ev) => {
    ev.preventDefault();
    const chosen = file.files[0];
    if (!chosen) { said.replaceChildren(h("span", { class: "bad" }, "Choose a file.")); return; }
    const tagObj = {};
    for (const pair of tagInput.value.split(",").map((s) => s.trim()).filter(Boolean)) {
      const [k, ...rest] = pair.split("=");
      tagObj[k.trim()] = rest.join("=").trim();
    }
    const q = new URLSearchParams({ filename: chosen.name, tags: JSON.stringify(tagObj), description: description.value });
    try {
      const r = await api("POST", `/api/models/${enc(name.value)}?${q}`, chosen);
      await route(`Registered ${r.name} version ${r.version}.`);  // the list again, with the new version
    } catch (err) {
      said.replaceChildren(h("span", { class: "bad" }, String(err.message)));
    }
  };
  setMain(v,
    h("h1", {}, "Models"),
    h("div", { class: "table-wrap" }, h("table", { id: "models" },
      h("thead", {}, h("tr", {}, ["Name", "Version", "Framework", "Size", "Tags", "Properties", "Created", "Used by"].map((c, i) => h("th", { class: [5, 6].includes(i) ? "hide-narrow" : null }, c)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No models registered yet."))))),
    h("h2", {}, "Register a new version by upload"),
    h("form", { class: "upload", onsubmit: upload },
      h("label", {}, "Name"), name, h("label", {}, "File"), file, h("label", {}, "Tags"), tagInput,
      h("label", {}, "Description"), description, h("span"), h("button", { class: "primary", type: "submit", id: "upload" }, "Register")),
    said,
  );
}

async function modelVersionPage(view, name, version) {
  const v = await view.api("GET", `/api/models/${enc(name)}/${enc(version)}`);
  setMain(view,
    h("div", { class: "muted" }, h("a", { href: "#/models" }, "Models"), " / ", `${v.name}:${v.version}`),
    h("h1", {}, `${v.name}`, h("span", { class: "muted" }, `version ${v.version}`)),
    h("div", { class: "grid" },
      h("div", { class: "card" }, h("h2", {}, "Version"), kv({
        id: v.id, kind: v.kind, framework: [v.framework, v.framework_version].filter(Boolean).join(" "),
        size: bytes(v.size), files: v.file_count, created: when(v.created_time), description: v.description,
      })),
      h("div", { class: "card" }, h("h2", {}, "Tags"), kv(v.tags), h("h2", {}, "Properties"), kv(v.properties),
        h("h2", {}, "Used by"), v.services.length ? v.services.map((s) => h("div", {}, h("a", { href: `#/services/${enc(s)}` }, s))) : h("span", { class: "muted" }, "no service"))),
    h("h2", {}, "Files"),
    h("div", { class: "table-wrap" }, h("table", { id: "files" },
      h("thead", {}, h("tr", {}, h("th", {}, "Path"), h("th", {}, "Size"), h("th", {}, "sha256"))),
      h("tbody", {}, v.files.map((f) => h("tr", {}, h("td", {}, f.path), h("td", {}, bytes(f.size)), h("td", { class: "uri" }, f.sha256)))))),
  );
}

// -- environments --------------------------------------------------------------------------------
async function environmentsPage(v) {
  const list = await v.api("GET", "/api/environments");
  const rows = list.flatMap((e) => e.versions.map((v) => h("tr", { "data-environment": `${e.name}:${v.version}` },
    h("td", {}, e.name), h("td", {}, v.version),
    h("td", {}, Object.keys(v.spec).length
      ? kv(Object.fromEntries(Object.entries(v.spec).map(([k, val]) => [k, Array.isArray(val) ? packages(val) : val])))
      : h("span", { class: "muted" }, "(empty)")),
    h("td", {}, badge(v.build.state, "build"), v.build.detail ? h("div", { class: "muted uri" }, v.build.detail) : null,
      ...(v.build.replaced || []).map((line) => h("div", { class: "replaced" }, line))),
    h("td", {}, v.build.size !== null ? bytes(v.build.size) : "—"))));
  setMain(v,
    h("h1", {}, "Environments"),
    h("p", { class: "muted" }, "Each environment becomes a cached virtualenv, built at its first deployment and shared by equal specs."),
    h("div", { class: "table-wrap" }, h("table", { id: "environments" },
      h("thead", {}, h("tr", {}, ["Name", "Version", "Pinned spec", "Build", "Cache size"].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No environments registered yet."))))),
  );
}

// -- start ---------------------------------------------------------------------------------------
async function start() {
  try {
    const session = await api("GET", "/api/session");
    state.csrf = session.csrf;
    document.getElementById("workspace").textContent = `workspace: ${session.workspace} · modelport ${session.version}`;
  } catch (err) {
    showError(err);
    return;
  }
  window.addEventListener("hashchange", () => route());
  await route();
}

start();
