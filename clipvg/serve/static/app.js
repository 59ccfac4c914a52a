// clipvg editor: plain JS modules, no build step. Talks to the JSON API under /api/.
// Wires the parts together: the picture (js/view.js), regions, layers, settings,
// undo (js/history.js), edits (js/runs.js); keeps the page across reloads (#edit=ID).

import { api, debounce } from "./js/api.js";
import { History } from "./js/history.js";
import { Layers } from "./js/layers.js";
import { clearAt, inPageWords, showAt, showServerError, toast } from "./js/messages.js";
import { Regions } from "./js/regions.js";
import { Runs } from "./js/runs.js";
import { SETTINGS, buildSettings, problem, readValues, setValues } from "./js/settings.js";
import { View, isTyping, layersOf } from "./js/view.js";

const $ = (id) => document.getElementById(id);

const state = {
  info: null, scene: null, regions: [], selected: null, tool: "box", zoom: 1,
  job: null, history: [], chosen: null, layers: { hidden: [], locked: [] },
  hidden: () => state.layers.hidden, cancelDrawing: () => {},
};

const view = new View(state, { onZoom: () => regions.draw() });
const regions = new Regions(state, { change: () => changed(), commit: () => commit() });
const layers = new Layers(state, { commit: (kind) => { if (kind === "hidden") view.redraw(); commit(); } });
const runs = new Runs(state, view, {
  changed: () => { updateButtons(); runs.downloads(); },
  ended: () => runs.refresh(),
  open: (id) => openRun(id),
});
const history = new History(snapshot, restore, () => {
  $("undo").disabled = !history.canUndo; $("redo").disabled = !history.canRedo;
});

// ---- the page's state: undo snapshots, drafts, the URL ------------------------------
function snapshot() {
  return {
    prompt: $("prompt").value,
    regions: state.regions.map((r) => ({ ...r })),
    settings: readValues(),
    layers: { hidden: [...state.layers.hidden], locked: [...state.layers.locked] },
  };
}

function restore(s) {
  $("prompt").value = s.prompt;
  state.regions.splice(0, state.regions.length, ...s.regions.map((r) => ({ ...r })));
  state.selected = null;
  setValues(s.settings);
  const hiddenBefore = JSON.stringify(state.layers.hidden);
  state.layers = { hidden: [...s.layers.hidden], locked: [...s.layers.locked] };
  regions.render(); regions.draw(); layers.render();
  if (JSON.stringify(state.layers.hidden) !== hiddenBefore) view.redraw();
  validateAll(); saveDraft(); changed();
}

function commit() { history.commit(); saveDraft(); changed(); }

function saveDraft() {
  if (!state.scene) return;
  try { localStorage.setItem(`clipvg.draft.${state.scene.id}`, JSON.stringify(snapshot())); } catch (err) { /* full */ }
}

function setHash(kind, id) {
  const h = `#${kind}=${id}`;
  if (location.hash !== h) history_replace(h);
  localStorage.setItem("clipvg.last", h);
}

function history_replace(h) { window.history.replaceState(null, "", h); }

// ---- checks: a message under each bad control, and Start's reason -------------------
function validateAll() {
  let bad = false;
  for (const s of SETTINGS) {
    const msg = problem(s.key, readValues()[s.key]);
    if (msg) { showAt(s.key, msg); bad = true; } else if (!$(s.key).dataset.server) clearAt(s.key);
  }
  return !bad;
}

function startReason() {
  const j = state.job;
  if (!state.scene) return "Open a picture first.";
  if (j && ["running", "queued"].includes(j.status)) return "";
  if (!(state.info.clip.ready || $("clip-choice").value !== "server")) return "CLIP weights are missing (see the note at the top).";
  if (!$("prompt").value.trim()) return "Type a prompt for the whole image first.";
  const empty = state.regions.findIndex((r) => !r.prompt.trim() && !r.image);
  if (empty >= 0) return `Region ${empty + 1} needs a prompt (or an exemplar picture).`;
  const values = readValues();
  const wrong = SETTINGS.find((s) => problem(s.key, values[s.key]));
  if (wrong) return `Fix “${wrong.label}” first.`;
  if ($("edit_only").checked && !state.regions.length) return "“Edit only inside the regions” needs a region: drag a box on the picture.";
  return null;
}

