"""Bad input gets a clear 4xx naming the problem; nothing crashes and nothing is half-written."""

from __future__ import annotations

import json
import random

import requests
from spanloom_server import Client


def error_of(r: requests.Response) -> dict:
    assert r.headers["content-type"].startswith("application/json"), r.headers
    return r.json()["error"]


def test_malformed_json(client):
    r = client.post("/logs3", data=b'{"rows": [{"id": "a",}]}')
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "invalid_json" and "line 1 column" in err["message"]
    assert error_of(client.post("/logs3", data=b""))["message"] == "request body is not valid JSON: the body is empty"


def test_wrong_shapes_and_types(client, project):
    cases = {
        b"[1, 2]": "must be a JSON object",
        b'{"rows": 5}': "`rows` must be a list",
        b'{"api_version": 2}': "no `rows` list",
        json.dumps({"rows": [{"id": "a", "project_id": project, "tags": "x"}]}).encode(): "rows[0]: `tags` must be null or a list",
        json.dumps({"rows": [{"id": "a", "project_id": project, "metrics": {"start": "soon"}}]}).encode(): "`metrics.start` must be a number",
        json.dumps({"rows": [{"id": "a", "project_id": project, "scores": {"acc": "NaN"}}]}).encode(): '`scores.acc` is "NaN"',
        json.dumps({"rows": [{"id": "a", "project_id": project, "metrics": {"end": "Infinity"}}]}).encode(): "NaN and Infinity are not allowed",
        json.dumps({"rows": [{"id": "a", "project_id": project, "_is_merge": "yes"}]}).encode(): "`_is_merge` must be a boolean",
        json.dumps({"rows": [{"id": 7, "project_id": project}]}).encode(): "`id` must be a non-empty string",
        json.dumps({"rows": [{"id": "a"}]}).encode(): "the row names no object",
        json.dumps({"rows": [{"project_id": project, "_is_merge": True}]}).encode(): "`_is_merge` needs the `id`",
        json.dumps({"rows": [{"id": "a", "project_id": project, "metadata": [1]}]}).encode(): "`metadata` must be an object",
    }
    for body, expected in cases.items():
        r = client.post("/logs3", data=body)
        assert r.status_code == 400, (body, r.status_code)
        assert expected in error_of(r)["message"], (expected, r.text)


def test_bare_nan_and_infinity_tokens(client, project):
    for token in [b"NaN", b"Infinity", b"-Infinity"]:
        body = b'{"rows": [{"id": "a", "project_id": "' + project.encode() + b'", "metrics": {"start": ' + token + b"}}]}"
        r = client.post("/logs3", data=body)
        assert r.status_code == 400 and error_of(r)["code"] == "invalid_json"


def test_invalid_utf8(client, project):
    body = b'{"rows": [{"id": "a", "project_id": "' + project.encode() + b'", "input": "\xff\xfe"}]}'
    r = client.post("/logs3", data=body)
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "invalid_utf8" and "offset" in err["message"]


def test_deep_nesting(client, project):
    deep = "[" * 100_000 + "]" * 100_000
    body = '{"rows": [{"id": "a", "project_id": "' + project + '", "input": ' + deep + "}]}"
    r = client.post("/logs3", data=body.encode())
    assert r.status_code == 400 and "recursion limit" in error_of(r)["message"]
    assert client.get("/version").status_code == 200


def test_unknown_object_rejects_request_and_keeps_nothing(client, project):
    good = {"id": "good", "project_id": project, "log_id": "g", "input": "keep?"}
    missing = {"id": "bad", "project_id": "00000000-0000-0000-0000-000000000000", "log_id": "g"}
    r = client.logs3([good, missing])
    assert r.status_code == 404
    err = error_of(r)
    assert err["code"] == "unknown_object" and "00000000-0000-0000-0000-000000000000" in err["message"]
    # The request was rejected whole; the client knows nothing of it was written.
    assert client.fetch_all("project_logs", project) == []
    invalid_second = client.logs3([good, {"id": "x", "project_id": project, "tags": 1}])
    assert invalid_second.status_code == 400 and "rows[1]" in error_of(invalid_second)["message"]
    assert client.fetch_all("project_logs", project) == []
    assert client.logs3([good]).status_code == 200
    assert [e["id"] for e in client.fetch_all("project_logs", project)] == ["good"]
    r = client.logs3([{"id": "p", "prompt_session_id": "x", "log_id": "x"}])
    assert r.status_code == 400 and "prompt_session_id" in error_of(r)["message"]


