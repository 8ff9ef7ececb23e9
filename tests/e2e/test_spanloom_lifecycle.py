"""Span lifecycle robustness of Spanloom's Python SDK against a running server: traced
generators and async generators (open until consumed or closed, output = the yielded items,
nesting kept while several are interleaved, errors logged and re-raised unchanged), asyncio
gather/create_task parents, fork safety (os.fork, multiprocessing, a pre-fork server), and a
server that is down and comes back (nothing blocks or raises, undelivered rows are spooled
to disk and re-sent by a later process, exactly once)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest
from spanloom_server import Client
from test_braintrust_sdk import run_sdk

pytest.importorskip("spanloom", reason="installed by scripts/setup-test-env.sh")


def project_rows(client: Client, name: str, expect: int = 1) -> list[dict]:
    """The project's rows, polled (up to 10 s) until at least `expect` rows are there and all
    have ended, in case rows become readable a moment after the writer acknowledged them."""
    deadline = time.time() + 10
    while True:
        found = client.get("/v1/project", params={"project_name": name}).json()["objects"]
        rows = client.fetch_all("project_logs", found[0]["id"]) if found else []
        if (len(rows) >= expect and all("end" in (r.get("metrics") or {}) for r in rows)) or time.time() > deadline:
            return rows
        time.sleep(0.1)


def by_name(rows: list[dict]) -> dict[str, dict]:
    names = Counter(r["span_attributes"]["name"] for r in rows)
    assert all(n == 1 for n in names.values()), names
    return {r["span_attributes"]["name"]: r for r in rows}


def child_of(row: dict, parent: dict) -> bool:
    return row["span_parents"] == [parent["span_id"]] and row["root_span_id"] == parent["root_span_id"]


GENERATORS_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, spanloom

    spanloom.init_logger(project="lifecycle-generators")
    RAISED = ValueError("gen boom")

    @spanloom.traced
    def numbers(n):
        for i in range(n):
            with spanloom.start_span(name=f"numbers-inner-{i}"):
                pass
            yield i

    @spanloom.traced
    def letters():
        yield "a"
        with spanloom.start_span(name="letters-inner"):
            pass
        yield "b"

    @spanloom.traced
    def failing():
        yield 1
        raise RAISED

    @spanloom.traced
    def closed_early():
        yield 1
        yield 2
        yield 3

    @spanloom.traced
    def echo():
        got = []
        while True:
            value = yield len(got)
            if value is None:
                return got
            got.append(value)

    @spanloom.traced
    async def tens(n):
        for i in range(n):
            await asyncio.sleep(0)
            with spanloom.start_span(name=f"tens-inner-{i}"):
                await asyncio.sleep(0)
            yield i * 10

    @spanloom.traced
    async def async_failing():
        yield "x"
        raise RAISED

    out = {}
    with spanloom.start_span(name="consumer") as consumer:
        a, b = numbers(2), letters()
        for x, y in zip(a, b):  # two generators advanced in lockstep
            with spanloom.start_span(name=f"handle-{x}-{y}"):
                pass
        out["rest"] = list(a) + list(b)  # zip left `letters` suspended after its last item
        assert spanloom.current_span() is consumer
        try:
            for _ in failing():
                pass
        except ValueError as e:
            out["same_exception"] = e is RAISED
        g = closed_early()
        out["first"] = next(g)
        with spanloom.start_span(name="between-items"):
            pass
        g.close()
        e = echo()
        out["echo"] = [next(e), e.send("a"), e.send("b")]
        try:
            e.send(None)
        except StopIteration as stop:
            out["echo_return"] = stop.value

        async def consume():
            got = []
            async for v in tens(2):
                with spanloom.start_span(name=f"tens-handle-{v}"):
                    await asyncio.sleep(0)
                got.append(v)
            try:
                async for _ in async_failing():
                    pass
            except ValueError as e:
                out["async_same_exception"] = e is RAISED
            return got

        out["tens"] = asyncio.run(consume())
        assert spanloom.current_span() is consumer
    spanloom.flush()
    print(json.dumps(out))
    """
)


