// clipvg editor: plain JS, no build step. Talks to the JSON API under /api/.
"use strict";

const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";
const COLORS = ["#e8590c", "#1c7ed6", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#e03131", "#5f3dc4"];
const ADVANCED = [
  ["patches", "Patches per region", 1], ["crop_ratio", "Patch size ratio", 0.05],
  ["roi_weight", "Region weight", 1], ["patch_weight", "Patch weight", 1],
  ["shape_lr", "Shape step (px)", 0.05], ["color_lr", "Colour step", 0.005],
  ["feather", "Feather (px)", 0.5], ["save_every", "Snapshot every", 1],
  ["batch_size", "Crops per CLIP pass", 1],
];

const state = {
  info: null, scene: null, regions: [], selected: null, tool: "box", zoom: 1,
  job: null, events: null, lastEvent: -1, history: [], drag: null, draft: null, nextColor: 0,
};

async function api(method, url, body) {
  const opts = { method, headers: {} };
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["content-type"] = "application/json"; }
  const r = await fetch(url, opts);
  const data = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
  return data;
}

function setStatus(el, text, kind) {
  el.textContent = "";
  if (kind === "busy") { const s = document.createElement("span"); s.className = "spinner"; el.appendChild(s); }
  el.appendChild(document.createTextNode(text));
  el.classList.toggle("error", kind === "error");
}

// ---- start-up -----------------------------------------------------------------
async function init() {
  state.info = await api("GET", "/api/info");
  const clip = state.info.clip;
  if (!clip.ready) {
    $("clip-banner").hidden = false;
    $("clip-message").textContent = "CLIP weights are missing: " + clip.message;
  } else if (clip.random) {
    $("clip-banner").hidden = false;
    $("clip-message").textContent = `CLIP ${clip.model} has RANDOM weights: edits are meaningless (for trying the pipeline only).`;
    $("random-weights").parentElement.hidden = true;
  }
  for (const name of state.info.examples) {
    const o = document.createElement("option"); o.value = o.textContent = name; $("example").appendChild(o);
  }
  const d = state.info.defaults;
  $("iters").value = d.iters;
  for (const [key, label, step] of ADVANCED) {
    const l = document.createElement("label"); l.textContent = label + " ";
    const i = document.createElement("input"); i.type = "number"; i.id = "adv-" + key; i.step = step; i.value = d[key];
    l.appendChild(i); $("advanced").appendChild(l);
  }
  bindUi();
  refreshRuns();
}

function bindUi() {
  $("file").addEventListener("change", (e) => { if (e.target.files[0]) upload(e.target.files[0]); e.target.value = ""; });
  const drop = $("drop");
  for (const t of [drop, $("stage")]) {
    t.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    t.addEventListener("dragleave", () => drop.classList.remove("over"));
    t.addEventListener("drop", (e) => {
      e.preventDefault(); drop.classList.remove("over");
      if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]);
    });
  }
  $("example").addEventListener("change", (e) => { if (e.target.value) uploadExample(e.target.value); });
  for (const b of document.querySelectorAll(".tool")) b.addEventListener("click", () => setTool(b.dataset.tool));
  $("zoom-in").addEventListener("click", () => setZoom(state.zoom * 1.25));
  $("zoom-out").addEventListener("click", () => setZoom(state.zoom / 1.25));
  $("zoom-fit").addEventListener("click", fitZoom);
  $("compare").addEventListener("input", applyCompare);
  $("start").addEventListener("click", startEdit);
  $("stop").addEventListener("click", stopEdit);
  $("continue").addEventListener("click", continueEdit);
  $("refresh-runs").addEventListener("click", refreshRuns);
  $("random-weights").addEventListener("change", updateButtons);
  $("prompt").addEventListener("input", updateButtons);
  const ov = $("overlay");
  ov.addEventListener("pointerdown", pointerDown);
  ov.addEventListener("pointermove", pointerMove);
  ov.addEventListener("pointerup", pointerUp);
  ov.addEventListener("dblclick", closePolygon);
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT") return;
    if ((e.key === "Delete" || e.key === "Backspace") && state.selected !== null) removeRegion(state.selected);
    if (e.key === "Escape") { state.draft = null; drawOverlay(); }
  });
  window.addEventListener("resize", () => { if (state.scene) fitZoom(); });
}

