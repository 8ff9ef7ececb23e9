"""Datasets and attachments through Spanloom's own Python SDK, against a running server:
insert, update, delete, paginated fetch and iteration, reads pinned to a version, summarize,
values that must round-trip exactly, `Eval` over a dataset whose rows keep their `origin`, the
README's dataset example run with ``import spanloom as braintrust``, and `Attachment`,
`JSONAttachment`, `ExternalAttachment` uploaded through signed URLs and read back with
`ReadonlyAttachment` (an upload that fails never raises into the caller)."""

from __future__ import annotations

import functools
import http.server
import json
import textwrap
import threading

import pytest
from test_braintrust_eval import result
from test_braintrust_sdk import run_sdk

pytest.importorskip("spanloom", reason="installed by scripts/setup-test-env.sh")

# Values chosen to catch lossy serialization: unicode, nesting, floats, nulls, empty containers.
RECORDS = {
    "france": {"input": {"country": "France", "aliases": ["République française"]}, "expected": "Paris", "metadata": {"pop": 68.4, "eu": True}},
    "italy": {"input": {"country": "Italy", "nested": {"a": [1, 2.5, None, {"b": []}]}}, "expected": "Rome", "metadata": {"pop": 58.9}},
    "spain": {"input": "Spain 🇪🇸", "expected": None, "metadata": {}, "tags": ["iberia", "eu"]},
    "germany": {"input": {"country": "Germany"}, "expected": {"city": "Berlin", "since": 1990}, "metadata": None},
}

WRITE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import spanloom as braintrust

    project, records = sys.argv[1], json.loads(sys.argv[2])
    ds = braintrust.init_dataset(project=project, name="countries", description="capitals")
    ids = [ds.insert(id=rid, **fields) for rid, fields in records.items()]
    generated = ds.insert(input="no id given", expected=1)
    records["france"]["metadata"]["pop"] = 0  # mutating after insert must not change the record
    ds.flush()
    v1 = ds.version
    ds.update(id="italy", expected="Roma", metadata={"checked": True})
    ds.delete("germany")
    ds.delete(generated)
    summary = ds.summarize()
    print(summary)
    print("WRITE " + json.dumps({"ids": ids, "generated": generated, "v1": v1, "id": ds.id, "name": ds.name, "description": ds.description,
                                 "total": summary.data_summary.total_records, "new": summary.data_summary.new_records}))
    """
)

READ_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import spanloom as braintrust

    project, version = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
    ds = braintrust.init_dataset(project=project, name="countries", version=version)
    iterated = [r["id"] for r in ds]
    rows = sorted(ds.fetch(batch_size=2), key=lambda r: r["id"])
    print("READ " + json.dumps({"version": ds.version, "iterated": sorted(iterated),
                                "rows": [{k: r.get(k) for k in ("id", "input", "expected", "metadata", "tags", "_xact_id", "created")} for r in rows]}))
    """
)

OFFICIAL_READ_SCRIPT = textwrap.dedent(
    """
    import json, sys, braintrust
    ds = braintrust.init_dataset(project=sys.argv[1], name="countries")
    print("READ " + json.dumps({"version": ds.version, "rows": sorted(({k: r.get(k) for k in ("id", "input", "expected", "metadata", "tags")} for r in ds), key=lambda r: r["id"])}))
    """
)


def test_dataset_lifecycle_versions_and_exact_round_trip(server, client):
    project = "sl-datasets-e2e"
    out = run_sdk(server, WRITE_SCRIPT, project, json.dumps(RECORDS), prefix="SPANLOOM")
    written = result(out, "WRITE")
    assert written["ids"] == list(RECORDS) and written["name"] == "countries" and written["description"] == "capitals"
    assert written["total"] == 3 and written["new"] == 5
    assert "Total records: 3 (5 new or updated records)" in out and f"/p/{project}/datasets/countries" in out

    expected_now = {rid: dict(fields) for rid, fields in RECORDS.items() if rid != "germany"}
    expected_now["italy"] = {**expected_now["italy"], "expected": "Roma", "metadata": {"pop": 58.9, "checked": True}}

    def check(rows: list[dict], want: dict) -> None:
        by_id = {r["id"]: r for r in rows}
        assert set(by_id) == set(want)
        for rid, fields in want.items():
            row = by_id[rid]
            assert row["input"] == fields["input"]
            assert row["expected"] == fields["expected"]
            assert (row.get("metadata") or None) == (fields.get("metadata") or None)
            assert row.get("tags") == fields.get("tags")

    current = result(run_sdk(server, READ_SCRIPT, project, prefix="SPANLOOM"), "READ")
    check(current["rows"], expected_now)
    assert current["iterated"] == sorted(expected_now)
    assert current["version"] == max(r["_xact_id"] for r in current["rows"]) and len(current["version"]) == 19
    assert all(r["created"] for r in current["rows"])

    pinned = result(run_sdk(server, READ_SCRIPT, project, written["v1"], prefix="SPANLOOM"), "READ")
    check([r for r in pinned["rows"] if r["id"] != written["generated"]], RECORDS)
    assert pinned["version"] == written["v1"] and len(pinned["rows"]) == 5

    # The server's own reads agree, field by field: the REST fetch and BTQL.
    rest = client.fetch_all("dataset", written["id"])
    check(rest, expected_now)
    btql = client.post("/btql", {"query": f"select * from dataset('{written['id']}')"}).json()["data"]
    check(btql, expected_now)
    # And the official SDK reads what Spanloom's SDK wrote.
    official = result(run_sdk(server, OFFICIAL_READ_SCRIPT, project), "READ")
    check(official["rows"], expected_now)
    assert official["version"] == current["version"]


