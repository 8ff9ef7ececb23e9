"""One SDK, one scenario, in a fresh process: `python worker.py '<json config>'` prints one JSON
line with the timings. Started by run.py; see bench/README.md.

SDKs: `braintrust` and `spanloom` (`@traced`, `current_span().log`, `flush`), `otel` (the
OpenTelemetry SDK: a TracerProvider with a BatchSpanProcessor and the OTLP/HTTP protobuf exporter,
all defaults, and a small decorator that records the arguments and the return value as JSON
attributes, as OTel instrumentations do). Nothing else is imported before the timed loops."""

from __future__ import annotations

import functools
import gc
import inspect
import json
import os
import random
import sys
import time

CFG = json.loads(sys.argv[1])
SDK = CFG["sdk"]
SCENARIO = CFG["scenario"]
ENABLED = SCENARIO != "disabled"

# ---- payloads (the same bytes for every SDK) --------------------------------------------

_WORDS = (
    "the of and to in is for on that with as by this be are from at or an it not which have "
    "order account refund shipping invoice customer policy answer question context document "
    "retrieval model token latency search result summary request response billing address"
).split()


def _text(rng: random.Random, n_bytes: int) -> str:
    out, size = [], 0
    while size < n_bytes:
        w = rng.choice(_WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n_bytes]


_rng = random.Random(42)
MESSAGES = [
    {"role": "system", "content": _text(_rng, 2000)},
    {"role": "user", "content": _text(_rng, 3000)},
    {"role": "assistant", "content": _text(_rng, 1000)},
    {"role": "user", "content": _text(_rng, 2000)},
]
OUTPUT = _text(_rng, 2048)
METADATA = {
    "model": "gpt-4o-mini",
    "temperature": 0.2,
    "max_tokens": 1024,
    "user_id": "user-4711",
    "session_id": "session-0815",
    "env": "production",
    "route": "/api/chat",
    "prompt_version": "v12",
    "region": "eu-west-1",
    "request_id": "req-2b6f0c",
}
SMALL_IN, SMALL_OUT = "hello world", "hi there"

# ---- the SDK under test -----------------------------------------------------------------

if SDK in ("braintrust", "spanloom"):
    sdk = __import__(SDK)
    if ENABLED:
        logger = sdk.init_logger(project=CFG["project"], app_url=CFG["url"], api_key=CFG["key"])
    traced, current_span = sdk.traced, sdk.current_span

    def log_metadata(md: dict) -> None:
        current_span().log(metadata=md)

    def flush() -> None:
        sdk.flush()

elif SDK == "otel":
    from opentelemetry import trace

    if ENABLED:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider()
        headers = {"Authorization": f"Bearer {CFG['key']}", "x-bt-parent": f"project_id:{CFG['project_id']}"}
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=CFG["url"] + "/v1/traces", headers=headers)))
        trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("spanloom-bench")

    def traced(f):
        name = f.__name__
        params = list(inspect.signature(f).parameters)

        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            with tracer.start_as_current_span(name) as span:
                recording = span.is_recording()
                if recording:
                    span.set_attribute("braintrust.input_json", json.dumps({**dict(zip(params, args)), **kwargs}))
                result = f(*args, **kwargs)
                if recording:
                    span.set_attribute("braintrust.output_json", json.dumps(result))
                return result

        return wrapper

    _MD_ATTRS = {f"braintrust.metadata.{k}": v for k, v in METADATA.items()}

    def log_metadata(md: dict) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attributes(_MD_ATTRS if md is METADATA else {f"braintrust.metadata.{k}": v for k, v in md.items()})

    def flush() -> None:
        if ENABLED:
            provider.force_flush()
            provider.shutdown()

else:
    raise SystemExit(f"unknown sdk {SDK}")


# ---- workloads ------------------------------------------------------------------------


def small_plain(text):
    return SMALL_OUT


small = traced(small_plain)


@traced
def chat(messages):
    log_metadata(METADATA)
    return OUTPUT


@traced
def child_step(text):
    return SMALL_OUT


