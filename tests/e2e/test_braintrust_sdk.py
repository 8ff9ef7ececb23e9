"""The unmodified official `braintrust` SDK logs to Spanloom and its traces read back right."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("braintrust", reason="installed by scripts/setup-test-env.sh")

LOG_SCRIPT = textwrap.dedent(
    """
    import json, braintrust

    logger = braintrust.init_logger(project="sdk-e2e")

    @braintrust.traced
    def retrieve(query):
        braintrust.current_span().log(metadata={"source": "kb"}, metrics={"prompt_tokens": 7})
        return ["doc-1", "doc-2"]

    @braintrust.traced(name="answer", type="llm")
    def answer(question):
        docs = retrieve(question)
        with braintrust.start_span(name="format", type="tool") as span:
            span.log(input={"docs": docs}, output="formatted", tags=["fmt"])
        braintrust.current_span().log(metrics={"completion_tokens": 5}, metadata={"model": "gpt-test"})
        return "42"

    answer("what is the answer?")

    with logger.start_span(name="pipeline", type="task") as root:
        root.log(input={"job": 1})
        try:
            with root.start_span(name="failing-step") as step:
                raise ValueError("boom inside a span")
        except ValueError:
            pass
        exported = root.export()

    logger.flush()
    print(json.dumps({"exported": exported}))
    """
)

UPDATE_SCRIPT = textwrap.dedent(
    """
    import sys, braintrust
    braintrust.login()
    braintrust.update_span(exported=sys.argv[1], output="updated from another process", metadata={"reviewed": True})
    braintrust.flush()
    """
)


def run_sdk(server, script: str, *args: str, prefix: str = "BRAINTRUST") -> str:
    """Runs an SDK script in its own process, pointed at the server through `<prefix>_*`
    variables; fails on any sign of a lost or failed row."""
    env = {
        **os.environ,
        f"{prefix}_APP_URL": server.url,
        f"{prefix}_API_KEY": server.admin_key,
        "BRAINTRUST_DISABLE_ATEXIT_FLUSH": "false",
    }
    env.pop("BRAINTRUST_API_URL", None)
    proc = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for sign in ("Dropping batch", "log request failed", "spanloom: could not"):
        assert sign not in proc.stderr, proc.stderr
    return proc.stdout


def test_official_sdk_traces_read_back(server, client):
    out = run_sdk(server, LOG_SCRIPT)
    exported = json.loads(out.strip().splitlines()[-1])["exported"]
    run_sdk(server, UPDATE_SCRIPT, exported)

    [project] = client.get("/v1/project", params={"project_name": "sdk-e2e"}).json()["objects"]
    rows = client.fetch_all("project_logs", project["id"])
    by_name = {r["span_attributes"]["name"]: r for r in rows}
    assert set(by_name) == {"answer", "retrieve", "format", "pipeline", "failing-step"}

    # The tree: answer → (retrieve, format); pipeline → failing-step.
    answer, retrieve, fmt = by_name["answer"], by_name["retrieve"], by_name["format"]
    assert not answer["span_parents"]
    assert retrieve["span_parents"] == [answer["span_id"]] and fmt["span_parents"] == [answer["span_id"]]
    assert retrieve["root_span_id"] == fmt["root_span_id"] == answer["root_span_id"]
    pipeline, failing = by_name["pipeline"], by_name["failing-step"]
    assert failing["span_parents"] == [pipeline["span_id"]] and failing["root_span_id"] == pipeline["root_span_id"]

    # Merged fields from start, log and end rows.
    assert answer["span_attributes"]["type"] == "llm"
    assert answer["input"] == {"question": "what is the answer?"} and answer["output"] == "42"
    assert answer["metadata"]["model"] == "gpt-test" and answer["metrics"]["completion_tokens"] == 5
    assert retrieve["input"] == {"query": "what is the answer?"} and retrieve["output"] == ["doc-1", "doc-2"]
    assert retrieve["metadata"] == {"source": "kb"} and retrieve["metrics"]["prompt_tokens"] == 7
    assert fmt["output"] == "formatted" and fmt["tags"] == ["fmt"] and fmt["span_attributes"]["type"] == "tool"
    for row in rows:
        m = row["metrics"]
        assert isinstance(m["start"], float) and isinstance(m["end"], float) and m["start"] <= m["end"], row
        assert row["context"]["span_origin"]["name"] == "braintrust.sdk.python"

    # The error raised inside a span is on that span, with its traceback text.
    assert "ValueError: boom inside a span" in failing["error"] and "Traceback" in failing["error"]
    assert "error" not in pipeline

    # update_span from another process merged into the exported span.
    assert pipeline["output"] == "updated from another process"
    assert pipeline["metadata"] == {"reviewed": True} and pipeline["input"] == {"job": 1}

    # The trace summaries the UI reads agree.
    traces = client.get(f"/api/v1/project_logs/{project['id']}/traces").json()["traces"]
    summaries = {t["root_name"]: t for t in traces}
    assert summaries["answer"]["span_count"] == 3 and summaries["answer"]["tokens"] == 12
    assert summaries["pipeline"]["span_count"] == 2 and summaries["pipeline"]["error_count"] == 1
    assert summaries["pipeline"]["output_preview"] == "updated from another process"
