// The edit settings on the page: the CLI's names (the real one shown beside the
// friendly label), checked here with messages in the page's words.

const $ = (id) => document.getElementById(id);

// key (the API / settings name), label, kind, where, limits
export const SETTINGS = [
  { key: "iters", label: "Iterations", kind: "int", min: 1, max: 100000, basic: true },
  { key: "seed", label: "Seed", kind: "int", min: 0, max: 2 ** 31 - 1, basic: true },
  { key: "lock", label: "Lock", kind: "choice", basic: true,
    choices: [["", "nothing"], ["color", "colours (color)"], ["shape", "shapes (shape)"]] },
  { key: "preserve_background", label: "Keep background", kind: "num", min: 0, max: 1e6, step: 0.1, basic: true },
  { key: "candidates", label: "Candidates (seeds ranked)", kind: "int", min: 1, max: 8, basic: true },
  { key: "edit_only", label: "Edit only inside the regions", kind: "bool", basic: true },
  { key: "patches", label: "Patches per region", kind: "int", min: 0, max: 4096 },
  { key: "crop_ratio", label: "Patch size ratio", kind: "num", min: 0.01, max: 1, step: 0.05 },
  { key: "roi_weight", label: "Region weight", kind: "num", min: 0, max: 1e6, step: 1 },
  { key: "patch_weight", label: "Patch weight", kind: "num", min: 0, max: 1e6, step: 1 },
  { key: "shape_lr", label: "Shape step (px)", kind: "num", min: 0, max: 100, step: 0.05 },
  { key: "color_lr", label: "Colour step", kind: "num", min: 0, max: 1, step: 0.005 },
  { key: "feather", label: "Feather (px)", kind: "num", min: 0, max: 1000, step: 0.5 },
  { key: "save_every", label: "Snapshot every", kind: "int", min: 0, max: 100000 },
  { key: "batch_size", label: "Crops per CLIP pass", kind: "int", min: 0, max: 4096 },
  { key: "source_prompt", label: "The picture is a", kind: "text" },
];

const flag = (s) => "--" + s.key.replace(/_/g, "-");

export function buildSettings(defaults, onChange) {
  for (const s of SETTINGS) {
    const box = document.createElement("div");
    box.className = "field" + (s.kind === "bool" ? " wide" : "");
    const label = document.createElement("label");
    label.htmlFor = s.key;
    const name = document.createElement("code"); name.textContent = flag(s);
    let input;
    if (s.kind === "choice") {
      input = document.createElement("select");
      for (const [v, t] of s.choices) { const o = document.createElement("option"); o.value = v; o.textContent = t; input.appendChild(o); }
    } else {
      input = document.createElement("input");
      input.type = s.kind === "bool" ? "checkbox" : s.kind === "text" ? "text" : "number";
      if (s.kind === "int" || s.kind === "num") {
        input.min = s.min; input.max = s.max; input.step = s.kind === "int" ? 1 : s.step;
        input.inputMode = s.kind === "int" ? "numeric" : "decimal";
      }
    }
    input.id = s.key;
    input.dataset.setting = s.key;
    if (s.kind === "bool") { label.append(input, " " + s.label + " ", name); box.appendChild(label); }
    else { label.append(s.label + " ", name); box.append(label, input); }
    const msg = document.createElement("p"); msg.className = "msg"; msg.dataset.for = s.key; msg.hidden = true;
    msg.setAttribute("role", "alert");
    box.appendChild(msg);
    $(s.basic ? "basic" : "advanced").appendChild(box);
    input.addEventListener(s.kind === "bool" || s.kind === "choice" ? "change" : "input", () => onChange(s.key, "input"));
    input.addEventListener("change", () => onChange(s.key, "change"));
  }
  setValues(defaults);
}

export function readValues() {
  const out = {};
  for (const s of SETTINGS) {
    const el = $(s.key);
    if (s.kind === "bool") out[s.key] = el.checked;
    else if (s.kind === "choice") out[s.key] = el.value || null;
    else if (s.kind === "text") out[s.key] = el.value;
    else out[s.key] = el.value.trim() === "" ? NaN : Number(el.value);
  }
  return out;
}

export function setValues(values) {
  for (const s of SETTINGS) {
    if (!(s.key in values)) continue;
    const el = $(s.key), v = values[s.key];
    if (s.kind === "bool") el.checked = !!v;
    else if (s.kind === "choice") el.value = v ?? "";
    else el.value = v === null || v === undefined || (typeof v === "number" && Number.isNaN(v)) ? "" : v;
  }
}

// A message for a bad value of setting `key`, or null.
export function problem(key, value) {
  const s = SETTINGS.find((x) => x.key === key);
  if (!s || s.kind === "bool" || s.kind === "choice") return null;
  if (s.kind === "text") return String(value).trim() ? null : `${s.label} needs a word or two (for example “photo”).`;
  const range = `from ${s.min} to ${s.max}`;
  if (!Number.isFinite(value)) return `${s.label} needs a number ${range}.`;
  if (s.kind === "int" && !Number.isInteger(value)) return `${s.label} must be a whole number ${range}.`;
  if (value < s.min || value > s.max) return `${s.label} must be ${range}.`;
  return null;
}