function updateButtons() {
  const j = state.job;
  const active = j && ["running", "queued"].includes(j.status);
  const reason = startReason();
  $("start").disabled = reason !== null;
  $("start").title = reason || "start the edit";
  const why = $("start-reason");
  if (reason && !why.dataset.server) { why.textContent = reason; why.hidden = false; why.classList.add("reason"); }
  else if (!why.dataset.server) { why.textContent = ""; why.hidden = true; }
  $("stop").disabled = !active;
  $("continue").disabled = !j || active || !["stopped", "done", "failed"].includes(j.status) || j.candidates > 1;
  $("continue").title = j && j.candidates > 1 ? "a run of candidates cannot be continued; continue one candidate's folder with the CLI" : "run more iterations from where it stopped";
}

const estimateSoon = debounce(() => runs.estimate(startReason() === null ? editBody() : null), 300);

function changed() { updateButtons(); estimateSoon(); }

// ---- scenes -------------------------------------------------------------------------
// Each picture or run the page opens takes a ticket. An opening that a later one has
// overtaken (a reload reopening the last run while the user opens another, say) stops
// at its next await instead of writing its older state over the page's.
let ticket = 0;
const current = (t) => t === ticket;

// The upload takes its ticket when it starts: a run opened while it uploads or
// vectorizes is the user's later choice, and the finished upload must not replace it.
async function createScene(form, name) {
  clearAt("drop");
  const t = ++ticket;
  const el = $("scene-status"), t0 = performance.now();
  el.textContent = `uploading ${name}…`;
  try {
    let info = await api("POST", "/api/scenes", form);
    while (info.status === "processing" && current(t)) {
      el.textContent = `vectorizing ${name} (${info.preset})… ${((performance.now() - t0) / 1000).toFixed(0)} s`;
      // answered as soon as the picture is ready, else after a second (the counter above)
      info = await api("GET", `/api/scenes/${info.id}?wait=1`);
    }
    if (!current(t)) return;
    if (info.status === "failed") throw new Error(info.error);
    if (!(await showScene(info, null, t))) return;
    setHash("scene", info.id);
    history.reset();
  } catch (err) {
    if (!current(t)) return;
    el.textContent = "";
    showAt("drop", `${name} could not be opened: ${inPageWords(err.message)}`);
  }
}

// Show a scene; `draft` (a snapshot) fills the form, else the saved draft of this scene.
// False when a later opening overtook this one (see `ticket`).
async function showScene(info, draft, t = ++ticket) {
  runs.close();
  state.scene = info; state.job = null; state.history = []; state.chosen = null;
  delete $("canvas-wrap").dataset.opened;
  const notes = info.notes ? ` (${info.notes.join("; ")})` : "";
  $("scene-status").textContent = `${info.name}: ${info.width}×${info.height}, ${info.paths} paths${notes}`;
  view.clearAfter();
  $("overlay").setAttribute("viewBox", `0 0 ${info.width} ${info.height}`);
  $("canvas-wrap").hidden = false; $("empty").hidden = true;
  view.fit();
  let saved = draft;
  if (!saved) { try { saved = JSON.parse(localStorage.getItem(`clipvg.draft.${info.id}`)); } catch (err) { saved = null; } }
  if (saved) restoreQuiet(saved);
  else { state.regions.splice(0); state.layers = { hidden: [], locked: [] }; regions.render(); regions.draw(); }
  const svg = await view.setBefore(`/api/scenes/${info.id}/svg`, `/api/scenes/${info.id}/png`);
  if (!current(t)) return false;
  layers.set(svg ? layersOf(svg) : []);
  regions.draw(); runs.plot(); runs.downloads(); changed();
  $("job-line").textContent = "No edit running."; $("job-line").dataset.iteration = 0;
  runs.refresh();
  $("canvas-wrap").dataset.opened = info.id; // picture, layers and form all in place
  return true;
}

function restoreQuiet(s) {
  $("prompt").value = s.prompt || "";
  state.regions.splice(0, state.regions.length, ...(s.regions || []));
  state.layers = s.layers || { hidden: [], locked: [] };
  if (s.settings) setValues(s.settings);
  regions.render(); regions.draw();
}

// ---- edits --------------------------------------------------------------------------
function editBody() {
  const v = readValues();
  const body = { scene: state.scene.id, prompt: $("prompt").value, rois: regions.body(), clip: $("clip-choice").value };
  for (const s of SETTINGS) body[s.key] = v[s.key];
  body.freeze = layers.frozen();
  return body;
}