// ---- scenes -------------------------------------------------------------------
async function upload(file) {
  const form = new FormData();
  form.append("file", file); form.append("preset", $("preset").value);
  await createScene(form, file.name);
}

async function uploadExample(name) {
  const form = new FormData();
  form.append("example", name); form.append("preset", $("preset").value);
  await createScene(form, name);
}

async function createScene(form, name) {
  const el = $("scene-status");
  const t0 = performance.now();
  setStatus(el, `uploading ${name}…`, "busy");
  try {
    let info = await api("POST", "/api/scenes", form);
    while (info.status === "processing") {
      setStatus(el, `vectorizing ${name} (${info.preset})… ${((performance.now() - t0) / 1000).toFixed(0)} s`, "busy");
      await new Promise((r) => setTimeout(r, 500));
      info = await api("GET", `/api/scenes/${info.id}`);
    }
    if (info.status === "failed") throw new Error(info.error);
    showScene(info);
    const notes = info.notes ? ` (${info.notes.join("; ")})` : "";
    setStatus(el, `${info.name}: ${info.width}×${info.height}, ${info.paths} paths${notes}`);
  } catch (err) {
    setStatus(el, err.message, "error");
  }
}

function showScene(info) {
  closeEvents();
  state.scene = info; state.job = null; state.history = [];
  $("before").src = `/api/scenes/${info.id}/png`;
  $("after").hidden = true; $("after").removeAttribute("src");
  $("overlay").setAttribute("viewBox", `0 0 ${info.width} ${info.height}`);
  $("canvas-wrap").hidden = false; $("empty").hidden = true;
  fitZoom(); drawOverlay(); drawPlot(); updateButtons(); updateDownloads();
  setStatus($("job-line"), "No edit running.");
}

// ---- zoom and compare -----------------------------------------------------------
function setZoom(z) {
  if (!state.scene) return;
  state.zoom = Math.min(8, Math.max(0.1, z));
  const wrap = $("canvas-wrap");
  wrap.style.width = `${state.scene.width * state.zoom}px`;
  wrap.style.height = `${state.scene.height * state.zoom}px`;
  $("zoom-label").textContent = `${Math.round(state.zoom * 100)}%`;
}

function fitZoom() {
  if (!state.scene) return;
  const st = $("stage");
  setZoom(Math.min((st.clientWidth - 32) / state.scene.width, (st.clientHeight - 32) / state.scene.height));
}

function applyCompare() {
  // 100 = all "after", 0 = all "before": the edited picture covers the left v %.
  const v = Number($("compare").value);
  $("after").style.clipPath = `inset(0 ${100 - v}% 0 0)`;
}

// ---- regions ------------------------------------------------------------------
function setTool(tool) {
  state.tool = tool; state.draft = null;
  for (const b of document.querySelectorAll(".tool")) b.classList.toggle("active", b.dataset.tool === tool);
  drawOverlay();
}

function toCanvas(e) {
  const r = $("overlay").getBoundingClientRect();
  const x = ((e.clientX - r.left) / r.width) * state.scene.width;
  const y = ((e.clientY - r.top) / r.height) * state.scene.height;
  return [Math.min(state.scene.width, Math.max(0, x)), Math.min(state.scene.height, Math.max(0, y))];
}

function addRegion(region) {
  region.color = COLORS[state.nextColor++ % COLORS.length];
  region.prompt = region.prompt || ""; region.weight = region.weight ?? state.info.defaults.roi_weight;
  state.regions.push(region);
  state.selected = state.regions.length - 1;
  renderRegionList(); drawOverlay();
  const inputs = document.querySelectorAll("#regions .region input[type=text]");
  if (inputs.length) inputs[inputs.length - 1].focus();
}

function removeRegion(i) {
  state.regions.splice(i, 1);
  state.selected = null;
  renderRegionList(); drawOverlay();
}