def test_traced_generators_stay_open_nest_and_log_their_items(server, client):
    out = json.loads(run_sdk(server, GENERATORS_SCRIPT, prefix="SPANLOOM").strip().splitlines()[-1])
    assert out == {
        "rest": [],
        "same_exception": True,
        "first": 1,
        "echo": [0, 1, 2],
        "echo_return": ["a", "b"],
        "tens": [0, 10],
        "async_same_exception": True,
    }
    spans = by_name(project_rows(client, "lifecycle-generators", expect=18))
    consumer = spans["consumer"]
    for name in ("numbers", "letters", "failing", "closed_early", "echo", "tens", "async_failing"):
        assert child_of(spans[name], consumer), name
    # Spans started inside a generator's body are its children; the consumer's spans between
    # items are the consumer's, even with two generators advanced in lockstep.
    for i in range(2):
        assert child_of(spans[f"numbers-inner-{i}"], spans["numbers"])
        assert child_of(spans[f"tens-inner-{i}"], spans["tens"])
    assert child_of(spans["letters-inner"], spans["letters"])
    for name in ("handle-0-a", "handle-1-b", "between-items", "tens-handle-0", "tens-handle-10"):
        assert child_of(spans[name], consumer), name
    # Output: the yielded items; the input: the bound arguments.
    assert spans["numbers"]["output"] == [0, 1] and spans["numbers"]["input"] == {"n": 2}
    assert spans["letters"]["output"] == ["a", "b"]
    assert spans["echo"]["output"] == [0, 1, 2]
    assert spans["tens"]["output"] == [0, 10]
    # An exception: logged on the span with the items so far.
    for name, partial in (("failing", [1]), ("async_failing", ["x"])):
        assert "ValueError: gen boom" in spans[name]["error"] and "Traceback" in spans[name]["error"]
        assert spans[name]["output"] == partial
    # Closed early: not an error, no output (the official SDK's rule), but ended.
    assert "error" not in spans["closed_early"] or spans["closed_early"]["error"] is None
    assert spans["closed_early"].get("output") is None
    # Each span stays open until its generator is done: the generator's span ends after the
    # consumer's work between its items.
    assert spans["closed_early"]["metrics"]["end"] >= spans["between-items"]["metrics"]["end"]
    assert spans["letters"]["metrics"]["end"] >= spans["handle-0-a"]["metrics"]["end"]
    assert spans["tens"]["metrics"]["end"] >= spans["tens-handle-0"]["metrics"]["end"]
    for row in spans.values():
        assert row["metrics"]["start"] <= row["metrics"]["end"], row["span_attributes"]


ASYNCIO_SCRIPT = textwrap.dedent(
    """
    import asyncio, spanloom

    spanloom.init_logger(project="lifecycle-asyncio")

    @spanloom.traced
    async def child(i):
        await asyncio.sleep(0.005 * (3 - i % 3))  # finish out of order
        with spanloom.start_span(name=f"leaf-{i}"):
            await asyncio.sleep(0.001)
        return i

    @spanloom.traced
    async def gathered():
        return await asyncio.gather(child(0), child(1), child(2))

    @spanloom.traced
    async def tasks():
        ts = [asyncio.create_task(child(i)) for i in (10, 11)]
        return [await t for t in ts]

    async def main():
        await asyncio.gather(gathered(), tasks())

    asyncio.run(main())
    spanloom.flush()
    """
)


def test_asyncio_gather_and_create_task_children_attach_to_their_parent(server, client):
    run_sdk(server, ASYNCIO_SCRIPT, prefix="SPANLOOM")
    rows = project_rows(client, "lifecycle-asyncio", expect=12)
    roots = {r["span_attributes"]["name"]: r for r in rows if not r["span_parents"]}
    assert set(roots) == {"gathered", "tasks"}
    assert roots["gathered"]["root_span_id"] != roots["tasks"]["root_span_id"]
    children = {r["input"]["i"]: r for r in rows if r["span_attributes"]["name"] == "child"}
    leaves = {r["span_attributes"]["name"]: r for r in rows if r["span_attributes"]["name"].startswith("leaf-")}
    assert set(children) == {0, 1, 2, 10, 11}
    for i, row in children.items():
        assert child_of(row, roots["gathered" if i < 10 else "tasks"]), i
        assert child_of(leaves[f"leaf-{i}"], row), i
        assert row["output"] == i
    assert roots["gathered"]["output"] == [0, 1, 2] and roots["tasks"]["output"] == [10, 11]


