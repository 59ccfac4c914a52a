// Regions: boxes and polygons drawn on the picture, each with its prompt (or exemplar) and weight.

import { api } from "./api.js";
import { clearAt, showAt } from "./messages.js";

const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";
export const COLORS = ["#e8590c", "#1c7ed6", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#e03131", "#5f3dc4"];

export class Regions {
  // hooks.change(): something changed (live); hooks.commit(): a change is complete (undo step)
  constructor(state, hooks) {
    this.state = state; this.hooks = hooks;
    this.drag = null; this.draft = null;
    const ov = $("overlay");
    ov.addEventListener("pointerdown", (e) => this.down(e));
    ov.addEventListener("pointermove", (e) => this.move(e));
    ov.addEventListener("pointerup", () => this.up());
    ov.addEventListener("dblclick", () => this.closePolygon());
    state.cancelDrawing = () => { this.drag = null; this.draft = null; this.draw(); };
  }

  get list() { return this.state.regions; }

  toCanvas(e) {
    const sc = this.state.scene, r = $("overlay").getBoundingClientRect();
    const x = ((e.clientX - r.left) / r.width) * sc.width, y = ((e.clientY - r.top) / r.height) * sc.height;
    return [Math.min(sc.width, Math.max(0, x)), Math.min(sc.height, Math.max(0, y))];
  }

  add(region) {
    region.color = region.color || COLORS[this.list.length % COLORS.length];
    region.prompt = region.prompt || "";
    region.weight = region.weight ?? this.state.info.defaults.roi_weight;
    this.list.push(region);
    this.state.selected = this.list.length - 1;
    this.render(); this.draw();
    const inputs = document.querySelectorAll("#regions [data-region-prompt]");
    if (inputs.length) inputs[inputs.length - 1].focus();
    this.hooks.commit();
  }

  remove(i) {
    this.list.splice(i, 1);
    this.state.selected = null;
    this.render(); this.draw();
    this.hooks.commit();
  }

  down(e) {
    if (!this.state.scene || e.button !== 0 || this.state.tool === "pan") return;
    const p = this.toCanvas(e), t = e.target;
    $("overlay").setPointerCapture(e.pointerId);
    if (t.dataset.handle !== undefined) {
      this.drag = { mode: "resize", index: Number(t.dataset.handle), start: p };
      return;
    }
    if (t.dataset.region !== undefined && !(this.state.tool === "polygon" && this.draft)) {
      const i = Number(t.dataset.region);
      this.state.selected = i;
      this.drag = { mode: "move", index: i, start: p, orig: JSON.parse(JSON.stringify(this.list[i])) };
      this.render(); this.draw();
      return;
    }
    if (this.state.tool === "box") {
      this.draft = { kind: "box", start: p, box: [p[0], p[1], 0, 0] };
      this.drag = { mode: "draw" };
    } else {
      if (!this.draft) this.draft = { kind: "polygon", points: [] };
      const pts = this.draft.points, first = pts[0];
      const near = first && Math.hypot(first[0] - p[0], first[1] - p[1]) < 8 / this.state.zoom;
      if (near && pts.length >= 3) return this.closePolygon();
      pts.push(p);
    }
    this.draw();
  }

  move(e) {
    if (!this.state.scene) return;
    const p = this.toCanvas(e), d = this.drag;
    if (d && d.mode === "draw" && this.draft) {
      const s = this.draft.start;
      this.draft.box = [Math.min(s[0], p[0]), Math.min(s[1], p[1]), Math.abs(p[0] - s[0]), Math.abs(p[1] - s[1])];
    } else if (d && d.mode === "move") {
      const dx = p[0] - d.start[0], dy = p[1] - d.start[1], r = this.list[d.index];
      if (r.kind === "box") r.box = [d.orig.box[0] + dx, d.orig.box[1] + dy, d.orig.box[2], d.orig.box[3]].map(round);
      else r.points = d.orig.points.map((q) => [round(q[0] + dx), round(q[1] + dy)]);
      d.moved = true;
    } else if (d && d.mode === "resize") {
      const r = this.list[d.index];
      if (r.kind === "box") r.box = [r.box[0], r.box[1], round(Math.max(2, p[0] - r.box[0])), round(Math.max(2, p[1] - r.box[1]))];
      else {
        const [bx, by, bw, bh] = bounds(r);
        const sx = Math.max(2, p[0] - bx) / Math.max(bw, 1e-6), sy = Math.max(2, p[1] - by) / Math.max(bh, 1e-6);
        r.points = r.points.map((q) => [round(bx + (q[0] - bx) * sx), round(by + (q[1] - by) * sy)]);
      }
      d.moved = true;
    } else if (this.draft && this.draft.kind === "polygon") {
      this.draft.cursor = p;
    } else return;
    this.draw();
  }

  up() {
    const d = this.drag;
    this.drag = null;
    if (d && d.mode === "draw" && this.draft) {
      const b = this.draft.box;
      this.draft = null;
      if (b[2] >= 3 && b[3] >= 3) this.add({ kind: "box", box: b.map(round) });
      else this.draw();
    } else if (d && d.moved) {
      this.hooks.commit();
    }
  }

  closePolygon() {
    const dr = this.draft;
    if (!dr || dr.kind !== "polygon") return;
    this.draft = null;
    // a double-click adds the same point twice: drop repeats
    const pts = dr.points.filter((p, i, a) => i === 0 || Math.hypot(p[0] - a[i - 1][0], p[1] - a[i - 1][1]) > 0.5);
    if (pts.length >= 3) this.add({ kind: "polygon", points: pts.map((p) => p.map(round)) });
    else this.draw();
  }

  draw() {
    const ov = $("overlay");
    while (ov.firstChild) ov.removeChild(ov.firstChild);
    if (!this.state.scene) return;
    const z = this.state.zoom, hs = 10 / z;
    this.list.forEach((r, i) => {
      const common = { class: "shape" + (i === this.state.selected ? " selected" : ""), stroke: r.color, fill: r.color, "data-region": i };
      ov.appendChild(r.kind === "box"
        ? svgEl("rect", { ...common, x: r.box[0], y: r.box[1], width: r.box[2], height: r.box[3] })
        : svgEl("polygon", { ...common, points: r.points.map((p) => p.join(",")).join(" ") }));
      const [bx, by, bw, bh] = bounds(r);
      ov.appendChild(svgEl("rect", { class: "handle", stroke: r.color, x: bx + bw - hs / 2, y: by + bh - hs / 2, width: hs, height: hs, "data-handle": i }));
      const label = svgEl("text", { x: bx + 4 / z, y: by + 16 / z, fill: r.color, "font-size": 14 / z, "stroke-width": 3 / z });
      label.textContent = String(i + 1);
      ov.appendChild(label);
    });
    const dr = this.draft;
    if (dr && dr.kind === "box") ov.appendChild(svgEl("rect", { class: "draft", x: dr.box[0], y: dr.box[1], width: dr.box[2], height: dr.box[3] }));
    if (dr && dr.kind === "polygon" && dr.points.length) {
      const pts = dr.cursor ? [...dr.points, dr.cursor] : dr.points;
      ov.appendChild(svgEl("polyline", { class: "draft", points: pts.map((p) => p.join(",")).join(" ") }));
    }
  }

  render() {
    const box = $("regions");
    while (box.firstChild) box.removeChild(box.firstChild);
    this.list.forEach((r, i) => box.appendChild(this.item(r, i)));
    this.hooks.change();
  }

  item(r, i) {
    const div = document.createElement("div");
    div.className = "region" + (i === this.state.selected ? " selected" : "");
    div.style.borderLeftColor = r.color;
    const head = document.createElement("div"); head.className = "head";
    const title = document.createElement("span");
    title.textContent = `Region ${i + 1} (${r.kind})`; title.style.color = r.color;
    const del = document.createElement("button"); del.textContent = "×"; del.title = "delete this region (Delete)";
    del.setAttribute("aria-label", `delete region ${i + 1}`);
    del.addEventListener("click", () => this.remove(i));
    head.append(title, del);
    const prompt = document.createElement("input");
    prompt.type = "text"; prompt.placeholder = "what this region should become"; prompt.value = r.prompt;
    prompt.dataset.regionPrompt = i; prompt.autocomplete = "off";
    prompt.addEventListener("input", () => { r.prompt = prompt.value; clearAt(`region-${i}`); this.hooks.change(); });
    prompt.addEventListener("change", () => this.hooks.commit());
    prompt.addEventListener("focus", () => { this.state.selected = i; this.draw(); });
    const msg = document.createElement("p"); msg.className = "msg"; msg.dataset.for = `region-${i}`; msg.hidden = true;
    const w = document.createElement("div"); w.className = "weights";
    const wl = document.createElement("label"); wl.textContent = "weight ";
    const wi = document.createElement("input"); wi.type = "number"; wi.min = 0; wi.value = r.weight;
    wi.addEventListener("input", () => { r.weight = Number(wi.value); this.hooks.change(); });
    wi.addEventListener("change", () => this.hooks.commit());
    wl.appendChild(wi); w.appendChild(wl);
    // optional exemplar picture: the region aims at it instead of the prompt
    const ex = document.createElement("label"); ex.className = "button small-button";
    ex.textContent = r.image ? "exemplar ✓" : "exemplar…";
    ex.title = r.image ? `aims at ${r.imageName || "an exemplar picture"} (click to change)` : "aim this region at a reference picture instead of the prompt";
    const exf = document.createElement("input"); exf.type = "file"; exf.accept = "image/png,image/jpeg,image/webp"; exf.hidden = true;
    exf.addEventListener("change", async () => {
      const f = exf.files[0]; if (!f) return;
      const form = new FormData(); form.append("file", f);
      try {
        const img = await api("POST", "/api/images", form);
        r.image = img.id; r.imageName = f.name; clearAt(`region-${i}`);
        this.render(); this.hooks.commit();
      } catch (err) { showAt(`region-${i}`, `The exemplar picture was refused: ${err.message}.`); }
    });
    ex.appendChild(exf); w.appendChild(ex);
    if (r.image) {
      const clear = document.createElement("button"); clear.textContent = "×"; clear.title = "use the prompt again";
      clear.addEventListener("click", () => { r.image = null; this.render(); this.hooks.commit(); });
      w.appendChild(clear);
    }
    div.append(head, prompt, msg, w);
    return div;
  }

  // What POST /api/edits takes.
  body() {
    return this.list.map((r) => ({
      ...(r.kind === "box" ? { box: r.box } : { polygon: r.points }),
      ...(r.image ? { image: r.image } : { prompt: r.prompt }), weight: r.weight,
    }));
  }

  // Regions of a run's request (see the server's request_of).
  static fromRequest(rois) {
    return rois.map((r, i) => ({
      kind: r.polygon ? "polygon" : "box",
      ...(r.polygon ? { points: r.polygon } : { box: r.box }),
      prompt: r.prompt || "", weight: r.weight ?? 1, image: r.image || null,
      color: COLORS[i % COLORS.length],
    }));
  }
}

function round(v) { return Math.round(v * 10) / 10; }

export function bounds(r) {
  if (r.kind === "box") return r.box;
  const xs = r.points.map((p) => p[0]), ys = r.points.map((p) => p[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)];
}

function svgEl(tag, attrs) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}
