// The API client of the UI: every call carries the API key kept in this browser session.

const KEY = "spanloom.apiKey";

export function apiKey() {
  return sessionStorage.getItem(KEY);
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key.trim());
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Authorization: `Bearer ${apiKey() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!res.ok) {
    const message = (data && data.error && data.error.message) || `${res.status} ${res.statusText}`;
    if (res.status === 401) setApiKey(null);
    throw new ApiError(res.status, message);
  }
  return data;
}

/** Escapes a value for a BTQL string literal. */
export function btqlString(s) {
  return "'" + String(s).replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
}

/** Trace summaries of a project: the plain list, or the traces whose spans match a filter. */
export async function listTraces(projectId, { filter, cursor, limit = 50 }) {
  if (!filter) {
    const params = new URLSearchParams({ limit: String(limit) });
    if (cursor) params.set("cursor", cursor);
    const page = await api(`/api/v1/project_logs/${encodeURIComponent(projectId)}/traces?${params}`);
    return { traces: page.traces, cursor: page.cursor };
  }
  let query = `from: project_logs(${btqlString(projectId)}) traces | filter: ${filter} | limit: ${limit}`;
  if (cursor) query += ` | cursor: ${btqlString(cursor)}`;
  const page = await api("/btql", { method: "POST", body: { query } });
  return { traces: page.data, cursor: page.cursor };
}

/** Turns what the user typed into a BTQL filter: BTQL as is, plain words as full-text search. */
export function toFilter(text) {
  const t = (text || "").trim();
  if (!t) return "";
  const looksLikeBtql = /(\s(=|!=|<|>|<=|>=|~|~\*|LIKE|ILIKE|IN|IS)\s)|\bMATCH\b|\bAND\b|\bOR\b|\bNOT\b/i.test(t) || /^[a-z_]+\.[\w.]+\s*(=|!=|<|>)/i.test(t);
  return looksLikeBtql ? t : `MATCH ${btqlString(t)}`;
}

let worker = null;

/** GETs a JSON document and parses it in a worker (large span payloads). */
export async function apiLarge(path) {
  const res = await fetch(path, { headers: { Authorization: `Bearer ${apiKey() || ""}` } });
  const text = await res.text();
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = JSON.parse(text).error.message;
    } catch {
      // not a JSON error body
    }
    throw new ApiError(res.status, message);
  }
  if (text.length < 256 * 1024) return JSON.parse(text);
  if (!worker) worker = new Worker(new URL("./jsonWorker.js", import.meta.url), { type: "module" });
  return new Promise((resolve, reject) => {
    const w = worker;
    w.onmessage = (e) => (e.data.ok ? resolve(e.data.value) : reject(new Error(e.data.error)));
    w.postMessage(text);
  });
}
