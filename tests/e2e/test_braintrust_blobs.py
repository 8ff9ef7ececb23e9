"""Attachments and large batches through the unmodified official SDK: `Attachment` and
`JSONAttachment` upload through signed URLs and download back byte-identical; batches over the
advertised payload limit travel through `/logs3/overflow`; a 50 MB span input round-trips."""

from __future__ import annotations

import json
import textwrap

import requests
from test_braintrust_eval import result
from test_braintrust_sdk import run_sdk

ATTACH_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, braintrust
    png = bytes(range(256)) * 64 + os.urandom(1000)
    open(sys.argv[1], "wb").write(png)
    logger = braintrust.init_logger(project="attachments-e2e")
    with logger.start_span(name="with-attachments") as span:
        span.log(input={"image": braintrust.Attachment(data=png, filename="pic.png", content_type="image/png"),
                        "doc": braintrust.JSONAttachment({"nested": [1, 2, 3], "text": "héllo"}, filename="doc.json")},
                 output={"links": [braintrust.ExternalAttachment(url="https://example.com/a.txt", filename="a.txt", content_type="text/plain")]})
        row_id = span.id
    logger.flush()
    print("ATTACH " + json.dumps({"row_id": row_id}))
    """
)

READ_SCRIPT = textwrap.dedent(
    """
    import json, sys, braintrust
    braintrust.login()
    refs = json.loads(sys.argv[1])
    out = {}
    for name, ref in refs.items():
        att = braintrust.ReadonlyAttachment(ref)
        out[name] = {"status": att.status()["upload_status"], "hex": att.data.hex()}
    print("READ " + json.dumps(out))
    """
)

BIG_SCRIPT = textwrap.dedent(
    """
    import json, sys, braintrust
    size = int(sys.argv[1])
    logger = braintrust.init_logger(project="overflow-e2e")
    big = "x" * size
    with logger.start_span(name="big-span") as span:
        span.log(input={"blob": big}, output="done")
        row_id = span.id
    logger.flush()
    print("BIG " + json.dumps({"row_id": row_id}))
    """
)


def test_attachments_round_trip(server, client, tmp_path):
    original = tmp_path / "pic.png"
    row_id = result(run_sdk(server, ATTACH_SCRIPT, str(original)), "ATTACH")["row_id"]
    [project] = client.get("/v1/project", params={"project_name": "attachments-e2e"}).json()["objects"]
    [row] = [r for r in client.fetch_all("project_logs", project["id"]) if r["id"] == row_id]
    image, doc = row["input"]["image"], row["input"]["doc"]
    assert image["type"] == "braintrust_attachment" and image["content_type"] == "image/png"
    assert doc["type"] == "braintrust_attachment" and doc["filename"] == "doc.json"
    assert row["output"]["links"][0]["type"] == "external_attachment"

    read = result(run_sdk(server, READ_SCRIPT, json.dumps({"image": image, "doc": doc})), "READ")
    assert read["image"]["status"] == "done"
    assert bytes.fromhex(read["image"]["hex"]) == original.read_bytes()
    assert json.loads(bytes.fromhex(read["doc"]["hex"])) == {"nested": [1, 2, 3], "text": "héllo"}

    # Signed URLs: no API key needed, but only for that object and method, and not forgeable.
    meta = client.get("/attachment", params={"key": image["key"], "filename": "pic.png", "content_type": "image/png"}).json()
    url = meta["downloadUrl"]
    got = requests.get(url, timeout=10)
    assert got.status_code == 200 and got.content == original.read_bytes()
    assert got.headers["content-type"] == "image/png"
    assert requests.put(url, data=b"overwrite", timeout=10).status_code == 403
    token = url.rsplit("/", 1)[1]
    body, mac = token.split(".")
    assert requests.get(url.replace(token, body + "." + mac[::-1]), timeout=10).status_code == 403
    # Another org's key cannot read the attachment.
    other = client.post("/attachment/status", {"key": image["key"], "org_id": "someone-else", "status": {"upload_status": "done"}})
    assert other.status_code == 403


def test_batches_over_the_payload_limit_use_overflow(server, client):
    version = client.get("/version").json()
    assert version["logs3_payload_max_bytes"] > 0
    # Force the SDK's request limit down so a 5 MB row must travel through overflow.
    import os

    overflow_dir = list((server.data_dir / "objects").glob("*/overflow"))
    before = sum(len(list(d.iterdir())) for d in overflow_dir)
    os.environ["BRAINTRUST_MAX_REQUEST_SIZE"] = str(1024 * 1024)
    try:
        out = run_sdk(server, BIG_SCRIPT, str(5 * 1024 * 1024))
    finally:
        del os.environ["BRAINTRUST_MAX_REQUEST_SIZE"]
    row_id = result(out, "BIG")["row_id"]
    [project] = client.get("/v1/project", params={"project_name": "overflow-e2e"}).json()["objects"]
    r = client.get(f"/api/v1/project_logs/{project['id']}/rows/{row_id}").json()["row"]
    assert len(r["input"]["blob"]) == 5 * 1024 * 1024 and r["output"] == "done"
    # The batch went through an overflow upload.
    after = sum(len(list(d.iterdir())) for d in (server.data_dir / "objects").glob("*/overflow"))
    assert after > before


def test_fifty_megabyte_input_round_trips(server, client):
    size = 50 * 1000 * 1000
    row_id = result(run_sdk(server, BIG_SCRIPT, str(size)), "BIG")["row_id"]
    [project] = client.get("/v1/project", params={"project_name": "overflow-e2e"}).json()["objects"]
    r = client.get(f"/api/v1/project_logs/{project['id']}/rows/{row_id}", timeout=120).json()["row"]
    assert r["input"]["blob"] == "x" * size
