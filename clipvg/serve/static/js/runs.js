// Edits: start, follow (stages, iterations, live pictures), stop, continue; candidates;
// the estimate before Start; attempts on this picture and earlier runs.

import { api, fmtSeconds } from "./api.js";
import { COLORS } from "./regions.js";

const $ = (id) => document.getElementById(id);
const ACTIVE = ["running", "queued"];
const TERMINAL = ["stopped", "done", "failed"];

export class Runs {
  constructor(state, view, hooks) {
    this.state = state; this.view = view; this.hooks = hooks;
    this.events = null; this.lastEvent = -1;
  }

  get job() { return this.state.job; }

  close() { if (this.events) { this.events.close(); this.events = null; } }

  // Follow a job: replay its events from the start (iterations, the plot, the picture).
  follow(job) {
    this.close();
    this.lastEvent = -1; this.state.history = [];
    this.show(job);
    const es = new EventSource(`/api/edits/${job.id}/events?after=-1`);
    this.events = es;
    const seen = (e) => { this.lastEvent = Math.max(this.lastEvent, Number(e.lastEventId)); return JSON.parse(e.data); };
    // a resumed job's events hold its earlier ends: only an end after `job.last_event` ends it
    const replayed = job.last_event ?? -1;
    es.addEventListener("status", (e) => {
      const s = seen(e); this.show(s);
      if (TERMINAL.includes(s.status) && Number(e.lastEventId) >= replayed) { this.close(); this.hooks.ended(s); }
    });
    es.addEventListener("iter", (e) => {
      const it = seen(e);
      const hist = this.state.history;
      if (hist.length && it.iter <= hist[hist.length - 1].iter) hist.length = 0; // the next candidate
      hist.push(it);
      Object.assign(this.job, { iteration: it.iter, eta_s: it.eta_s, seconds: it.seconds, stage: null });
      this.show(this.job); this.plot();
    });
    es.addEventListener("preview", (e) => {
      const p = seen(e), id = this.job.id;
      if (this.state.chosen === null) this.view.setAfter(`/api/edits/${id}/svg?i=${p.iteration}`, `/api/edits/${id}/png?i=${p.iteration}`, p.iteration);
    });
    es.onerror = () => { if (this.events === es && es.readyState === EventSource.CLOSED) this.events = null; };
  }

  show(job) {
    const same = this.job && this.job.id === job.id;
    this.state.job = Object.assign(same ? this.job : {}, job);
    const j = this.state.job;
    const line = $("job-line");
    line.textContent = "";
    const busy = ACTIVE.includes(j.status);
    if (busy) { const s = document.createElement("span"); s.className = "spinner"; line.appendChild(s); }
    let text = `Edit ${j.id}: ${j.status}`;
    if (j.status === "queued") text += ` (place ${j.queue_position} in the queue)`;
    if (j.candidates > 1) text += ` · candidate ${j.candidate} / ${j.candidates}`;
    if (j.stage && busy) {
      const st = j.stage;
      text += ` · ${st.name}` + (st.total ? ` (${st.done}/${st.total})` : "…");
    } else {
      text += ` · iteration ${j.iteration} / ${j.iters}`;
      const per = j.seconds ?? j.seconds_per_iter;
      if (per) text += ` · ${fmtSeconds(per)} per iteration`;
      if (j.status === "running" && j.eta_s !== undefined && j.eta_s !== null) text += ` · about ${fmtSeconds(j.eta_s)} left`;
    }
    if (j.error) text += ` · ${j.error}`;
    line.appendChild(document.createTextNode(text));
    if (j.stage && busy && j.stage.total) {
      const bar = document.createElement("progress"); bar.max = j.stage.total; bar.value = j.stage.done;
      bar.className = "stage-bar"; line.appendChild(bar);
    }
    line.classList.toggle("error", j.status === "failed");
    line.dataset.iteration = j.iteration;
    line.dataset.stage = j.stage && busy ? j.stage.name : "";
    this.candidates();
    this.hooks.changed();
  }

  // ---- candidates -----------------------------------------------------------------
  candidates() {
    const j = this.job, box = $("candidates-box"), list = $("candidate-list");
    const ranking = j && j.ranking;
    box.hidden = !ranking;
    if (!ranking) return;
    if (list.dataset.job === j.id && list.children.length === ranking.length) return this.markChosen();
    list.dataset.job = j.id;
    while (list.firstChild) list.removeChild(list.firstChild);
    for (const c of ranking) {
      const fig = document.createElement("button");
      fig.className = "candidate"; fig.dataset.seed = c.seed;
      const img = document.createElement("img");
      img.src = `/api/edits/${j.id}/candidates/${c.seed}/svg`; img.alt = `candidate seed ${c.seed}`;
      img.addEventListener("error", () => { img.src = `/api/edits/${j.id}/candidates/${c.seed}/png`; }, { once: true });
      const cap = document.createElement("span");
      cap.textContent = `#${c.rank} · seed ${c.seed} · score ${c.score.toFixed(3)}`;
      cap.title = `CLIP similarity ${c.similarity.toFixed(3)}, background change ${c.background_rms.toFixed(4)}`;
      fig.append(img, cap);
      fig.addEventListener("click", () => this.choose(c.seed));
      list.appendChild(fig);
    }
    this.markChosen();
  }

