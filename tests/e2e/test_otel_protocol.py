"""OTLP/HTTP transport, routing and bad input, spoken with the official OTLP protobuf types."""

from __future__ import annotations

import gzip
import json
import os
import zlib

import pytest
import requests
from conftest import span_row
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

PB = {"content-type": "application/x-protobuf"}


def kv(key: str, value) -> KeyValue:
    v = AnyValue()
    if isinstance(value, bool):
        v.bool_value = value
    elif isinstance(value, int):
        v.int_value = value
    elif isinstance(value, float):
        v.double_value = value
    elif isinstance(value, AnyValue):
        v = value
    else:
        v.string_value = value
    return KeyValue(key=key, value=v)


def new_ids() -> tuple[bytes, bytes]:
    return os.urandom(16), os.urandom(8)


def make_span(trace_id: bytes, span_id: bytes, name: str = "step", parent: bytes = b"", attrs: dict | None = None, **kw) -> Span:
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=1_760_000_000_000_000_000,
        end_time_unix_nano=1_760_000_001_000_000_000,
        attributes=[kv(k, v) for k, v in (attrs or {}).items()],
        **kw,
    )


def export(spans: list[Span], resource: dict | None = None) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    for k, v in (resource or {"service.name": "proto-test"}).items():
        rs.resource.attributes.append(kv(k, v))
    ss = rs.scope_spans.add()
    ss.scope.name = "proto-test"
    ss.spans.extend(spans)
    return req


def post(client, body: bytes, headers: dict, path: str = "/v1/traces") -> requests.Response:
    return client.post(path, data=body, headers=headers)


def span_by_id(client, project_id: str, span_id: bytes) -> dict | None:
    r = client.get(f"/api/v1/project_logs/{project_id}/spans/{span_id.hex()}")
    return r.json() if r.status_code == 200 else None


def routed(name: str) -> dict:
    return {**PB, "x-bt-parent": f"project_name:{name}"}