async function startEdit() {
  clearServerMessages();
  if (!validateAll() || startReason()) return updateButtons();
  try {
    const job = await api("POST", "/api/edits", editBody());
    state.chosen = null; view.clearAfter();
    setHash("edit", job.id);
    runs.follow(job);
    runs.refresh();
  } catch (err) { serverMessage(err); }
}

function serverMessage(err) {
  const el = showServerError(err);
  if (el) {
    el.dataset.server = "1";
    const key = el.dataset.for;
    if (key && $(key)) $(key).dataset.server = "1";
  }
}

function clearServerMessages() {
  for (const el of document.querySelectorAll(".msg[data-server]")) { delete el.dataset.server; clearAt(el.dataset.for); }
  for (const el of document.querySelectorAll("[data-server]")) delete el.dataset.server;
}

async function stopEdit() {
  const j = state.job;
  if (!j) return;
  try {
    const s = await api("POST", `/api/edits/${j.id}/stop`, {});
    // the answer says "running" (it stops after its iteration): never over a "stopped"
    // that the job's events brought first
    if (state.job === j && !["stopped", "done", "failed"].includes(j.status)) runs.show(s);
  } catch (err) { showAt("start", inPageWords(err.message)); }
}

async function continueEdit() {
  const j = state.job;
  if (!j) return;
  const body = j.status === "done" ? { iters: j.iteration + readValues().iters } : {};
  try {
    await api("POST", `/api/edits/${j.id}/resume`, body);
    runs.follow(await api("GET", `/api/edits/${j.id}`));
  } catch (err) { showAt("start", inPageWords(err.message)); }
}

// Reopen a run: its picture, prompt, regions, settings and layers; follow it if it runs.
async function openRun(id) {
  const t = ++ticket;
  try {
    const job = await api("GET", `/api/edits/${id}`);
    if (!current(t)) return;
    const req = job.request;
    const draft = {
      prompt: req.prompt || "",
      regions: Regions.fromRequest(req.rois || []),
      settings: Object.fromEntries(SETTINGS.map((s) => [s.key, req[s.key]]).filter(([, v]) => v !== undefined)),
      layers: { hidden: [], locked: [...(req.freeze || [])] },
    };
    if (job.scene) {
      const info = await api("GET", `/api/scenes/${job.scene}`);
      if (!current(t) || !(await showScene(info, draft, t))) return;
    } else toast("This run's picture is not one of the page's scenes; its settings are shown without it.");
    $("clip-choice").value = req.clip || (req.random_weights ? "random" : "server");
    history.reset(); saveDraft();
    setHash("edit", id);
    const chosen = localStorage.getItem(`clipvg.chosen.${id}`);
    state.chosen = chosen !== null && job.ranking && Number(chosen) !== job.ranking[0].seed ? Number(chosen) : null;
    if (["running", "queued"].includes(job.status)) runs.follow(job);
    else {
      runs.show(job);
      const rec = await api("GET", `/api/edits/${id}/run.json`).catch(() => null);
      if (!current(t)) return;
      state.history = (rec && rec.history) || []; runs.plot();
      if (job.iteration > 0 || job.resumable) {
        const base = state.chosen === null ? `/api/edits/${id}` : `/api/edits/${id}/candidates/${state.chosen}`;
        view.setAfter(`${base}/svg`, `${base}/png`, job.iteration);
      }
    }
    runs.refresh();
  } catch (err) {
    toast(`That run cannot be opened: ${inPageWords(err.message)}`, "error");
  }
}

// ---- start-up -----------------------------------------------------------------------
async function init() {
  state.info = await api("GET", "/api/info");
  const clip = state.info.clip;
  if (!clip.ready) {
    $("clip-banner").hidden = false;
    $("clip-message").textContent = "CLIP weights are missing: " + inPageWords(clip.message);
  } else if (clip.random) {
    $("clip-banner").hidden = false;
    $("clip-message").textContent = `CLIP ${clip.model} has RANDOM weights: edits are meaningless (for trying the pipeline only).`;
    $("clip-choice").parentElement.hidden = true;
  }
  for (const name of state.info.examples) {
    const o = document.createElement("option"); o.value = o.textContent = name; $("example").appendChild(o);
  }
  buildSettings(state.info.defaults, (key, phase) => {
    const el = $(key);
    delete el.dataset.server;
    const msg = problem(key, readValues()[key]);
    if (msg) showAt(key, msg); else clearAt(key);
    if (phase === "change") commit(); else { saveDraft(); changed(); }
  });
  for (const el of document.querySelectorAll(".msg")) if (!el.textContent) el.hidden = true;
  bindUi();
  layers.render();
  history.reset();
  await reopen();
}

