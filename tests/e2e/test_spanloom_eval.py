"""Experiments and `Eval` through Spanloom's own Python SDK, against a running server: the
summary (printed as the official SDK prints it, with improvements and regressions against the
previous run), the traced rows of every case (an ``eval`` root, a ``task`` child, one ``score``
child per scorer), `EvalAsync` with async tasks and scorers, trials, concurrency limits, errors,
hooks, and experiments logged by hand (`init`, `log`, `start_span`, `summarize`,
`update_span` of an exported experiment span)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
from test_braintrust_eval import result
from test_braintrust_sdk import run_sdk

pytest.importorskip("spanloom", reason="installed by scripts/setup-test-env.sh")
pytest.importorskip("autoevals", reason="installed by scripts/setup-test-env.sh")

# The same script runs under both SDKs (`import spanloom as braintrust` is the only change).
EVAL_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import {module} as braintrust
    from autoevals import Levenshtein

    project, variant = sys.argv[1], sys.argv[2]
    data = [{{"input": w, "expected": w}} for w in ["apple", "banana", "cherry"]]

    def task(input):
        if variant == "v1":
            return input[:-1]
        return {{"apple": "apple", "banana": "banana", "cherry": "ch"}}[input]

    def exact(input, output, expected):
        return 1.0 if output == expected else 0.0

    r = braintrust.Eval(project, data=data, task=task, scores=[Levenshtein, exact], experiment_name=f"run-{{variant}}")
    s = r.summary
    print("RESULT " + json.dumps({{
        "experiment": s.experiment_name,
        "comparison": s.comparison_experiment_name,
        "url": s.experiment_url,
        "scores": {{k: {{"score": v.score, "diff": v.diff, "improvements": v.improvements, "regressions": v.regressions}}
                   for k, v in s.scores.items()}},
        "metrics": sorted(s.metrics),
        "results": sorted([[x.input, x.output, x.scores] for x in r.results]),
    }}))
    """
)


def attributes(row: dict) -> dict:
    """A row's span attributes without `exec_counter` (a process-wide ordering hint)."""
    return {k: v for k, v in row["span_attributes"].items() if k != "exec_counter"}


def score_lines(out: str) -> list[str]:
    """The score lines of a printed summary (metrics such as duration differ between runs)."""
    return [line for line in out.splitlines() if line.endswith(" score") or " score\t(" in line]


def fetch_experiment(client, project: str, name: str) -> list[dict]:
    [proj] = client.get("/v1/project", params={"project_name": project}).json()["objects"]
    [exp] = client.get("/v1/experiment", params={"project_id": proj["id"], "experiment_name": name}).json()["objects"]
    return client.fetch_all("experiment", exp["id"])


