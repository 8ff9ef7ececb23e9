// One trace: the span tree beside a timeline of the same spans, and the selected span's
// detail. The tree is virtualized (10,000-span traces stay fast), keyboard navigable
// (↑/↓ to move, ←/→ to collapse and expand) and searchable.
import { useEffect, useMemo, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { api, apiLarge } from "../api.js";
import { Link, navigate } from "../router.jsx";
import { formatDuration } from "../format.js";
import { SpanDetail } from "../components/SpanDetail.jsx";

const ROW = 28;

/** Orders spans as a depth-first tree; spans whose parent never arrived hang off the top. */
function buildTree(spans) {
  const byId = new Map(spans.map((s) => [s.span_id, s]));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    const parent = (s.span_parents || [])[0];
    if (parent && byId.has(parent) && parent !== s.span_id) {
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(s);
    } else roots.push(s);
  }
  const start = (s) => (s.metrics && s.metrics.start) || 0;
  for (const list of children.values()) list.sort((a, b) => start(a) - start(b));
  roots.sort((a, b) => start(a) - start(b));
  return { roots, children };
}

function flatten(tree, collapsed) {
  const out = [];
  const stack = tree.roots.map((s) => [s, 0]).reverse();
  const seen = new Set();
  while (stack.length) {
    const [s, depth] = stack.pop();
    if (seen.has(s.span_id)) continue;
    seen.add(s.span_id);
    const kids = tree.children.get(s.span_id) || [];
    out.push({ span: s, depth, hasChildren: kids.length > 0 });
    if (!collapsed.has(s.span_id)) for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
  }
  return out;
}

function matches(span, needle) {
  if (!needle) return true;
  const n = needle.toLowerCase();
  const name = ((span.span_attributes || {}).name || "").toLowerCase();
  if (name.includes(n)) return true;
  for (const key of ["input_preview", "output_preview", "error", "metadata"]) {
    const v = span[key];
    if (v == null) continue;
    const text = typeof v === "string" ? v : JSON.stringify(v);
    if (text.length < 2_000_000 && text.toLowerCase().includes(n)) return true;
  }
  return false;
}

