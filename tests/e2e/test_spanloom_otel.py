"""`spanloom.otel.SpanloomSpanProcessor` against a running server: OTel spans exported over
OTLP/HTTP by the official exporter land in the same trace trees as native spanloom spans
(OTel inside spanloom, spanloom inside OTel, several levels deep), routed to the right
project; `filter_ai_spans` and `custom_filter`; the Braintrust-compatible names."""

from __future__ import annotations

import textwrap
import time

import pytest
from test_braintrust_sdk import run_sdk

pytest.importorskip("spanloom", reason="installed by scripts/setup-test-env.sh")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="installed by scripts/setup-test-env.sh")


def rows_of(client, project: str, expect: int) -> list[dict]:
    """The project's rows, polled (up to 10 s) until `expect` of them are readable."""
    deadline = time.time() + 10
    while True:
        found = client.get("/v1/project", params={"project_name": project}).json()["objects"]
        rows = client.fetch_all("project_logs", found[0]["id"]) if found else []
        if len(rows) >= expect or time.time() > deadline:
            return rows
        time.sleep(0.1)


def named(rows: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in rows:
        name = r["span_attributes"]["name"]
        assert name not in out, name
        out[name] = r
    return out


def child_of(row: dict, parent: dict) -> bool:
    return row["span_parents"] == [parent["span_id"]] and row["root_span_id"] == parent["root_span_id"]


MIXED_SCRIPT = textwrap.dedent(
    """
    import spanloom
    from opentelemetry.sdk.trace import TracerProvider
    from spanloom.otel import SpanloomSpanProcessor

    logger = spanloom.init_logger(project="otel-mixed")
    provider = TracerProvider()
    provider.add_span_processor(SpanloomSpanProcessor())  # parent: the current logger's project
    tracer = provider.get_tracer("mixed-test")

    @spanloom.traced
    def tool(x):
        with tracer.start_as_current_span("otel-in-traced"):
            return x * 2

    with spanloom.start_span(name="native-root") as root:
        root.log(input="q")
        with tracer.start_as_current_span("otel-child") as oc:
            oc.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            oc.set_attribute("app.feature", "search")
            with spanloom.start_span(name="native-grandchild") as g:
                g.log(output="g")
                with tracer.start_as_current_span("otel-great-grandchild"):
                    pass
        with spanloom.start_span(name="native-sibling"):
            pass
        tool(21)

    with tracer.start_as_current_span("otel-root"):
        with spanloom.start_span(name="native-under-otel-root") as n:
            n.log(output="n")
            with tracer.start_as_current_span("otel-under-native-under-otel"):
                pass

    spanloom.flush()  # flushes the span processor too
    provider.shutdown()
    """
)


def test_otel_and_native_spans_share_one_trace_tree(server, client):
    run_sdk(server, MIXED_SCRIPT, prefix="SPANLOOM")
    spans = named(rows_of(client, "otel-mixed", 10))
    assert set(spans) == {
        "native-root",
        "otel-child",
        "native-grandchild",
        "otel-great-grandchild",
        "native-sibling",
        "tool",
        "otel-in-traced",
        "otel-root",
        "native-under-otel-root",
        "otel-under-native-under-otel",
    }
    root = spans["native-root"]
    assert not root["span_parents"] and root["input"] == "q"
    assert child_of(spans["otel-child"], root)
    assert child_of(spans["native-grandchild"], spans["otel-child"])
    assert child_of(spans["otel-great-grandchild"], spans["native-grandchild"])
    # Back in the native span after the OTel span ended: its children are native children.
    assert child_of(spans["native-sibling"], root) and child_of(spans["tool"], root)
    assert child_of(spans["otel-in-traced"], spans["tool"])
    # Started from OTel: the native span joins the OTel trace.
    otel_root = spans["otel-root"]
    assert not otel_root["span_parents"]
    assert child_of(spans["native-under-otel-root"], otel_root)
    assert child_of(spans["otel-under-native-under-otel"], spans["native-under-otel-root"])
    assert spans["native-under-otel-root"]["output"] == "n" and spans["native-grandchild"]["output"] == "g"
    # The OTel rows were mapped by the server (they came over OTLP, not /logs3).
    assert "otel" in spans["otel-child"] and "otel" not in root
    assert spans["otel-child"]["metadata"]["app"]["feature"] == "search"
    assert spans["tool"]["output"] == 42


FILTER_SCRIPT = textwrap.dedent(
    """
    import spanloom
    from opentelemetry import context as otel_context
    from opentelemetry.sdk.trace import TracerProvider
    from spanloom.otel import BraintrustSpanProcessor, SpanloomSpanProcessor

    assert BraintrustSpanProcessor is SpanloomSpanProcessor

    def custom(span):
        if span.name == "keep-me":
            return True
        if span.name == "drop-me":
            return False
        return None

    spanloom.init_logger(project="otel-filter")
    provider = TracerProvider()
    provider.add_span_processor(BraintrustSpanProcessor(parent="project_name:otel-filter", filter_ai_spans=True, custom_filter=custom))
    tracer = provider.get_tracer("filter-test")

    with tracer.start_as_current_span("plain-root"):
        with tracer.start_as_current_span("db-query") as s:
            s.set_attribute("db.system", "sqlite")
        with tracer.start_as_current_span("gen_ai.chat"):
            pass
        with tracer.start_as_current_span("has-llm-attribute") as s:
            s.set_attribute("llm.model_name", "gpt-4o")
        with tracer.start_as_current_span("keep-me"):
            pass
        with tracer.start_as_current_span("drop-me") as s:
            s.set_attribute("gen_ai.system", "openai")
    with tracer.start_as_current_span("boring-root"):  # a trace without AI spans: dropped
        with tracer.start_as_current_span("db-only"):
            pass
    with tracer.start_as_current_span("late-root"):  # the root ends before its AI span
        ctx = otel_context.get_current()
    with tracer.start_as_current_span("ai.generateText", context=ctx):
        pass
    with spanloom.start_span(name="native-parent"):  # the trace's root is native
        with tracer.start_as_current_span("plain-under-native"):
            with tracer.start_as_current_span("gen_ai.under-native"):
                pass
    spanloom.flush()
    provider.shutdown()
    """
)


def test_filter_ai_spans_keeps_ai_spans_and_the_roots_of_their_traces(server, client):
    run_sdk(server, FILTER_SCRIPT, prefix="SPANLOOM")
    spans = named(rows_of(client, "otel-filter", 8))
    assert set(spans) == {"plain-root", "gen_ai.chat", "has-llm-attribute", "keep-me", "late-root", "ai.generateText", "native-parent", "gen_ai.under-native"}
    for name in ("gen_ai.chat", "has-llm-attribute", "keep-me"):
        assert child_of(spans[name], spans["plain-root"]), name
    assert child_of(spans["ai.generateText"], spans["late-root"])
    # Dropped in between: the kept span still names its OTel parent, in the native root's trace.
    kept = spans["gen_ai.under-native"]
    assert kept["root_span_id"] == spans["native-parent"]["root_span_id"] and kept["span_parents"]
