import { useEffect, useState } from "react";
import { api } from "../api.js";
import { Link } from "../router.jsx";
import { formatTime } from "../format.js";

export function Projects() {
  const [projects, setProjects] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("/v1/project").then((r) => setProjects(r.objects), (e) => setError(e.message));
  }, []);
  if (error) return <p className="error">{error}</p>;
  if (!projects) return <p className="muted">Loading projects…</p>;
  return (
    <div className="page">
      <h2>Projects</h2>
      {projects.length === 0 && <p className="muted">No projects yet. Send traces with an SDK or an OTLP exporter.</p>}
      <table className="list">
        <thead><tr><th>Name</th><th>Created</th></tr></thead>
        <tbody>
          {projects.map((p) => (
            <tr key={p.id}>
              <td><Link to={`/app/p/${encodeURIComponent(p.id)}`}>{p.name}</Link></td>
              <td className="muted">{formatTime(Date.parse(p.created) / 1000)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
