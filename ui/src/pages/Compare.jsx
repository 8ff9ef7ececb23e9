// Two experiments row by row: score deltas coloured, improvements and regressions counted,
// and a word diff of the outputs (whole outputs, never truncated).
import { useEffect, useState } from "react";
import { diffWordsWithSpace } from "diff";
import { api } from "../api.js";
import { ProjectNav } from "../components/ProjectNav.jsx";
import { Link } from "../router.jsx";
import { useProject } from "../useProject.js";

function text(v) {
  if (v == null) return "";
  return typeof v === "string" ? v : JSON.stringify(v, null, 2);
}

function Diff({ before, after }) {
  const parts = diffWordsWithSpace(text(before), text(after));
  return (
    <pre className="diff">
      {parts.map((p, i) => <span key={i} className={p.added ? "diff-add" : p.removed ? "diff-del" : ""}>{p.value}</span>)}
    </pre>
  );
}

function Delta({ value, base }) {
  if (value == null) return <span className="muted">—</span>;
  const pct = (value * 100).toFixed(1) + "%";
  if (base == null) return <span>{pct}</span>;
  const d = value - base;
  const cls = d > 1e-9 ? "up" : d < -1e-9 ? "down" : "same";
  return <span className={`delta ${cls}`}>{pct} <small>({d >= 0 ? "+" : ""}{(d * 100).toFixed(1)})</small></span>;
}

export function Compare({ projectId, search }) {
  const params = new URLSearchParams(search);
  const a = params.get("a");
  const b = params.get("b");
  const project = useProject(projectId);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setData(null);
    api(`/api/v1/experiment/${encodeURIComponent(a)}/compare${b ? `?base=${encodeURIComponent(b)}` : ""}`).then(setData, (e) => setError(e.message));
  }, [a, b]);
  if (error) return <p className="error" role="alert">{error}</p>;
  if (!data) return <p className="muted">Loading comparison…</p>;
  const names = Object.keys(data.scores).sort();
  return (
    <div className="page">
      <ProjectNav projectId={projectId} projectName={project && project.name} active="Experiments" />
      <h2>
        {data.experiment.name}
        {data.base ? <span className="muted"> vs baseline {data.base.name}</span> : <span className="muted"> (no baseline)</span>}
      </h2>
      <div className="score-cards">
        {names.map((n) => {
          const s = data.scores[n];
          return (
            <div key={n} className="score-card" data-score={n}>
              <div className="muted small">{n}</div>
              <div className="big">{(s.score * 100).toFixed(1)}%{s.diff != null && <small className={s.diff >= 0 ? "up" : "down"}> {s.diff >= 0 ? "+" : ""}{(s.diff * 100).toFixed(1)}</small>}</div>
              {s.improvements != null && (
                <div className="small"><span className="up" data-count="improvements">{s.improvements} improvements</span> · <span className="down" data-count="regressions">{s.regressions} regressions</span></div>
              )}
            </div>
          );
        })}
      </div>
      <table className="list compare">
        <thead>
          <tr><th>Input</th><th>Expected</th><th>Output {data.base ? "(diff against baseline)" : ""}</th>{names.map((n) => <th key={n}>{n}</th>)}<th></th></tr>
        </thead>
        <tbody>
          {data.rows.map((r, i) => (
            <tr key={i} data-input={text(r.input)}>
              <td><pre className="cell">{text(r.input)}</pre></td>
              <td><pre className="cell">{text(r.expected)}</pre></td>
              <td>{data.base ? <Diff before={r.base_output} after={r.output} /> : <pre className="cell">{text(r.output)}</pre>}</td>
              {names.map((n) => <td key={n}><Delta value={r.scores[n]} base={data.base ? r.base_scores[n] : null} /></td>)}
              <td>{r.root_span_id && <Link to={`/app/e/${encodeURIComponent(data.experiment.id)}/t/${encodeURIComponent(r.root_span_id)}`}>trace</Link>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