# The README's dataset + Eval example, verbatim apart from the import.
GUIDE_SCRIPT = textwrap.dedent(
    """
    import spanloom as braintrust
    from autoevals import Levenshtein

    dataset = braintrust.init_dataset(project="support-bot", name="golden")
    dataset.insert(input={"question": "capital of France?"}, expected="Paris")
    dataset.flush()

    braintrust.Eval("support-bot", data=dataset, task=lambda input: "Paris", scores=[Levenshtein])
    """
)


def test_guide_dataset_example_and_origin(server, client):
    pytest.importorskip("autoevals")
    out = run_sdk(server, GUIDE_SCRIPT, prefix="SPANLOOM")
    assert "100.00% 'Levenshtein' score" in out and "See results for" in out
    [proj] = client.get("/v1/project", params={"project_name": "support-bot"}).json()["objects"]
    ds = client.post("/v1/dataset", {"project_id": proj["id"], "name": "golden"}).json()
    [record] = client.fetch_all("dataset", ds["id"])
    experiments = client.get("/v1/experiment", params={"project_id": proj["id"]}).json()["objects"]
    exp = max(experiments, key=lambda e: e["created"])
    assert exp["dataset_id"] == ds["id"] and exp["dataset_version"] == record["_xact_id"]
    rows = client.fetch_all("experiment", exp["id"])
    [root] = [r for r in rows if not r["span_parents"]]
    assert root["origin"] == {"object_type": "dataset", "object_id": ds["id"], "id": record["id"], "_xact_id": record["_xact_id"], "created": record["created"]}
    assert root["input"] == {"question": "capital of France?"} and root["expected"] == "Paris" and root["output"] == "Paris"
    [scorer] = [r for r in rows if r["span_attributes"]["name"] == "Levenshtein"]
    assert scorer["scores"] == {"Levenshtein": 1.0}


