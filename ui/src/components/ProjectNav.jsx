// Tabs of a project: traces, experiments, datasets, monitoring.
import { Link } from "../router.jsx";

const TABS = [
  ["", "Traces"],
  ["/experiments", "Experiments"],
  ["/datasets", "Datasets"],
  ["/monitor", "Monitoring"],
];

export function ProjectNav({ projectId, projectName, active }) {
  const base = `/app/p/${encodeURIComponent(projectId)}`;
  return (
    <div className="project-nav">
      <div className="crumbs"><Link to="/app">Projects</Link> / <b>{projectName || "…"}</b></div>
      <nav className="tabs">
        {TABS.map(([suffix, label]) => (
          <Link key={label} to={base + suffix} className={active === label ? "tab active" : "tab"}>{label}</Link>
        ))}
      </nav>
    </div>
  );
}