def test_protobuf_plain_gzip_and_deflate(client, project):
    name = f"proto-{project}"
    for encode, encoding in [(lambda b: b, None), (gzip.compress, "gzip"), (zlib.compress, "deflate")]:
        t, s = new_ids()
        headers = {**routed(name), **({"content-encoding": encoding} if encoding else {})}
        r = post(client, encode(export([make_span(t, s, attrs={"gen_ai.request.model": "gpt-4o"})]).SerializeToString()), headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/x-protobuf"
        answer = ExportTraceServiceResponse.FromString(r.content)
        assert not answer.HasField("partial_success")
        stored = span_by_id(client, client.project(name), s)
        assert stored and stored["root_span_id"] == t.hex(), encoding


def test_json_body_answers_json(client, project):
    name = f"json-{project}"
    t, s = new_ids()
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": t.hex(),
                                "spanId": s.hex(),
                                "name": "json span",
                                "startTimeUnixNano": "1760000000000000000",
                                "endTimeUnixNano": 1760000000500000000,
                                "attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "7"}}],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    r = client.post("/v1/traces", data=json.dumps(body).encode(), headers={"content-type": "application/json", "x-bt-parent": f"project_name:{name}"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {}
    stored = span_by_id(client, client.project(name), s)
    assert stored["metrics"]["end"] - stored["metrics"]["start"] == pytest.approx(0.5)


def test_content_types_and_encodings(client):
    body = export([make_span(*new_ids())]).SerializeToString()
    r = post(client, body, {"content-type": "text/plain"})
    assert r.status_code == 415 and "application/x-protobuf" in r.json()["error"]["message"]
    r = client.session.post(client.url + "/v1/traces", data=body, headers={"content-type": ""})
    assert r.status_code == 415
    r = post(client, body, {**PB, "content-encoding": "snappy"})
    assert r.status_code == 415


def test_undecodable_bodies_are_400(client):
    body = export([make_span(*new_ids(), name="x" * 200)]).SerializeToString()
    r = post(client, body[: len(body) // 2], PB)
    assert r.status_code == 400 and "protobuf" in r.json()["error"]["message"]
    r = post(client, b"\xff\xfe not protobuf at all \x00\x01", PB)
    assert r.status_code == 400
    # A logs export sent to the traces endpoint must not be taken as id-less spans.
    logs = ExportLogsServiceRequest()
    logs.resource_logs.add().scope_logs.add().log_records.append(LogRecord(time_unix_nano=1, body=AnyValue(string_value="hello")))
    r = post(client, logs.SerializeToString(), PB)
    assert r.status_code == 400 or ExportTraceServiceResponse.FromString(r.content).partial_success.rejected_spans > 0
    r = client.post("/v1/traces", data=b'{"resource_spans": [{"scope_spans": []}]}', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "resourceSpans" in r.json()["error"]["message"]
    r = client.post("/v1/traces", data=b'{"resourceSpans": [', headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_bad_ids_are_partial_success_and_good_spans_are_kept(client, project):
    name = f"ids-{project}"
    good_t, good_s = new_ids()
    spans = [
        make_span(good_t, good_s, name="good"),
        make_span(os.urandom(8), os.urandom(8), name="short trace id"),
        make_span(bytes(16), os.urandom(8), name="zero trace id"),
        make_span(os.urandom(16), os.urandom(4), name="short span id"),
        make_span(os.urandom(16), bytes(8), name="zero span id"),
    ]
    r = post(client, export(spans).SerializeToString(), routed(name))
    assert r.status_code == 200
    partial = ExportTraceServiceResponse.FromString(r.content).partial_success
    assert partial.rejected_spans == 4
    assert "trace_id must be 16 bytes" in partial.error_message and "and 1 more" in partial.error_message
    assert span_by_id(client, client.project(name), good_s)["span_attributes"]["name"] == "good"


def _len_field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field."""
    out, n = bytearray([(number << 3) | 2]), len(payload)
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out) + payload


def deep_any_value(levels: int) -> bytes:
    """AnyValue{kvlist{KeyValue{key, AnyValue{...}}}} nested `levels` times, hand-encoded:
    protobuf libraries refuse to build what they would not parse."""
    value = _len_field(1, b"leaf")  # AnyValue.string_value
    for _ in range(levels):
        key_value = _len_field(1, b"k") + _len_field(2, value)
        value = _len_field(6, _len_field(1, key_value))  # AnyValue.kvlist_value.values
    return value


def test_huge_and_deeply_nested_values(client, project):
    name = f"huge-{project}"
    t, s = new_ids()
    huge = "lorem ipsum " * 700_000  # ~8 MB in one attribute
    deep = AnyValue.FromString(deep_any_value(30))
    span = make_span(t, s, attrs={"input.value": huge, "deep.value": deep})
    r = post(client, export([span]).SerializeToString(), routed(name))
    assert r.status_code == 200, r.text
    stored = span_by_id(client, client.project(name), s)
    assert stored["input"] == huge
    depth, node = 0, stored["metadata"]["deep"]["value"]
    while isinstance(node, dict):
        node, depth = node["k"], depth + 1
    assert (depth, node) == (30, "leaf")
    # Nesting past the decoder's recursion limit is a clear 400, not a crash.
    span = make_span(*new_ids(), name="too deep")
    body = bytearray(export([span]).SerializeToString())
    too_deep = ExportTraceServiceRequest()
    too_deep.ParseFromString(bytes(body))
    raw_span = too_deep.resource_spans[0].scope_spans[0].spans[0].SerializeToString()
    attribute = _len_field(1, b"deep") + _len_field(2, deep_any_value(400))
    nested_span = raw_span + _len_field(9, attribute)  # Span.attributes
    request = _len_field(1, _len_field(2, _len_field(2, nested_span)))  # resource_spans.scope_spans.spans
    r = post(client, request, PB)
    assert r.status_code == 400 and "recursion" in r.json()["error"]["message"]
    assert client.get("/health").status_code == 200


def test_size_limit_applies_to_decompressed_bodies(fresh_server):
    server = fresh_server("--max-body-bytes", str(1024 * 1024))
    from spanloom_server import Client

    client = Client(server.url, server.admin_key)
    big = make_span(*new_ids(), attrs={"input.value": "x" * (2 * 1024 * 1024)})
    body = export([big]).SerializeToString()
    r = post(client, body, PB)
    assert r.status_code == 413 and "1048576" in r.json()["error"]["message"]
    # A small gzip body that inflates past the limit (a compression bomb) is refused too.
    bomb = gzip.compress(body)
    assert len(bomb) < 64 * 1024
    r = post(client, bomb, {**PB, "content-encoding": "gzip"})
    assert r.status_code == 413
    assert server.alive()


def test_auth_is_required(server, client):
    body = export([make_span(*new_ids())]).SerializeToString()
    r = requests.post(server.url + "/v1/traces", data=body, headers=PB, timeout=10)
    assert r.status_code == 401
    r = requests.post(server.url + "/otel/v1/traces", data=body, headers={**PB, "authorization": "Bearer sl-wrong"}, timeout=10)
    assert r.status_code == 401


def test_routing_precedence(client, project):
    a, b, c, d = (f"{x}-{project}" for x in "abcd")
    spans = {}
    # braintrust.parent on the span beats the header.
    t, s = new_ids()
    spans["attr"] = s
    r = post(client, export([make_span(t, s, attrs={"braintrust.parent": f"project_name:{a}"})]).SerializeToString(), routed(b))
    assert r.status_code == 200
    assert span_by_id(client, client.project(a), s) and not span_by_id(client, client.project(b), s)
    # x-bt-parent beats x-project-name and the resource.
    t, s = new_ids()
    r = post(client, export([make_span(t, s)], {"openinference.project.name": d}).SerializeToString(), {**routed(b), "x-project-name": c})
    assert span_by_id(client, client.project(b), s)
    # x-project-name (Phoenix's header) beats the resource.
    t, s = new_ids()
    post(client, export([make_span(t, s)], {"openinference.project.name": d}).SerializeToString(), {**PB, "x-project-name": c})
    assert span_by_id(client, client.project(c), s)
    # The resource's project name beats the default project.
    t, s = new_ids()
    post(client, export([make_span(t, s)], {"openinference.project.name": d}).SerializeToString(), PB)
    assert span_by_id(client, client.project(d), s)
    # Nothing at all: the default project.
    t, s = new_ids()
    post(client, export([make_span(t, s)]).SerializeToString(), PB)
    assert span_by_id(client, client.project("default-otel-project"), s)
    # By project id and into an experiment.
    pid = client.project(a)
    t, s = new_ids()
    post(client, export([make_span(t, s)]).SerializeToString(), {**PB, "x-bt-parent": f"project_id:{pid}"})
    assert span_by_id(client, pid, s)
    exp = client.post("/v1/experiment", {"project_id": pid, "name": f"exp-{project}"}).json()
    t, s = new_ids()
    r = post(client, export([make_span(t, s, name="in experiment")]).SerializeToString(), {**PB, "x-bt-parent": f"experiment_id:{exp['id']}"})
    assert r.status_code == 200
    got = client.get(f"/api/v1/experiment/{exp['id']}/spans/{s.hex()}")
    assert got.status_code == 200 and got.json()["span_attributes"]["name"] == "in experiment"


def test_bad_routes(client):
    body = export([make_span(*new_ids())]).SerializeToString()
    r = post(client, body, {**PB, "x-bt-parent": "playground:abc"})
    assert r.status_code == 400 and "x-bt-parent" in r.json()["error"]["message"]
    r = post(client, body, {**PB, "x-bt-parent": "project_id:00000000-0000-0000-0000-000000000000"})
    assert r.status_code == 200
    partial = ExportTraceServiceResponse.FromString(r.content).partial_success
    assert partial.rejected_spans == 1 and "does not exist" in partial.error_message


def test_mixed_logs3_and_otel_trace(client, project):
    """A span logged over /logs3 and a child exported over OTLP with the same trace id are one tree."""
    t, root, child = os.urandom(16), os.urandom(8), os.urandom(8)
    r = client.logs3(
        [
            span_row(
                project,
                "sdk-root",
                t.hex(),
                root.hex(),
                span_attributes={"name": "sdk root", "type": "task"},
                metrics={"start": 1_760_000_000.0, "end": 1_760_000_002.0},
            )
        ]
    )
    assert r.status_code == 200, r.text
    r = post(client, export([make_span(t, child, name="otel child", parent=root)]).SerializeToString(), {**PB, "x-bt-parent": f"project_id:{project}"})
    assert r.status_code == 200
    trace = client.get(f"/api/v1/project_logs/{project}/traces/{t.hex()}").json()
    names = {s["span_attributes"]["name"]: s for s in trace["spans"]}
    assert set(names) == {"sdk root", "otel child"}
    assert names["otel child"]["span_parents"] == [root.hex()]
    assert trace["summary"]["root_name"] == "sdk root"


def test_retried_export_is_idempotent(client, project):
    t, s = new_ids()
    body = export([make_span(t, s, attrs={"gen_ai.request.model": "gpt-4o"})]).SerializeToString()
    headers = {**PB, "x-bt-parent": f"project_id:{project}"}
    assert post(client, body, headers).status_code == 200
    first = span_by_id(client, project, s)
    assert post(client, body, headers).status_code == 200
    assert span_by_id(client, project, s)["_xact_id"] == first["_xact_id"]
    trace = client.get(f"/api/v1/project_logs/{project}/traces/{t.hex()}").json()
    assert trace["summary"]["span_count"] == 1


def test_status_error_and_exception_events(client, project):
    t, s, handled = os.urandom(16), os.urandom(8), os.urandom(8)
    event = Span.Event(
        name="exception",
        time_unix_nano=1_760_000_000_500_000_000,
        attributes=[
            kv("exception.type", "ValueError"),
            kv("exception.message", "bad input"),
            kv("exception.stacktrace", "Traceback (most recent call last):\n  ..."),
        ],
    )
    failed = make_span(t, s, name="failing step", events=[event], status=Status(code=Status.STATUS_CODE_ERROR, message="bad input"))
    caught_event = Span.Event(name="exception", attributes=[kv("exception.type", "KeyError"), kv("exception.message", "x"), kv("exception.escaped", "False")])
    ok = make_span(t, handled, name="handled", parent=s, events=[caught_event])
    r = post(client, export([failed, ok]).SerializeToString(), {**PB, "x-bt-parent": f"project_id:{project}"})
    assert r.status_code == 200
    stored = span_by_id(client, project, s)
    assert stored["error"].startswith("ValueError: bad input") and "Traceback" in stored["error"]
    assert stored["metadata"]["error_type"] == "ValueError"
    assert not span_by_id(client, project, handled).get("error")


def test_genai_log_events_join_their_span_in_any_order(client, project):
    """Content that arrives as log events lands on its span whether the logs come first or not."""
    t, s = new_ids()
    headers = {**PB, "x-bt-parent": f"project_id:{project}"}
    logs = ExportLogsServiceRequest()
    records = logs.resource_logs.add().scope_logs.add().log_records
    details = AnyValue()
    records.append(
        LogRecord(
            time_unix_nano=1_760_000_000_100_000_000,
            trace_id=t,
            span_id=s,
            event_name="gen_ai.client.inference.operation.details",
            attributes=[
                kv("gen_ai.input.messages", json.dumps([{"role": "user", "parts": [{"type": "text", "content": "hello from a log"}]}])),
                kv("gen_ai.output.messages", json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "hi back"}], "finish_reason": "stop"}])),
            ],
        )
    )
    records.append(LogRecord(time_unix_nano=1, body=AnyValue(string_value="a plain application log line")))
    del details
    r = post(client, logs.SerializeToString(), headers, "/v1/logs")
    assert r.status_code == 200
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

    partial = ExportLogsServiceResponse.FromString(r.content).partial_success
    assert partial.rejected_log_records == 1 and "only GenAI events" in partial.error_message
    span = make_span(
        t,
        s,
        name="chat gpt-4o-mini",
        attrs={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 2},
    )
    assert post(client, export([span]).SerializeToString(), headers).status_code == 200
    stored = span_by_id(client, project, s)
    assert stored["input"] == [{"role": "user", "content": "hello from a log"}]
    assert stored["output"] == [{"role": "assistant", "content": "hi back", "finish_reason": "stop"}]
    assert stored["span_attributes"]["type"] == "llm" and stored["metrics"]["prompt_tokens"] == 5


def test_renormalize_rederives_stored_spans(fresh_server):
    """A span stored by an older mapping (here: only its raw form and a name) is re-derived by
    `spanloom renormalize` from the raw span kept beside it."""
    import subprocess

    from spanloom_server import Client, binary

    server = fresh_server()
    client = Client(server.url, server.admin_key)
    pid = client.project("renorm")
    t, s = new_ids()
    raw = {
        "trace_id": t.hex(),
        "span_id": s.hex(),
        "name": "chat gpt-4o",
        "kind": 3,
        "start_time_unix_nano": 1_760_000_000_000_000_000,
        "end_time_unix_nano": 1_760_000_002_000_000_000,
        "resource": {"service.name": "old"},
        "scope": {"name": "opentelemetry.instrumentation.openai_v2"},
        "attributes": {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]),
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 100,
        },
    }
    stale = {
        "id": s.hex(),
        "project_id": pid,
        "log_id": "g",
        "span_id": s.hex(),
        "root_span_id": t.hex(),
        "span_attributes": {"name": "chat gpt-4o"},
        "otel": {"span": raw},
    }
    assert client.logs3([stale]).status_code == 200
    untouched = span_row(pid, "plain", "t-plain", "s-plain", span_attributes={"name": "not otel"})
    assert client.logs3([untouched]).status_code == 200

    def renormalize(*extra: str) -> str:
        r = subprocess.run([str(binary()), "renormalize", "--data-dir", str(server.data_dir), *extra], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    assert "2 rows scanned, 1 OTel spans, 1 would change" in renormalize("--dry-run")
    assert "input" not in span_by_id(client, pid, s)
    assert "1 re-derived" in renormalize("--project", "renorm")
    fixed = span_by_id(client, pid, s)
    assert fixed["span_attributes"] == {"name": "chat gpt-4o", "type": "llm"}
    assert fixed["input"] == [{"role": "user", "content": "hi"}]
    assert fixed["metrics"]["prompt_tokens"] == 1000
    assert fixed["metrics"]["estimated_cost"] == pytest.approx((1000 * 2.5 + 100 * 10.0) / 1e6)
    assert fixed["otel"]["span"] == raw
    assert "0 re-derived" in renormalize()
    assert client.get(f"/api/v1/project_logs/{pid}/rows/plain").json()["row"]["span_attributes"] == {"name": "not otel"}


def test_zstd_bodies(client, project):
    import zstandard

    t, s = new_ids()
    body = zstandard.ZstdCompressor().compress(export([make_span(t, s, name="zstd span")]).SerializeToString())
    r = post(client, body, {**PB, "content-encoding": "zstd", "x-bt-parent": f"project_id:{project}"})
    assert r.status_code == 200, r.text
    assert span_by_id(client, project, s)["span_attributes"]["name"] == "zstd span"


def test_unrouted_spans_go_to_the_keys_default_project(server, client):
    from spanloom_server import Client, keys_cli

    made = keys_cli(server.data_dir, "create", "--name", "otel-team", "--project", "team-default")
    assert made.returncode == 0, made.stderr
    team = Client(server.url, made.stdout.strip().splitlines()[-1])
    t, s = new_ids()
    r = post(team, export([make_span(t, s, name="no hint")]).SerializeToString(), PB)
    assert r.status_code == 200
    assert span_by_id(client, client.project("team-default"), s)["span_attributes"]["name"] == "no hint"
    listed = keys_cli(server.data_dir, "list")
    assert "team-default" in listed.stdout
