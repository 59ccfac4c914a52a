// Messages where the user looks: inline under the control that caused them, cleared
// when that control changes; toasts for what belongs to no control.

import { SETTINGS } from "./settings.js";

const $ = (id) => document.getElementById(id);

function slot(key) {
  return document.querySelector(`.msg[data-for="${CSS.escape(key)}"]`);
}

function control(key) {
  if (key.startsWith("region-")) return document.querySelector(`#regions [data-region-prompt="${key.slice(7)}"]`);
  return $(key);
}

// Show `text` next to control `key` (a setting's name, "prompt", "region-I", "drop", "start", ...).
export function showAt(key, text) {
  const el = slot(key);
  if (!el) return toast(text, "error");
  el.textContent = text;
  el.hidden = false;
  const c = control(key);
  if (c) { c.setAttribute("aria-invalid", "true"); }
  (c || el).scrollIntoView({ block: "nearest" });
  return el;
}

export function clearAt(key) {
  const el = slot(key);
  if (el) { el.textContent = ""; el.hidden = true; }
  const c = control(key);
  if (c) c.removeAttribute("aria-invalid");
}

export function toast(text, kind = "info", ms = 6000) {
  const box = $("toasts");
  const t = document.createElement("div");
  t.className = "toast " + kind;
  t.setAttribute("role", kind === "error" ? "alert" : "status");
  t.textContent = text;
  const close = document.createElement("button");
  close.textContent = "×"; close.title = "dismiss";
  close.addEventListener("click", () => t.remove());
  t.appendChild(close);
  box.appendChild(t);
  if (ms) setTimeout(() => t.remove(), ms);
  return t;
}

// Library and server messages name settings (and sometimes CLI flags): say them with
// the page's labels.
export function inPageWords(message) {
  let m = String(message);
  for (const s of SETTINGS) {
    const flag = "--" + s.key.replace(/_/g, "-");
    m = m.split(flag).join(`“${s.label}”`);
    // the library names settings as the API does (edit_only); one-word names only where
    // a list of names or a rule follows them, so that plain words stay words
    if (s.key.includes("_")) m = m.replace(new RegExp(`\\b${s.key}\\b`, "g"), `“${s.label}”`);
    else m = m.replace(new RegExp(`(^|, )${s.key}(?=,| and | must| takes| needs)`, "g"), `$1“${s.label}”`);
  }
  return m
    .replace(/--prompt(?: TEXT)?(?: \(or --prompt-image REF\.png\))?/g, "the whole-image prompt")
    .replace(/--roi[-\w]* ?(\/ )?/g, "")
    .replace(/\bin rois\b/g, "on the picture")
    .replace(/pass the/g, "give the");
}

// Which control a server message is about: "rois[2] ..." / "ROI 3" -> region, a setting's name -> it.
export function whereFrom(message) {
  const m = String(message);
  let r = /rois\[(\d+)\]/.exec(m);
  if (r) return "region-" + r[1];
  r = /\bROI (\d+)/.exec(m);
  if (r && Number(r[1]) > 0) return "region-" + (Number(r[1]) - 1);
  if (/\bfreeze\b/.test(m)) return "layers";
  if (/edit.only/.test(m)) return "edit_only";
  for (const s of SETTINGS) {
    const names = [s.key, s.key.replace(/_/g, "-")];
    if (names.some((n) => new RegExp(`(^|[^\\w-])(--)?${n}([^\\w-]|$)`).test(m))) return s.key;
  }
  if (/prompt/.test(m)) return "prompt";
  return "start";
}

export function showServerError(err) {
  const msg = inPageWords(err.message || err);
  return showAt(whereFrom(err.message || err), msg);
}
