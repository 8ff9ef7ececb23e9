"""Real OpenTelemetry LLM instrumentations export to a running server; the stored spans are
checked field by field. Each emitter runs in its own process (`otel_emitters.py`) against the
fake provider, through the real `openai` client library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fake_provider import _count, _prompt_tokens

HERE = Path(__file__).resolve().parent
EMITTERS = ["openinference", "openllmetry", "openai-v2", "openai-v2-events", "braintrust"]


def run_emitter(server, provider, emitter: str, project: str, grpc: bool = False) -> dict:
    cmd = [
        sys.executable,
        str(HERE / "otel_emitters.py"),
        emitter,
        "--spanloom",
        server.url,
        "--key",
        server.admin_key,
        "--provider",
        provider.url,
        "--project",
        project,
    ]
    if grpc:
        cmd += ["--grpc", server.grpc_addr]
    before = len(provider.requests)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    ids = json.loads(r.stdout.strip().splitlines()[-1])
    ids["requests"] = provider.requests[before:]
    return ids


def stored_trace(client, project_id: str, trace_id: str) -> dict:
    r = client.get(f"/api/v1/project_logs/{project_id}/traces/{trace_id}")
    assert r.status_code == 200, r.text
    return r.json()


def expected_usage(request: dict) -> tuple[int, int]:
    messages = request["body"]["messages"]
    question = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    return _prompt_tokens(messages), _count(f"Echo: {question}")


def check_agent_trace(client, emitter: str, ids: dict, project: str) -> dict:
    """The assertions every emitter must pass."""
    pid = client.project(project)
    trace = stored_trace(client, pid, ids["trace_id"])
    spans = trace["spans"]
    by_id = {s["span_id"]: s for s in spans}
    assert len(spans) == 6, [s["span_attributes"] for s in spans]

    root = by_id[ids["root"]]
    assert root["span_attributes"]["name"] == "support-agent"
    assert root["root_span_id"] == ids["trace_id"] and not root.get("span_parents")
    assert root["metadata"]["session_id"] == "sess-42"
    assert root["metadata"]["user_id"] == "u-7"
    assert root["metadata"]["resource"]["service"]["name"] == f"emitter-{emitter}"
    for s in spans:
        if s is not root:
            assert s["span_parents"] == [ids["root"]], s["span_attributes"]
        assert s["otel"]["span"]["span_id"] == s["span_id"]  # the raw span is kept

    tool = by_id[ids["tool"]]
    assert tool["span_attributes"]["type"] == "tool"
    assert tool["input"] == {"city": "Paris"}
    assert tool["output"] == {"forecast": "sunny", "celsius": 21}
    assert tool["metadata"]["tool"]["name"] == "get_weather"

    llm = sorted((s for s in spans if s["span_attributes"].get("type") == "llm"), key=lambda s: s["metrics"]["start"])
    assert len(llm) == 4, [s["span_attributes"] for s in spans]
    first, streamed, embedding, failed = llm
    chat_requests = [r for r in ids["requests"] if r["path"].endswith("/chat/completions")]

    # A chat call answered with a tool call.
    assert first["input"][0] == {"role": "system", "content": "You are terse."}
    assert first["input"][1] == {"role": "user", "content": "What is the weather in Paris?"}
    [message] = first["output"]
    assert message["role"] == "assistant"
    [call] = message["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    prompt, completion = expected_usage(chat_requests[0])
    assert first["metrics"]["prompt_tokens"] == prompt
    assert first["metrics"]["completion_tokens"] == completion
    assert first["metrics"]["tokens"] == prompt + completion
    assert first["metadata"]["model"] == "gpt-4o-mini"
    assert first["metadata"]["provider"] == "openai"
    assert first["metrics"]["end"] > first["metrics"]["start"]
    # Priced from the model price table: gpt-4o-mini is $0.15 in / $0.60 out per 1M tokens.
    assert first["metadata"]["pricing"]["entry"] == "openai/gpt-4o-mini"
    assert first["metrics"]["estimated_cost"] == pytest.approx((prompt * 0.15 + completion * 0.60) / 1e6)

    # The streamed answer is one span with the aggregated text and the usage chunk's tokens.
    assert streamed["output"][-1]["content"] == ids["streamed_text"] == "Echo: Summarize the forecast"
    assert streamed["input"][-1] == {"role": "user", "content": "Summarize the forecast"}
    prompt, completion = expected_usage(chat_requests[1])
    assert (streamed["metrics"]["prompt_tokens"], streamed["metrics"]["completion_tokens"]) == (prompt, completion)

    assert embedding["metadata"]["model"] == "text-embedding-3-small"
    assert embedding["metrics"]["prompt_tokens"] == 3
    assert "500" in failed["error"]
    assert not any(s.get("error") for s in spans if s is not failed)

    summary = trace["summary"]
    assert summary["error_count"] == 1
    assert summary["root_name"] == "support-agent"
    assert summary["tokens"] == sum(s["metrics"].get("tokens", 0) for s in llm)
    assert summary["estimated_cost"] == pytest.approx(sum(s["metrics"].get("estimated_cost", 0) for s in llm))
    return trace


@pytest.mark.parametrize("emitter", EMITTERS)
def test_real_emitter_over_otlp_http(server, client, fake_provider, emitter):
    project = f"otel-{emitter}"
    ids = run_emitter(server, fake_provider, emitter, project)
    trace = check_agent_trace(client, emitter, ids, project)
    scopes = {s["metadata"].get("scope", {}).get("name") for s in trace["spans"]}
    if emitter == "openinference":
        assert "openinference.instrumentation.openai" in scopes
    if emitter == "openai-v2-events":
        # The messages came as log events, joined to their spans.
        chat = [s for s in trace["spans"] if s["otel"].get("log_events")]
        assert len(chat) >= 2


def test_real_emitter_over_otlp_grpc(server, client, fake_provider):
    ids = run_emitter(server, fake_provider, "openai-v2", "otel-grpc", grpc=True)
    check_agent_trace(client, "openai-v2", ids, "otel-grpc")


def run_ai_sdk(server, provider, project: str) -> dict:
    r = subprocess.run(
        ["node", str(HERE / "ai-sdk" / "emit.mjs"), server.url, server.admin_key, provider.url, project], capture_output=True, text=True, timeout=180
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_vercel_ai_sdk_over_otlp_json(server, client, fake_provider):
    """The AI SDK's JS exporter posts OTLP/JSON (hex ids, string int64s); its wrapper spans
    repeat their children's usage, which must not be counted twice."""
    ids = run_ai_sdk(server, fake_provider, "otel-ai-sdk")
    trace = stored_trace(client, client.project("otel-ai-sdk"), ids["trace_id"])
    spans = {}
    for s in trace["spans"]:
        spans.setdefault(s["span_attributes"]["name"], []).append(s)
    [wrapper] = spans["ai.generateText"]
    assert wrapper["span_attributes"]["type"] == "task"
    assert "prompt_tokens" not in wrapper["metrics"]
    assert wrapper["metadata"]["aggregated_usage"]["prompt_tokens"] > 0
    assert wrapper["input"] == [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is the weather in Paris?"}]
    calls = sorted(spans["ai.generateText.doGenerate"], key=lambda s: s["metrics"]["start"])
    assert [c["span_attributes"]["type"] for c in calls] == ["llm", "llm"]
    [call] = calls[0]["output"][0]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert calls[0]["metadata"]["model"] == "gpt-4o-mini"
    assert calls[0]["metadata"]["provider"] == "openai"
    assert calls[0]["metadata"]["session_id"] == "sess-ai"
    assert calls[0]["metadata"]["function_id"] == "weather-bot"
    assert calls[1]["output"][0]["content"] == "Echo: What is the weather in Paris?"
    [tool] = spans["ai.toolCall"]
    assert tool["span_attributes"]["type"] == "tool"
    assert tool["input"] == {"city": "Paris"}
    assert tool["output"] == {"forecast": "sunny", "celsius": 21, "city": "Paris"}
    [stream] = spans["ai.streamText.doStream"]
    assert stream["output"][0]["content"] == ids["streamed_text"]
    assert stream["metrics"]["time_to_first_token"] > 0
    llm = [s for s in trace["spans"] if s["span_attributes"].get("type") == "llm"]
    assert trace["summary"]["tokens"] == sum(s["metrics"]["tokens"] for s in llm)
    assert trace["summary"]["estimated_cost"] == pytest.approx(sum(s["metrics"]["estimated_cost"] for s in llm))
