// GridWatch dispatcher console: plain JavaScript against /v1 (no framework, no build, no CDN).
// The queue is loaded over REST; /v1/feed (Server-Sent Events) then keeps it current. The feed's
// "ready" event reloads the list, so nothing is lost between a (re)connect and the first change.
"use strict";

const STATUS = { open: "待处理 open", assigned: "已派遣 assigned", in_progress: "处置中 in progress",
  resolved: "已办结 resolved", closed: "已结案 closed", dismissed: "已排除 dismissed" };
const ACTIVE = ["open", "assigned", "in_progress"];
const RISK = { red: "红 red", orange: "橙 orange", yellow: "黄 yellow", blue: "蓝 blue", green: "绿 green" };
const CATEGORY = { fire: "火情 fire", crowd: "人群聚集 crowd", parking: "违停 parking", alarm: "一键报警 alarm",
  device: "设备 device", hazard: "隐患 hazard", dispute: "纠纷 dispute", other: "其他 other" };
const ACTION = { assign: "派遣 Assign", start: "开始处置 Start", resolve: "办结 Resolve", close: "结案 Close",
  dismiss: "排除误报 Dismiss", reopen: "重新打开 Reopen", escalate: "升级 Escalate" };
const LEVEL = { grid: "网格 grid", community: "社区 community", street: "街道 street", district: "区 district" };
const PAGE = 50;
const SILENT_S = 300; // a device unheard for 5 minutes is shown as suspicious even if not yet marked offline

const state = { incidents: new Map(), total: 0, offset: 0, selected: null, grids: new Map() };
const $ = (sel) => document.querySelector(sel);

// Build DOM with textContent only: incident text comes from the field and must never become HTML.
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}) {
  const res = await fetch(path, { headers: { "Content-Type": "application/json" }, ...options });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, body.message || body.detail || res.statusText);
  return body;
}

