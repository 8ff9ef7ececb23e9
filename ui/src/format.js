// Display formats for times, durations, tokens and cost.

export function formatTime(unixSeconds) {
  if (unixSeconds == null) return "—";
  const d = new Date(unixSeconds * 1000);
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function formatDuration(seconds) {
  if (seconds == null || Number.isNaN(seconds)) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(2)} s`;
  return `${Math.floor(seconds / 60)} m ${Math.round(seconds % 60)} s`;
}

export function formatTokens(n) {
  if (!n) return "—";
  return n >= 10000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n));
}

export function formatCost(usd) {
  if (!usd) return "—";
  if (usd < 0.01) return `$${usd.toFixed(5)}`;
  return `$${usd.toFixed(4)}`;
}

/** A short one-line preview of any JSON value. */
export function preview(value, max = 120) {
  if (value == null) return "";
  let text = typeof value === "string" ? value : JSON.stringify(value);
  text = text.replace(/\s+/g, " ");
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}
