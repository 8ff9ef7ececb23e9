import { useCallback, useEffect, useRef, useState } from "react";
import { api, listTraces, toFilter } from "../api.js";
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

  function apply(next) {
    const p = new URLSearchParams();
    if (next.q) p.set("q", next.q);
    if (next.range && next.range !== "all") p.set("range", next.range);
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
      {error && <p className="error" role="alert">{error}</p>}
      <table className="list traces">
        <thead>
          <tr><th>Started</th><th>Name</th><th>Input</th><th>Output</th><th>Duration</th><th>Spans</th><th>Tokens</th><th>Cost</th><th>Tags</th></tr>
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
            </tr>
          ))}
        </tbody>
      </table>
      {!loading && traces.length === 0 && !error && <p className="muted">No traces{q ? " match this filter" : " yet"}.</p>}
      <div ref={sentinel} className="sentinel">{loading ? "Loading…" : cursor ? "" : traces.length ? "End of list" : ""}</div>
    </div>
  );
}