function bounds(r) {
  if (r.kind === "box") return r.box;
  const xs = r.points.map((p) => p[0]), ys = r.points.map((p) => p[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)];
}

function pointerDown(e) {
  if (!state.scene || e.button !== 0) return;
  const p = toCanvas(e);
  const target = e.target;
  $("overlay").setPointerCapture(e.pointerId);
  if (target.dataset.handle !== undefined) {
    state.drag = { mode: "resize", index: Number(target.dataset.handle), start: p };
    return;
  }
  if (target.dataset.region !== undefined && !(state.tool === "polygon" && state.draft)) {
    const i = Number(target.dataset.region);
    state.selected = i;
    const r = state.regions[i];
    state.drag = { mode: "move", index: i, start: p, orig: JSON.parse(JSON.stringify(r)) };
    renderRegionList(); drawOverlay();
    return;
  }
  if (state.tool === "box") {
    state.draft = { kind: "box", start: p, box: [p[0], p[1], 0, 0] };
    state.drag = { mode: "draw" };
  } else {
    if (!state.draft) state.draft = { kind: "polygon", points: [] };
    const pts = state.draft.points;
    const first = pts[0];
    const near = first && Math.hypot(first[0] - p[0], first[1] - p[1]) < 8 / state.zoom;
    if (near && pts.length >= 3) return closePolygon();
    pts.push(p);
  }
  drawOverlay();
}

function pointerMove(e) {
  if (!state.scene) return;
  const p = toCanvas(e);
  const d = state.drag;
  if (d && d.mode === "draw") {
    const s = state.draft.start;
    state.draft.box = [Math.min(s[0], p[0]), Math.min(s[1], p[1]), Math.abs(p[0] - s[0]), Math.abs(p[1] - s[1])];
  } else if (d && d.mode === "move") {
    const dx = p[0] - d.start[0], dy = p[1] - d.start[1];
    const r = state.regions[d.index];
    if (r.kind === "box") r.box = [d.orig.box[0] + dx, d.orig.box[1] + dy, d.orig.box[2], d.orig.box[3]];
    else r.points = d.orig.points.map((q) => [q[0] + dx, q[1] + dy]);
  } else if (d && d.mode === "resize") {
    const r = state.regions[d.index];
    if (r.kind === "box") r.box = [r.box[0], r.box[1], Math.max(2, p[0] - r.box[0]), Math.max(2, p[1] - r.box[1])];
    else {
      const [bx, by, bw, bh] = bounds(r);
      const sx = Math.max(2, p[0] - bx) / Math.max(bw, 1e-6), sy = Math.max(2, p[1] - by) / Math.max(bh, 1e-6);
      r.points = r.points.map((q) => [bx + (q[0] - bx) * sx, by + (q[1] - by) * sy]);
    }
  } else if (state.draft && state.draft.kind === "polygon") {
    state.draft.cursor = p;
  } else return;
  drawOverlay();
}

function pointerUp() {
  const d = state.drag;
  state.drag = null;
  if (d && d.mode === "draw") {
    const b = state.draft.box;
    state.draft = null;
    if (b[2] >= 3 && b[3] >= 3) addRegion({ kind: "box", box: b.map((v) => Math.round(v * 10) / 10) });
    else drawOverlay();
  }
}

function closePolygon() {
  const dr = state.draft;
  if (!dr || dr.kind !== "polygon") return;
  state.draft = null;
  // a double-click adds the same point twice: drop repeats
  const pts = dr.points.filter((p, i, a) => i === 0 || Math.hypot(p[0] - a[i - 1][0], p[1] - a[i - 1][1]) > 0.5);
  if (pts.length >= 3) addRegion({ kind: "polygon", points: pts.map((p) => p.map((v) => Math.round(v * 10) / 10)) });
  else drawOverlay();
}