def test_oversize_body_gets_413_naming_the_limit(fresh_server):
    srv = fresh_server("--max-body-bytes", "1048576")
    c = Client(srv.url, srv.admin_key)
    project = c.project("big")
    big = {"rows": [{"id": "a", "project_id": project, "log_id": "g", "input": "x" * 2_000_000}]}

    def chunks():
        payload = json.dumps(big).encode()
        for i in range(0, len(payload), 65536):
            yield payload[i : i + 65536]

    # Over one kept-alive session, several times: the server reads an oversize body out before
    # answering, so the answer is not lost to a reset and the connection stays usable.
    for _ in range(5):
        r = c.post("/logs3", big)
        assert r.status_code == 413
        assert "1048576 bytes" in error_of(r)["message"]
        r = c.session.post(srv.url + "/logs3", data=chunks(), timeout=60)  # chunked: no Content-Length
        assert r.status_code == 413 and "1048576" in r.json()["error"]["message"]
    small = {"rows": [{"id": "b", "project_id": project, "log_id": "g", "input": "x" * 900_000}]}
    assert c.post("/logs3", small).status_code == 200
    assert srv.alive()


def test_answer_before_the_body_is_read_closes_the_connection(server, client, project):
    # A bad key is refused before the body is read: the answer says the connection closes, so
    # a pooled client opens a new one for its next request instead of writing into a dead one.
    bad = requests.Session()
    bad.headers["Authorization"] = "Bearer not-a-key"
    body = json.dumps({"rows": [{"id": "a", "project_id": project, "input": "x" * 3_000_000}]})
    for _ in range(5):
        r = bad.post(server.url + "/logs3", data=body, timeout=60)
        assert r.status_code == 401 and r.headers["connection"] == "close"
    # A body that was read keeps the connection open.
    r = client.logs3([{"id": "kept", "project_id": project, "log_id": "g", "input": "x"}])
    assert r.status_code == 200 and r.headers.get("connection", "keep-alive") != "close"


def test_default_limit_is_64_mib(client, project):
    # An 8 MB span is accepted by default...
    row = {"id": "eight-mb", "project_id": project, "log_id": "g", "input": "y" * 8_000_000}
    assert client.logs3([row]).status_code == 200
    assert len(client.get(f"/api/v1/project_logs/{project}/rows/eight-mb").json()["row"]["input"]) == 8_000_000
    # ...and a declared 65 MiB body is refused before it is read.
    body = b'{"rows": [{"id": "huge", "project_id": "%s", "input": "' % project.encode()
    body += b"z" * (65 * 1024 * 1024) + b'"}]}'
    r = client.post("/logs3", data=body)
    assert r.status_code == 413 and "67108864 bytes (64 MiB)" in error_of(r)["message"]


def test_random_garbage_never_crashes(server, client, project):
    rng = random.Random(7)
    seeds = [b'{"rows": [', b'{"rows": [{"id": "a", "project_id": "%s"' % project.encode(), b"\x00\x01", b'{"events":']
    for _ in range(300):
        body = rng.choice(seeds) + bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        path = rng.choice(["/logs3", f"/v1/project_logs/{project}/insert", f"/v1/project_logs/{project}/fetch", "/v1/project"])
        r = client.post(path, data=body)
        assert 400 <= r.status_code < 500, (path, body, r.status_code, r.text)
    assert server.alive()
    assert client.get("/version").status_code == 200


def test_unknown_routes_and_object_types(client):
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404 and "no route" in error_of(r)["message"]
    r = client.post("/v1/widgets/abc/insert", {"events": []})
    assert r.status_code == 404 and "unknown object type" in error_of(r)["message"]