// The page after a reload: the edit (or scene) the URL names, else the last one shown,
// else a running edit.
async function reopen() {
  const m = /^#(edit|scene)=([0-9a-f]{16})$/.exec(location.hash || localStorage.getItem("clipvg.last") || "");
  if (m && m[1] === "edit") return openRun(m[2]);
  if (m && m[1] === "scene") {
    try {
      if (await showScene(await api("GET", `/api/scenes/${m[2]}`), null)) {
        setHash("scene", m[2]); history.reset();
      }
      return;
    } catch (err) { history_replace("#"); }
  }
  const edits = await runs.refresh();
  const running = (edits || []).find((e) => ["running", "queued"].includes(e.status));
  if (running) return openRun(running.id);
}

function bindUi() {
  $("file").addEventListener("change", (e) => {
    const f = e.target.files[0];
    if (f) { const form = new FormData(); form.append("file", f); form.append("preset", $("preset").value); createScene(form, f.name); }
    e.target.value = "";
  });
  const drop = $("drop");
  for (const t of [drop, $("stage")]) {
    t.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    t.addEventListener("dragleave", () => drop.classList.remove("over"));
    t.addEventListener("drop", (e) => {
      e.preventDefault(); drop.classList.remove("over");
      const f = e.dataTransfer.files[0];
      if (f) { const form = new FormData(); form.append("file", f); form.append("preset", $("preset").value); createScene(form, f.name); }
    });
  }
  $("example").addEventListener("change", (e) => {
    if (!e.target.value) return;
    const form = new FormData(); form.append("example", e.target.value); form.append("preset", $("preset").value);
    createScene(form, e.target.value);
  });
  for (const b of document.querySelectorAll(".tool")) b.addEventListener("click", () => setTool(b.dataset.tool));
  $("zoom-in").addEventListener("click", () => view.setZoom(state.zoom * 1.25));
  $("zoom-out").addEventListener("click", () => view.setZoom(state.zoom / 1.25));
  $("zoom-fit").addEventListener("click", () => view.fit());
  $("start").addEventListener("click", startEdit);
  $("stop").addEventListener("click", stopEdit);
  $("continue").addEventListener("click", continueEdit);
  $("undo").addEventListener("click", () => history.undo());
  $("redo").addEventListener("click", () => history.redo());
  $("refresh-runs").addEventListener("click", () => runs.refresh());
  $("clip-choice").addEventListener("change", changed);
  $("prompt").addEventListener("input", () => { clearAt("prompt"); saveDraft(); changed(); });
  $("prompt").addEventListener("change", commit);
  // our undo, never the browser's per-field one (it would change values unseen)
  document.addEventListener("keydown", (e) => {
    const mod = e.ctrlKey || e.metaKey;
    if (mod && (e.key === "z" || e.key === "Z")) { e.preventDefault(); e.shiftKey ? history.redo() : history.undo(); return; }
    if (mod && (e.key === "y" || e.key === "Y")) { e.preventDefault(); history.redo(); return; }
    if (isTyping(e.target)) return;
    if ((e.key === "Delete" || e.key === "Backspace") && state.selected !== null) regions.remove(state.selected);
    else if (e.key === "Escape") state.cancelDrawing();
    else if (e.key === "b") setTool("box");
    else if (e.key === "p") setTool("polygon");
    else if (e.key === "h") setTool("pan");
  }, true);
  document.addEventListener("beforeinput", (e) => {
    if (e.inputType === "historyUndo" || e.inputType === "historyRedo") {
      e.preventDefault();
      e.inputType === "historyUndo" ? history.undo() : history.redo();
    }
  }, true);
  window.addEventListener("resize", debounce(() => runs.plot(), 150));
  window.addEventListener("hashchange", () => reopen());
}

function setTool(tool) {
  state.tool = tool; state.cancelDrawing();
  for (const b of document.querySelectorAll(".tool")) b.classList.toggle("active", b.dataset.tool === tool);
  $("stage").classList.toggle("can-pan", tool === "pan");
}

init().catch((err) => toast(inPageWords(err.message), "error", 0));