ATTACH_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    import spanloom as braintrust

    path, project = sys.argv[1], sys.argv[2]
    png = bytes(range(256)) * 64 + os.urandom(1000)
    open(path, "wb").write(png)
    logger = braintrust.init_logger(project=project)
    started = time.time()
    with logger.start_span(name="with-attachments", input={"from_disk": braintrust.Attachment(data=path, filename="disk.png", content_type="image/png")}) as span:
        span.log(output={"image": braintrust.Attachment(data=png, filename="pic.png", content_type="image/png"),
                         "doc": braintrust.JSONAttachment({"nested": [1, 2, 3], "text": "héllo"}, filename="doc.json"),
                         "links": [braintrust.ExternalAttachment(url="https://example.com/a.txt", filename="a.txt", content_type="text/plain")]},
                 metadata={"missing": braintrust.Attachment(data="/nonexistent/file.bin", filename="gone.bin", content_type="application/octet-stream")})
        row_id = span.id
    logged_in = time.time() - started

    # An attachment whose bytes are not readable yet (a FIFO nobody writes to): logging returns
    # at once, the upload waits in the background until the bytes come.
    fifo = path + ".fifo"
    os.mkfifo(fifo)
    started = time.time()
    with logger.start_span(name="slow-attachment") as slow_span:
        slow_span.log(input={"slow": braintrust.Attachment(data=fifo, filename="slow.bin", content_type="application/octet-stream")})
    logged_while_blocked = time.time() - started
    with open(fifo, "wb") as f:
        f.write(b"bytes that came late")

    ds = braintrust.init_dataset(project=project, name="with-files")
    ds.insert(id="rec", input={"question": "what is this?", "file": braintrust.Attachment(data=png, filename="q.png", content_type="image/png")}, expected="a picture")
    braintrust.flush()
    dataset = braintrust.init_dataset(project=project, name="with-files")
    [record] = list(dataset)
    fetched = record["input"]["file"]
    print("ATTACH " + json.dumps({"row_id": row_id, "logged_in": logged_in, "logged_while_blocked": logged_while_blocked, "slow_row": slow_span.id, "fetched_type": type(fetched).__name__,
                                  "fetched_ok": fetched.data == png, "fetched_status": fetched.status()}))

    # The dataset used as eval data: its records hold ReadonlyAttachments, and the eval rows the same references.
    r = braintrust.Eval(project, data=dataset, task=lambda input: len(input["file"].data), scores=[lambda output: 1.0 if output == len(png) else 0.0],
                        experiment_name="attachments-eval")
    print("EVAL " + json.dumps({"score": r.summary.scores["scorer_0"].score}))
    """
)

READ_ATTACHMENTS = textwrap.dedent(
    """
    import json, sys
    import spanloom as braintrust
    braintrust.login()
    out = {}
    for name, ref in json.loads(sys.argv[1]).items():
        att = braintrust.ReadonlyAttachment(ref)
        status = att.status()
        out[name] = {"status": status, "hex": att.data.hex() if status["upload_status"] == "done" else None}
    print("READ " + json.dumps(out))
    """
)


def test_attachments_upload_read_back_and_failures(server, client, tmp_path):
    project = "sl-attachments-e2e"
    original = tmp_path / "pic.png"
    out = run_sdk(server, ATTACH_SCRIPT, str(original), project, prefix="SPANLOOM")
    attached = result(out, "ATTACH")
    assert attached["logged_in"] < 2.0 and attached["logged_while_blocked"] < 2.0  # uploads happen in the background
    assert attached["fetched_type"] == "ReadonlyAttachment" and attached["fetched_ok"] and attached["fetched_status"] == {"upload_status": "done"}
    assert result(out, "EVAL")["score"] == 1.0

    [proj] = client.get("/v1/project", params={"project_name": project}).json()["objects"]
    [row] = [r for r in client.fetch_all("project_logs", proj["id"]) if r["id"] == attached["row_id"]]
    disk, image, doc = row["input"]["from_disk"], row["output"]["image"], row["output"]["doc"]
    assert image == {"type": "braintrust_attachment", "filename": "pic.png", "content_type": "image/png", "key": image["key"]}
    assert disk["filename"] == "disk.png" and doc["content_type"] == "application/json"
    assert row["output"]["links"] == [{"type": "external_attachment", "filename": "a.txt", "content_type": "text/plain", "url": "https://example.com/a.txt"}]
    missing = row["metadata"]["missing"]
    assert missing["type"] == "braintrust_attachment" and missing["filename"] == "gone.bin"

    [slow_row] = [r for r in client.fetch_all("project_logs", proj["id"]) if r["id"] == attached["slow_row"]]
    refs = {"disk": disk, "image": image, "doc": doc, "missing": missing, "slow": slow_row["input"]["slow"]}
    # An external attachment is downloaded from its own URL (here a local file server).
    (tmp_path / "ext.txt").write_bytes(b"bytes kept elsewhere")
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path)))
    threading.Thread(target=files.serve_forever, daemon=True).start()
    ext_url = f"http://127.0.0.1:{files.server_address[1]}/ext.txt"
    refs["external"] = {"type": "external_attachment", "filename": "ext.txt", "content_type": "text/plain", "url": ext_url}
    try:
        read = result(run_sdk(server, READ_ATTACHMENTS, json.dumps(refs), prefix="SPANLOOM"), "READ")
    finally:
        files.shutdown()
    assert read["external"]["status"] == {"upload_status": "done"} and bytes.fromhex(read["external"]["hex"]) == b"bytes kept elsewhere"
    assert bytes.fromhex(read["disk"]["hex"]) == original.read_bytes() == bytes.fromhex(read["image"]["hex"])
    assert json.loads(bytes.fromhex(read["doc"]["hex"])) == {"nested": [1, 2, 3], "text": "héllo"}
    assert bytes.fromhex(read["slow"]["hex"]) == b"bytes that came late"
    # The unreadable file did not raise into the caller: its status on the server says why.
    assert read["missing"]["status"]["upload_status"] == "error" and "No such file" in read["missing"]["status"]["error_message"]

    # The eval row over the fetched record carries the original attachment reference.
    [exp] = client.get("/v1/experiment", params={"project_id": proj["id"], "experiment_name": "attachments-eval"}).json()["objects"]
    [root] = [r for r in client.fetch_all("experiment", exp["id"]) if not r["span_parents"]]
    ds = client.post("/v1/dataset", {"project_id": proj["id"], "name": "with-files"}).json()
    [record] = client.fetch_all("dataset", ds["id"])
    assert root["input"] == record["input"] and root["input"]["file"]["type"] == "braintrust_attachment"
    assert root["origin"]["object_id"] == ds["id"] and root["origin"]["id"] == "rec"
