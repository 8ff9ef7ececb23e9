import { useEffect, useState } from "react";
import { api } from "./api.js";

/** The project record (name for headers), fetched once per id. */
export function useProject(projectId) {
  const [project, setProject] = useState(null);
  useEffect(() => {
    api(`/v1/project/${encodeURIComponent(projectId)}`).then(setProject, () => setProject({ id: projectId, name: projectId }));
  }, [projectId]);
  return project;
}

/** Every row of an object, following fetch cursors. */
export async function fetchAll(objectType, id, extra = {}) {
  const rows = [];
  let cursor = null;
  do {
    const page = await api(`/v1/${objectType}/${encodeURIComponent(id)}/fetch`, { method: "POST", body: { limit: 1000, ...extra, ...(cursor ? { cursor } : {}) } });
    rows.push(...page.events);
    cursor = page.cursor;
  } while (cursor);
  return rows;
}
