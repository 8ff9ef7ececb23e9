// Experiments of a project with their score summaries; pick two to compare.
import { useEffect, useState } from "react";
import { api } from "../api.js";
import { ProjectNav } from "../components/ProjectNav.jsx";
import { Link, navigate } from "../router.jsx";
import { formatTime } from "../format.js";
import { useProject } from "../useProject.js";

export function Experiments({ projectId }) {
  const project = useProject(projectId);
  const [experiments, setExperiments] = useState(null);
  const [summaries, setSummaries] = useState({});
  const [picked, setPicked] = useState([]);
  const [error, setError] = useState(null);
  useEffect(() => {
    api(`/v1/experiment?project_id=${encodeURIComponent(projectId)}`).then(
      (r) => {
        setExperiments(r.objects);
        for (const e of r.objects) {
          api(`/v1/experiment/${e.id}/summarize?summarize_scores=true`).then((s) => setSummaries((old) => ({ ...old, [e.id]: s })), () => {});
        }
      },
      (e) => setError(e.message),
    );
  }, [projectId]);
  const scoreNames = [...new Set(Object.values(summaries).flatMap((s) => Object.keys(s.scores || {})))].sort();
  function toggle(id) {
    setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p, id].slice(-2)));
  }
  return (
    <div className="page">
      <ProjectNav projectId={projectId} projectName={project && project.name} active="Experiments" />
      {error && <p className="error">{error}</p>}
      {!experiments && !error && <p className="muted">Loading…</p>}
      {experiments && experiments.length === 0 && <p className="muted">No experiments yet. Run <code>Eval(...)</code> with the SDK.</p>}
      {experiments && experiments.length > 0 && (
        <>
          <div className="toolbar">
            <button
              name="compare"
              disabled={picked.length !== 2}
              onClick={() => navigate(`/app/p/${encodeURIComponent(projectId)}/compare?a=${picked[1]}&b=${picked[0]}`)}
            >
              Compare selected
            </button>
            <span className="muted small"> pick two: the first is the baseline</span>
          </div>
          <table className="list experiments">
            <thead><tr><th></th><th>Name</th><th>Created</th>{scoreNames.map((n) => <th key={n}>{n}</th>)}</tr></thead>
            <tbody>
              {experiments.map((e) => (
                <tr key={e.id} data-experiment={e.name}>
                  <td><input type="checkbox" checked={picked.includes(e.id)} onChange={() => toggle(e.id)} aria-label={`select ${e.name}`} /></td>
                  <td><Link to={`/app/p/${encodeURIComponent(projectId)}/compare?a=${e.id}`}>{e.name}</Link></td>
                  <td className="muted">{formatTime(Date.parse(e.created) / 1000)}</td>
                  {scoreNames.map((n) => {
                    const s = summaries[e.id] && summaries[e.id].scores && summaries[e.id].scores[n];
                    return <td key={n}>{s ? `${(s.score * 100).toFixed(1)}%` : "—"}</td>;
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
