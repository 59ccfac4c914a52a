// The picture: the SVG itself drawn by the browser (our sanitized re-export, with hidden
// layers left out), PNG only as a fallback; wheel/pinch zoom, pan, and the wipe handle.

import { text } from "./api.js";

const $ = (id) => document.getElementById(id);
const MIN_ZOOM = 0.05, MAX_ZOOM = 64;

export class View {
  constructor(state, { onZoom }) {
    this.state = state; this.onZoom = onZoom;
    this.texts = { before: null, after: null };
    this.urls = { before: null, after: null };
    this.fallback = { before: null, after: null };
    this.settle = { before: null, after: null }; // resolves the unfinished draw of each
    this.pending = null; this.loading = false;
    this.pan = [0, 0]; this.space = false; this.pointers = new Map(); this.gesture = null;
    this.fitted = true; // follow the stage's size until the user zooms or pans
    this.bind();
    new ResizeObserver(() => { if (this.fitted && this.state.scene) this.fit(); }).observe($("stage"));
  }

  // ---- pictures -------------------------------------------------------------------
  async setBefore(svgUrl, pngUrl) {
    this.fallback.before = pngUrl;
    this.texts.before = null;
    try { this.texts.before = await text(svgUrl); } catch (err) { /* PNG below */ }
    // Shown before the caller parses the text for its layer list: on a 1000-path photo
    // that parse held the page's thread for 0.1-0.15 s while the picture waited to load.
    await this.draw("before");
    return this.texts.before;
  }

  // A new edited picture (live previews come faster than they load: keep only the newest).
  setAfter(svgUrl, pngUrl, iteration) {
    this.pending = { svgUrl, pngUrl, iteration };
    if (!this.loading) this.loadPending();
  }

  async loadPending() {
    this.loading = true;
    while (this.pending) {
      const { svgUrl, pngUrl, iteration } = this.pending; this.pending = null;
      this.fallback.after = pngUrl;
      try { this.texts.after = await text(svgUrl); } catch (err) { this.texts.after = null; }
      await this.draw("after", iteration);
    }
    this.loading = false;
  }

  clearAfter() {
    this.pending = null; this.texts.after = null;
    const img = $("after"); img.hidden = true; img.removeAttribute("src"); delete img.dataset.iteration;
    $("wipe").hidden = true;
  }

  // Draw one picture from its SVG text, hidden layers left out (PNG when there is no text).
  // Resolves once drawn, or once a newer draw of the same picture has taken the <img> over.
  draw(which, iteration) {
    const img = $(which);
    if (this.settle[which]) this.settle[which]();
    return new Promise((resolve) => {
      const settle = () => { if (this.settle[which] === settle) this.settle[which] = null; resolve(); };
      this.settle[which] = settle;
      const done = () => {
        img.onload = img.onerror = null;
        if (iteration !== undefined) img.dataset.iteration = iteration;
        if (which === "after") { img.hidden = false; $("wipe").hidden = false; this.applyWipe(); }
        settle();
      };
      img.onload = done;
      img.onerror = () => {
        if (img.dataset.fallback !== "1" && this.fallback[which]) {
          img.dataset.fallback = "1"; img.src = this.fallback[which];
        } else done();
      };
      img.dataset.fallback = "0";
      const src = this.texts[which];
      if (src === null) {
        if (!this.fallback[which]) return settle();
        img.dataset.fallback = "1"; img.dataset.kind = "png";
        img.src = `${this.fallback[which]}${this.fallback[which].includes("?") ? "&" : "?"}t=${Date.now()}`;
        return;
      }
      const url = URL.createObjectURL(new Blob([withHidden(src, this.state.hidden())], { type: "image/svg+xml" }));
      if (this.urls[which]) URL.revokeObjectURL(this.urls[which]);
      this.urls[which] = url;
      img.dataset.kind = "svg";
      img.src = url;
    });
  }

  redraw() {
    this.draw("before");
    if (this.texts.after !== null && !$("after").hidden) this.draw("after", $("after").dataset.iteration);
  }

