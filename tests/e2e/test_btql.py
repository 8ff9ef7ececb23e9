"""BTQL over HTTP (`POST /btql`) and on the command line (`spanloom query`)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

from conftest import span_row
from spanloom_server import Client, binary, keys_cli


def btql(client, query, **extra):
    r = client.post("/btql", {"query": query, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def load_traces(client, project, n=12):
    now = time.time()
    rows = []
    for i in range(n):
        trace = uuid.uuid4().hex
        model = ["gpt-4o", "claude-3-5-sonnet"][i % 2]
        rows.append(
            span_row(
                project,
                f"root{i}",
                trace,
                f"{i:015x}a",
                span_attributes={"name": "agent", "type": "task"},
                input={"question": f"question {i}"},
                metadata={"user_id": f"u{i % 3}"},
                metrics={"start": now - 100 + i, "end": now - 99 + i},
            )
        )
        rows.append(
            span_row(
                project,
                f"llm{i}",
                trace,
                f"{i:015x}b",
                parent=f"{i:015x}a",
                span_attributes={"name": "chat", "type": "llm"},
                metadata={"model": model},
                input=[{"role": "user", "content": "東京の天気は？" if i == 5 else f"Weather in city {i}"}],
                output="Sunny" if i != 7 else "Thunderstorm warning",
                metrics={"start": now - 100 + i + 0.1, "end": now - 100 + i + 0.1 + (i + 1) / 10, "prompt_tokens": 10 * i, "completion_tokens": i},
            )
        )
        rows.append(
            span_row(
                project,
                f"score{i}",
                trace,
                f"{i:015x}c",
                parent=f"{i:015x}a",
                span_attributes={"name": "Levenshtein", "type": "score", "purpose": "scorer"},
                scores={"Levenshtein": 0.5},
                metrics={"start": now - 100 + i + 0.5},
            )
        )
    assert client.logs3(rows).status_code == 200
    return rows


def test_sdk_scorer_trace_fetch_shape(client, project):
    rows = load_traces(client, project)
    trace = rows[0]["root_span_id"]
    query = {
        "select": [{"op": "star"}],
        "from": {"op": "function", "name": {"op": "ident", "name": ["project_logs"]}, "args": [{"op": "literal", "value": project}]},
        "filter": {
            "op": "and",
            "children": [
                {"op": "eq", "left": {"op": "ident", "name": ["root_span_id"]}, "right": {"op": "literal", "value": trace}},
                {
                    "op": "or",
                    "children": [
                        {"op": "isnull", "expr": {"op": "ident", "name": ["span_attributes", "purpose"]}},
                        {"op": "ne", "left": {"op": "ident", "name": ["span_attributes", "purpose"]}, "right": {"op": "literal", "value": "scorer"}},
                    ],
                },
            ],
        },
        "cursor": None,
        "limit": 1000,
    }
    body = btql(client, query, use_columnstore=False, brainstore_realtime=True, query_source="py_sdk_object_fetcher_project_logs")
    assert sorted(r["id"] for r in body["data"]) == ["llm0", "root0"]
    assert body["cursor"] is None
    llm = next(r for r in body["data"] if r["id"] == "llm0")
    assert llm["output"] == "Sunny" and llm["_xact_id"] and llm["project_id"] == project


def test_sql_and_clause_syntax_agree(client, project):
    load_traces(client, project)
    sql = (
        f"SELECT id, metadata.user_id AS user, metrics.end - metrics.start AS duration FROM project_logs('{project}') "
        "WHERE metadata.user_id = 'u1' AND span_attributes.type = 'task' ORDER BY metrics.start DESC LIMIT 3"
    )
    clause = (
        f"select: id, metadata.user_id as user, metrics.end - metrics.start as duration | from: project_logs('{project}') "
        "| filter: metadata.user_id = 'u1' and span_attributes.type = 'task' | sort: metrics.start desc | limit: 3"
    )
    a, b = btql(client, sql)["data"], btql(client, clause)["data"]
    assert a == b
    assert [r["id"] for r in a] == ["root10", "root7", "root4"]
    assert all(r["user"] == "u1" and abs(r["duration"] - 1.0) < 1e-6 for r in a)


def test_cursor_pages_never_skip_or_repeat(client, project):
    load_traces(client, project, n=10)
    seen, cursor = [], None
    for page in range(10):
        q = f"from: project_logs('{project}') | filter: span_attributes.type = 'llm' | sort: metrics.start asc | limit: 3"
        if cursor:
            q += f" | cursor: '{cursor}'"
        body = btql(client, q)
        seen += [r["id"] for r in body["data"]]
        # Ingest continues between pages.
        client.logs3([span_row(project, f"late{page}", uuid.uuid4().hex, "f" * 16, span_attributes={"type": "task"})])
        cursor = body["cursor"]
        if not cursor:
            break
    assert seen == [f"llm{i}" for i in range(10)]


def test_time_ranges_and_full_text(client, project):
    load_traces(client, project)
    recent = btql(client, f"SELECT id FROM project_logs('{project}') WHERE created > now() - interval 1 day LIMIT 1000")
    assert len(recent["data"]) == 36
    old = btql(client, f"SELECT id FROM project_logs('{project}') WHERE metrics.start < now() - interval 1 hour")
    assert old["data"] == []
    cjk = btql(client, f"SELECT id FROM project_logs('{project}') WHERE MATCH '天気'")
    assert [r["id"] for r in cjk["data"]] == ["llm5"]
    word = btql(client, f"SELECT id FROM project_logs('{project}') WHERE output MATCH 'THUNDERSTORM'")
    assert [r["id"] for r in word["data"]] == ["llm7"]


def test_aggregations(client, project):
    load_traces(client, project)
    body = btql(
        client,
        f"dimensions: metadata.model | measures: count(1) as n, sum(metrics.prompt_tokens) as prompt, "
        f"percentile(metrics.end - metrics.start, 0.5) as p50 | from: project_logs('{project}') "
        "| filter: span_attributes.type = 'llm' | sort: model asc",
    )
    rows = body["data"]
    assert [r["model"] for r in rows] == ["claude-3-5-sonnet", "gpt-4o"]
    assert [r["n"] for r in rows] == [6, 6]
    assert rows[1]["prompt"] == sum(10 * i for i in range(0, 12, 2))
    assert abs(rows[1]["p50"] - 0.6) < 1e-6  # durations 0.1, 0.3, ..., 1.1 for the even spans
    sql = btql(client, f"SELECT metadata.model, count(*) AS n FROM project_logs('{project}') WHERE span_attributes.type = 'llm' GROUP BY 1 ORDER BY n DESC")
    assert {r["model"]: r["n"] for r in sql["data"]} == {"gpt-4o": 6, "claude-3-5-sonnet": 6}


def test_traces_shape_matches_any_span(client, project):
    load_traces(client, project)
    body = btql(client, f"SELECT * FROM project_logs('{project}') traces WHERE metadata.model = 'gpt-4o' AND output MATCH 'thunder' LIMIT 10")
    assert body["data"] == []
    body = btql(client, f"from: project_logs('{project}') traces | filter: metadata.model = 'claude-3-5-sonnet' | limit: 4")
    assert len(body["data"]) == 4 and body["cursor"]
    assert all(t["span_count"] == 3 and t["root_name"] == "agent" for t in body["data"])
    rest = btql(client, f"from: project_logs('{project}') traces | filter: metadata.model = 'claude-3-5-sonnet' | limit: 4 | cursor: '{body['cursor']}'")
    ids = [t["root_span_id"] for t in body["data"] + rest["data"]]
    assert len(ids) == 6 and len(set(ids)) == 6


def test_regex_is_bounded(client, project):
    load_traces(client, project)
    r = client.post("/btql", {"query": f"SELECT id FROM project_logs('{project}') WHERE output ~ '^Thunder'"})
    assert r.status_code == 400 and "regex filter needs a row bound" in r.json()["error"]["message"]
    ok = btql(client, f"SELECT id FROM project_logs('{project}') WHERE output ~* '^thunder' LIMIT 5")
    assert [row["id"] for row in ok["data"]] == ["llm7"]
    bad = client.post("/btql", {"query": f"SELECT id FROM project_logs('{project}') WHERE output ~ '((' LIMIT 5"})
    assert bad.status_code == 400


def test_injection_attempts_are_inert(client, project):
    load_traces(client, project, n=2)
    attempts = [
        "x'; DROP TABLE spans; --",
        "' OR '1'='1",
        '" OR 1=1 --',
        "$.a') OR 1=1 --",
    ]
    for text in attempts:
        literal = text.replace("'", "''")
        for q in [
            f"SELECT id FROM project_logs('{project}') WHERE id = '{literal}'",
            f"SELECT id FROM project_logs('{project}') WHERE metadata.user_id IN ('{literal}', 'nope')",
            f"SELECT id FROM project_logs('{project}') WHERE input MATCH '{literal}'",
            f"SELECT id FROM project_logs('{project}') WHERE metadata.\"{text.replace(chr(34), '')}\" = 'x'",
            f"SELECT id FROM project_logs('{project}') WHERE span_attributes.name LIKE '{literal}'",
        ]:
            assert btql(client, q)["data"] == [], q
    r = client.post("/btql", {"query": f"SELECT id FROM project_logs('{project}'' OR 1=1 --')"})
    assert r.status_code == 404 and "OR 1=1" in r.json()["error"]["message"]
    assert len(btql(client, f"SELECT id FROM project_logs('{project}') LIMIT 100")["data"]) == 6


def test_errors_name_the_position_and_orgs_stay_apart(server, client, project):
    r = client.post("/btql", {"query": f"from: project_logs('{project}') | filtr: id = 'x'"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "invalid_query" and "line 1, col" in err["message"] and "filtr" in err["message"]
    r = client.post(
        "/btql",
        {
            "query": {
                "select": [{"op": "star"}],
                "from": {"op": "function", "name": {"op": "ident", "name": ["project_logs"]}, "args": [{"op": "literal", "value": project}]},
                "filter": {"op": "eqq"},
            }
        },
    )
    assert r.status_code == 400 and "query.filter" in r.json()["error"]["message"]
    other_key = keys_cli(server.data_dir, "create", "--org", "btql-other").stdout.strip()
    other = Client(server.url, other_key)
    r = other.post("/btql", {"query": f"SELECT * FROM project_logs('{project}')"})
    assert r.status_code == 404


def test_jsonl_format(client, project):
    load_traces(client, project, n=2)
    r = client.post("/btql", {"query": f"SELECT id FROM project_logs('{project}') WHERE span_attributes.type = 'llm' LIMIT 1", "fmt": "jsonl"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert len(lines) == 1 and "x-bt-cursor" in r.headers


def test_cli_prints_a_table_and_json_lines(server, client, project):
    load_traces(client, project, n=3)
    q = f"SELECT id, metadata.model AS model FROM project_logs('{project}') WHERE span_attributes.type = 'llm' ORDER BY id"
    table = subprocess.run([str(binary()), "query", "--data-dir", str(server.data_dir), q], capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["id", "model"] and lines[2].split() == ["llm0", "gpt-4o"] and lines[-1] == "(3 rows)"
    jsonl = subprocess.run([str(binary()), "query", "--data-dir", str(server.data_dir), "--format", "jsonl", q], capture_output=True, text=True, timeout=60)
    assert [json.loads(line)["id"] for line in jsonl.stdout.splitlines()] == ["llm0", "llm1", "llm2"]
    bad = subprocess.run([str(binary()), "query", "--data-dir", str(server.data_dir), "SELECT FROM"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "line 1, col" in bad.stderr


def test_dashboard_rollups(client, project):
    load_traces(client, project)
    now = time.time()
    body = client.get(f"/api/v1/project_logs/{project}/rollups", params={"from": str(now - 3600), "to": str(now + 60), "bucket": "hour", "by": "model"}).json()
    assert body["bucket_seconds"] == 3600
    by_model = {}
    for p in body["points"]:
        by_model.setdefault(p["model"], []).append(p)
    llm = by_model["gpt-4o"] + by_model["claude-3-5-sonnet"]
    assert sum(p["spans"] for p in llm) == 12
    assert sum(p["prompt_tokens"] for p in llm) == sum(10 * i for i in range(12))
    roots = by_model[""]
    assert sum(p["requests"] for p in roots) == 12 and all(p["latency_p95"] for p in roots)
    minutes = client.get(f"/api/v1/project_logs/{project}/rollups", params={"from": str(now - 600), "bucket": "minute"}).json()
    assert sum(p["requests"] for p in minutes["points"]) == 12
    bad = client.get(f"/api/v1/project_logs/{project}/rollups", params={"bucket": "week"})
    assert bad.status_code == 400 and "bucket" in bad.json()["error"]["message"]


def test_traces_filtered_by_metadata_equality(client, project):
    # Equality on a metadata string is found through the full-text index (no expression index
    # by default), with the rows written after its watermark checked too: answers are exact
    # whether or not the indexer has caught up.
    load_traces(client, project)
    body = btql(client, f"from: project_logs('{project}') traces | filter: metadata.user_id = 'u1' | limit: 3")
    first = [t["root_id"] for t in body["data"]]
    rest = btql(client, f"from: project_logs('{project}') traces | filter: metadata.user_id = 'u1' | limit: 3 | cursor: '{body['cursor']}'")
    assert first + [t["root_id"] for t in rest["data"]] == ["root10", "root7", "root4", "root1"]
    both = btql(client, f"from: project_logs('{project}') traces | filter: metadata.user_id IN ('u1', 'u2') and metadata.user_id != 'u2'")
    assert len(both["data"]) == 4


def test_answers_carry_a_schema(client, project):
    load_traces(client, project)
    body = btql(client, f"SELECT id, metrics.start AS start, scores FROM project_logs('{project}') LIMIT 5")
    props = body["schema"]["items"]["properties"]
    assert props["id"] == {"type": "string"} and props["start"] == {"type": "number"}
    agg = btql(client, f"dimensions: metadata.model | measures: count(1) as n | from: project_logs('{project}')")
    assert agg["schema"]["items"]["properties"]["n"] == {"type": "number"}


def _wait_text_index(client, timeout=30.0):
    """Waits until /metrics reports the text index caught up (twice, so not a stale value)."""
    deadline = time.time() + timeout
    seen = 0
    while time.time() < deadline:
        text = client.get("/metrics").text
        seen = seen + 1 if "spanloom_text_index_caught_up 1" in text.splitlines() else 0
        if seen >= 2:
            return text
        time.sleep(0.4)
    raise AssertionError("the text index did not catch up")


def test_full_text_index_answers_stay_exact(client, project, server):
    trace = uuid.uuid4().hex
    rows = [
        span_row(project, "fa", trace, "a" * 16, input={"q": "Quarterly Xylophonic numbers"}, output="ok"),
        span_row(project, "fb", trace, "b" * 16, "a" * 16, input="東京の天気は晴れ", metadata={"note": "line\tbreak"}),
        span_row(project, "fc", trace, "c" * 16, "a" * 16, error="upstream Timeout after 30s"),
    ]
    assert client.logs3(rows).status_code == 200
    metrics = _wait_text_index(client)
    assert "spanloom_text_index_rows_total" in metrics, server.stderr()[-3000:]

    def ids(where):
        return sorted(r["id"] for r in btql(client, f"SELECT id FROM project_logs('{project}') WHERE {where} LIMIT 100")["data"])

    assert ids("MATCH 'lophon'") == ["fa"]
    assert ids("MATCH 'xylophonic num'") == ["fa"]
    assert ids("MATCH 'の天'") == ["fb"]
    assert ids("metadata.note MATCH 'line\tbreak'") == ["fb"]
    assert ids("MATCH 'timeout after'") == ["fc"]
    assert ids("MATCH 'lophon' OR MATCH 'upstream'") == ["fa", "fc"]
    # A merge changes the text: found right away (unindexed tail) and after indexing.
    assert client.logs3([{"id": "fa", "project_id": project, "log_id": "g", "_is_merge": True, "input": {"q": "replaced marimba"}}]).status_code == 200
    assert ids("MATCH 'marimba'") == ["fa"]
    _wait_text_index(client)
    assert ids("MATCH 'marimba'") == ["fa"]
    assert ids("MATCH 'lophon'") == []


def test_traces_shape_sorts_pages_and_aggregates(client, project):
    load_traces(client, project)
    src = f"project_logs('{project}') traces"
    seen = []
    cursor = None
    while True:
        text = f"select: root_id, prompt_tokens | from: {src} | sort: prompt_tokens desc | limit: 5"
        if cursor:
            text += f" | cursor: '{cursor}'"
        body = btql(client, text)
        seen += [t["root_id"] for t in body["data"]]
        cursor = body.get("cursor")
        if not cursor:
            break
    assert seen == [f"root{i}" for i in range(11, -1, -1)]
    asc = btql(client, f"SELECT root_id FROM {src} ORDER BY span_count ASC, prompt_tokens ASC LIMIT 2")
    assert [t["root_id"] for t in asc["data"]] == ["root0", "root1"]
    whole = btql(client, f"dimensions: root_name | measures: count(1) as traces, sum(prompt_tokens) as prompt | from: {src}")
    assert whole["data"] == [{"root_name": "agent", "traces": 12, "prompt": 660.0}]
    # The filter picks traces by any span; each trace counts once.
    gpt = btql(client, f"dimensions: root_name | measures: count(1) as traces, sum(prompt_tokens) as prompt | from: {src} | filter: metadata.model = 'gpt-4o'")
    assert gpt["data"] == [{"root_name": "agent", "traces": 6, "prompt": 300.0}]
    thunder = btql(client, f"measures: count(1) as traces, max(span_count) as spans | from: {src} | filter: MATCH 'thunderstorm'")
    assert thunder["data"] == [{"traces": 1, "spans": 3}]
    bad = client.post("/btql", {"query": f"select: * | from: {src} | sort: metadata.model"})
    assert bad.status_code == 400 and "unknown trace field `metadata.model`" in bad.json()["error"]["message"]
