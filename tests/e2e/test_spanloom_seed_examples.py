"""The seed product's tracing examples, run unchanged except for the import: once with the
official `braintrust` SDK and once with `spanloom` (`from braintrust import` becomes
`from spanloom import`, nothing else), each in its own process against the shared server. The
spans read back must form the same tree with the same names, types, inputs, outputs and
metadata, and match the values the example implies exactly.

The examples follow the Braintrust tracing guide's patterns (the protocol reference's §12 lists
the API they use but not their code): a pipeline of `@traced` steps (`fetch_data`,
`transform_data`), a route handler that opens a root span with `logger.start_span()` and logs
input, output and metadata on it, and a computation whose `@traced` addition and
multiplication run in `TracedThreadPoolExecutor` worker threads. They all log to
"My Project"; a run's spans are the ones that were not there before it."""

from __future__ import annotations

import textwrap

import pytest
from test_braintrust_sdk import run_sdk

pytest.importorskip("spanloom", reason="installed by scripts/setup-test-env.sh")
pytest.importorskip("braintrust", reason="installed by scripts/setup-test-env.sh")

PROJECT = "My Project"

PIPELINE = textwrap.dedent(
    """
    from braintrust import init_logger, traced

    logger = init_logger(project="My Project")


    @traced
    def fetch_data(source):
        return {"source": source, "rows": [1, 2, 3]}


    @traced
    def transform_data(data):
        return [row * 10 for row in data["rows"]]


    @traced
    def pipeline(source):
        data = fetch_data(source)
        return transform_data(data)


    print(pipeline("warehouse"))
    logger.flush()
    """
)

ROUTE_HANDLER = textwrap.dedent(
    """
    from braintrust import init_logger

    logger = init_logger(project="My Project")


    def some_llm(body):
        return f"Answer to: {body}"


    def my_route_handler(req):
        with logger.start_span() as span:
            body = req["body"]
            result = some_llm(body)
            span.log(input=body, output=result, metadata=dict(user_id=req["user"]["id"], route="/chat"))
            return result


    print(my_route_handler({"body": "How do I reset my password?", "user": {"id": "user-123"}}))
    logger.flush()
    """
)

THREADS = textwrap.dedent(
    """
    from braintrust import TracedThreadPoolExecutor, init_logger, traced

    logger = init_logger(project="My Project")


    @traced
    def run_addition(a, b):
        return a + b


    @traced
    def run_multiplication(a, b):
        return a * b


    @traced
    def calculate(a, b):
        with TracedThreadPoolExecutor(max_workers=2) as executor:
            added = executor.submit(run_addition, a, b)
            multiplied = executor.submit(run_multiplication, a, b)
            return {"sum": added.result(), "product": multiplied.result()}


    print(calculate(6, 7))
    logger.flush()
    """
)


def as_spanloom(script: str) -> str:
    """The example for spanloom: only the import changes."""
    assert script.count("from braintrust import") == 1
    return script.replace("from braintrust import", "from spanloom import")


def run_example(server, client, script: str, sdk: str) -> tuple[str, list[dict]]:
    """Runs one example with one SDK; returns its stdout and the spans it added to the project."""
    project_id = client.project(PROJECT)
    before = {r["id"] for r in client.fetch_all("project_logs", project_id)}
    if sdk == "spanloom":
        out = run_sdk(server, as_spanloom(script), prefix="SPANLOOM")
    else:
        out = run_sdk(server, script)
    rows = [r for r in client.fetch_all("project_logs", project_id) if r["id"] not in before]
    return out.strip(), rows


def tree(rows: list[dict]) -> dict[str, dict]:
    """The spans by name (names are unique in each example), checked to form one trace."""
    by_name = {r["span_attributes"]["name"]: r for r in rows}
    assert len(by_name) == len(rows), [r["span_attributes"] for r in rows]
    assert len({r["root_span_id"] for r in rows}) == 1
    for r in rows:
        assert r["metrics"]["start"] <= r["metrics"]["end"], r
    return by_name


def parent_of(by_name: dict, name: str):
    parents = by_name[name]["span_parents"]
    if not parents:
        return None
    [parent] = parents
    return next(n for n, r in by_name.items() if r["span_id"] == parent)