def test_eval_summary_rows_and_comparison_match_the_official_sdk(server, client):
    ours, theirs = "sl-eval-e2e", "sl-eval-e2e-official"
    out1 = run_sdk(server, EVAL_SCRIPT.format(module="spanloom"), ours, "v1", prefix="SPANLOOM")
    first = result(out1, "RESULT")
    assert first["experiment"] == "run-v1" and first["comparison"] is None
    assert first["url"].endswith(f"/p/{ours}/experiments/run-v1")
    assert first["scores"]["Levenshtein"]["score"] == pytest.approx((0.8 + 5 / 6 + 5 / 6) / 3)
    assert first["scores"]["exact"]["score"] == 0.0 and "duration" in first["metrics"]
    assert first["results"][0] == ["apple", "appl", {"Levenshtein": pytest.approx(0.8), "exact": 0.0}]

    out2 = run_sdk(server, EVAL_SCRIPT.format(module="spanloom"), ours, "v2", prefix="SPANLOOM")
    second = result(out2, "RESULT")
    assert second["comparison"] == "run-v1"
    lev, exact = second["scores"]["Levenshtein"], second["scores"]["exact"]
    assert (lev["improvements"], lev["regressions"]) == (2, 1) and (exact["improvements"], exact["regressions"]) == (2, 0)
    assert lev["diff"] == pytest.approx(lev["score"] - first["scores"]["Levenshtein"]["score"])
    assert "run-v2 compared to run-v1:" in out2 and "=========================SUMMARY=========================" in out2

    # The official SDK, given the same evaluation, prints the same score lines.
    official1 = run_sdk(server, EVAL_SCRIPT.format(module="braintrust"), theirs, "v1")
    official2 = run_sdk(server, EVAL_SCRIPT.format(module="braintrust"), theirs, "v2")
    assert score_lines(out1) == score_lines(official1) and len(score_lines(out1)) == 2
    assert score_lines(out2) == score_lines(official2)
    assert "77.78% (-04.44%) 'Levenshtein' score\t(2 improvements, 1 regressions)" in score_lines(out2)

    # Rows: per case an eval root, a task child and a child per scorer, shaped like the official SDK's.
    rows = fetch_experiment(client, ours, "run-v2")
    official = fetch_experiment(client, theirs, "run-v2")
    assert len(rows) == len(official) == 3 * 4

    def shape(rows: list[dict]) -> list:
        roots = {r["span_id"]: r for r in rows if not r["span_parents"]}
        out = []
        for r in rows:
            root = r if not r["span_parents"] else roots[r["span_parents"][0]]
            assert r["root_span_id"] == root["root_span_id"]
            attrs = attributes(r)
            fields = {k: r.get(k) for k in ("input", "output", "expected", "scores", "metadata", "tags", "error")}
            out.append([root["input"], attrs, fields, bool(r["span_parents"])])
        return sorted(out, key=json.dumps)

    assert shape(rows) == shape(official)
    cherry = [r for r in rows if r["root_span_id"] == next(x["root_span_id"] for x in rows if x["input"] == "cherry" and not x["span_parents"])]
    scorer = next(r for r in cherry if r["span_attributes"]["name"] == "Levenshtein")
    assert attributes(scorer) == {"name": "Levenshtein", "type": "score", "purpose": "scorer"}
    assert scorer["input"] == {"input": "cherry", "expected": "cherry", "metadata": {}, "output": "ch", "id": None, "tags": None}
    assert scorer["output"] == {"score": pytest.approx(2 / 6)} and scorer["scores"] == {"Levenshtein": pytest.approx(2 / 6)}
    for r in rows:
        assert r["metrics"]["start"] <= r["metrics"]["end"]

    # What the web UI reads: one trace per case, rooted at the eval span, compared with run-v1.
    exp_id = rows[0]["experiment_id"]
    traces = client.get(f"/api/v1/experiment/{exp_id}/traces").json()["traces"]
    assert sorted(t["input_preview"] for t in traces) == ["apple", "banana", "cherry"]
    assert all(t["root_name"] == "eval" and t["root_type"] == "eval" and t["span_count"] == 4 for t in traces)
    compare = client.get(f"/api/v1/experiment/{exp_id}/compare").json()
    assert compare["base"]["name"] == "run-v1"
    assert {r["input"]: r["base_output"] for r in compare["rows"]} == {"apple": "appl", "banana": "banan", "cherry": "cherr"}


PROGRESS_SCRIPT = textwrap.dedent(
    """
    import sys
    import {module} as braintrust

    braintrust.Eval(sys.argv[1], data=[{{"input": i, "expected": i}} for i in range(3)], task=lambda input: input,
                    scores=[lambda output, expected: 1.0], experiment_name="with-bars")
    """
)


