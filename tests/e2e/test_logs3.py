"""The write and read protocol over HTTP: /logs3 semantics, REST insert and fetch, trace routes."""

from __future__ import annotations

import uuid

from conftest import merge_row, span_row


def get_row(client, project, row_id):
    r = client.get(f"/api/v1/project_logs/{project}/rows/{row_id}")
    assert r.status_code == 200, r.text
    return r.json()["row"]


def test_replace_merge_tags_identity(client, project):
    start = span_row(project, "r", "t" * 32, "s" * 16, input={"q": 1}, metadata={"a": {"x": 1}}, tags=["a"], metrics={"start": 10.0})
    assert client.logs3([start]).status_code == 200
    patch = merge_row(
        project,
        "r",
        span_id="f" * 16,
        root_span_id="0" * 32,
        created="2000-01-01T00:00:00Z",
        metadata={"a": {"y": 2}},
        tags=["b", "a"],
        output=[1],
        metrics={"end": 11.5},
    )
    r = client.logs3([patch])
    assert r.status_code == 200
    row = get_row(client, project, "r")
    assert row["metadata"] == {"a": {"x": 1, "y": 2}}
    assert row["tags"] == ["a", "b"]
    assert row["metrics"] == {"start": 10.0, "end": 11.5}
    assert (row["span_id"], row["root_span_id"]) == ("s" * 16, "t" * 32)
    assert row["created"] == start["created"]
    assert row["_xact_id"] == r.json()["xact_id"]
    # A replace overwrites the whole row.
    assert client.logs3([span_row(project, "r", "t" * 32, "s" * 16, input="new")]).status_code == 200
    row = get_row(client, project, "r")
    assert row["input"] == "new" and "metadata" not in row and "output" not in row


def test_one_fixed_width_xact_per_request(client, project):
    xacts = []
    for i in range(3):
        r = client.logs3([span_row(project, f"x{i}a", "a" * 32, "b" * 16), span_row(project, f"x{i}b", "a" * 32, "c" * 16)])
        body = r.json()
        assert body["ids"] == [f"x{i}a", f"x{i}b"]
        xacts.append(body["xact_id"])
        assert get_row(client, project, f"x{i}a")["_xact_id"] == get_row(client, project, f"x{i}b")["_xact_id"] == body["xact_id"]
    assert all(len(x) == 19 and x.isdigit() for x in xacts)
    assert xacts == sorted(xacts) and len(set(xacts)) == 3


def test_merges_before_their_row_and_retries(client, project):
    trace, span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    end = merge_row(project, "late", metrics={"end": 5.0})
    log = merge_row(project, "late", output="answer", tags=["x"])
    start = span_row(project, "late", trace, span, input="question", metrics={"start": 1.0}, tags=["y"])
    for rows in ([end], [log], [start]):
        assert client.logs3(rows).status_code == 200
    first = get_row(client, project, "late")
    assert first["metrics"] == {"start": 1.0, "end": 5.0}
    assert first["output"] == "answer" and first["input"] == "question"
    assert sorted(first["tags"]) == ["x", "y"]
    # Resending every request (a client retry) changes nothing but the transaction id.
    for rows in ([start], [end], [log]):
        assert client.logs3(rows).status_code == 200
    again = get_row(client, project, "late")
    again["_xact_id"] = first["_xact_id"]
    assert again == first
    trace_summary = client.get(f"/api/v1/project_logs/{project}/traces/{trace}").json()["summary"]
    assert trace_summary["span_count"] == 1 and trace_summary["duration"] == 4.0


def test_delete(client, project):
    client.logs3([span_row(project, "d1", "d" * 32, "1" * 16), span_row(project, "d2", "d" * 32, "2" * 16, parent="1" * 16)])
    r = client.logs3([{"id": "d2", "project_id": project, "log_id": "g", "_object_delete": True}])
    assert r.status_code == 200
    assert client.get(f"/api/v1/project_logs/{project}/rows/d2").status_code == 404
    assert client.get(f"/api/v1/project_logs/{project}/traces/{'d' * 32}").json()["summary"]["span_count"] == 1