function svgEl(tag, attrs) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function drawOverlay() {
  const ov = $("overlay");
  while (ov.firstChild) ov.removeChild(ov.firstChild);
  if (!state.scene) return;
  const hs = 8 / state.zoom;
  state.regions.forEach((r, i) => {
    const common = { class: "shape" + (i === state.selected ? " selected" : ""), stroke: r.color, fill: r.color, "data-region": i };
    const shape = r.kind === "box"
      ? svgEl("rect", { ...common, x: r.box[0], y: r.box[1], width: r.box[2], height: r.box[3] })
      : svgEl("polygon", { ...common, points: r.points.map((p) => p.join(",")).join(" ") });
    ov.appendChild(shape);
    const [bx, by, bw, bh] = bounds(r);
    ov.appendChild(svgEl("rect", { class: "handle", stroke: r.color, x: bx + bw - hs / 2, y: by + bh - hs / 2, width: hs, height: hs, "data-handle": i }));
    const label = svgEl("text", { x: bx + 4 / state.zoom, y: by + 16 / state.zoom, fill: r.color, "font-size": 14 / state.zoom });
    label.textContent = String(i + 1);
    ov.appendChild(label);
  });
  const dr = state.draft;
  if (dr && dr.kind === "box") ov.appendChild(svgEl("rect", { class: "draft", x: dr.box[0], y: dr.box[1], width: dr.box[2], height: dr.box[3] }));
  if (dr && dr.kind === "polygon" && dr.points.length) {
    const pts = dr.cursor ? [...dr.points, dr.cursor] : dr.points;
    ov.appendChild(svgEl("polyline", { class: "draft", points: pts.map((p) => p.join(",")).join(" ") }));
  }
}

function renderRegionList() {
  const list = $("regions");
  while (list.firstChild) list.removeChild(list.firstChild);
  state.regions.forEach((r, i) => {
    const div = document.createElement("div");
    div.className = "region" + (i === state.selected ? " selected" : "");
    div.style.borderLeftColor = r.color;
    const head = document.createElement("div"); head.className = "head";
    const title = document.createElement("span");
    title.textContent = `Region ${i + 1} (${r.kind})`; title.style.color = r.color;
    const del = document.createElement("button"); del.textContent = "×"; del.title = "delete this region";
    del.addEventListener("click", () => removeRegion(i));
    head.append(title, del);
    const prompt = document.createElement("input");
    prompt.type = "text"; prompt.placeholder = "what this region should become"; prompt.value = r.prompt;
    prompt.addEventListener("input", () => { r.prompt = prompt.value; updateButtons(); });
    prompt.addEventListener("focus", () => { state.selected = i; drawOverlay(); });
    const w = document.createElement("div"); w.className = "weights";
    const wl = document.createElement("label"); wl.textContent = "weight ";
    const wi = document.createElement("input"); wi.type = "number"; wi.min = 0; wi.value = r.weight;
    wi.addEventListener("input", () => { r.weight = Number(wi.value); });
    wl.appendChild(wi); w.appendChild(wl);
    // optional exemplar picture: the region aims at it instead of the prompt
    const ex = document.createElement("label"); ex.className = "button small-button";
    ex.textContent = r.image ? "exemplar ✓" : "exemplar…";
    ex.title = r.image ? `aims at ${r.imageName || "an exemplar picture"} (click to change)` : "aim this region at a reference picture instead of the prompt";
    const exf = document.createElement("input"); exf.type = "file"; exf.accept = "image/png,image/jpeg,image/webp"; exf.hidden = true;
    exf.addEventListener("change", async () => {
      const f = exf.files[0]; if (!f) return;
      const form = new FormData(); form.append("file", f);
      try { const img = await api("POST", "/api/images", form); r.image = img.id; r.imageName = f.name; }
      catch (err) { setStatus($("scene-status"), err.message, "error"); }
      renderRegionList();
    });
    ex.appendChild(exf); w.appendChild(ex);
    if (r.image) {
      const clear = document.createElement("button"); clear.textContent = "×"; clear.title = "use the prompt again";
      clear.addEventListener("click", () => { r.image = null; renderRegionList(); });
      w.appendChild(clear);
    }
    div.append(head, prompt, w);
    list.appendChild(div);
  });
  updateButtons();
}

