// Monitoring: request count, errors, latency p50/p95, tokens and cost over time, by model,
// from the rollups kept at ingest (a 30-day chart never scans spans).
import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { api } from "../api.js";
import { ProjectNav } from "../components/ProjectNav.jsx";
import { navigate } from "../router.jsx";
import { useProject } from "../useProject.js";

const WINDOWS = { "24h": [86400, "hour"], "7d": [7 * 86400, "hour"], "30d": [30 * 86400, "day"], "1h": [3600, "minute"] };
const COLORS = ["#2456c8", "#e8a23c", "#1e7a3a", "#b3261e", "#7a3e9d", "#00838f", "#6b7385"];
const METRICS = [
  ["requests", "Requests", (p) => p.requests],
  ["errors", "Errors", (p) => p.request_errors],
  ["latency_p50", "Latency p50 (s)", (p) => p.latency_p50],
  ["latency_p95", "Latency p95 (s)", (p) => p.latency_p95],
  ["tokens", "Tokens", (p) => p.tokens],
  ["cost", "Cost (USD)", (p) => p.estimated_cost],
];

function Chart({ title, xs, series, from, to, digits }) {
  const el = useRef(null);
  useEffect(() => {
    if (!el.current) return undefined;
    const opts = {
      width: el.current.clientWidth || 500,
      height: 180,
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true }))],
      scales: { x: { time: true, range: () => [from, to] } },
      axes: [{}, { size: 70, values: (u, vals) => vals.map((v) => (v == null ? "" : v.toFixed(digits))) }],
      legend: { show: true },
    };
    const plot = new uPlot(opts, [xs, ...series.map((s) => s.values)], el.current);
    return () => plot.destroy();
  }, [xs, series, from, to, digits]);
  return (
    <div className="chart" data-chart={title}>
      <h4>{title}</h4>
      <div ref={el} />
    </div>
  );
}

export function Monitor({ projectId, search }) {
  const windowId = new URLSearchParams(search).get("window") || "7d";
  const [seconds, bucket] = WINDOWS[windowId] || WINDOWS["7d"];
  const project = useProject(projectId);
  const [points, setPoints] = useState(null);
  const [range, setRange] = useState([0, 1]);
  const [error, setError] = useState(null);
  useEffect(() => {
    const to = Date.now() / 1000;
    setRange([to - seconds, to]);
    const params = new URLSearchParams({ from: String(to - seconds), to: String(to), bucket, by: "model" });
    api(`/api/v1/project_logs/${encodeURIComponent(projectId)}/rollups?${params}`).then((r) => setPoints(r.points), (e) => setError(e.message));
  }, [projectId, seconds, bucket]);
  let charts = null;
  if (Array.isArray(points)) {
    const times = [...new Set(points.map((p) => p.bucket))].sort((a, b) => a - b);
    const models = [...new Set(points.map((p) => p.model || "(none)"))].sort();
    charts = METRICS.map(([key, label, get]) => {
      const series = models.map((m) => {
        const byTime = new Map(points.filter((p) => (p.model || "(none)") === m).map((p) => [p.bucket, get(p)]));
        return { label: m, values: times.map((t) => (byTime.has(t) ? byTime.get(t) : null)) };
      });
      const digits = key === "cost" ? 5 : key.startsWith("latency") ? 2 : 0;
      return <Chart key={key} title={label} xs={times} series={series} from={range[0]} to={range[1]} digits={digits} />;
    });
  }
  return (
    <div className="page">
      <ProjectNav projectId={projectId} projectName={project && project.name} active="Monitoring" />
      <div className="toolbar">
        <select name="window" value={windowId} onChange={(e) => navigate(`/app/p/${encodeURIComponent(projectId)}/monitor?window=${e.target.value}`)}>
          {Object.keys(WINDOWS).map((w) => <option key={w} value={w}>Last {w}</option>)}
        </select>
      </div>
      {error && <p className="error">{error}</p>}
      {Array.isArray(points) && points.length === 0 && <p className="muted">No spans in this window.</p>}
      <div className="charts">{charts}</div>
    </div>
  );
}
