// Talking to the server: same-origin JSON requests, and messages in the page's words.

export class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

// Every state-changing request carries a JSON body with its content type (the server
// refuses other content types there); multipart only for uploads.
export async function api(method, url, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined || method !== "GET") {
    opts.body = JSON.stringify(body ?? {});
    opts.headers["content-type"] = "application/json";
  }
  let r;
  try { r = await fetch(url, opts); }
  catch (err) { throw new ApiError("the editor's server does not answer; is `clipvg serve` still running?", 0); }
  const data = await r.json().catch(() => ({ error: `the server answered HTTP ${r.status}` }));
  if (!r.ok) throw new ApiError(data.error || `the server answered HTTP ${r.status}`, r.status);
  return data;
}

export async function text(url) {
  const r = await fetch(url, { credentials: "same-origin" });
  if (!r.ok) throw new ApiError(`HTTP ${r.status}`, r.status);
  return r.text();
}

export function debounce(fn, ms) {
  let t = null;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

export function fmtSeconds(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return "–";
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}