FORK_SCRIPT = textwrap.dedent(
    """
    import multiprocessing, os, sys, spanloom

    logger = spanloom.init_logger(project="lifecycle-fork")

    # Queued and not sent at fork time (SPANLOOM_SYNC_FLUSH): the children must not send it.
    with spanloom.start_span(name="parent-before-fork") as s:
        s.log(output="parent")

    pid = os.fork()
    if pid == 0:
        with spanloom.start_span(name="os-fork-child") as s:
            s.log(output=os.getpid())
        spanloom.flush()
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0

    def work(i):
        with spanloom.start_span(name=f"mp-{i}") as s:  # no flush: multiprocessing's exit does it
            s.log(output=i)

    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=work, args=(1,))
    p.start()
    p.join()
    assert p.exitcode == 0
    pool = ctx.Pool(2)
    pool.map(work, [2, 3])
    pool.close()
    pool.join()

    # A pre-fork server (gunicorn's model): the master has logged in and sent rows, then
    # forks workers that serve requests and leave with sys.exit (atexit flushes).
    spanloom.flush()
    workers = []
    for w in range(2):
        pid = os.fork()
        if pid == 0:
            try:
                for r in range(3):
                    with spanloom.start_span(name=f"worker-{w}-request-{r}") as s:
                        s.log(input={"path": f"/r/{r}"}, output=200)
            finally:
                sys.exit(0)
        workers.append(pid)
    for pid in workers:
        assert os.waitpid(pid, 0)[1] == 0

    with spanloom.start_span(name="parent-after-fork"):
        pass
    spanloom.flush()
    print("fork ok")
    """
)


def test_fork_children_get_their_own_logger_and_every_span_arrives_once(server, client, tmp_path):
    dumps = tmp_path / "bodies"
    env = {"SPANLOOM_SYNC_FLUSH": "true", "SPANLOOM_ALL_PUBLISH_PAYLOADS_DIR": str(dumps)}
    out = run_with_env(server, FORK_SCRIPT, env)
    assert out.strip().splitlines()[-1] == "fork ok"
    spans = by_name(project_rows(client, "lifecycle-fork", expect=12))
    expected = {"parent-before-fork", "os-fork-child", "mp-1", "mp-2", "mp-3", "parent-after-fork"}
    expected |= {f"worker-{w}-request-{r}" for w in range(2) for r in range(3)}
    assert set(spans) == expected
    for row in spans.values():
        assert not row["span_parents"] and row["metrics"]["end"] >= row["metrics"]["start"]
    assert spans["parent-before-fork"]["output"] == "parent"
    assert spans["mp-2"]["output"] == 2 and spans["worker-1-request-2"]["output"] == 200
    # Every body any of the processes sent: each span's row went out exactly once (a child
    # re-sending the parent's queue would show up here, even though the server would
    # absorb an identical replay).
    sent = Counter()
    for body in dumps.iterdir():
        for row in json.loads(body.read_text())["rows"]:
            sent[row["id"]] += 1
    assert set(sent) == {r["id"] for r in spans.values()}
    assert all(n == 1 for n in sent.values()), sent