// ---- edits --------------------------------------------------------------------
function editBody() {
  const num = (id) => Number($(id).value);
  const body = {
    scene: state.scene.id,
    prompt: $("prompt").value,
    rois: state.regions.map((r) => ({
      ...(r.kind === "box" ? { box: r.box } : { polygon: r.points }),
      ...(r.image ? { image: r.image } : { prompt: r.prompt }), weight: r.weight,
    })),
    iters: num("iters"), seed: num("seed"), lock: $("lock").value || null,
    edit_only: $("edit_only").checked, preserve_background: num("preserve_background"),
    random_weights: $("random-weights").checked,
  };
  for (const [key] of ADVANCED) body[key] = num("adv-" + key);
  return body;
}

async function startEdit() {
  try {
    const job = await api("POST", "/api/edits", editBody());
    state.history = []; state.lastEvent = -1;
    followJob(job);
  } catch (err) { setStatus($("job-line"), err.message, "error"); }
}

async function stopEdit() {
  if (!state.job) return;
  try { showJob(await api("POST", `/api/edits/${state.job.id}/stop`)); }
  catch (err) { setStatus($("job-line"), err.message, "error"); }
}

async function continueEdit() {
  if (!state.job) return;
  const body = state.job.status === "done" ? { iters: state.job.iteration + Number($("iters").value) } : {};
  try { followJob(await api("POST", `/api/edits/${state.job.id}/resume`, body)); }
  catch (err) { setStatus($("job-line"), err.message, "error"); }
}

function closeEvents() { if (state.events) { state.events.close(); state.events = null; } }

function followJob(job) {
  closeEvents();
  showJob(job);
  const es = new EventSource(`/api/edits/${job.id}/events?after=${state.lastEvent}`);
  state.events = es;
  const seen = (e) => { state.lastEvent = Math.max(state.lastEvent, Number(e.lastEventId)); return JSON.parse(e.data); };
  es.addEventListener("status", (e) => {
    const s = seen(e); showJob(s);
    if (["stopped", "done", "failed"].includes(s.status)) { closeEvents(); refreshRuns(); }
  });
  es.addEventListener("iter", (e) => {
    const it = seen(e);
    state.history.push(it);
    Object.assign(state.job, { iteration: it.iter, eta_s: it.eta_s, seconds: it.seconds });
    showJob(state.job); drawPlot();
  });
  es.addEventListener("preview", (e) => {
    const p = seen(e);
    const img = $("after");
    img.src = `/api/edits/${state.job.id}/png?i=${p.iteration}&t=${Date.now()}`;
    img.hidden = false;
    img.dataset.iteration = p.iteration;
  });
  es.onerror = () => { if (state.events === es && es.readyState === EventSource.CLOSED) state.events = null; };
}