  // ---- zoom and pan ---------------------------------------------------------------
  setZoom(z, at) {
    const sc = this.state.scene;
    if (!sc) return;
    const st = $("stage").getBoundingClientRect();
    const old = this.state.zoom;
    const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z));
    const [cx, cy] = at || [st.width / 2, st.height / 2];
    // keep the canvas point under (cx, cy) where it is
    this.pan = [cx - ((cx - this.pan[0]) * zoom) / old, cy - ((cy - this.pan[1]) * zoom) / old];
    this.state.zoom = zoom;
    this.fitted = false;
    this.apply();
  }

  fit() {
    const sc = this.state.scene;
    if (!sc) return;
    const st = $("stage");
    const w = st.clientWidth, h = st.clientHeight;
    const zoom = Math.max(MIN_ZOOM, Math.min((w - 24) / sc.width, (h - 24) / sc.height));
    this.state.zoom = zoom;
    this.pan = [(w - sc.width * zoom) / 2, (h - sc.height * zoom) / 2];
    this.fitted = true;
    this.apply();
  }

  apply() {
    const sc = this.state.scene, wrap = $("canvas-wrap");
    wrap.style.width = `${sc.width * this.state.zoom}px`;
    wrap.style.height = `${sc.height * this.state.zoom}px`;
    wrap.style.left = `${this.pan[0]}px`;
    wrap.style.top = `${this.pan[1]}px`;
    $("zoom-label").textContent = `${Math.round(this.state.zoom * 100)}%`;
    this.onZoom();
  }

  panning(e) {
    return this.state.tool === "pan" || this.space || e.button === 1;
  }

  bind() {
    const stage = $("stage");
    stage.addEventListener("wheel", (e) => {
      if (!this.state.scene) return;
      e.preventDefault();
      const r = stage.getBoundingClientRect();
      const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
      // a pinch on a touchpad arrives as a wheel with ctrlKey, in smaller steps
      const k = Math.exp(-e.deltaY * unit * (e.ctrlKey ? 0.01 : 0.0015));
      this.setZoom(this.state.zoom * k, [e.clientX - r.left, e.clientY - r.top]);
    }, { passive: false });
    // capture: a pan or pinch starts before the overlay sees the pointer
    stage.addEventListener("pointerdown", (e) => {
      if (!this.state.scene) return;
      this.pointers.set(e.pointerId, [e.clientX, e.clientY]);
      if (this.pointers.size === 2) {
        const [a, b] = [...this.pointers.values()];
        this.gesture = { kind: "pinch", dist: Math.hypot(a[0] - b[0], a[1] - b[1]) || 1, mid: mid(a, b), zoom: this.state.zoom };
        this.state.cancelDrawing();
        e.stopPropagation();
      } else if (this.panning(e)) {
        this.gesture = { kind: "pan", last: [e.clientX, e.clientY] };
        stage.setPointerCapture(e.pointerId);
        stage.classList.add("panning");
        e.stopPropagation(); e.preventDefault();
      }
    }, true);
    stage.addEventListener("pointermove", (e) => {
      if (!this.pointers.has(e.pointerId)) return;
      this.pointers.set(e.pointerId, [e.clientX, e.clientY]);
      const g = this.gesture;
      if (!g) return;
      e.stopPropagation();
      if (g.kind === "pan") {
        this.pan = [this.pan[0] + e.clientX - g.last[0], this.pan[1] + e.clientY - g.last[1]];
        g.last = [e.clientX, e.clientY];
        this.fitted = false;
        this.apply();
      } else if (this.pointers.size >= 2) {
        const [a, b] = [...this.pointers.values()];
        const m = mid(a, b), r = stage.getBoundingClientRect();
        this.pan = [this.pan[0] + m[0] - g.mid[0], this.pan[1] + m[1] - g.mid[1]];
        g.mid = m;
        this.setZoom(g.zoom * (Math.hypot(a[0] - b[0], a[1] - b[1]) / g.dist), [m[0] - r.left, m[1] - r.top]);
      }
    }, true);
    const up = (e) => {
      this.pointers.delete(e.pointerId);
      if (this.gesture && (this.gesture.kind === "pan" || this.pointers.size < 2)) {
        this.gesture = null; stage.classList.remove("panning"); e.stopPropagation();
      }
    };
    stage.addEventListener("pointerup", up, true);
    stage.addEventListener("pointercancel", up, true);
    document.addEventListener("keydown", (e) => {
      if (e.code === "Space" && !isTyping(e.target)) { this.space = true; stage.classList.add("can-pan"); e.preventDefault(); }
    });
    document.addEventListener("keyup", (e) => {
      if (e.code === "Space") { this.space = false; stage.classList.remove("can-pan"); }
    });
    // the wipe: a handle on the picture, and the slider in the toolbar
    const knob = document.querySelector("#wipe .knob");
    knob.addEventListener("pointerdown", (e) => {
      e.stopPropagation(); e.preventDefault();
      knob.setPointerCapture(e.pointerId);
      const move = (ev) => {
        const r = $("canvas-wrap").getBoundingClientRect();
        $("compare").value = Math.round(Math.min(100, Math.max(0, ((ev.clientX - r.left) / r.width) * 100)));
        this.applyWipe();
      };
      const stop = () => { knob.removeEventListener("pointermove", move); knob.removeEventListener("pointerup", stop); };
      knob.addEventListener("pointermove", move);
      knob.addEventListener("pointerup", stop);
    });
    $("compare").addEventListener("input", () => this.applyWipe());
  }

  // Before on the left of the handle, after on its right (as the labels read).
  applyWipe() {
    const v = Number($("compare").value);
    $("after").style.clipPath = `inset(0 0 0 ${v}%)`;
    $("wipe").style.left = `${v}%`;
  }
}

function mid(a, b) { return [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]; }

export function isTyping(el) {
  return el && (el.tagName === "INPUT" && !["checkbox", "range", "button", "file"].includes(el.type) || el.tagName === "TEXTAREA" || el.tagName === "SELECT");
}

const INKSCAPE = "http://www.inkscape.org/namespaces/inkscape";

// A group's layer key: its id, else its inkscape:label (Inkscape's layer name; such a
// group often has no id). The edit's `freeze` takes either.
export function layerKey(g) { return g.id || g.getAttributeNS(INKSCAPE, "label") || ""; }

// `svg` with the groups whose layer keys are in `hidden` not displayed.
export function withHidden(svg, hidden) {
  if (!hidden.length) return svg;
  const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
  for (const g of doc.getElementsByTagName("g")) {
    if (hidden.includes(layerKey(g))) g.setAttribute("display", "none");
  }
  return new XMLSerializer().serializeToString(doc);
}

// The layers of an SVG: every <g> with an id or an inkscape:label and paths in it,
// nested, with its name (the label where there is one) and the number of paths.
export function layersOf(svg) {
  const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
  const out = [];
  const walk = (el, depth) => {
    for (const child of el.children) {
      if (child.tagName !== "g") continue;
      const key = layerKey(child), paths = child.getElementsByTagName("path").length;
      if (key && paths) {
        const label = child.getAttributeNS(INKSCAPE, "label");
        out.push({ id: key, name: label || key, group: child.id, depth, paths });
        walk(child, depth + 1);
      } else walk(child, depth);
    }
  };
  walk(doc.documentElement, 0);
  return out;
}
