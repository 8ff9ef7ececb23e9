"""Datasets through the unmodified official SDK: insert, update, delete, paginated fetch,
reading a pinned version, summarize, and `Eval` over `init_dataset(...)` whose rows keep
their `origin`."""

from __future__ import annotations

import json
import textwrap

from test_braintrust_eval import result
from test_braintrust_sdk import run_sdk

WRITE_SCRIPT = textwrap.dedent(
    """
    import json, sys, braintrust
    project = sys.argv[1]
    ds = braintrust.init_dataset(project=project, name="capitals")
    ids = [ds.insert(input={"country": c}, expected=cap, metadata={"continent": "EU"}, id=c)
           for c, cap in [("france", "Paris"), ("italy", "Rome"), ("spain", "Madrid"), ("germany", "Berlin")]]
    ds.flush()
    v1 = ds.version
    ds.update(id="italy", expected="Roma", metadata={"checked": True})
    ds.delete("germany")
    ds.flush()
    summary = ds.summarize()
    print("WRITE " + json.dumps({"v1": v1, "total": summary.data_summary.total_records if summary.data_summary else None}))
    """
)

READ_SCRIPT = textwrap.dedent(
    """
    import json, sys, braintrust
    project, version = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None
    ds = braintrust.init_dataset(project=project, name="capitals", version=version)
    rows = sorted(ds.fetch(batch_size=2), key=lambda r: r["id"])
    print("READ " + json.dumps({"version": ds.version, "rows": [{k: r.get(k) for k in ("id", "input", "expected", "metadata")} for r in rows]}))
    """
)

EVAL_SCRIPT = textwrap.dedent(
    """
    import json, sys, braintrust
    from autoevals import Levenshtein
    project = sys.argv[1]
    ds = braintrust.init_dataset(project=project, name="capitals")
    capitals = {"france": "Paris", "italy": "Rome", "spain": "Madrid"}
    r = braintrust.Eval(project, data=ds, task=lambda input: capitals[input["country"]], scores=[Levenshtein],
                        experiment_name="capitals-eval")
    print("EVAL " + json.dumps({"score": r.summary.scores["Levenshtein"].score}))
    """
)


def test_dataset_lifecycle_versions_and_eval(server, client):
    project = "datasets-e2e"
    written = result(run_sdk(server, WRITE_SCRIPT, project), "WRITE")
    assert written["total"] == 3

    current = result(run_sdk(server, READ_SCRIPT, project), "READ")
    by_id = {r["id"]: r for r in current["rows"]}
    assert set(by_id) == {"france", "italy", "spain"}
    assert by_id["italy"]["expected"] == "Roma"
    assert by_id["italy"]["metadata"] == {"continent": "EU", "checked": True}
    assert len(current["version"]) == 19

    pinned = result(run_sdk(server, READ_SCRIPT, project, written["v1"]), "READ")
    by_id = {r["id"]: r for r in pinned["rows"]}
    assert set(by_id) == {"france", "italy", "spain", "germany"}
    assert by_id["italy"]["expected"] == "Rome" and by_id["italy"]["metadata"] == {"continent": "EU"}
    assert pinned["version"] == written["v1"]

    score = result(run_sdk(server, EVAL_SCRIPT, project), "EVAL")["score"]
    assert 0.5 < score < 1.0  # "Rome" vs "Roma"
    [proj] = client.get("/v1/project", params={"project_name": project}).json()["objects"]
    [exp] = client.get("/v1/experiment", params={"project_id": proj["id"], "experiment_name": "capitals-eval"}).json()["objects"]
    rows = client.fetch_all("experiment", exp["id"])
    roots = [r for r in rows if r["span_attributes"]["type"] == "eval"]
    assert len(roots) == 3
    [ds] = [o for o in [client.post("/v1/dataset", {"project_id": proj["id"], "name": "capitals"}).json()]]
    for root in roots:
        assert root["origin"]["object_type"] == "dataset" and root["origin"]["object_id"] == ds["id"]
        assert root["origin"]["id"] == root["input"]["country"]
    # Dataset fetch over the REST API pages and always carries `expected`.
    page = client.post(f"/v1/dataset/{ds['id']}/fetch", {"limit": 2}).json()
    assert len(page["events"]) == 2 and page["cursor"]
    assert all("expected" in e for e in page["events"])
    summary = client.get(f"/v1/dataset/{ds['id']}/summarize", params={"summarize_data": "true"}).json()
    assert summary["data_summary"] == {"total_records": 3}
    json.dumps(summary)


def test_promoted_records_keep_their_origin(client, project):
    """A dataset record made from a logged span keeps the link back to it."""
    ds = client.post("/v1/dataset", {"project_id": project, "name": "promoted"}).json()
    origin = {"object_type": "project_logs", "object_id": project, "id": "span-row-1", "_xact_id": "1000102424094732755"}
    r = client.logs3([{"id": "rec-1", "dataset_id": ds["id"], "input": {"q": "hi"}, "expected": "hello", "origin": origin}])
    assert r.status_code == 200, r.text
    [event] = client.fetch_all("dataset", ds["id"])
    assert event["origin"] == origin and event["expected"] == "hello"