export function Trace({ objectType, objectId, traceId, search }) {
  const selected = new URLSearchParams(search).get("span");
  const [trace, setTrace] = useState(null);
  const [error, setError] = useState(null);
  const [collapsed, setCollapsed] = useState(() => new Set());
  const [needle, setNeedle] = useState("");
  const scroller = useRef(null);

  useEffect(() => {
    setTrace(null);
    // The outline: every span without its payloads, which load when a span is opened.
    api(`/api/v1/${objectType}/${encodeURIComponent(objectId)}/traces/${encodeURIComponent(traceId)}?outline=true`).then(setTrace, (e) => setError(e.message));
  }, [objectType, objectId, traceId]);

  const tree = useMemo(() => (trace ? buildTree(trace.spans) : null), [trace]);
  const rows = useMemo(() => {
    if (!tree) return [];
    const all = flatten(tree, needle ? new Set() : collapsed);
    return needle ? all.filter((r) => matches(r.span, needle)) : all;
  }, [tree, collapsed, needle]);
  const bounds = useMemo(() => {
    if (!trace) return [0, 1];
    let lo = Infinity, hi = -Infinity;
    for (const s of trace.spans) {
      const m = s.metrics || {};
      if (m.start != null) lo = Math.min(lo, m.start);
      if (m.end != null) hi = Math.max(hi, m.end);
      else if (m.start != null) hi = Math.max(hi, m.start);
    }
    return lo === Infinity ? [0, 1] : [lo, Math.max(hi, lo + 1e-6)];
  }, [trace]);

  const selectedIndex = rows.findIndex((r) => r.span.span_id === selected);
  const current = trace && (trace.spans.find((s) => s.span_id === selected) || (rows[0] && rows[0].span));
  const [full, setFull] = useState(null);
  const currentId = current && current.span_id;
  useEffect(() => {
    if (!currentId) return undefined;
    let live = true;
    setFull(null);
    apiLarge(`/api/v1/${objectType}/${encodeURIComponent(objectId)}/spans/${encodeURIComponent(currentId)}`).then(
      (s) => live && setFull(s),
      (e) => live && setFull({ ...current, error: current.error || `Could not load this span: ${e.message}` }),
    );
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [objectType, objectId, currentId]);

  const virtualizer = useVirtualizer({ count: rows.length, getScrollElement: () => scroller.current, estimateSize: () => ROW, overscan: 20 });

  function select(spanId, replace = true) {
    const p = new URLSearchParams(search);
    p.set("span", spanId);
    navigate(`${location.pathname}?${p}`, { replace });
  }

  function onKey(e) {
    if (!rows.length) return;
    const i = selectedIndex < 0 ? 0 : selectedIndex;
    const row = rows[i];
    if (e.key === "ArrowDown" && i + 1 < rows.length) { select(rows[i + 1].span.span_id); virtualizer.scrollToIndex(i + 1); e.preventDefault(); }
    else if (e.key === "ArrowUp" && i > 0) { select(rows[i - 1].span.span_id); virtualizer.scrollToIndex(i - 1); e.preventDefault(); }
    else if (e.key === "ArrowLeft" && row.hasChildren) { setCollapsed(new Set([...collapsed, row.span.span_id])); e.preventDefault(); }
    else if (e.key === "ArrowRight" && collapsed.has(row.span.span_id)) { const c = new Set(collapsed); c.delete(row.span.span_id); setCollapsed(c); e.preventDefault(); }
  }

  if (error) return <p className="error" role="alert">{error}</p>;
  if (!trace) return <p className="muted">Loading trace…</p>;
  const [lo, hi] = bounds;
  const projectId = trace.summary.project_id;
  const listPath = objectType === "project_logs"
    ? `/app/p/${encodeURIComponent(objectId)}`
    : objectType === "experiment"
      ? `/app/p/${encodeURIComponent(projectId)}/compare?a=${encodeURIComponent(objectId)}`
      : `/app/p/${encodeURIComponent(projectId)}/datasets/${encodeURIComponent(objectId)}`;
  const listName = objectType === "project_logs" ? "Traces" : objectType === "experiment" ? "Experiment" : "Dataset";
  return (
    <div className="trace-page">
      <div className="crumbs">
        <Link to="/app">Projects</Link> / <Link to={listPath}>{listName}</Link> / <b>{trace.summary.root_name || traceId}</b>
        <span className="muted"> · {trace.summary.span_count} spans · {formatDuration(trace.summary.duration)}</span>
      </div>
      <div className="trace-layout">
        <div className="tree-pane" tabIndex={0} onKeyDown={onKey} aria-label="span tree">
          <input className="tree-search" name="trace-search" placeholder="Search this trace" value={needle} onChange={(e) => setNeedle(e.target.value)} />
          <div className="tree-scroll" ref={scroller}>
            <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
              {virtualizer.getVirtualItems().map((item) => {
                const { span, depth, hasChildren } = rows[item.index];
                const m = span.metrics || {};
                const left = m.start != null ? ((m.start - lo) / (hi - lo)) * 100 : 0;
                const width = m.start != null && m.end != null ? Math.max(((m.end - m.start) / (hi - lo)) * 100, 0.5) : 0.5;
                const attrs = span.span_attributes || {};
                const isSel = current && current.span_id === span.span_id;
                return (
                  <div
                    key={span.span_id}
                    className={`tree-row${isSel ? " selected" : ""}${span.error ? " has-error" : ""}`}
                    style={{ position: "absolute", top: 0, left: 0, right: 0, height: ROW, transform: `translateY(${item.start}px)` }}
                    onClick={() => select(span.span_id)}
                    data-span-id={span.span_id}
                    data-span-name={attrs.name}
                  >
                    <div className="tree-name" style={{ paddingLeft: depth * 14 + 4 }}>
                      <span
                        className="twisty"
                        onClick={(e) => {
                          e.stopPropagation();
                          const c = new Set(collapsed);
                          if (c.has(span.span_id)) c.delete(span.span_id); else c.add(span.span_id);
                          setCollapsed(c);
                        }}
                      >
                        {hasChildren ? (collapsed.has(span.span_id) ? "▸" : "▾") : "·"}
                      </span>
                      {attrs.type && <span className={`badge type-${attrs.type}`}>{attrs.type}</span>}
                      <span className="name">{attrs.name || "(unnamed)"}</span>
                    </div>
                    <div className="timeline"><div className={`bar type-${attrs.type || "none"}`} style={{ left: `${left}%`, width: `${width}%` }} /></div>
                    <div className="tree-dur muted">{m.end != null && m.start != null ? formatDuration(m.end - m.start) : ""}</div>
                  </div>
                );
              })}
            </div>
          </div>
        </div>
        {full && full.span_id === currentId ? (
          <SpanDetail span={full} objectType={objectType} objectId={objectId} />
        ) : (
          <div className="detail muted" data-loading={currentId}>Loading span…</div>
        )}
      </div>
    </div>
  );
}