def progress_bars(server, module: str, prefix: str, extra_env: dict) -> list[str]:
    """The progress bars an Eval draws on stderr: their final states, one per bar."""
    env = {**os.environ, f"{prefix}_APP_URL": server.url, f"{prefix}_API_KEY": server.admin_key, **extra_env}
    env.pop("BRAINTRUST_API_URL", None)
    script = PROGRESS_SCRIPT.format(module=module)
    proc = subprocess.run([sys.executable, "-c", script, f"sl-progress-{module}"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # tqdm redraws a bar in place: keep each bar's last state, without its timings.
    last: dict = {}
    for part in re.split(r"[\r\n]", proc.stderr):
        m = re.match(r"(.*\((?:data|tasks)\)): (.*?) \[\d\d:\d\d", part.strip())
        if m:
            last[m.group(1).replace(f"sl-progress-{module}", "<project>")] = m.group(2)
    return [f"{desc}: {state}" for desc, state in last.items()]


def test_eval_draws_the_official_progress_bars(server):
    ours = progress_bars(server, "spanloom", "SPANLOOM", {})
    assert ours == progress_bars(server, "braintrust", "BRAINTRUST", {})
    assert ours == [
        "<project> [experiment_name=with-bars] (data): 3it",
        "<project> [experiment_name=with-bars] (tasks): 100%|██████████| 3/3",
    ]
    assert progress_bars(server, "spanloom", "SPANLOOM", {"TQDM_DISABLE": "1"}) == []


ASYNC_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys, time
    import spanloom as braintrust
    from autoevals import Levenshtein

    project = sys.argv[1]
    running, peak = 0, 0

    def data():
        yield {"input": "hello", "expected": "HELLO", "metadata": {"lang": "en"}, "tags": ["greeting"]}
        yield braintrust.EvalCase(input="boom", expected="BOOM")
        yield {"input": "world", "expected": "WORLD!", "trial_count": 1, "upsert_id": "world-case"}

    @braintrust.traced
    def shout(text):
        return text.upper()

    async def task(input, hooks):
        global running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        if input == "boom":
            raise ValueError("task failed on purpose")
        hooks.metadata["trial"] = hooks.trial_index
        hooks.tags = list(hooks.tags) + ["seen"]
        return shout(input)

    async def async_exact(output, expected):
        await asyncio.sleep(0)
        return braintrust.Score(name="async_exact", score=1.0 if output == expected else 0.0, metadata={"how": "async"})

    def as_dict(output, expected):
        return {"score": 0.5, "metadata": {"kind": "dict"}}

    def many(output):
        return [{"name": "len_ok", "score": 1.0 if len(output) < 10 else 0.0}, braintrust.Score(name="upper", score=float(output.isupper()))]

    def broken(output):
        raise RuntimeError("scorer failed on purpose")

    async def traced_spans(output, trace):
        # The scorer reads the case's trace back from the server (its own scorer spans excluded).
        names = sorted(s.span_attributes["name"] for s in await trace.get_spans())
        return {"name": "trace_ok", "score": 1.0 if names == ["eval", "shout", "task"] else 0.0, "metadata": {"names": names}}

    def kind(output):
        return {"id": "upper" if output.isupper() else "lower", "label": "Case"}

    async def main():
        return await braintrust.EvalAsync(
            project, data=data, task=task, scores=[Levenshtein, async_exact, as_dict, many, broken, lambda output: 1, traced_spans],
            experiment_name="async-run", trial_count=2, max_concurrency=1, metadata={"model": "upper-v1"},
            error_score_handler=braintrust.default_error_score_handler, classifiers=[kind],
        )

    r = asyncio.run(main())

    async def slow(input, hooks):
        await asyncio.sleep(10)

    async def too_slow():
        try:
            await braintrust.EvalAsync(project, data=[{"input": 1}], task=slow, scores=[lambda output: 1.0], experiment_name="too-slow", timeout=0.3)
        except asyncio.TimeoutError:
            return True
        return False

    started = time.time()
    timed_out = asyncio.run(too_slow())
    timeout_took = time.time() - started
    print("RESULT " + json.dumps({
        "peak": peak, "timed_out": timed_out, "timeout_took": timeout_took,
        "results": sorted([[x.input, x.output, x.scores, x.metadata.get("trial"), x.tags, type(x.error).__name__ if x.error else None, x.classifications] for x in r.results], key=json.dumps),
        "summary": {k: v.score for k, v in r.summary.scores.items()},
    }))
    """
)


def test_eval_async_trials_concurrency_hooks_and_errors(server, client):
    project = "sl-eval-async"
    proc_out = run_sdk(server, ASYNC_SCRIPT, project, prefix="SPANLOOM")
    out = result(proc_out, "RESULT")
    assert out["peak"] == 1  # max_concurrency=1
    assert out["timed_out"] and out["timeout_took"] < 5  # timeout= stops the run with TimeoutError
    results = out["results"]
    # hello and boom twice (trial_count=2), world once (its own trial_count).
    assert [r[0] for r in results].count("hello") == 2 and [r[0] for r in results].count("boom") == 2
    assert [r[0] for r in results].count("world") == 1
    hello = [r for r in results if r[0] == "hello"]
    assert sorted(r[3] for r in hello) == [0, 1]
    for r in hello:
        assert r[1] == "HELLO" and r[4] == ["greeting", "seen"] and r[5] is None and r[6] == {"kind": [{"id": "upper", "label": "Case"}]}
        assert r[2] == {"Levenshtein": 1.0, "async_exact": 1.0, "as_dict": 0.5, "len_ok": 1.0, "upper": 1.0, "scorer_5": 1, "trace_ok": 1.0, "broken": 0}
    boom = next(r for r in results if r[0] == "boom")
    # error_score_handler: zeros for the scorers that did not run (all of them when the task failed).
    names = ["Levenshtein", "async_exact", "as_dict", "many", "broken", "scorer_5", "traced_spans"]
    assert boom[1] is None and boom[2] == {n: 0 for n in names} and boom[5] == "ValueError"
    # As in the official SDK, a run with failed cases reports the failures (on stderr) instead of the summary.
    assert "=====SUMMARY=====" not in proc_out

    rows = fetch_experiment(client, project, "async-run")
    roots = [r for r in rows if not r["span_parents"]]
    assert len(roots) == 5 and all(attributes(r) == {"name": "eval", "type": "eval"} for r in roots)
    exp_meta = client.get("/v1/experiment", params={"project_id": roots[0]["project_id"], "experiment_name": "async-run"}).json()["objects"][0]
    assert exp_meta.get("metadata") == {"model": "upper-v1"}
    by_parent: dict = {}
    for r in rows:
        if r["span_parents"]:
            by_parent.setdefault(r["span_parents"][0], []).append(r)
    hello_root = next(r for r in roots if r["input"] == "hello")
    assert hello_root["tags"] == ["greeting", "seen"] and hello_root["metadata"]["lang"] == "en"
    assert hello_root["output"] == "HELLO" and hello_root["expected"] == "HELLO"
    assert "RuntimeError: scorer failed on purpose" in hello_root["metadata"]["scorer_errors"]["broken"]
    children = {c["span_attributes"]["name"]: c for c in by_parent[hello_root["span_id"]]}
    assert set(children) == {"task", "Levenshtein", "async_exact", "as_dict", "many", "broken", "scorer_5", "traced_spans", "kind"}
    assert hello_root["classifications"] == {"kind": [{"id": "upper", "label": "Case"}]}
    assert attributes(children["kind"]) == {"name": "kind", "type": "classifier", "purpose": "scorer"}
    assert children["kind"]["output"] == {"id": "upper", "label": "Case"}
    task_span = children["task"]
    assert task_span["input"] == "hello" and task_span["output"] == "HELLO"
    # A traced function called by the task is a child of the task span.
    [shout] = by_parent[task_span["span_id"]]
    assert shout["span_attributes"]["name"] == "shout" and shout["input"] == {"text": "hello"} and shout["output"] == "HELLO"
    assert children["async_exact"]["metadata"] == {"how": "async"} and children["async_exact"]["scores"] == {"async_exact": 1.0}
    assert children["as_dict"]["output"] == {"score": 0.5} and children["as_dict"]["metadata"] == {"kind": "dict"}
    assert children["many"]["scores"] == {"len_ok": 1.0, "upper": 1.0}
    assert children["many"]["output"] == {"len_ok": {"score": 1.0}, "upper": {"score": 1.0}}
    assert "scorer failed on purpose" in children["broken"]["error"] and "scores" not in children["broken"]
    assert next(r for r in roots if r["input"] == "world")["id"] == "world-case"  # upsert_id names the row
    boom_root = next(r for r in roots if r["input"] == "boom")
    assert "ValueError: task failed on purpose" in boom_root["error"] and "output" not in boom_root
    assert boom_root["scores"] == {n: 0 for n in names} and hello_root["scores"] == {"broken": 0}
    [boom_task] = by_parent[boom_root["span_id"]]  # scorers do not run when the task fails
    assert "task failed on purpose" in boom_task["error"]


EXPERIMENT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import spanloom as braintrust

    project = sys.argv[1]
    exp = braintrust.init(project, experiment="manual", metadata={"by": "hand"}, tags=["manual"])
    first = exp.log(input={"q": 1}, output="one", expected="one", scores={"correct": True}, metadata={"n": 1}, tags=["a"])
    second = exp.log(input={"q": 2}, output="two", expected="deux", scores={"correct": 0.0, "partial": 0.25}, id="row-2")
    exp.log_feedback(second, scores={"reviewed": 1.0}, comment="looks off", metadata={"user": "ann"})
    print("LOGGED " + json.dumps({"first": first, "second": second}))

    other = braintrust.init(project, experiment="spans", base_experiment="manual")
    with other.start_span(name="case", input={"q": 3}) as root:
        with root.start_span(name="step", type="tool") as step:
            step.log(output="stepped", metrics={"tokens": 5})
        with braintrust.start_span(name="implicit") as implicit:
            implicit.log(output="child of the current span")
        root.log(output="three", scores={"correct": 1.0})
        exported = root.export()
    with braintrust.start_span(name="current-experiment-root") as loose:
        loose.log(input="goes to the current experiment", output="yes", scores={"correct": 0.5})
    s = other.summarize()
    print(s)
    print("SUMMARY " + json.dumps({"comparison": s.comparison_experiment_name, "scores": {k: v.score for k, v in s.scores.items()},
                                   "exported": exported, "base": other.data.get("base_exp_id")}))

    # Reading an experiment back, and evaluating on its cases (BaseExperiment).
    opened = braintrust.init(project, experiment="manual", open=True)
    cases = sorted(opened.as_dataset(), key=lambda c: c["input"]["q"])
    rerun = braintrust.Eval(project, data=braintrust.BaseExperiment(name="manual"), task=lambda input: {1: "one", 2: "two"}[input["q"]],
                            scores=[lambda output, expected: float(output == expected)], experiment_name="from-base")
    pinned = braintrust.Eval(project, data=[{"input": 1}], task=lambda input: input, scores=[lambda output: 1.0], experiment_name="vs-manual",
                             base_experiment="manual")
    reports = []
    quiet = braintrust.Reporter("quiet", report_eval=lambda evaluator, result, verbose, jsonl: reports.append(evaluator.eval_name),
                                report_run=lambda results, verbose, jsonl: True)
    local = braintrust.Eval(project, data=[{"input": 2, "expected": 4}], task=lambda input: input * 2, scores=[lambda output, expected: float(output == expected)],
                            no_send_logs=True, reporter=quiet)
    logger = braintrust.init_logger(project=project)
    with logger.start_span(name="nightly-run") as run:
        slug = run.export()
    braintrust.Eval(project, data=[{"input": "x"}], task=lambda input: input + "!", scores=[lambda output: 1.0], parent=slug)
    print("REREAD " + json.dumps({"run_span": run.span_id, "rows": len(list(opened)), "cases": [[c["input"], c["expected"]] for c in cases],
                                  "rerun": rerun.summary.scores["scorer_0"].score, "rerun_comparison": rerun.summary.comparison_experiment_name,
                                  "pinned_comparison": pinned.summary.comparison_experiment_name,
                                  "local": [local.summary.experiment_id, local.summary.scores["scorer_0"].score, local.results[0].output], "reports": reports}))
    """
)

UPDATE_SCRIPT = textwrap.dedent(
    """
    import sys, spanloom
    spanloom.login()
    spanloom.update_span(sys.argv[1], metadata={"reviewed": True})
    spanloom.flush()
    """
)


def test_experiments_log_spans_feedback_and_update(server, client):
    project = "sl-experiments"
    out = run_sdk(server, EXPERIMENT_SCRIPT, project, prefix="SPANLOOM")
    logged, summary, reread = result(out, "LOGGED"), result(out, "SUMMARY"), result(out, "REREAD")
    assert reread["rows"] == 2 and reread["cases"] == [[{"q": 1}, "one"], [{"q": 2}, "deux"]]
    assert reread["rerun"] == 0.5 and reread["rerun_comparison"] == "manual"  # the base experiment is the data's
    assert reread["pinned_comparison"] == "manual"  # not the most recent experiment (from-base)
    assert reread["local"] == [None, 1.0, 4]  # no_send_logs: a local summary, nothing logged
    assert reread["reports"] == [project]  # a custom reporter got the result
    assert summary["comparison"] == "manual" and summary["base"]
    assert summary["scores"] == {"correct": pytest.approx(0.75)}
    assert re.search(r"spans compared to manual:\n.*'correct' score", out)
    run_sdk(server, UPDATE_SCRIPT, summary["exported"], prefix="SPANLOOM")

    manual = {r["id"]: r for r in fetch_experiment(client, project, "manual")}
    first, second = manual[logged["first"]], manual["row-2"]
    assert first["input"] == {"q": 1} and first["output"] == "one" and first["expected"] == "one"
    assert first["scores"] == {"correct": 1} and first["metadata"] == {"n": 1} and first["tags"] == ["a"]
    assert attributes(first) == {"name": "root", "type": "eval"} and first["span_parents"] is None
    assert first["metrics"]["start"] <= first["metrics"]["end"] <= second["metrics"]["start"] <= second["metrics"]["end"]
    assert second["scores"] == {"correct": 0.0, "partial": 0.25, "reviewed": 1.0}
    assert second["expected"] == "deux"

    spans = {r["span_attributes"]["name"]: r for r in fetch_experiment(client, project, "spans")}
    case = spans["case"]
    assert case["span_attributes"]["type"] == "eval" and case["output"] == "three" and case["input"] == {"q": 3}
    assert case["metadata"] == {"reviewed": True}  # update_span from another process
    assert spans["step"]["span_parents"] == [case["span_id"]] and spans["step"]["metrics"]["tokens"] == 5
    assert spans["implicit"]["span_parents"] == [case["span_id"]]
    # Eval(parent=...): the cases are written under that span (project logs), no experiment.
    logs = client.fetch_all("project_logs", client.get("/v1/project", params={"project_name": project}).json()["objects"][0]["id"])
    [case_root] = [r for r in logs if r["span_attributes"]["name"] == "eval"]
    assert case_root["span_parents"] == [reread["run_span"]] and case_root["output"] == "x!"
    assert {r["span_attributes"]["name"] for r in logs if r["span_parents"] == [case_root["span_id"]]} == {"task", "scorer_0"}
    loose = spans["current-experiment-root"]
    assert loose["span_parents"] is None and loose["output"] == "yes" and loose["span_attributes"]["type"] == "eval"


def as_spanloom(script: str) -> str:
    """An official-SDK script with ``import braintrust`` replaced by ``import spanloom as braintrust``."""
    out, n = re.subn(r"^(import .*)\bbraintrust\b", r"\1spanloom as braintrust", script, count=1, flags=re.M)
    assert n == 1, script
    return out


def normalized(out: str) -> list[str]:
    """The tagged result lines of a script, with ids and transaction ids blanked."""
    lines = [line for line in out.splitlines() if re.match(r"^[A-Z]+ [{\[]", line)]
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    return [re.sub(r"\b\d{19}\b", "<xact>", re.sub(uuid, "<uuid>", line)) for line in lines]


def test_official_sdk_scripts_run_unchanged_with_the_same_results(server, tmp_path):
    """The official SDK's dataset, Eval and attachment e2e scripts, run with `import spanloom as
    braintrust`, print what they print under the official SDK; what Spanloom's SDK wrote reads back
    through the official SDK."""
    import test_braintrust_blobs as blobs
    import test_braintrust_datasets as datasets
    import test_braintrust_eval as evals

    runs = [
        (datasets.WRITE_SCRIPT, ["{p}-ds"]),
        (datasets.READ_SCRIPT, ["{p}-ds"]),
        (datasets.EVAL_SCRIPT, ["{p}-ds"]),
        (evals.EVAL_SCRIPT, ["{p}-ev", "v1"]),
        (evals.EVAL_SCRIPT, ["{p}-ev", "v2"]),
        (evals.READ_SCRIPT, ["{p}-ev", "run-v2"]),
    ]
    for script, args in runs:
        theirs = run_sdk(server, script, *[a.format(p="official-parity") for a in args])
        ours = run_sdk(server, as_spanloom(script), *[a.format(p="spanloom-parity") for a in args], prefix="SPANLOOM")
        assert normalized(ours) == normalized(theirs) and normalized(ours), (script, ours, theirs)
        if script is datasets.EVAL_SCRIPT or script is evals.EVAL_SCRIPT:
            assert score_lines(ours) == score_lines(theirs)

    # Attachments logged by Spanloom's SDK download through the official SDK's ReadonlyAttachment.
    original = tmp_path / "pic.png"
    row_id = result(run_sdk(server, as_spanloom(blobs.ATTACH_SCRIPT), str(original), prefix="SPANLOOM"), "ATTACH")["row_id"]
    from spanloom_server import Client

    client = Client(server.url, server.admin_key)
    [project] = client.get("/v1/project", params={"project_name": "attachments-e2e"}).json()["objects"]
    [row] = [r for r in client.fetch_all("project_logs", project["id"]) if r["id"] == row_id]
    refs = {"image": row["input"]["image"], "doc": row["input"]["doc"]}
    read = result(run_sdk(server, blobs.READ_SCRIPT, json.dumps(refs)), "READ")
    assert bytes.fromhex(read["image"]["hex"]) == original.read_bytes() and read["image"]["status"] == "done"
    assert json.loads(bytes.fromhex(read["doc"]["hex"])) == {"nested": [1, 2, 3], "text": "héllo"}
