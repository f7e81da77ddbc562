// The Switchboard admin page: Connect JSON calls to
// switchboard.admin.v1.AdminService with an admin API key from sessionStorage.

const service = "/switchboard.admin.v1.AdminService/";
const $ = (id) => document.getElementById(id);
let key = sessionStorage.getItem("switchboard-admin-key") || "";

class RPCError extends Error {
  constructor(code, message) { super(`${code}: ${message}`); this.code = code; }
}

// call is a Connect unary call with JSON.
async function call(method, body = {}) {
  const res = await fetch(service + method, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Authorization": `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new RPCError(data.code || `http_${res.status}`, data.message || res.statusText);
  return data;
}

// stream is a Connect server-streaming call with JSON: enveloped messages,
// the last one (flag 2) carrying the end of the stream.
async function stream(method, body, onMessage, signal) {
  const payload = new TextEncoder().encode(JSON.stringify(body));
  const frame = new Uint8Array(5 + payload.length);
  new DataView(frame.buffer).setUint32(1, payload.length);
  frame.set(payload, 5);
  const res = await fetch(service + method, {
    method: "POST", signal, body: frame,
    headers: { "Content-Type": "application/connect+json", "Authorization": `Bearer ${key}` },
  });
  if (!res.ok) {
    const data = await res.json().catch(() => ({}));
    throw new RPCError(data.code || `http_${res.status}`, data.message || res.statusText);
  }
  const reader = res.body.getReader();
  let buf = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const next = new Uint8Array(buf.length + value.length);
    next.set(buf); next.set(value, buf.length); buf = next;
    while (buf.length >= 5) {
      const len = new DataView(buf.buffer, buf.byteOffset).getUint32(1);
      if (buf.length < 5 + len) break;
      const flags = buf[0];
      const msg = JSON.parse(new TextDecoder().decode(buf.subarray(5, 5 + len)));
      buf = buf.slice(5 + len);
      if (flags & 2) {
        if (msg.error) throw new RPCError(msg.error.code, msg.error.message);
        return;
      }
      onMessage(msg);
    }
  }
}

function say(text, isError = false) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

