// Datasets of a project; one dataset's rows, read at any version, with inline edits.
import { useEffect, useState } from "react";
import { api } from "../api.js";
import { ProjectNav } from "../components/ProjectNav.jsx";
import { Link, navigate } from "../router.jsx";
import { formatTime, preview } from "../format.js";
import { fetchAll, useProject } from "../useProject.js";

export function Datasets({ projectId }) {
  const project = useProject(projectId);
  const [datasets, setDatasets] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api(`/v1/dataset?project_id=${encodeURIComponent(projectId)}`).then((r) => setDatasets(r.objects), (e) => setError(e.message));
  }, [projectId]);
  return (
    <div className="page">
      <ProjectNav projectId={projectId} projectName={project && project.name} active="Datasets" />
      {error && <p className="error">{error}</p>}
      {datasets && datasets.length === 0 && <p className="muted">No datasets yet. Use “Add to dataset” on a span, or <code>init_dataset</code> in the SDK.</p>}
      {datasets && datasets.length > 0 && (
        <table className="list">
          <thead><tr><th>Name</th><th>Description</th><th>Created</th></tr></thead>
          <tbody>
            {datasets.map((d) => (
              <tr key={d.id} data-dataset={d.name}>
                <td><Link to={`/app/p/${encodeURIComponent(projectId)}/datasets/${encodeURIComponent(d.id)}`}>{d.name}</Link></td>
                <td className="muted">{d.description || ""}</td>
                <td className="muted">{formatTime(Date.parse(d.created) / 1000)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function EditableJson({ value, onSave }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState("");
  const [error, setError] = useState(null);
  if (!editing) {
    return (
      <div className="editable" onDoubleClick={() => { setText(JSON.stringify(value, null, 2)); setEditing(true); }} title="double-click to edit">
        <pre className="cell">{typeof value === "string" ? value : JSON.stringify(value, null, 2)}</pre>
      </div>
    );
  }
  return (
    <div>
      <textarea name="edit-value" value={text} rows={Math.min(12, text.split("\n").length + 1)} onChange={(e) => setText(e.target.value)} />
      <div className="inline-form">
        <button
          name="save"
          onClick={async () => {
            try {
              await onSave(JSON.parse(text));
              setEditing(false);
            } catch (e) {
              setError(e instanceof SyntaxError ? `Not valid JSON: ${e.message}` : e.message);
            }
          }}
        >
          Save
        </button>
        <button onClick={() => setEditing(false)}>Cancel</button>
        {error && <span className="error">{error}</span>}
      </div>
    </div>
  );
}

export function DatasetRows({ projectId, datasetId, search }) {
  const version = new URLSearchParams(search).get("version");
  const project = useProject(projectId);
  const [dataset, setDataset] = useState(null);
  const [rows, setRows] = useState(null);
  const [versions, setVersions] = useState([]);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    api(`/v1/dataset/${encodeURIComponent(datasetId)}`).then(setDataset, (e) => setError(e.message));
    api(`/api/v1/dataset/${encodeURIComponent(datasetId)}/versions`).then((r) => setVersions(r.versions), () => {});
  }, [datasetId, tick]);
  useEffect(() => {
    setRows(null);
    fetchAll("dataset", datasetId, version ? { version } : {}).then(setRows, (e) => setError(e.message));
  }, [datasetId, version, tick]);
  async function save(row, field, value) {
    await api("/logs3", { method: "POST", body: { api_version: 2, rows: [{ id: row.id, dataset_id: datasetId, _is_merge: true, [field]: value }] } });
    setTick((t) => t + 1);
  }
  const base = `/app/p/${encodeURIComponent(projectId)}/datasets/${encodeURIComponent(datasetId)}`;
  return (
    <div className="page">
      <ProjectNav projectId={projectId} projectName={project && project.name} active="Datasets" />
      <h2>{dataset ? dataset.name : "…"}</h2>
      <div className="toolbar">
        <label>Version{" "}
          <select name="version" value={version || ""} onChange={(e) => navigate(e.target.value ? `${base}?version=${e.target.value}` : base)}>
            <option value="">latest</option>
            {versions.map((v) => <option key={v.xact_id} value={v.xact_id}>{v.xact_id} · {formatTime(v.time)}</option>)}
          </select>
        </label>
        {version && <span className="muted small"> read-only: an earlier version</span>}
      </div>
      {error && <p className="error">{error}</p>}
      {!rows && !error && <p className="muted">Loading rows…</p>}
      {rows && (
        <table className="list dataset-rows">
          <thead><tr><th>Input</th><th>Expected</th><th>Metadata</th><th>Origin</th></tr></thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-row={r.id}>
                <td><pre className="cell">{preview(r.input, 2000)}</pre></td>
                <td>{version ? <pre className="cell">{JSON.stringify(r.expected, null, 2)}</pre> : <EditableJson value={r.expected} onSave={(v) => save(r, "expected", v)} />}</td>
                <td><pre className="cell">{preview(r.metadata, 400)}</pre></td>
                <td>{r.origin && r.origin.object_type === "project_logs" ? (
                  <Link to={`/app/${"_"}/object?object_type=project_logs&object_id=${encodeURIComponent(r.origin.object_id)}&id=${encodeURIComponent(r.origin.id)}`}>source span</Link>
                ) : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
