// Resolves the SDK's permalinks (`/app/{org}/object?object_type=&object_id=&id=`) to the trace
// view at that span.
import { useEffect, useState } from "react";
import { api } from "../api.js";
import { navigate } from "../router.jsx";

const PREFIX = { project_logs: "p", experiment: "e", dataset: "d" };

export function Permalink({ search }) {
  const [error, setError] = useState(null);
  useEffect(() => {
    const p = new URLSearchParams(search);
    const type = p.get("object_type");
    const objectId = p.get("object_id");
    const rowId = p.get("id");
    if (!PREFIX[type] || !objectId || !rowId) {
      setError("This link does not name an object and a row.");
      return;
    }
    api(`/api/v1/${type}/${encodeURIComponent(objectId)}/rows/${encodeURIComponent(rowId)}`).then(
      ({ row }) => {
        const trace = row.root_span_id || row.id;
        navigate(`/app/${PREFIX[type]}/${encodeURIComponent(objectId)}/t/${encodeURIComponent(trace)}?span=${encodeURIComponent(row.span_id || "")}`, { replace: true });
      },
      (e) => setError(e.message),
    );
  }, [search]);
  return error ? <p className="error" role="alert">{error}</p> : <p className="muted">Opening…</p>;
}
