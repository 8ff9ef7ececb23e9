"""Spanloom's own Python SDK (`pip install ./sdk/python`: Python API over the Rust core)
against a running server: nested traced spans (sync and async), span.log, current_span, an
error raised inside a span, update_span from another process, no-op without a logger."""

from __future__ import annotations

import json
import textwrap

import pytest
from test_braintrust_sdk import run_sdk

pytest.importorskip("spanloom", reason="installed by scripts/setup-test-env.sh")

LOG_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, spanloom

    logger = spanloom.init_logger(project="spanloom-sdk-e2e")

    @spanloom.traced
    def retrieve(query):
        spanloom.current_span().log(metadata={"source": "kb"}, metrics={"prompt_tokens": 7})
        return ["doc-1", "doc-2"]

    @spanloom.traced(name="answer", type="llm")
    def answer(question):
        docs = retrieve(question)
        with spanloom.start_span(name="format", type="tool") as span:
            span.log(input={"docs": docs}, output="formatted", tags=["fmt"])
        spanloom.current_span().log(metrics={"completion_tokens": 5}, metadata={"model": "gpt-4o-mini"})
        return "42"

    @spanloom.traced
    async def summarize(text):
        await asyncio.sleep(0.01)
        return text.upper()

    answer("what is the answer?")
    asyncio.run(summarize("hello"))

    with logger.start_span(name="pipeline", type="task") as root:
        root.log(input={"job": 1})
        try:
            with root.start_span(name="failing-step"):
                raise ValueError("boom inside a span")
        except ValueError:
            pass
        exported = root.export()

    spanloom.flush()
    print(json.dumps({"exported": exported}))
    """
)

UPDATE_SCRIPT = textwrap.dedent(
    """
    import sys, spanloom
    spanloom.login()
    spanloom.update_span(sys.argv[1], output="updated from another process", metadata={"reviewed": True})
    spanloom.flush()
    """
)

NOOP_SCRIPT = textwrap.dedent(
    """
    import spanloom
    @spanloom.traced
    def f(x):
        spanloom.current_span().log(output=x)
        return x + 1
    assert f(1) == 2
    with spanloom.start_span(name="nothing") as s:
        s.log(input=1)
    print("noop ok")
    """
)


def run(server, script: str, *args: str, prefix: str = "SPANLOOM") -> str:
    return run_sdk(server, script, *args, prefix=prefix)


def test_spanloom_sdk_traces_read_back(server, client):
    exported = json.loads(run(server, LOG_SCRIPT).strip().splitlines()[-1])["exported"]
    run(server, UPDATE_SCRIPT, exported, prefix="BRAINTRUST")  # the BRAINTRUST_* names work too

    [project] = client.get("/v1/project", params={"project_name": "spanloom-sdk-e2e"}).json()["objects"]
    rows = client.fetch_all("project_logs", project["id"])
    by_name = {r["span_attributes"]["name"]: r for r in rows}
    assert set(by_name) == {"answer", "retrieve", "format", "summarize", "pipeline", "failing-step"}
    answer, retrieve, fmt = by_name["answer"], by_name["retrieve"], by_name["format"]
    assert not answer["span_parents"]
    assert retrieve["span_parents"] == [answer["span_id"]] and fmt["span_parents"] == [answer["span_id"]]
    assert retrieve["root_span_id"] == fmt["root_span_id"] == answer["root_span_id"]
    assert answer["input"] == {"question": "what is the answer?"} and answer["output"] == "42"
    assert answer["metrics"]["completion_tokens"] == 5 and answer["metadata"]["model"] == "gpt-4o-mini"
    assert retrieve["metadata"] == {"source": "kb"} and retrieve["output"] == ["doc-1", "doc-2"]
    assert fmt["output"] == "formatted" and fmt["tags"] == ["fmt"]
    assert by_name["summarize"]["output"] == "HELLO" and by_name["summarize"]["input"] == {"text": "hello"}
    for row in rows:
        m = row["metrics"]
        assert m["start"] <= m["end"], row
    pipeline, failing = by_name["pipeline"], by_name["failing-step"]
    assert failing["span_parents"] == [pipeline["span_id"]]
    assert "ValueError: boom inside a span" in failing["error"] and "Traceback" in failing["error"]
    assert pipeline["output"] == "updated from another process"
    assert pipeline["metadata"] == {"reviewed": True} and pipeline["input"] == {"job": 1}
    # The LLM span was priced from the model table.
    assert answer["metadata"]["pricing"]["source"] in ("price_table", "unpriced")
    # As the official SDK sends them: where each span comes from (a traced function's
    # definition, the code that called start_span), and a process-wide ordering hint.
    assert answer["context"]["caller_functionname"] == "answer" and answer["context"]["caller_filename"] == "<string>"  # python -c
    # retrieve is defined before answer in the script
    assert isinstance(answer["context"]["caller_lineno"], int) and retrieve["context"]["caller_lineno"] < answer["context"]["caller_lineno"]
    assert retrieve["context"]["caller_functionname"] == "retrieve" and fmt["context"]["caller_functionname"] == "answer"
    assert pipeline["context"]["caller_functionname"] == "<module>"
    assert answer["context"]["span_origin"]["name"] == "spanloom.sdk.python"
    counters = [by_name[n]["span_attributes"]["exec_counter"] for n in ("answer", "retrieve", "format", "summarize", "pipeline", "failing-step")]
    assert counters == sorted(counters) and len(set(counters)) == len(counters), counters


def test_without_a_logger_tracing_is_a_noop(server):
    assert run(server, NOOP_SCRIPT).strip() == "noop ok"


OPENAI_SCRIPT = textwrap.dedent(
    """
    import json, sys, openai, spanloom

    logger = spanloom.init_logger(project="spanloom-sdk-openai")
    client = spanloom.wrap_openai(openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key="sk-fake", max_retries=0))

    @spanloom.traced
    def agent(question):
        first = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}], temperature=0.1)
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "stream please"}],
                                                stream=True, stream_options={"include_usage": True})
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        with spanloom.TracedThreadPoolExecutor(2) as pool:
            lengths = list(pool.map(lambda w: spanloom.traced(name="count")(len)(w), ["a", "bb"]))
        return {"first": first.choices[0].message.content, "streamed": streamed, "lengths": lengths}

    print(json.dumps(agent("What is the weather in Paris?")))
    spanloom.flush()
    """
)


def test_wrap_openai_and_thread_pools(server, client, fake_provider):
    out = json.loads(run(server, OPENAI_SCRIPT, fake_provider.url).strip().splitlines()[-1])
    assert out == {"first": "Echo: What is the weather in Paris?", "streamed": "Echo: stream please", "lengths": [1, 2]}
    [project] = client.get("/v1/project", params={"project_name": "spanloom-sdk-openai"}).json()["objects"]
    rows = client.fetch_all("project_logs", project["id"])
    root = next(r for r in rows if r["span_attributes"]["name"] == "agent")
    llm = sorted((r for r in rows if r["span_attributes"].get("type") == "llm"), key=lambda r: r["metrics"]["start"])
    assert len(llm) == 2 and all(r["span_parents"] == [root["span_id"]] for r in llm)
    first, streamed = llm
    assert first["input"] == [{"role": "user", "content": "What is the weather in Paris?"}]
    assert first["output"][0]["message"]["content"] == "Echo: What is the weather in Paris?"
    assert first["metadata"]["model"] == "gpt-4o-mini" and first["metadata"]["temperature"] == 0.1
    assert first["metrics"]["prompt_tokens"] > 0 and first["metrics"]["completion_tokens"] == 7
    assert first["metadata"]["pricing"]["entry"] == "openai/gpt-4o-mini" and first["metrics"]["estimated_cost"] > 0
    assert streamed["output"][0]["message"]["content"] == "Echo: stream please"
    assert streamed["metrics"]["completion_tokens"] == 3 and streamed["metrics"]["time_to_first_token"] > 0
    counts = [r for r in rows if r["span_attributes"]["name"] == "count"]
    assert len(counts) == 2 and all(r["span_parents"] == [root["span_id"]] for r in counts)
