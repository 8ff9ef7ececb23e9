"""`Eval` with `autoevals` scorers, run by the unmodified official SDK against Spanloom: the
run finishes and prints its summary, and a second run reports improvements and regressions
against the first."""

from __future__ import annotations

import json
import textwrap

import pytest
from test_braintrust_sdk import run_sdk

pytest.importorskip("autoevals", reason="installed by scripts/setup-test-env.sh")

EVAL_SCRIPT = textwrap.dedent(
    """
    import json, sys, braintrust
    from autoevals import Levenshtein

    project, variant = sys.argv[1], sys.argv[2]
    data = [{"input": w, "expected": w} for w in ["apple", "banana", "cherry"]]

    def task(input):
        if variant == "v1":
            return input[:-1]          # one letter short everywhere
        return {"apple": "apple", "banana": "banana", "cherry": "ch"}[input]

    def exact(input, output, expected):
        return 1.0 if output == expected else 0.0

    result = braintrust.Eval(project, data=data, task=task, scores=[Levenshtein, exact], experiment_name=f"run-{variant}")
    s = result.summary
    print("RESULT " + json.dumps({
        "experiment": s.experiment_name,
        "comparison": s.comparison_experiment_name,
        "scores": {k: {"score": v.score, "diff": v.diff, "improvements": v.improvements, "regressions": v.regressions}
                   for k, v in s.scores.items()},
        "metrics": sorted(s.metrics),
    }))
    """
)

READ_SCRIPT = textwrap.dedent(
    """
    import json, sys, braintrust
    exp = braintrust.init(sys.argv[1], experiment=sys.argv[2], open=True)
    rows = list(exp.fetch())
    print("ROWS " + json.dumps({"n": len(rows), "eval_inputs": sorted(r["input"] for r in rows if r["span_attributes"]["type"] == "eval")}))
    """
)


def result(out: str, tag: str) -> dict:
    line = next(line for line in out.splitlines() if line.startswith(tag + " "))
    return json.loads(line[len(tag) + 1 :])


def test_eval_with_autoevals_and_comparison(server):
    project = "eval-e2e"
    out1 = run_sdk(server, EVAL_SCRIPT, project, "v1")
    first = result(out1, "RESULT")
    assert first["experiment"] == "run-v1" and first["comparison"] is None
    lev = first["scores"]["Levenshtein"]
    # 1 - distance/len: apple→appl 0.8, banana→banan 5/6, cherry→cherr 5/6.
    assert lev["score"] == pytest.approx((0.8 + 5 / 6 + 5 / 6) / 3)
    assert first["scores"]["exact"]["score"] == 0.0
    assert "duration" in first["metrics"]
    assert "Levenshtein" in out1  # the SDK printed its summary

    out2 = run_sdk(server, EVAL_SCRIPT, project, "v2")
    second = result(out2, "RESULT")
    assert second["comparison"] == "run-v1"
    lev = second["scores"]["Levenshtein"]
    assert (lev["improvements"], lev["regressions"]) == (2, 1)
    assert lev["score"] == pytest.approx((1 + 1 + 2 / 6) / 3)
    assert lev["diff"] == pytest.approx(lev["score"] - first["scores"]["Levenshtein"]["score"])
    exact = second["scores"]["exact"]
    assert (exact["improvements"], exact["regressions"]) == (2, 0)
    assert "improvement" in out2 and "regression" in out2

    # The experiment reads back through the SDK (`init(open=True)` finds it by name).
    rows = result(run_sdk(server, READ_SCRIPT, project, "run-v2"), "ROWS")
    assert rows["eval_inputs"] == ["apple", "banana", "cherry"]
    assert rows["n"] == 3 * 4  # per datum: eval root, task, two scorer spans


def test_base_experiment_lookup(client, project):
    first = client.post("/v1/experiment", {"project_id": project, "name": "first"}).json()
    r = client.post("/api/base_experiment/get_id", {"id": first["id"]})
    assert r.status_code == 400 and "no base experiment" in r.json()["error"]["message"]
    second = client.post("/v1/experiment", {"project_id": project, "name": "second"}).json()
    assert client.post("/api/base_experiment/get_id", {"id": second["id"]}).json() == {"base_exp_id": first["id"], "base_exp_name": "first"}
    third = client.post("/v1/experiment", {"project_id": project, "name": "third", "base_exp_id": first["id"]}).json()
    assert client.post("/api/base_experiment/get_id", {"id": third["id"]}).json()["base_exp_id"] == first["id"]