function fmt(s) {
  if (s === null || s === undefined) return "–";
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function showJob(job) {
  state.job = Object.assign(state.job && state.job.id === job.id ? state.job : {}, job);
  const j = state.job;
  let text = `Edit ${j.id}: ${j.status}`;
  if (j.status === "queued") text += ` (place ${j.queue_position} in the queue)`;
  text += ` · iteration ${j.iteration} / ${j.iters}`;
  const per = j.seconds ?? j.seconds_per_iter;
  if (per) text += ` · ${fmt(per)} per iteration`;
  if (j.status === "running" && j.eta_s !== undefined && j.eta_s !== null) text += ` · about ${fmt(j.eta_s)} left`;
  if (j.error) text += ` · ${j.error}`;
  setStatus($("job-line"), text, j.status === "failed" ? "error" : j.status === "running" || j.status === "queued" ? "busy" : null);
  $("job-line").dataset.iteration = j.iteration;
  updateButtons(); updateDownloads();
}

function updateButtons() {
  const j = state.job;
  const active = j && (j.status === "running" || j.status === "queued");
  const clipOk = state.info && (state.info.clip.ready || $("random-weights").checked);
  const hasPrompt = $("prompt").value.trim() || state.regions.some((r) => r.prompt.trim() || r.image);
  $("start").disabled = !state.scene || active || !clipOk;
  $("start").title = clipOk ? (hasPrompt ? "" : "type a prompt first") : "CLIP weights are missing";
  $("stop").disabled = !active;
  $("continue").disabled = !j || active || !["stopped", "done", "failed"].includes(j.status);
}

function updateDownloads() {
  const j = state.job;
  const ok = j && (j.iteration > 0 || j.resumable);
  for (const [id, what] of [["dl-svg", "svg"], ["dl-png", "png"], ["dl-run", "run.json"]]) {
    const a = $(id);
    a.classList.toggle("disabled", !ok);
    if (ok) a.href = `/api/edits/${j.id}/${what}?download=1`; else a.removeAttribute("href");
  }
}

function drawPlot() {
  const c = $("plot"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const h = state.history;
  if (h.length < 1) { g.fillStyle = "#9aa1b1"; g.fillText("loss per region", 8, 16); return; }
  const n = h[0].rois.length;
  let lo = Infinity, hi = -Infinity;
  for (const r of h) for (const v of r.rois) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (hi - lo < 1e-9) hi = lo + 1;
  const iters = Math.max(h[h.length - 1].iter, 2);
  const first = h[0].iter;
  for (let k = 0; k < n; k++) {
    g.strokeStyle = k === 0 ? "#5a6378" : (state.regions[k - 1] || {}).color || COLORS[(k - 1) % COLORS.length];
    g.lineWidth = 1.5; g.beginPath();
    h.forEach((r, i) => {
      const x = 4 + ((r.iter - first) / Math.max(1, iters - first)) * (c.width - 8);
      const y = c.height - 6 - ((r.rois[k] - lo) / (hi - lo)) * (c.height - 20);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  }
  g.fillStyle = "#5a6378";
  g.fillText(`loss per region (grey: whole image)  ${lo.toFixed(2)} – ${hi.toFixed(2)}`, 8, 12);
}

// ---- earlier runs ---------------------------------------------------------------
async function refreshRuns() {
  try {
    const { edits } = await api("GET", "/api/edits");
    const ul = $("runs");
    while (ul.firstChild) ul.removeChild(ul.firstChild);
    for (const e of edits) {
      const li = document.createElement("li");
      const st = document.createElement("span"); st.className = "st"; st.textContent = `${e.status} ${e.iteration}/${e.iters}`;
      const pr = document.createElement("span"); pr.className = "pr";
      pr.textContent = [e.prompt, ...e.rois].filter(Boolean).join(" · ") || "(no prompt)";
      li.title = e.id; li.append(st, pr);
      li.addEventListener("click", () => openRun(e));
      ul.appendChild(li);
    }
  } catch (err) { /* the list is a convenience */ }
}

async function openRun(e) {
  try {
    if (e.scene) showScene(await api("GET", `/api/scenes/${e.scene}`));
    const rec = await api("GET", `/api/edits/${e.id}/run.json`).catch(() => null);
    if (rec && rec.settings) {
      const s = rec.settings;
      $("prompt").value = s.prompt || ""; $("iters").value = s.iters; $("seed").value = s.seed;
      state.regions = []; state.nextColor = 0;
      for (const r of s.rois || []) {
        const m = r.image ? /([0-9a-f]{16})\.png$/.exec(r.image) : null;
        const common = { prompt: r.prompt || "", weight: r.weight, image: m ? m[1] : null };
        if (r.polygon) addRegion({ kind: "polygon", points: r.polygon, ...common });
        else addRegion({ kind: "box", box: [r.x, r.y, r.w, r.h], ...common });
      }
      state.selected = null; renderRegionList(); drawOverlay();
      state.history = rec.history || []; drawPlot();
    }
    state.lastEvent = -1;
    const job = await api("GET", `/api/edits/${e.id}`);
    if (job.status === "running" || job.status === "queued") { state.history = []; followJob(job); }
    else showJob(job);
    if (job.iteration > 0 || job.resumable) {
      $("after").src = `/api/edits/${e.id}/png?t=${Date.now()}`; $("after").hidden = false;
    }
  } catch (err) { setStatus($("job-line"), err.message, "error"); }
}

init().catch((err) => setStatus($("scene-status"), err.message, "error"));
