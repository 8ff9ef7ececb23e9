import { useCallback, useEffect, useRef, useState } from "react";
import { api, btqlString, listTraces, toFilter } from "../api.js";
import { Link, navigate } from "../router.jsx";
import { formatCost, formatDuration, formatTime, formatTokens } from "../format.js";
import { ProjectNav } from "../components/ProjectNav.jsx";

const RANGES = [
  ["1h", "Last hour", 3600],
  ["24h", "Last 24 hours", 86400],
  ["7d", "Last 7 days", 7 * 86400],
  ["30d", "Last 30 days", 30 * 86400],
  ["all", "All time", null],
];

function rangeFilter(range) {
  const r = RANGES.find(([id]) => id === range);
  return r && r[2] ? r[2] : null;
}

export function Traces({ projectId, search }) {
  const params = new URLSearchParams(search);
  const q = params.get("q") || "";
  const range = params.get("range") || "all";
  const cols = (params.get("cols") || "").split(",").filter((c) => /^[A-Za-z0-9_.]+$/.test(c));
  const [colText, setColText] = useState("");
  const [extra, setExtra] = useState({});
  const [text, setText] = useState(q);
  const [project, setProject] = useState(null);
  const [traces, setTraces] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState(null);
  const sentinel = useRef(null);
  const generation = useRef(0);

  useEffect(() => {
    api(`/v1/project/${encodeURIComponent(projectId)}`).then(setProject, () => setProject({ id: projectId, name: projectId }));
  }, [projectId]);

  const filterFor = useCallback(() => {
    const seconds = rangeFilter(range);
    const user = toFilter(q);
    const time = seconds ? `created > now() - interval ${Math.round(seconds / 3600) || 1} hour` : "";
    return [user && `(${user})`, time].filter(Boolean).join(" AND ");
  }, [q, range]);

  const load = useCallback(
    async (reset) => {
      const gen = reset ? ++generation.current : generation.current;
      setLoading(true);
      setError(null);
      try {
        const page = await listTraces(projectId, { filter: filterFor(), cursor: reset ? null : cursor });
        if (gen !== generation.current) return;
        setTraces((old) => (reset ? page.traces : [...old, ...page.traces]));
        setCursor(page.cursor || null);
      } catch (e) {
        if (gen === generation.current) setError(e.message);
      } finally {
        if (gen === generation.current) setLoading(false);
      }
    },
    [projectId, filterFor, cursor],
  );

  useEffect(() => {
    setText(q);
    setTraces([]);
    setCursor(null);
    load(true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [projectId, q, range]);

  // Infinite scroll: load the next page when the end of the list comes into view.
  useEffect(() => {
    const el = sentinel.current;
    if (!el) return undefined;
    const obs = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && cursor && !loading) load(false);
    });
    obs.observe(el);
    return () => obs.disconnect();
  }, [cursor, loading, load]);

  // Values of the chosen columns, read from the root spans of the listed traces.
  const colKey = cols.join(",");
  useEffect(() => {
    if (!cols.length || !traces.length) return;
    const missing = traces.map((t) => t.root_span_id).filter((id) => !(id in extra));
    if (!missing.length) return;
    const select = cols.map((c, i) => `${c} AS c${i}`).join(", ");
    const ids = missing.slice(0, 200).map(btqlString).join(", ");
    const query = `SELECT root_span_id, ${select} FROM project_logs(${btqlString(projectId)}) WHERE root_span_id IN (${ids}) AND span_parents IS NULL LIMIT 400`;
    api("/btql", { method: "POST", body: { query } }).then(
      (r) => setExtra((old) => {
        const next = { ...old };
        for (const id of missing) next[id] = next[id] || {};
        for (const row of r.data) next[row.root_span_id] = row;
        return next;
      }),
      (e) => setError(e.message),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [traces, colKey]);
  useEffect(() => setExtra({}), [colKey]);

  function apply(next) {
    const p = new URLSearchParams();
    if (next.q) p.set("q", next.q);
    if (next.range && next.range !== "all") p.set("range", next.range);
    const nextCols = next.cols || cols;
    if (nextCols.length) p.set("cols", nextCols.join(","));
    const s = p.toString();
    navigate(`/app/p/${encodeURIComponent(projectId)}${s ? "?" + s : ""}`);
  }

  return (
    <div className="page">
      <ProjectNav projectId={projectId} projectName={project && project.name} active="Traces" />
      <form className="filterbar" onSubmit={(e) => { e.preventDefault(); apply({ q: text, range }); }}>
        <input
          name="filter"
          placeholder="Search words, or a BTQL filter: metadata.model = 'gpt-4o' AND error IS NOT NULL"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <select name="range" value={range} onChange={(e) => apply({ q, range: e.target.value })}>
          {RANGES.map(([id, label]) => <option key={id} value={id}>{label}</option>)}
        </select>
        <button type="submit">Search</button>
      </form>
      <form className="toolbar columns" onSubmit={(e) => { e.preventDefault(); const c = colText.trim(); if (/^[A-Za-z0-9_.]+$/.test(c) && !cols.includes(c)) apply({ q, range, cols: [...cols, c] }); setColText(""); }}>
        <span className="muted small">Columns:</span>
        {cols.map((c) => (
          <span key={c} className="badge">{c} <button type="button" className="link" aria-label={`remove column ${c}`} onClick={() => apply({ q, range, cols: cols.filter((x) => x !== c) })}>×</button></span>
        ))}
        <input name="add-column" placeholder="metadata.user_id" value={colText} onChange={(e) => setColText(e.target.value)} />
        <button type="submit">Add column</button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      <table className="list traces">
        <thead>
          <tr><th>Started</th><th>Name</th><th>Input</th><th>Output</th><th>Duration</th><th>Spans</th><th>Tokens</th><th>Cost</th><th>Tags</th>{cols.map((c) => <th key={c} className="meta-col">{c}</th>)}</tr>
        </thead>
        <tbody>
          {traces.map((t) => (
            <tr key={t.root_span_id} className={t.error_count ? "has-error" : ""} data-trace={t.root_span_id}>
              <td className="muted nowrap">{formatTime(t.start)}</td>
              <td>
                <Link to={`/app/p/${encodeURIComponent(projectId)}/t/${encodeURIComponent(t.root_span_id)}`}>{t.root_name || "(unnamed)"}</Link>
                {t.error_count > 0 && <span className="badge error" title={`${t.error_count} spans failed`}>error</span>}
              </td>
              <td className="preview">{t.input_preview}</td>
              <td className="preview">{t.output_preview}</td>
              <td className="nowrap">{formatDuration(t.duration)}</td>
              <td>{t.span_count}</td>
              <td>{formatTokens(t.tokens)}</td>
              <td>{formatCost(t.estimated_cost)}</td>
              <td>{(t.tags || []).map((tag) => <span key={tag} className="badge">{tag}</span>)}</td>
              {cols.map((c, i) => {
                const v = extra[t.root_span_id] && extra[t.root_span_id][`c${i}`];
                return <td key={c} className="meta-col" data-col={c}>{v == null ? "" : typeof v === "string" ? v : JSON.stringify(v)}</td>;
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {!loading && traces.length === 0 && !error && <p className="muted">No traces{q ? " match this filter" : " yet"}.</p>}
      <div ref={sentinel} className="sentinel">{loading ? "Loading…" : cursor ? "" : traces.length ? "End of list" : ""}</div>
    </div>
  );
}
