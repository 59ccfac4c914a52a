// Undo and redo of the page's own state (prompt, regions, settings, layers): snapshots,
// so that Ctrl+Z never falls through to the browser's per-field undo.

export class History {
  constructor(take, apply, onChange) {
    this.take = take; this.apply = apply; this.onChange = onChange;
    this.past = []; this.future = [];
  }

  // Start over from the current state (a new picture or a reopened run).
  reset() { this.past = [this.take()]; this.future = []; this.onChange(); }

  // Record the current state if it differs from the last recorded one.
  commit() {
    const now = this.take();
    const last = this.past[this.past.length - 1];
    if (last !== undefined && JSON.stringify(last) === JSON.stringify(now)) return false;
    this.past.push(now); this.future = [];
    if (this.past.length > 200) this.past.shift();
    this.onChange();
    return true;
  }

  undo() {
    this.commit(); // an edit still being typed counts as a step
    if (this.past.length < 2) return;
    this.future.push(this.past.pop());
    this.apply(this.past[this.past.length - 1]);
    this.onChange();
  }

  redo() {
    if (!this.future.length) return;
    const next = this.future.pop();
    this.past.push(next);
    this.apply(next);
    this.onChange();
  }

  get canUndo() { return this.past.length > 1 || (this.past.length === 1 && JSON.stringify(this.past[0]) !== JSON.stringify(this.take())); }
  get canRedo() { return this.future.length > 0; }
}
