"""Python SDK overhead: the official `braintrust` SDK, the plain OpenTelemetry SDK (batch
exporter, OTLP/HTTP) and `spanloom`, measured in one run against the same local sink (a release
`spanloom serve`). Each SDK runs each scenario in a fresh subprocess (worker.py). See
bench/README.md ("Python SDKs"); `scripts/bench-python-sdk.sh` is the one command.

Scenarios: `small` (decorated no-op, short string in and out), `llm` (8 KB of chat messages
in, 2 KB out, 10 metadata keys), `tree` (a root with 10 children), `disabled` (no logger or
provider: decorated minus undecorated), `e2e` (N small spans as fast as possible, flush, then
poll the server until every span is readable)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().parent / "worker.py"
SDKS = ("braintrust", "otel", "spanloom")
SCENARIOS = ("small", "llm", "tree", "disabled", "e2e")
GOALS = {
    "small_mean_us": ("≤ 10 µs", lambda v: v <= 10),
    "llm_mean_us": ("≤ 20 µs", lambda v: v <= 20),
    "small_p99_us": ("< 100 µs", lambda v: v < 100),
    "llm_p99_us": ("< 100 µs", lambda v: v < 100),
    "tree_p99_us_per_span": ("< 100 µs", lambda v: v < 100),
    "disabled_cost_us": ("< 1 µs", lambda v: v < 1),
    "e2e_spans_per_s": ("≥ 20,000", lambda v: v >= 20000),
    "e2e_lost": ("0", lambda v: v == 0),
    "lost_total": ("0", lambda v: v == 0),
}


class Server:
    def __init__(self, binary: str, data_dir: Path):
        self.data_dir = data_dir
        self.stderr_path = data_dir.parent / "server.stderr.log"
        # The full-text indexer is off: it indexes each scenario's spans a second after they
        # arrive, so with it on every SDK's timings would depend on how much the scenario
        # before left to index. The sink is not what this benchmark measures.
        cmd = [binary, "serve", "--data-dir", str(data_dir), "--bind", "127.0.0.1:0", "--otlp-grpc-bind", "127.0.0.1:0", "--text-index", "off"]
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        deadline = time.time() + 60
        self.url = ""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"server exited early: {self.stderr_path.read_text(errors='replace')[-2000:]}")
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                break
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        self.key = (data_dir / "admin-key").read_text().strip()

    def post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method="POST", headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def count(self, project_id: str) -> int:
        out = self.post("/btql", {"query": f"measures: count(1) as n | from: project_logs('{project_id}')"})
        data = out.get("data") or [{}]
        return int(data[0].get("n") or 0)

    def rss_kib(self) -> int:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return -1

    def cpu_s(self) -> float:
        """CPU seconds the server has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        """Waits until the server used under 5% of a CPU for half a second (a WAL checkpoint
        or the tail of the previous scenario's ingest is over), so each run starts alike."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            before = self.cpu_s()
            time.sleep(0.5)
            if self.cpu_s() - before < 0.025:
                return

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.stdout.close()
        self._stderr.close()


def run_worker(python: str, cfg: dict, timeout: float) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRAINTRUST_", "SPANLOOM_", "OTEL_"))}
    env["BRAINTRUST_DISABLE_ATEXIT_FLUSH"] = "true"  # the worker flushes itself, inside its timing
    env["SPANLOOM_DISABLE_ATEXIT_FLUSH"] = "true"
    proc = subprocess.run([python, str(WORKER), json.dumps(cfg)], env=env, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": f"worker exited {proc.returncode}: {proc.stderr[-1500:]}"}
    out = json.loads(lines[-1][len("RESULT ") :])
    # Warnings of lost or failed rows, as the SDKs print them.
    signs = [ln for ln in proc.stderr.splitlines() if re.search(r"(?i)drop|lost|fail|could not|exceeded|error", ln)]
    out["stderr_signs"] = signs[:20]
    return out


def wait_stored(server: Server, project_id: str, expected: int, settle_s: float, timeout_s: float) -> tuple[int, float]:
    """Polls until `expected` spans are readable, or the count stops changing for `settle_s`;
    returns (stored, wall time when the count last reached its final value)."""
    deadline = time.time() + timeout_s
    last, last_change = -1, time.time()
    while True:
        n = server.count(project_id)
        now = time.time()
        if n != last:
            last, last_change = n, now
        if n >= expected or now - last_change > settle_s or now > deadline:
            return n, last_change
        time.sleep(0.05)


def machine() -> dict:
    info = {"cpus": os.cpu_count(), "kernel": platform.release(), "python": sys.version.split()[0]}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_kib"] = int(line.split()[1])
    except OSError:
        pass
    return info


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def summarize(results: dict) -> dict:
    """Headline figures per SDK (None when not measured)."""
    out = {}
    for sdk, by in results.items():
        s: dict = {}

        def get(scn, *path, by=by):
            v = by.get(scn)
            for p in path:
                if not isinstance(v, dict) or p not in v:
                    return None
                v = v[p]
            return v

        s["small_mean_us"] = get("small", "timing", "mean_us")
        s["small_p50_us"] = get("small", "timing", "p50_us")
        s["small_p99_us"] = get("small", "timing", "p99_us")
        s["llm_mean_us"] = get("llm", "timing", "mean_us")
        s["llm_p50_us"] = get("llm", "timing", "p50_us")
        s["llm_p99_us"] = get("llm", "timing", "p99_us")
        tm = get("tree", "timing", "mean_us")
        s["tree_mean_us"] = tm
        s["tree_p50_us"] = get("tree", "timing", "p50_us")
        s["tree_p99_us"] = get("tree", "timing", "p99_us")
        s["tree_mean_us_per_span"] = tm / 11 if tm is not None else None
        tp = s["tree_p99_us"]
        s["tree_p99_us_per_span"] = tp / 11 if tp is not None else None
        s["undecorated_us"] = get("disabled", "undecorated", "mean_us")
        s["disabled_cost_us"] = get("disabled", "disabled_cost_us")
        s["disabled_cost_p50_us"] = get("disabled", "disabled_cost_p50_us")
        s["e2e_spans_per_s"] = get("e2e", "spans_per_s")
        s["e2e_logging_spans_per_s"] = get("e2e", "logging_spans_per_s")
        s["e2e_lost"] = get("e2e", "lost")
        lost = [get(scn, "lost") for scn in SCENARIOS if scn != "disabled" and scn in by]
        s["lost_total"] = sum(x for x in lost if x is not None) if lost and all(x is not None for x in lost) else None
        logged = [get(scn, "spans_logged") for scn in SCENARIOS if scn != "disabled" and scn in by]
        s["logged_total"] = sum(x for x in logged if x is not None) if logged else None
        rss = [get(scn, "vm_hwm_kib") for scn in SCENARIOS if scn in by]
        rss = [x for x in rss if isinstance(x, int) and x > 0]
        s["peak_rss_mib"] = max(rss) / 1024 if rss else None
        s["e2e_peak_rss_mib"] = get("e2e", "vm_hwm_kib") / 1024 if get("e2e", "vm_hwm_kib") else None
        out[sdk] = s
    return out


ROWS = [
    ("small span: mean µs", "small_mean_us"),
    ("small span: p50 µs", "small_p50_us"),
    ("small span: p99 µs", "small_p99_us"),
    ("LLM-sized span: mean µs", "llm_mean_us"),
    ("LLM-sized span: p50 µs", "llm_p50_us"),
    ("LLM-sized span: p99 µs", "llm_p99_us"),
    ("root + 10 children: mean µs per trace", "tree_mean_us"),
    ("root + 10 children: p50 µs per trace", "tree_p50_us"),
    ("root + 10 children: p99 µs per trace", "tree_p99_us"),
    ("root + 10 children: mean per trace ÷ 11, µs", "tree_mean_us_per_span"),
    ("root + 10 children: p99 per trace ÷ 11, µs", "tree_p99_us_per_span"),
    ("undecorated call: mean µs", "undecorated_us"),
    ("disabled cost (decorated - undecorated): mean µs", "disabled_cost_us"),
    ("disabled cost: p50 µs", "disabled_cost_p50_us"),
    ("end to end: spans/s until all readable", "e2e_spans_per_s"),
    ("end to end: spans/s in the calling loop", "e2e_logging_spans_per_s"),
    ("end to end: spans lost", "e2e_lost"),
    ("all scenarios: spans lost", "lost_total"),
    ("all scenarios: spans logged", "logged_total"),
    ("peak RSS of the SDK process, MiB (max)", "peak_rss_mib"),
    ("peak RSS in the e2e run, MiB", "e2e_peak_rss_mib"),
]


def fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, int):
        return f"{v:,}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.3f}×"


def table(summary: dict, sdks: list) -> str:
    cols = ["measure", *sdks]
    if "spanloom" in sdks:
        cols += [f"spanloom/{s}" for s in sdks if s != "spanloom"]
    cols.append("goal (spanloom)")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for label, key in ROWS:
        vals = [summary.get(s, {}).get(key) for s in sdks]
        row = [label, *[fmt(v) for v in vals]]
        if "spanloom" in sdks:
            ours = summary["spanloom"].get(key)
            row += [ratio(ours, summary[s].get(key)) for s in sdks if s != "spanloom"]
        goal = GOALS.get(key)
        if goal and "spanloom" in sdks and summary["spanloom"].get(key) is not None:
            row.append(f"{goal[0]}: {'met' if goal[1](summary['spanloom'][key]) else '**not met**'}")
        else:
            row.append(goal[0] if goal else "")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sdks", default=",".join(SDKS), help="comma-separated subset of braintrust,otel,spanloom")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--calls", type=int, default=5000, help="timed calls per per-call scenario (small, llm)")
    ap.add_argument("--tree-calls", type=int, default=1000, help="timed roots (each with 10 children)")
    ap.add_argument("--disabled-calls", type=int, default=200000, help="timed calls each, decorated and undecorated")
    ap.add_argument("--e2e-spans", type=int, default=20000)
    ap.add_argument("--time-limit-s", type=float, default=15.0, help="cap on each timed loop")
    ap.add_argument("--settle-s", type=float, default=5.0, help="a count unchanged this long after the flush is final")
    ap.add_argument("--python", default=str(REPO / ".venv" / "bin" / "python"))
    ap.add_argument("--server", default=os.environ.get("SPANLOOM_BENCH_SERVER", str(REPO / "target" / "release" / "spanloom")))
    ap.add_argument("--out", nargs="?", const="", default=None, help="write JSON (default bench/runs/<date>-python-sdk.json)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (server data and stderr)")
    args = ap.parse_args()
    sdks = [s for s in args.sdks.split(",") if s]
    scenarios = [s for s in args.scenarios.split(",") if s]
    for s in sdks:
        if s not in SDKS:
            ap.error(f"unknown sdk {s}")
    for s in scenarios:
        if s not in SCENARIOS:
            ap.error(f"unknown scenario {s}")

    work = Path(tempfile.mkdtemp(prefix="bench-python-sdk-"))
    started = time.time()
    server = Server(args.server, work / "data")
    print(f"sink: {server.url} ({args.server}); python {args.python}", flush=True)
    results: dict = {s: {} for s in sdks}
    try:
        # Scenario-major order: the SDKs of one scenario run back to back, so machine noise
        # over the run affects them alike.
        for scn in scenarios:
            for sdk in sdks:
                name = f"bench-{sdk}-{scn}-{uuid.uuid4().hex[:6]}"
                project_id = server.post("/v1/project", {"name": name})["id"]
                calls = {"small": args.calls, "llm": args.calls, "tree": args.tree_calls, "disabled": args.disabled_calls}.get(scn, 0)
                cfg = {
                    "sdk": sdk,
                    "scenario": scn,
                    "url": server.url,
                    "key": server.key,
                    "project": name,
                    "project_id": project_id,
                    "calls": calls,
                    "time_limit_s": args.time_limit_s,
                    "e2e_spans": args.e2e_spans,
                }
                server.wait_idle()
                t0 = time.time()
                out = run_worker(args.python, cfg, timeout=args.time_limit_s * 4 + 180)
                if "error" not in out and out.get("spans_logged"):
                    stored, t_final = wait_stored(server, project_id, out["spans_logged"], args.settle_s, 120)
                    out["stored"], out["lost"] = stored, out["spans_logged"] - stored
                    if scn == "e2e":
                        out["spans_per_s"] = stored / (t_final - out["t_start"])
                        out["logging_spans_per_s"] = out["spans_logged"] / (out["t_logged"] - out["t_start"])
                        out["all_readable_after_flush_s"] = t_final - out["t_flushed"]
                results[sdk][scn] = out
                brief = out.get("error") or ", ".join(
                    f"{k}={fmt(v)}"
                    for k, v in (
                        ("mean_us", (out.get("timing") or {}).get("mean_us")),
                        ("p99_us", (out.get("timing") or {}).get("p99_us")),
                        ("disabled_us", out.get("disabled_cost_us")),
                        ("spans/s", out.get("spans_per_s")),
                        ("lost", out.get("lost")),
                    )
                    if v is not None
                )
                print(f"  {scn:9s} {sdk:11s} {time.time() - t0:6.1f} s  {brief}", flush=True)
                if out.get("stderr_signs"):
                    print(f"    stderr: {out['stderr_signs'][:3]}", flush=True)
        server_rss = server.rss_kib()
    finally:
        server.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    summary = summarize(results)
    commit = git_commit()
    info = machine()
    cmd = "scripts/bench-python-sdk.sh " + " ".join(sys.argv[1:])
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    print()
    print(f"Python SDKs, {date}, commit {commit}, {info.get('cpus')} CPUs ({info.get('cpu', '?')}), Python {info['python']}")
    versions = {s: next((o.get("sdk_version") for o in results[s].values() if o.get("sdk_version")), None) for s in sdks}
    print("versions: " + ", ".join(f"{s} {v}" for s, v in versions.items()))
    print(f"command: {cmd}")
    print()
    print(table(summary, sdks))
    print()
    print(f"sink (spanloom serve) peak RSS: {server_rss / 1024:.0f} MiB; total {time.time() - started:.0f} s")
    missing = [f"{sdk}/{scn}: {o['error'][:200]}" for sdk, by in results.items() for scn, o in by.items() if "error" in o]
    for m in missing:
        print(f"NOT MEASURED {m}")
    if args.out is not None:
        path = Path(args.out) if args.out else REPO / "bench" / "runs" / f"{date}-python-sdk.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "benchmark": "python-sdk",
            "date": date,
            "commit": commit,
            "command": cmd,
            "machine": info,
            "versions": versions,
            "options": vars(args),
            "summary": summary,
            "sink_peak_rss_kib": server_rss,
            "results": results,
        }
        path.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