def run_with_env(server, script: str, env: dict, *, url: str | None = None, timeout: float = 60) -> str:
    full = {**os.environ, "SPANLOOM_APP_URL": url or server.url, "SPANLOOM_API_KEY": server.admin_key, **env}
    full.pop("BRAINTRUST_API_URL", None)
    proc = subprocess.run([sys.executable, "-c", script], env=full, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    assert "spanloom: could not" not in proc.stderr, proc.stderr
    return proc.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


OUTAGE_SCRIPT = textwrap.dedent(
    """
    import json, sys, time, spanloom

    spanloom.init_logger(project="lifecycle-outage")

    def burst(tag, n):
        t = time.perf_counter()
        for i in range(n):
            with spanloom.start_span(name=f"{tag}-{i}") as s:
                s.log(input={"i": i}, output=tag, metadata={"phase": tag})
        return time.perf_counter() - t

    timings = {}
    if sys.argv[1] == "live-then-down":
        timings["before"] = burst("before-outage", 2)
        spanloom.flush()
        print("READY", flush=True)
        sys.stdin.readline()  # the test stops the server
        timings["during"] = burst("during-outage", 5)
        t = time.perf_counter()
        spanloom.flush()
        timings["flush"] = time.perf_counter() - t
        print(json.dumps(timings), flush=True)
        sys.stdin.readline()  # the test starts the server again
        burst("after-recovery", 2)
        spanloom.flush()
    else:
        timings[sys.argv[1]] = burst(sys.argv[1], 3)
        with spanloom.start_span(name=f"{sys.argv[1]}-exported") as s:
            s.log(output=sys.argv[1], metadata={"phase": sys.argv[1]})
            t = time.perf_counter()
            timings["slug"] = s.export()  # names the project: no id without the server
            timings["export_seconds"] = time.perf_counter() - t
        if len(sys.argv) > 2:
            spanloom.update_span(sys.argv[2], tags=["updated-after-restart"])
        spanloom.flush()
    print(json.dumps(timings), flush=True)
    """
)


def test_server_down_never_blocks_and_the_spool_delivers_after_a_restart(fresh_server, tmp_path):
    spool = tmp_path / "spool"
    port = free_port()
    data = tmp_path / "data"
    first = fresh_server("--bind", f"127.0.0.1:{port}", data_dir=data)
    env = {
        **os.environ,
        "SPANLOOM_APP_URL": first.url,
        "SPANLOOM_API_KEY": first.admin_key,
        "SPANLOOM_SPOOL_DIR": str(spool),
        "SPANLOOM_NUM_RETRIES": "1",
        "SPANLOOM_RETRY_BACKOFF": "0.05",
    }

    # 1. Logged in and sending; then the server goes away mid-run.
    proc = subprocess.Popen(
        [sys.executable, "-c", OUTAGE_SCRIPT, "live-then-down"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "READY"
    first.stop()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    timings = json.loads(proc.stdout.readline())
    assert timings["during"] < 0.5, timings  # tracing did not wait for the dead server
    assert timings["flush"] < 10, timings
    if not any(p.name.startswith("spool-") for p in spool.iterdir()):
        proc.kill()
        raise AssertionError((timings, sorted(p.name for p in spool.iterdir()), proc.communicate()[1]))
    # The server comes back while the process still runs: the spool goes out first, then
    # the new rows.
    back = fresh_server("--bind", f"127.0.0.1:{port}", data_dir=data)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert stderr.count("cannot reach the server") == 1, stderr  # loudly, once
    assert "spooled to" in stderr and "reachable again" in stderr, stderr
    assert not any(p.name.startswith("spool-") for p in spool.iterdir()), (stderr, sorted(p.name for p in spool.iterdir()))
    back.stop()

    # 2. A process that starts while the server is down: it cannot even log in.
    t = time.perf_counter()
    cold = subprocess.run([sys.executable, "-c", OUTAGE_SCRIPT, "cold-outage"], env=env, capture_output=True, text=True, timeout=60)
    assert cold.returncode == 0, cold.stderr
    assert time.perf_counter() - t < 20
    cold_out = json.loads(cold.stdout.strip().splitlines()[-1])
    assert cold_out["cold-outage"] < 0.5 and cold_out["export_seconds"] < 0.1 and cold_out["slug"]
    assert cold.stderr.count("cannot reach the server") == 1, cold.stderr
    assert any(p.name.startswith("unresolved-") for p in spool.iterdir())

    # 3. The server is back (same data, same address): the next process re-sends the spool
    # before its own rows.
    second = fresh_server("--bind", f"127.0.0.1:{port}", data_dir=data)
    assert second.url == first.url
    later = subprocess.run([sys.executable, "-c", OUTAGE_SCRIPT, "after-restart", cold_out["slug"]], env=env, capture_output=True, text=True, timeout=60)
    assert later.returncode == 0, later.stderr
    assert "cannot reach" not in later.stderr, later.stderr
    assert [p.name for p in spool.iterdir() if not p.name.startswith(".")] == [], later.stderr

    spans = by_name(project_rows(Client(second.url, second.admin_key), "lifecycle-outage", expect=17))
    expected = {f"before-outage-{i}" for i in range(2)} | {f"during-outage-{i}" for i in range(5)}
    expected |= {f"after-recovery-{i}" for i in range(2)}
    expected |= {f"cold-outage-{i}" for i in range(3)} | {f"after-restart-{i}" for i in range(3)}
    expected |= {"cold-outage-exported", "after-restart-exported"}
    assert set(spans) == expected
    for name, row in spans.items():
        tag = name.rsplit("-", 1)[0]
        assert row["output"] == tag and row["metadata"]["phase"] == tag, row
        assert row["metrics"]["start"] <= row["metrics"]["end"]
    # A slug exported while the server was down resumes the span after the restart.
    assert spans["cold-outage-exported"]["tags"] == ["updated-after-restart"]


REPLAY_SCRIPT = textwrap.dedent(
    """
    import os, spanloom

    spanloom.init_logger(project_id=os.environ["PROJECT_ID"], spool_dir=os.environ["SPOOL"])
    if os.environ.get("LOG"):
        with spanloom.start_span(name="replayed") as s:
            s.log(output="v1", metadata={"k": 1})
    spanloom.flush()
    """
)


def test_replaying_a_spooled_batch_twice_is_harmless(server, client, tmp_path):
    """What replay relies on: the server ignores a replace row identical to the one it holds,
    and re-applied merges give the same row, so a batch sent twice (a lost answer, or a crash
    before the spool file was deleted) leaves the span as it was, later changes included."""
    spool = tmp_path / "spool"
    env = {"SPANLOOM_NUM_RETRIES": "0", "PROJECT_ID": client.project("lifecycle-replay"), "SPOOL": str(spool)}
    # Log in for real, but send /logs3 to a dead address: the batch is spooled.
    run_with_env(server, REPLAY_SCRIPT, {**env, "LOG": "1", "SPANLOOM_API_URL": f"http://127.0.0.1:{free_port()}"})
    bodies = {p: p.read_text() for p in spool.iterdir() if p.name.startswith("spool-")}
    assert bodies  # the start row and its merges, in one or more batches
    run_with_env(server, REPLAY_SCRIPT, env)  # a later process replays it
    assert not any(p.name.startswith("spool-") for p in spool.iterdir())
    [row] = project_rows(client, "lifecycle-replay")
    assert row["output"] == "v1" and row["metadata"] == {"k": 1}
    # The span changes after the replay; then the same batch arrives once more.
    client.logs3([{"id": row["id"], "project_id": env["PROJECT_ID"], "log_id": "g", "_is_merge": True, "tags": ["reviewed"]}])
    for path, body in bodies.items():
        path.write_text(body)
    run_with_env(server, REPLAY_SCRIPT, env)
    assert not any(path.exists() for path in bodies)
    [again] = project_rows(client, "lifecycle-replay")
    assert again["output"] == "v1" and again["metadata"] == {"k": 1} and again["tags"] == ["reviewed"]
    assert again["metrics"] == row["metrics"]


LIMIT_SCRIPT = textwrap.dedent(
    """
    import spanloom

    spanloom.init_logger(project="lifecycle-generator-limit")

    @spanloom.traced
    def three():
        yield from (1, 2, 3)

    @spanloom.traced
    def two():
        yield from (1, 2)

    @spanloom.traced(notrace_io=True)
    def quiet(secret):
        yield secret

    assert list(three()) == [1, 2, 3] and list(two()) == [1, 2] and list(quiet("s")) == ["s"]
    spanloom.flush()
    """
)


def test_generator_output_limit_and_notrace_io(server, client):
    out = run_with_env(server, LIMIT_SCRIPT, {"SPANLOOM_MAX_GENERATOR_ITEMS": "2"})
    assert out == ""
    spans = by_name(project_rows(client, "lifecycle-generator-limit", expect=3))
    assert spans["two"]["output"] == [1, 2]
    assert spans["three"].get("output") is None  # over the limit: not logged (the official rule)
    assert spans["quiet"].get("output") is None and spans["quiet"].get("input") is None
    assert all(row["metrics"]["end"] >= row["metrics"]["start"] for row in spans.values())


QUEUE_SCRIPT = textwrap.dedent(
    """
    import sys, spanloom

    spanloom.init_logger(project=sys.argv[1])

    @spanloom.traced
    def step(i):
        return i

    step(-1)
    spanloom.flush()  # logged in: later rows go straight to the core's queue
    for i in range(int(sys.argv[2])):
        step(i)
    spanloom.flush()
    print("queue ok", flush=True)
    """
)


def run_queue_script(server, project: str, spans: int, env: dict) -> str:
    full = {**os.environ, "SPANLOOM_APP_URL": server.url, "SPANLOOM_API_KEY": server.admin_key, **env}
    full.pop("BRAINTRUST_API_URL", None)
    proc = subprocess.run([sys.executable, "-c", QUEUE_SCRIPT, project, str(spans)], env=full, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "queue ok", proc.stderr
    return proc.stderr


def test_a_full_queue_says_what_it_dropped_and_blocking_drops_nothing(server, client):
    # Nothing is sent before the flush, so 50 traced calls (100 rows) meet a queue of 20 rows:
    # the newest 20 (the last 10 calls) stay, and stderr reports the 80 dropped.
    stderr = run_queue_script(server, "lifecycle-queue-drop", 50, {"SPANLOOM_SYNC_FLUSH": "true", "SPANLOOM_QUEUE_SIZE": "20"})
    assert "spanloom: dropped 80 of the oldest queued rows (80 in all)" in stderr, stderr
    assert "SPANLOOM_QUEUE_BLOCK" in stderr
    rows = project_rows(client, "lifecycle-queue-drop", expect=11)
    assert sorted(r["output"] for r in rows) == [-1, *range(40, 50)]
    # Blocking instead: the same small queue, 2,000 calls logged as fast as the loop goes,
    # every one arrives and nothing is reported dropped.
    stderr = run_queue_script(server, "lifecycle-queue-block", 2000, {"SPANLOOM_QUEUE_BLOCK": "true", "SPANLOOM_QUEUE_SIZE": "20"})
    assert "dropped" not in stderr, stderr
    rows = project_rows(client, "lifecycle-queue-block", expect=2001)
    assert sorted(r["output"] for r in rows) == [-1, *range(2000)]