const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : "—");
function ago(iso) {
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.round(s)} 秒前`;
  if (s < 3600) return `${Math.round(s / 60)} 分钟前`;
  if (s < 86400) return `${Math.round(s / 3600)} 小时前`;
  return `${Math.round(s / 86400)} 天前`;
}
const gridName = (id) => (id && state.grids.get(id) ? `${state.grids.get(id).name || id} (${id})` : id || "网格外 outside");
const riskChip = (risk) => el("span", { class: `chip risk-${risk}` }, RISK[risk] || risk);
const statusBadge = (status) => el("span", { class: `status status-${status}` }, STATUS[status] || status);
const levelBadge = (level) => el("span", { class: `level level-${level}` }, LEVEL[level] || level);
// When the incident goes up a level unless someone acts: "in 4 min", or "overdue" until the ingest's next round.
function untilEscalation(iso) {
  if (!iso) return "";
  const s = (new Date(iso).getTime() - Date.now()) / 1000;
  if (s <= 0) return "升级中 escalating";
  return s < 3600 ? `${Math.ceil(s / 60)} 分钟后升级 escalates in ${Math.ceil(s / 60)} min`
    : `${Math.round(s / 3600)} 小时后升级 escalates in ${Math.round(s / 3600)} h`;
}

// ---- filters ---------------------------------------------------------------------------------
function buildFilters() {
  const boxes = $("#status-boxes");
  for (const [value, label] of Object.entries(STATUS)) {
    boxes.append(el("label", {}, el("input", { type: "checkbox", name: "status", value, checked: ACTIVE.includes(value) }), label));
  }
  for (const [value, label] of Object.entries(CATEGORY)) $("#f-category").append(el("option", { value }, label));
  for (const [value, label] of Object.entries(RISK)) $("#f-risk").append(el("option", { value }, label));
  for (const [value, label] of Object.entries(LEVEL)) $("#f-level").append(el("option", { value }, label));
  $("#filters").addEventListener("change", () => loadIncidents());
  $("#reload").addEventListener("click", () => loadIncidents());
  $("#more").addEventListener("click", () => loadIncidents(false));
}

function currentFilters() {
  const form = new FormData($("#filters"));
  return { status: form.getAll("status"), category: form.get("category"), grid_id: form.get("grid_id"), risk: form.get("risk"),
    level: form.get("level") };
}

function matches(incident, f) {
  return (f.status.length === 0 || f.status.includes(incident.status))
    && (!f.category || incident.category === f.category)
    && (!f.risk || incident.risk === f.risk)
    && (!f.level || incident.level === f.level)
    && (!f.grid_id || incident.grid_id === f.grid_id || (incident.grid_path || []).includes(f.grid_id));
}

async function loadGrids() {
  try {
    const grids = await api("/v1/grids");
    const depth = { district: 0, street: 1, community: 2, grid: 3, micro_grid: 4 };
    for (const g of grids) {
      state.grids.set(g.id, g);
      $("#f-grid").append(el("option", { value: g.id }, `${"\u00a0\u00a0".repeat(depth[g.level] || 0)}${g.name || g.id} · ${g.id}`));
    }
  } catch (err) { console.warn("grids", err); }
}

// ---- incident queue --------------------------------------------------------------------------
async function loadIncidents(reset = true) {
  const f = currentFilters();
  const q = new URLSearchParams();
  f.status.forEach((s) => q.append("status", s));
  for (const k of ["category", "grid_id", "risk", "level"]) if (f[k]) q.set(k, f[k]);
  q.set("limit", PAGE);
  q.set("offset", reset ? 0 : state.offset);
  try {
    const page = await api(`/v1/incidents?${q}`);
    if (reset) state.incidents.clear();
    page.items.forEach((i) => state.incidents.set(i.id, i));
    state.total = page.total;
    state.offset = page.offset + page.items.length;
    renderList();
  } catch (err) {
    $("#count").textContent = `加载失败 failed to load: ${err.message}`;
  }
}

function renderList(flashId) {
  const list = $("#incident-list");
  const items = [...state.incidents.values()].sort((a, b) => b.last_seen.localeCompare(a.last_seen));
  list.replaceChildren(...items.map((i) => el("li", {
    class: [i.id === state.selected ? "selected" : "", i.id === flashId ? "flash" : ""].join(" ").trim(),
    "data-id": i.id, onclick: () => selectIncident(i.id),
  },
  riskChip(i.risk),
  el("span", { class: "title" }, `${CATEGORY[i.category] || i.category} · ${gridName(i.grid_id)}`),
  levelBadge(i.level),
  statusBadge(i.status),
  el("span", { class: "meta" }, [`${i.id} · 告警 ${i.alert_ids.length} · 上报 ${i.report_ids.length} · 最近 ${ago(i.last_seen)}`,
    i.escalates_at ? ` · ${untilEscalation(i.escalates_at)}` : ""].join("")))));
  $("#count").textContent = `共 ${state.total} 件 · ${state.total} incidents (showing ${items.length})`;
  $("#more").hidden = items.length >= state.total;
}

// A change from the feed: update in place, add if it now matches the filters, drop if it no longer does.
function applyChange(incident) {
  const known = state.incidents.has(incident.id);
  if (matches(incident, currentFilters())) {
    if (!known) state.total += 1;
    state.incidents.set(incident.id, incident);
  } else if (known) {
    state.incidents.delete(incident.id);
    state.total -= 1;
  }
  renderList(incident.id);
  if (state.selected === incident.id) selectIncident(incident.id);
}

// ---- detail pane -----------------------------------------------------------------------------
async function selectIncident(id) {
  state.selected = id;
  document.querySelectorAll("#incident-list li").forEach((li) => li.classList.toggle("selected", li.dataset.id === id));
  try {
    renderDetail(await api(`/v1/incidents/${encodeURIComponent(id)}`));
  } catch (err) {
    $("#detail").replaceChildren(el("p", { class: "error" }, err.message));
  }
}

function renderDetail(i) {
  const pane = $("#detail");
  pane.classList.remove("empty");
  pane.replaceChildren(
    el("h2", {}, riskChip(i.risk), `${CATEGORY[i.category] || i.category}`, statusBadge(i.status)),
    el("div", { class: "muted" }, i.id),
    el("dl", { class: "facts" },
      el("dt", {}, "网格 Grid"), el("dd", {}, gridName(i.grid_id), el("span", { class: "muted" }, i.grid_path.length ? `  ← ${i.grid_path.slice(1).join(" ← ")}` : "")),
      el("dt", {}, "层级 Level"), el("dd", {}, levelBadge(i.level),
        i.escalated_at ? el("span", { class: "muted" }, `  升级于 escalated ${fmtTime(i.escalated_at)}`) : ""),
      el("dt", {}, "升级时限 Escalates"), el("dd", {}, i.escalates_at
        ? `${fmtTime(i.escalates_at)} (${untilEscalation(i.escalates_at)})` : "— 不再升级 no further escalation"),
      el("dt", {}, "位置 Position"), el("dd", {}, `${i.lat.toFixed(6)}, ${i.lon.toFixed(6)}`),
      el("dt", {}, "首次 First seen"), el("dd", {}, fmtTime(i.first_seen)),
      el("dt", {}, "最近 Last seen"), el("dd", {}, `${fmtTime(i.last_seen)} (${ago(i.last_seen)})`)),
    el("div", { class: "actions" }, i.allowed_actions.length
      ? i.allowed_actions.map((a) => el("button", { type: "button", class: a, onclick: () => openAction(i, a) }, ACTION[a] || a))
      : el("span", { class: "muted" }, "无可用操作 no actions")),
    snapshotGallery(i.snapshots || []),
    el("h3", {}, `成员 Members (${i.members.length}) · 为何并入 why each joined`),
    membersTable(i.members, new Map((i.snapshots || []).map((s) => [s.alert_id, s.url]))),
    el("h3", {}, "处置记录 History"),
    el("ol", { class: "timeline" }, i.history.map((h) => el("li", {},
      el("div", { class: "when" }, `${fmtTime(h.at)} · ${h.actor}`),
      el("div", {}, el("b", {}, ACTION[h.action] || h.action), " → ", statusBadge(h.status)),
      h.reason ? el("div", {}, h.reason) : ""))),
  );
}

// Evidence pictures the edge took when raising the incident's alerts (GET /v1/alerts/{id}/snapshot).
function snapshotGallery(snapshots) {
  if (!snapshots.length) return "";
  return el("div", { class: "snapshots" },
    el("h3", {}, `现场截图 Snapshots (${snapshots.length})`),
    el("div", { class: "gallery" }, snapshots.map((s) => el("figure", {},
      el("a", { href: s.url, target: "_blank", rel: "noopener" },
        el("img", { src: s.url, alt: `snapshot of alert ${s.alert_id}`, loading: "lazy" })),
      el("figcaption", {}, `${s.camera_id} · ${fmtTime(s.taken_at)}`)))));
}

function membersTable(members, snapshotUrls = new Map()) {
  if (!members.length) return el("p", { class: "muted" }, "无 none");
  const idCell = (m) => snapshotUrls.has(m.id)
    ? el("td", {}, m.id, " ", el("a", { href: snapshotUrls.get(m.id), target: "_blank", rel: "noopener", title: "snapshot" }, "📷"))
    : el("td", {}, m.id);
  return el("table", { class: "grid-table" },
    el("thead", {}, el("tr", {}, ["类型 Kind", "编号 Id", "规则 Rule", "距离 m", "间隔 s"].map((h) => el("th", {}, h)))),
    el("tbody", {}, members.map((m) => el("tr", {},
      el("td", {}, m.kind === "alert" ? "告警 alert" : "上报 report"), idCell(m), el("td", {}, m.rule),
      el("td", {}, m.distance_m == null ? "—" : m.distance_m.toFixed(1)), el("td", {}, m.gap_s == null ? "—" : m.gap_s.toFixed(0))))));
}

// ---- lifecycle actions -----------------------------------------------------------------------
function openAction(incident, action) {
  const dialog = $("#action-dialog");
  const form = $("#action-form");
  form.reset();
  form.actor.value = localStorage.getItem("gridwatch.actor") || "";
  $("#action-title").textContent = `${ACTION[action] || action} · ${incident.id}`;
  $("#assignee-row").hidden = action !== "assign";
  form.assignee.required = action === "assign";
  $("#action-error").textContent = "";
  form.onsubmit = async (event) => {
    event.preventDefault();
    if (event.submitter && event.submitter.value === "cancel") { dialog.close(); return; }
    const body = { action, actor: form.actor.value.trim(), reason: form.reason.value.trim() };
    if (action === "assign") body.assignee = form.assignee.value.trim();
    try {
      const updated = await api(`/v1/incidents/${encodeURIComponent(incident.id)}/transitions`, { method: "POST", body: JSON.stringify(body) });
      localStorage.setItem("gridwatch.actor", body.actor);
      dialog.close();
      renderDetail(updated);
      applyChange(updated);
    } catch (err) {
      $("#action-error").textContent = err.message; // e.g. 409: allowed from resolved: close, reopen
    }
  };
  dialog.showModal();
}

// ---- devices and dead letters ----------------------------------------------------------------
async function loadDevices() {
  const q = new URLSearchParams({ limit: 500 });
  if ($("#only-offline").checked) q.set("status", "offline");
  try {
    const page = await api(`/v1/devices?${q}`);
    $("#device-rows").replaceChildren(...page.items.map((d) => el("tr", {
      class: d.status === "offline" ? "offline" : d.silent_s > SILENT_S ? "silent" : "",
    },
    el("td", {}, d.device_id), el("td", {}, d.device_type), el("td", {}, d.site_id),
    el("td", {}, d.status === "offline" ? "离线 offline" : d.status === "online" ? "在线 online" : d.status),
    el("td", {}, fmtTime(d.last_seen)), el("td", {}, ago(d.last_seen)))));
  } catch (err) {
    $("#device-rows").replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "error" }, err.message)));
  }
}

async function loadDeadLetters() {
  const q = new URLSearchParams({ limit: 200 });
  if ($("#dl-source").value) q.set("source", $("#dl-source").value);
  try {
    const page = await api(`/v1/dead-letters?${q}`);
    $("#dl-rows").replaceChildren(...page.items.map((d) => el("tr", {},
      el("td", {}, fmtTime(d.received_at)), el("td", {}, d.source), el("td", {}, d.key || "—"),
      el("td", { class: "wrap" }, d.reason), el("td", { class: "payload" }, d.payload.length > 600 ? `${d.payload.slice(0, 600)}…` : d.payload))));
  } catch (err) {
    $("#dl-rows").replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "error" }, err.message)));
  }
}

// ---- tabs and live feed ----------------------------------------------------------------------
function showTab(name) {
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.dataset.tab === name));
  document.querySelectorAll(".tab-panel").forEach((p) => p.classList.toggle("active", p.id === `tab-${name}`));
  if (name === "devices") loadDevices();
  if (name === "deadletters") loadDeadLetters();
}

function connectFeed() {
  const live = $("#live");
  const source = new EventSource("/v1/feed"); // reconnects by itself, resuming with Last-Event-ID
  source.addEventListener("ready", () => {
    live.className = "live on";
    live.textContent = "● 实时 live";
    loadIncidents();
  });
  source.addEventListener("incident", (e) => applyChange(JSON.parse(e.data)));
  source.onerror = () => {
    live.className = "live off";
    live.textContent = "● 实时中断 reconnecting…";
  };
}

document.addEventListener("DOMContentLoaded", async () => {
  buildFilters();
  document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => showTab(t.dataset.tab)));
  $("#reload-devices").addEventListener("click", loadDevices);
  $("#only-offline").addEventListener("change", loadDevices);
  $("#reload-dl").addEventListener("click", loadDeadLetters);
  $("#dl-source").addEventListener("change", loadDeadLetters);
  await loadGrids();
  await loadIncidents();
  const params = new URLSearchParams(location.search); // deep links: ?tab=devices, ?incident=i-..., ?live=0
  if (params.get("live") !== "0") connectFeed(); // live=0: a static view (headless screenshots, printing)
  else $("#live").textContent = "● 实时关闭 live off";
  if (params.get("tab")) showTab(params.get("tab"));
  if (params.get("incident")) selectIncident(params.get("incident"));
});
