import { StrictMode, Suspense, lazy } from "react";
import { createRoot } from "react-dom/client";
import { apiKey, setApiKey } from "./api.js";
import { Link, match, navigate, useLocation } from "./router.jsx";
import { Login } from "./pages/Login.jsx";
import { Projects } from "./pages/Projects.jsx";
import { Traces } from "./pages/Traces.jsx";
import { Permalink } from "./pages/Permalink.jsx";

// Views other than the trace list load on demand, so the first page loads less code.
const Trace = lazy(() => import("./pages/Trace.jsx").then((m) => ({ default: m.Trace })));
const Experiments = lazy(() => import("./pages/Experiments.jsx").then((m) => ({ default: m.Experiments })));
const Compare = lazy(() => import("./pages/Compare.jsx").then((m) => ({ default: m.Compare })));
const Datasets = lazy(() => import("./pages/Datasets.jsx").then((m) => ({ default: m.Datasets })));
const DatasetRows = lazy(() => import("./pages/Datasets.jsx").then((m) => ({ default: m.DatasetRows })));
const Monitor = lazy(() => import("./pages/Monitor.jsx").then((m) => ({ default: m.Monitor })));
import "./styles.css";

const KINDS = { p: "project_logs", e: "experiment", d: "dataset" };

function Page({ path, search }) {
  let m;
  if ((m = match("/app/:kind/:id/t/:trace", path)) && KINDS[m.kind]) {
    return <Trace objectType={KINDS[m.kind]} objectId={m.id} traceId={m.trace} search={search} />;
  }
  if ((m = match("/app/p/:id", path))) return <Traces projectId={m.id} search={search} />;
  if ((m = match("/app/p/:id/experiments", path))) return <Experiments projectId={m.id} />;
  if ((m = match("/app/p/:id/compare", path))) return <Compare projectId={m.id} search={search} />;
  if ((m = match("/app/p/:id/datasets", path))) return <Datasets projectId={m.id} />;
  if ((m = match("/app/p/:id/datasets/:ds", path))) return <DatasetRows projectId={m.id} datasetId={m.ds} search={search} />;
  if ((m = match("/app/p/:id/monitor", path))) return <Monitor projectId={m.id} search={search} />;
  if ((m = match("/app/:org/object", path))) return <Permalink search={search} />;
  if (path === "/app" || path === "/app/") return <Projects />;
  return <p className="error">No page at {path}. <Link to="/app">Projects</Link></p>;
}

function App() {
  const { path, search } = useLocation();
  if (path === "/app/login" || !apiKey()) {
    const next = path === "/app/login" ? new URLSearchParams(search).get("next") : path + search;
    return <Login next={next} />;
  }
  return (
    <div className="app">
      <header>
        <Link to="/app" className="brand">Spanloom</Link>
        <button className="link" onClick={() => { setApiKey(null); navigate("/app/login"); }}>Log out</button>
      </header>
      <main><Suspense fallback={<p className="muted">Loading…</p>}><Page path={path} search={search} /></Suspense></main>
    </div>
  );
}

createRoot(document.getElementById("root")).render(<StrictMode><App /></StrictMode>);