def test_rest_insert_and_fetch_pagination(client, project):
    events = [{"id": f"e{i:03}", "input": {"i": i}, "metadata": {"n": i}} for i in range(250)]
    r = client.post(f"/v1/project_logs/{project}/insert", {"events": events})
    assert r.status_code == 200, r.text
    assert r.json()["row_ids"] == [e["id"] for e in events]
    pages, cursor, seen = 0, None, []
    while True:
        body = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = client.post(f"/v1/project_logs/{project}/fetch", body).json()
        pages += 1
        seen.extend(e["id"] for e in page["events"])
        for e in page["events"]:
            assert e["project_id"] == project and e["log_id"] == "g" and len(e["_xact_id"]) == 19
            assert len(e["span_id"]) == 16 and len(e["root_span_id"]) == 32 and e["created"]
        cursor = page["cursor"]
        if not cursor:
            break
    assert pages == 3 and sorted(seen) == [e["id"] for e in events] and len(set(seen)) == 250
    assert client.get(f"/v1/project_logs/{project}/fetch", params={"limit": 5}).json()["cursor"]
    bad = client.post(f"/v1/project_logs/{project}/fetch", {"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"


def test_experiment_and_dataset_rows(client, project):
    exp = client.post("/v1/experiment", {"project_id": project, "name": "e", "ensure_new": True}).json()
    ds = client.post("/v1/dataset", {"project_id": project, "name": "golden"}).json()
    assert client.post("/v1/dataset", {"project_id": project, "name": "golden"}).json()["id"] == ds["id"]
    r = client.logs3(
        [
            {"id": "er", "experiment_id": exp["id"], "input": 1, "scores": {"acc": 1}},
            {"id": "dr", "dataset_id": ds["id"], "input": "q", "expected": "a", "tags": None},
        ]
    )
    assert r.status_code == 200, r.text
    [er] = client.fetch_all("experiment", exp["id"])
    assert er["experiment_id"] == exp["id"] and er["scores"] == {"acc": 1}
    [dr] = client.fetch_all("dataset", ds["id"])
    assert dr["dataset_id"] == ds["id"] and dr["expected"] == "a"
    assert client.get(f"/v1/experiment/{exp['id']}").json()["name"] == "e"


def test_trace_routes(client, project):
    traces = []
    for i in range(12):
        trace = f"{i:032x}"
        traces.append(trace)
        rows = [
            span_row(
                project,
                f"t{i}-root",
                trace,
                f"{i:015x}0",
                span_attributes={"name": "agent", "type": "task"},
                input=[{"role": "user", "content": f"question {i}"}],
                metrics={"start": 1000.0 + i},
                tags=["root"],
            )
        ]
        rows.append(
            span_row(
                project,
                f"t{i}-llm",
                trace,
                f"{i:015x}1",
                parent=f"{i:015x}0",
                span_attributes={"name": "chat", "type": "llm"},
                error="rate limited" if i % 3 == 0 else None,
                metrics={"start": 1000.2 + i, "end": 1000.7 + i, "prompt_tokens": 100, "completion_tokens": 20, "estimated_cost": 0.001},
            )
        )
        rows.append(merge_row(project, f"t{i}-root", output="done", metrics={"end": 1001.0 + i}))
        assert client.logs3(rows[:2]).status_code == 200
        assert client.logs3(rows[2:]).status_code == 200
    first = client.get(f"/api/v1/project_logs/{project}/traces", params={"limit": 5}).json()
    assert [t["root_span_id"] for t in first["traces"]] == traces[::-1][:5]
    t = first["traces"][0]
    assert t["span_count"] == 2 and t["root_name"] == "agent" and t["duration"] == 1.0
    assert t["prompt_tokens"] == 100 and t["tokens"] == 120 and abs(t["estimated_cost"] - 0.001) < 1e-12
    assert t["input_preview"] == "question 11" and t["output_preview"] == "done" and t["tags"] == ["root"]
    second = client.get(f"/api/v1/project_logs/{project}/traces", params={"limit": 5, "cursor": first["cursor"]}).json()
    assert [t["root_span_id"] for t in second["traces"]] == traces[::-1][5:10]
    ranged = client.get(f"/api/v1/project_logs/{project}/traces", params={"from": "1003", "to": "1970-01-01T00:16:46Z"}).json()
    assert [t["root_span_id"] for t in ranged["traces"]] == [traces[5], traces[4], traces[3]]
    assert [t["error_count"] for t in ranged["traces"]] == [0, 0, 1]
    whole = client.get(f"/api/v1/project_logs/{project}/traces/{traces[3]}").json()
    assert [s["span_attributes"]["name"] for s in whole["spans"]] == ["agent", "chat"]
    assert whole["spans"][1]["span_parents"] == [whole["spans"][0]["span_id"]]
    assert whole["spans"][1]["error"] == "rate limited"
    span = client.get(f"/api/v1/project_logs/{project}/spans/{3:015x}1").json()
    assert span["id"] == "t3-llm"
    assert client.get(f"/api/v1/project_logs/{project}/traces/{'9' * 32}").status_code == 404
    bad = client.get(f"/api/v1/project_logs/{project}/traces", params={"from": "yesterday"})
    assert bad.status_code == 400 and "`from`" in bad.json()["error"]["message"]
    assert client.get(f"/api/v1/widgets/{project}/traces").status_code == 404


def test_comments_attach_to_rows(client, project):
    client.logs3([span_row(project, "c1", "c" * 32, "c" * 16)])
    r = client.logs3([{"project_id": project, "log_id": "g", "comment": {"text": "looks wrong"}, "origin": {"id": "c1"}, "_audit_source": "external"}])
    assert r.status_code == 200
    got = client.get(f"/api/v1/project_logs/{project}/rows/c1").json()
    assert [c["comment"]["text"] for c in got["comments"]] == ["looks wrong"]
    assert [e["id"] for e in client.fetch_all("project_logs", project)] == ["c1"]


def test_gzip_bodies_are_accepted_and_unknown_encodings_refused(client, project):
    import gzip
    import json

    rows = [span_row(project, "gz1", uuid.uuid4().hex, "a" * 16, input="compressed " * 2000)]
    body = gzip.compress(json.dumps({"rows": rows, "api_version": 2}).encode())
    r = client.post("/logs3", data=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    stored = [row for row in client.fetch_all("project_logs", project) if row["id"] == "gz1"]
    assert stored[0]["input"] == "compressed " * 2000
    bad = client.post("/logs3", data=body, headers={"Content-Type": "application/json", "Content-Encoding": "br"})
    assert bad.status_code == 415
    garbage = client.post("/logs3", data=b"not gzip at all", headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert garbage.status_code == 400, garbage.text