  choose(seed) {
    const j = this.job;
    const best = j.ranking[0].seed;
    this.state.chosen = seed === best ? null : seed;
    localStorage.setItem(`clipvg.chosen.${j.id}`, String(seed));
    const base = this.state.chosen === null ? `/api/edits/${j.id}` : `/api/edits/${j.id}/candidates/${seed}`;
    this.view.setAfter(`${base}/svg`, `${base}/png`, j.iteration);
    this.markChosen(); this.hooks.changed();
  }

  markChosen() {
    const j = this.job;
    const seed = this.state.chosen ?? (j.ranking && j.ranking[0].seed);
    for (const b of document.querySelectorAll("#candidate-list .candidate")) {
      const on = Number(b.dataset.seed) === seed;
      b.classList.toggle("chosen", on); b.setAttribute("aria-pressed", on);
    }
  }

  // ---- downloads ------------------------------------------------------------------
  downloads() {
    const j = this.job;
    const ok = j && (j.iteration > 0 || j.resumable);
    const base = !ok ? null : this.state.chosen === null ? `/api/edits/${j.id}` : `/api/edits/${j.id}/candidates/${this.state.chosen}`;
    for (const [id, what] of [["dl-svg", "svg"], ["dl-png", "png"], ["dl-run", "run.json"]]) {
      const a = $(id);
      const href = what === "run.json" && ok ? `/api/edits/${j.id}/run.json?download=1` : base && `${base}/${what}?download=1`;
      a.classList.toggle("disabled", !href);
      if (href) a.href = href; else a.removeAttribute("href");
    }
  }

  // ---- the loss plot --------------------------------------------------------------
  plot() {
    const c = $("plot"), g = c.getContext("2d");
    const w = Math.max(120, Math.round(c.clientWidth)), h = 90;
    if (c.width !== w) c.width = w;
    c.height = h;
    g.clearRect(0, 0, w, h);
    const hist = this.state.history;
    g.font = "11px system-ui, sans-serif";
    if (hist.length < 1) { g.fillStyle = "#9aa1b1"; g.fillText("loss per region", 8, 16); return; }
    const n = hist[0].rois.length;
    let lo = Infinity, hi = -Infinity;
    for (const r of hist) for (const v of r.rois) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (hi - lo < 1e-9) hi = lo + 1;
    const last = Math.max(hist[hist.length - 1].iter, 2), first = hist[0].iter;
    for (let k = 0; k < n; k++) {
      g.strokeStyle = k === 0 ? "#5a6378" : COLORS[(k - 1) % COLORS.length];
      g.lineWidth = 1.5; g.beginPath();
      hist.forEach((r, i) => {
        const x = 4 + ((r.iter - first) / Math.max(1, last - first)) * (w - 8);
        const y = h - 6 - ((r.rois[k] - lo) / (hi - lo)) * (h - 20);
        if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
    }
    g.fillStyle = "#5a6378";
    g.fillText(`loss per region (grey: whole image)  ${lo.toFixed(2)} – ${hi.toFixed(2)}`, 8, 12);
  }

  // ---- the estimate before Start --------------------------------------------------
  async estimate(body) {
    const el = $("estimate");
    if (!body) { el.textContent = ""; return; }
    try {
      const e = await api("POST", "/api/estimate", body);
      const clip = e.clip_loaded ? "" : " plus loading CLIP";
      if (e.total_s === null) {
        el.textContent = "No estimate yet: the first edit measures this machine's speed (shown while it runs).";
      } else {
        el.textContent = `Estimated run time: about ${fmtSeconds(e.total_s)}${clip} ` +
          `(${fmtSeconds(e.seconds_per_iter)} per iteration, measured on ${e.runs} run${e.runs === 1 ? "" : "s"} on this machine).`;
      }
      el.dataset.total = e.total_s ?? "";
    } catch (err) { el.textContent = ""; }
  }

  // ---- earlier runs and attempts on this picture -------------------------------------
  async refresh() {
    let edits;
    try { ({ edits } = await api("GET", "/api/edits")); } catch (err) { return; }
    const ul = $("runs");
    while (ul.firstChild) ul.removeChild(ul.firstChild);
    for (const e of edits) ul.appendChild(this.entry(e, false));
    const at = $("attempts");
    while (at.firstChild) at.removeChild(at.firstChild);
    const mine = this.state.scene ? edits.filter((e) => e.scene === this.state.scene.id) : [];
    for (const e of mine) at.appendChild(this.entry(e, true));
    if (!mine.length) {
      const li = document.createElement("li"); li.className = "hint";
      li.textContent = "Each Start on this picture is kept here; click one to step back to it.";
      at.appendChild(li);
    }
    return edits;
  }

  entry(e, thumb) {
    const li = document.createElement("li");
    li.dataset.edit = e.id;
    li.classList.toggle("current", !!(this.job && this.job.id === e.id));
    if (thumb && (e.iteration > 0 || e.resumable)) {
      const img = document.createElement("img"); img.loading = "lazy"; img.alt = "";
      img.src = `/api/edits/${e.id}/png?t=${e.iteration}`; li.appendChild(img);
    }
    const st = document.createElement("span"); st.className = "st"; st.textContent = `${e.status} ${e.iteration}/${e.iters}`;
    const pr = document.createElement("span"); pr.className = "pr";
    pr.textContent = [e.prompt, ...e.rois].filter(Boolean).join(" · ") || "(no prompt)";
    li.title = `${e.id}: ${new Date(e.created * 1000).toLocaleString()}`;
    li.append(st, pr);
    li.tabIndex = 0;
    li.addEventListener("click", () => this.hooks.open(e.id));
    li.addEventListener("keydown", (ev) => { if (ev.key === "Enter") this.hooks.open(e.id); });
    return li;
  }
}