def shape(by_name: dict) -> dict:
    """What must agree between the SDKs: the tree and each span's fields."""
    return {
        name: {
            "parent": parent_of(by_name, name),
            "type": r["span_attributes"].get("type"),
            "input": r.get("input"),
            "output": r.get("output"),
            "metadata": r.get("metadata"),
            "error": r.get("error"),
        }
        for name, r in by_name.items()
    }


@pytest.fixture(scope="module")
def results(server, client):
    """Each example once per SDK, one after the other (a run's rows are the new ones)."""
    out = {}
    for example, script in (("pipeline", PIPELINE), ("route", ROUTE_HANDLER), ("threads", THREADS)):
        for sdk in ("braintrust", "spanloom"):
            out[example, sdk] = run_example(server, client, script, sdk)
    return out


@pytest.mark.parametrize("sdk", ["braintrust", "spanloom"])
def test_pipeline_of_traced_steps(results, sdk):
    out, rows = results["pipeline", sdk]
    assert out == "[10, 20, 30]"
    by_name = tree(rows)
    assert shape(by_name) == {
        "pipeline": {"parent": None, "type": "function", "input": {"source": "warehouse"}, "output": [10, 20, 30], "metadata": None, "error": None},
        "fetch_data": {
            "parent": "pipeline",
            "type": "function",
            "input": {"source": "warehouse"},
            "output": {"source": "warehouse", "rows": [1, 2, 3]},
            "metadata": None,
            "error": None,
        },
        "transform_data": {
            "parent": "pipeline",
            "type": "function",
            "input": {"data": {"source": "warehouse", "rows": [1, 2, 3]}},
            "output": [10, 20, 30],
            "metadata": None,
            "error": None,
        },
    }
    # The steps ran in order, inside their parent.
    p, f, t = (by_name[n]["metrics"] for n in ("pipeline", "fetch_data", "transform_data"))
    assert p["start"] <= f["start"] <= f["end"] <= t["start"] <= t["end"] <= p["end"]


@pytest.mark.parametrize("sdk", ["braintrust", "spanloom"])
def test_route_handler_with_metadata(results, sdk):
    out, rows = results["route", sdk]
    assert out == "Answer to: How do I reset my password?"
    by_name = tree(rows)
    assert shape(by_name) == {
        "root": {
            "parent": None,
            "type": "task",
            "input": "How do I reset my password?",
            "output": "Answer to: How do I reset my password?",
            "metadata": {"user_id": "user-123", "route": "/chat"},
            "error": None,
        }
    }


@pytest.mark.parametrize("sdk", ["braintrust", "spanloom"])
def test_threaded_addition_and_multiplication(results, sdk):
    out, rows = results["threads", sdk]
    assert out == "{'sum': 13, 'product': 42}"
    by_name = tree(rows)
    assert shape(by_name) == {
        "calculate": {"parent": None, "type": "function", "input": {"a": 6, "b": 7}, "output": {"sum": 13, "product": 42}, "metadata": None, "error": None},
        "run_addition": {"parent": "calculate", "type": "function", "input": {"a": 6, "b": 7}, "output": 13, "metadata": None, "error": None},
        "run_multiplication": {"parent": "calculate", "type": "function", "input": {"a": 6, "b": 7}, "output": 42, "metadata": None, "error": None},
    }


@pytest.mark.parametrize("example", ["pipeline", "route", "threads"])
def test_spanloom_matches_the_official_sdk(results, example):
    """Beyond the values above: the same fields on every span, as read back from the server."""
    official, ours = tree(results[example, "braintrust"][1]), tree(results[example, "spanloom"][1])
    assert shape(ours) == shape(official)
    ignored = {
        "id",
        "span_id",
        "root_span_id",
        "span_parents",
        "created",
        "_xact_id",
        "_pagination_key",
        "context",
        "metrics",
        "project_id",
        "log_id",
        "org_id",
    }
    for name in official:
        assert set(ours[name]) - ignored == set(official[name]) - ignored, name
        assert set(ours[name]["metrics"]) == set(official[name]["metrics"]), name