@traced
def root_step(text):
    for _ in range(10):
        child_step(text)
    return SMALL_OUT


# ---- measurement -----------------------------------------------------------------------


def timed(fn, arg, n: int, limit_s: float) -> list:
    """Per-call nanoseconds of up to `n` calls, stopping after `limit_s` seconds."""
    pc = time.perf_counter_ns
    out = []
    append = out.append
    deadline = pc() + int(limit_s * 1e9)
    for _ in range(n):
        t0 = pc()
        fn(arg)
        t1 = pc()
        append(t1 - t0)
        if t1 > deadline:
            break
    return out


def stats(ns: list) -> dict:
    s = sorted(ns)
    n = len(s)

    def pct(p):
        return s[min(n - 1, int(round((n - 1) * p)))] / 1000.0

    return {"calls": n, "mean_us": sum(s) / n / 1000.0, "p50_us": pct(0.50), "p99_us": pct(0.99), "max_us": s[-1] / 1000.0}


def vm_hwm_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def main() -> dict:
    calls, limit = CFG["calls"], CFG["time_limit_s"]
    warmup = CFG.get("warmup", 200)
    result: dict = {"sdk": SDK, "scenario": SCENARIO, "python": sys.version.split()[0], "pid": os.getpid()}
    from importlib.metadata import version

    result["sdk_version"] = version("opentelemetry-sdk" if SDK == "otel" else SDK)
    if SDK == "spanloom":
        result["sdk_path"] = sdk.__file__
    gc.collect()
    if SCENARIO == "small":
        for _ in range(warmup):
            small(SMALL_IN)
        result["timing"] = stats(timed(small, SMALL_IN, calls, limit))
        result["spans_logged"] = warmup + result["timing"]["calls"]
    elif SCENARIO == "llm":
        for _ in range(warmup):
            chat(MESSAGES)
        result["timing"] = stats(timed(chat, MESSAGES, calls, limit))
        result["spans_logged"] = warmup + result["timing"]["calls"]
        result["payload_bytes"] = {"input": len(json.dumps({"messages": MESSAGES})), "output": len(OUTPUT), "metadata_keys": len(METADATA)}
    elif SCENARIO == "tree":
        w = max(1, warmup // 10)
        for _ in range(w):
            root_step(SMALL_IN)
        result["timing"] = stats(timed(root_step, SMALL_IN, calls, limit))
        result["spans_logged"] = 11 * (w + result["timing"]["calls"])
    elif SCENARIO == "disabled":
        # Blocks of undecorated and decorated calls, interleaved so drift hits both alike.
        plain, deco = [], []
        for _ in range(1000):
            small_plain(SMALL_IN)
            small(SMALL_IN)
        rounds = 5
        for _ in range(rounds):
            plain += timed(small_plain, SMALL_IN, calls // rounds, limit / rounds / 2)
            deco += timed(small, SMALL_IN, calls // rounds, limit / rounds / 2)
        result["undecorated"], result["decorated"] = stats(plain), stats(deco)
        result["disabled_cost_us"] = result["decorated"]["mean_us"] - result["undecorated"]["mean_us"]
        result["disabled_cost_p50_us"] = result["decorated"]["p50_us"] - result["undecorated"]["p50_us"]
        result["spans_logged"] = 0
    elif SCENARIO == "e2e":
        n = CFG["e2e_spans"]
        t_start = time.time()
        for _ in range(n):
            small(SMALL_IN)
        result["t_logged"] = time.time()
        result["t_start"] = t_start
        result["spans_logged"] = n
    else:
        raise SystemExit(f"unknown scenario {SCENARIO}")
    t_flush = time.time()
    flush()
    result["t_flushed"] = time.time()
    result["flush_s"] = result["t_flushed"] - t_flush
    result["vm_hwm_kib"] = vm_hwm_kib()
    return result


if __name__ == "__main__":
    out = main()
    sys.stdout.write("\nRESULT " + json.dumps(out) + "\n")
    sys.stdout.flush()
