// The layers panel: the SVG's groups (the vectorizer's round-N, an illustration's <g id>
// or Inkscape layers by their inkscape:label), each shown or hidden and locked or not.
// Hidden and locked layers go to the edit as `freeze` (left as they are).

const $ = (id) => document.getElementById(id);

export class Layers {
  constructor(state, hooks) {
    this.state = state; this.hooks = hooks;
    this.items = []; // [{id (the freeze key), name, group (its id), depth, paths}]
  }

  set(items) { this.items = items; this.render(); }

  // ids of layers whose paths the edit must leave alone
  frozen() {
    const st = this.state.layers;
    return this.items.filter((l) => st.hidden.includes(l.id) || st.locked.includes(l.id)).map((l) => l.id);
  }

  toggle(kind, id, on) {
    const list = this.state.layers[kind];
    const i = list.indexOf(id);
    if (on && i < 0) list.push(id);
    if (!on && i >= 0) list.splice(i, 1);
    this.render();
    this.hooks.commit(kind);
  }

  render() {
    const ul = $("layers");
    while (ul.firstChild) ul.removeChild(ul.firstChild);
    if (!this.items.length) {
      const li = document.createElement("li"); li.className = "hint";
      li.textContent = this.state.scene ? "This picture has no named groups." : "Open a picture to see its layers.";
      ul.appendChild(li);
      return;
    }
    const st = this.state.layers;
    for (const l of this.items) {
      const li = document.createElement("li");
      li.dataset.layer = l.id;
      li.style.paddingLeft = `${4 + l.depth * 14}px`;
      const hidden = st.hidden.includes(l.id), locked = st.locked.includes(l.id);
      li.classList.toggle("off", hidden);
      const eye = checkbox(!hidden, "show", `show layer ${l.name}`, (v) => this.toggle("hidden", l.id, !v));
      const lock = checkbox(locked, "lock", `lock layer ${l.name} from editing`, (v) => this.toggle("locked", l.id, v));
      const name = document.createElement("span"); name.className = "name"; name.textContent = l.name;
      name.title = l.group && l.group !== l.name ? `group id ${l.group}` : "";
      const n = document.createElement("span"); n.className = "count"; n.textContent = `${l.paths} paths`;
      li.append(eye, lock, name, n);
      ul.appendChild(li);
    }
  }
}

function checkbox(checked, cls, title, onChange) {
  const label = document.createElement("label"); label.className = "layer-toggle " + cls; label.title = title;
  const input = document.createElement("input"); input.type = "checkbox"; input.checked = checked;
  input.setAttribute("aria-label", title);
  input.addEventListener("change", () => onChange(input.checked));
  const mark = document.createElement("span"); mark.textContent = cls;
  label.append(input, mark);
  return label;
}