// Formatting: protojson sends int64 as strings and durations as "1.5s".
const num = (v) => Number(v || 0);
const seconds = (d) => (d ? parseFloat(d) : 0);
function ms(d) {
  const s = seconds(d);
  return s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(s * 1000 >= 10 ? 0 : 1)} ms`;
}
const pct = (r) => `${((r || 0) * 100).toFixed(1)} %`;
const when = (t) => (t ? new Date(t).toLocaleString() : "–");
const codeClass = (c) => (c === "ok" ? "code-ok" : "code-err");

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function row(...cells) {
  const tr = document.createElement("tr");
  tr.append(...cells.map((c) => (c instanceof Node ? c : cell(String(c)))));
  return tr;
}

// ---- overview

function windowValue() { return { last: $("window").value }; }

async function showOverview() {
  const [ov, tl, inst] = await Promise.all([
    call("GetOverview", { window: windowValue() }),
    call("GetTimeline", { window: windowValue() }),
    call("ListInstances"),
  ]);
  const st = ov.stats || {};
  $("ov-rate").textContent = (ov.callsPerMinute || 0).toFixed(2);
  $("ov-count").textContent = num(st.count);
  $("ov-errors").textContent = pct(st.errorRate);
  $("ov-p95").textContent = ms(st.p95Latency);
  $("ov-dropped").textContent = num(ov.logDropped);
  drawTimeline(tl.points || []);
  $("instances").querySelector("tbody").replaceChildren(...(inst.instances || []).map((i) =>
    row(i.id, i.host, i.address, i.version, when(i.startTime), when(i.lastSeenTime), num(i.inFlight),
      cell(i.up ? "up" : "down", i.up ? "up" : "down"))));
}

// drawTimeline draws calls per step as bars, errors stacked in red, as SVG.
function drawTimeline(points) {
  const svgNS = "http://www.w3.org/2000/svg";
  const w = 1000, h = 160, pad = 18;
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  const max = Math.max(1, ...points.map((p) => num(p.stats?.count)));
  const bw = (w - 2 * pad) / Math.max(1, points.length);
  const el = (name, attrs) => {
    const e = document.createElementNS(svgNS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  points.forEach((p, i) => {
    const count = num(p.stats?.count);
    const errors = count - num(p.stats?.byCode?.ok);
    const x = pad + i * bw;
    const hh = ((h - 2 * pad) * count) / max;
    const he = ((h - 2 * pad) * errors) / max;
    if (count > 0) {
      const bar = el("rect", { x, y: h - pad - hh, width: Math.max(1, bw - 1), height: hh, class: "bar" });
      const title = document.createElementNS(svgNS, "title");
      title.textContent = `${when(p.start)}: ${count} calls, ${errors} errors`;
      bar.append(title);
      svg.append(bar);
    }
    if (errors > 0) svg.append(el("rect", { x, y: h - pad - he, width: Math.max(1, bw - 1), height: he, class: "bar-err" }));
  });
  const label = el("text", { x: pad, y: 12 });
  label.textContent = `max ${max} per ${points.length > 0 ? "bucket" : "–"}`;
  svg.append(label);
  $("timeline").replaceChildren(svg);
}

// ---- services

let methods = [];
let sortKey = "procedure", sortDesc = false;

async function showServices() {
  const res = await call("ListServices", { window: windowValue() });
  methods = (res.methods || []).map((m) => ({
    procedure: m.procedure, streamType: m.streamType, access: m.access,
    count: num(m.stats?.count), errorRate: m.stats?.errorRate || 0,
    p50: seconds(m.stats?.p50Latency), p95: seconds(m.stats?.p95Latency), p99: seconds(m.stats?.p99Latency),
  }));
  renderMethods();
}

function renderMethods() {
  const sorted = [...methods].sort((a, b) => {
    const x = a[sortKey], y = b[sortKey];
    const c = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
    return sortDesc ? -c : c;
  });
  $("methods").querySelector("tbody").replaceChildren(...sorted.map((m) =>
    row(m.procedure, m.streamType, m.access, m.count, pct(m.errorRate), ms(`${m.p50}s`), ms(`${m.p95}s`), ms(`${m.p99}s`))));
}

// ---- request logs

let logToken = "";
let tailAbort = null;

function logFilter() {
  const f = Object.fromEntries(new FormData($("log-filter")).entries());
  for (const k of Object.keys(f)) if (!f[k]) delete f[k];
  return f;
}

function logRow(l) {
  const method = l.httpRoute ? `${l.procedure} (${l.httpMethod} ${l.httpRoute})` : l.procedure;
  const tr = row(when(l.startTime), method, cell(l.code, codeClass(l.code)), ms(l.duration), l.keyId || "–", l.peerIp || "");
  tr.dataset.requestId = l.requestId;
  tr.addEventListener("click", () => showLog(l));
  return tr;
}

async function showLogs(more = false) {
  if (!more) logToken = "";
  const res = await call("ListRequestLogs", { ...logFilter(), pageSize: 25, pageToken: logToken });
  const body = $("log-table").querySelector("tbody");
  const rows = (res.logs || []).map(logRow);
  if (more) body.append(...rows); else body.replaceChildren(...rows);
  logToken = res.nextPageToken || "";
  $("log-more").hidden = !logToken;
}

function showLog(l) {
  const box = $("log-detail");
  const dl = document.createElement("dl");
  const add = (k, v) => { if (v === undefined || v === "") return; const dt = document.createElement("dt"); dt.textContent = k; const dd = document.createElement("dd"); dd.textContent = v; dl.append(dt, dd); };
  add("Request id", l.requestId); add("Method", l.procedure); add("Shape", l.streamType);
  add("Protocol", `${l.protocol} over ${l.httpVersion}`); add("REST route", l.httpRoute ? `${l.httpMethod} ${l.httpRoute}` : "");
  add("Code", l.code); add("Message", l.errorMessage);
  add("Reason", l.errorReason); add("Started", when(l.startTime)); add("Duration", ms(l.duration));
  add("Peer", l.peerIp); add("User agent", l.userAgent); add("Key", l.keyId ? `${l.keyId} (${l.keyName})` : "");
  add("Sizes", `${num(l.requestBytes)} B in / ${num(l.responseBytes)} B out, ${num(l.messagesReceived)} / ${num(l.messagesSent)} messages`);
  const h = document.createElement("h3");
  h.textContent = "Call " + l.requestId;
  box.replaceChildren(h, dl);
  for (const d of l.errorDetails ? JSON.parse(l.errorDetails) : []) {
    const type = (d["@type"] || "").split("/").pop();
    const title = document.createElement("h4");
    title.textContent = type;
    box.append(title);
    if (type === "google.rpc.BadRequest") {
      const ul = document.createElement("ul");
      ul.className = "violations";
      for (const v of d.fieldViolations || []) {
        const li = document.createElement("li");
        li.textContent = `${v.field}: ${v.description}`;
        ul.append(li);
      }
      box.append(ul);
    } else {
      const pre = document.createElement("pre");
      const { "@type": _, ...rest } = d;
      pre.textContent = JSON.stringify(rest, null, 2);
      box.append(pre);
    }
  }
  for (const [label, payload] of [["Request", l.requestPayload], ["Response", l.responsePayload]]) {
    if (!payload) continue;
    const pre = document.createElement("pre");
    pre.textContent = `${label}: ${payload}`;
    box.append(pre);
  }
  box.hidden = false;
}

function toggleTail(on) {
  tailAbort?.abort();
  tailAbort = null;
  if (!on) return;
  const abort = new AbortController();
  tailAbort = abort;
  const f = logFilter();
  stream("WatchRequestLogs", { service: f.service, method: f.method, code: f.code }, (msg) => {
    $("log-table").querySelector("tbody").prepend(logRow(msg.log));
  }, abort.signal).catch((err) => { if (!abort.signal.aborted) say(`Live tail stopped — ${err.message}`, true); });
}

// ---- keys

async function showKeys() {
  const res = await call("ListApiKeys");
  $("key-table").querySelector("tbody").replaceChildren(...(res.keys || []).map((k) => {
    const btn = document.createElement("button");
    btn.textContent = "Revoke";
    btn.disabled = k.status !== "active";
    btn.addEventListener("click", async () => {
      if (!confirm(`Revoke key ${k.id} (${k.name})?`)) return;
      await guard(async () => { await call("RevokeApiKey", { id: k.id }); say(`Revoked ${k.id}.`); await showKeys(); });
    });
    const tr = row(k.id, k.name, (k.scopes || []).join(", "), k.status, when(k.createTime), when(k.expireTime), when(k.lastUsedTime), btn);
    tr.dataset.keyId = k.id;
    return tr;
  }));
}

async function createKey(ev) {
  ev.preventDefault();
  const body = {
    name: $("key-name").value,
    scopes: $("key-scopes").value.split(",").map((s) => s.trim()).filter(Boolean),
  };
  if ($("key-ttl").value) body.ttl = $("key-ttl").value;
  const res = await call("CreateApiKey", body);
  $("new-key-secret").textContent = res.secret;
  $("new-key").hidden = false;
  $("key-form").reset();
  say(`Created key ${res.key.id}.`);
  await showKeys();
}

// ---- navigation

const shows = { overview: showOverview, services: showServices, logs: () => showLogs(), keys: showKeys };
let current = "overview";

async function guard(fn) {
  try {
    await fn();
  } catch (err) {
    if (err.code === "unauthenticated") { signOut(); say("The key was refused; sign in again.", true); return; }
    say(err.message, true);
  }
}

function open(tab) {
  current = tab;
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== tab;
  for (const b of document.querySelectorAll("nav button[data-tab]")) b.classList.toggle("active", b.dataset.tab === tab);
  if (tab !== "logs") { $("live-tail").checked = false; toggleTail(false); }
  return guard(shows[tab]);
}

function signOut() {
  key = "";
  sessionStorage.removeItem("switchboard-admin-key");
  toggleTail(false);
  $("tabs").hidden = true;
  for (const s of document.querySelectorAll(".tab")) s.hidden = true;
  $("signin").hidden = false;
}

async function signIn(candidate) {
  key = candidate;
  try {
    await call("GetOverview", {});
  } catch (err) {
    signOut();
    say(err.code === "permission_denied" ? "That key lacks the admin scope (admin or admin.read)." : `Sign-in failed — ${err.message}`, true);
    return;
  }
  sessionStorage.setItem("switchboard-admin-key", key);
  $("signin").hidden = true;
  $("tabs").hidden = false;
  say("");
  await open("overview");
}

$("signin-form").addEventListener("submit", (ev) => { ev.preventDefault(); signIn($("signin-key").value.trim()); });
$("sign-out").addEventListener("click", signOut);
for (const b of document.querySelectorAll("nav button[data-tab]")) b.addEventListener("click", () => open(b.dataset.tab));
$("window").addEventListener("change", () => open("overview"));
for (const th of document.querySelectorAll("th[data-sort]")) {
  th.addEventListener("click", () => {
    sortDesc = sortKey === th.dataset.sort ? !sortDesc : th.dataset.sort !== "procedure";
    sortKey = th.dataset.sort;
    renderMethods();
  });
}
$("log-filter").addEventListener("submit", (ev) => { ev.preventDefault(); guard(() => showLogs()); });
$("log-more").addEventListener("click", () => guard(() => showLogs(true)));
$("live-tail").addEventListener("change", (ev) => toggleTail(ev.target.checked));
$("key-form").addEventListener("submit", (ev) => guard(() => createKey(ev)));
$("copy-key").addEventListener("click", () => navigator.clipboard?.writeText($("new-key-secret").textContent));

if (key) signIn(key); else signOut();
