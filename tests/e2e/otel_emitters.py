"""Runs one real OpenTelemetry LLM instrumentation against the fake provider and exports to
Spanloom. One emitter per process: instrumentors patch the `openai` module globally.

    python otel_emitters.py EMITTER --spanloom URL --key KEY --provider URL --project NAME
        [--grpc HOST:PORT]

EMITTER is one of:
  openinference  openinference-instrumentation-openai (OpenInference attributes)
  openllmetry    opentelemetry-instrumentation-openai (Traceloop's flattened gen_ai.prompt.N.*)
  openai-v2      opentelemetry-instrumentation-openai-v2 (latest GenAI conventions, content
                 captured on spans: gen_ai.input.messages / gen_ai.output.messages)
  openai-v2-events  the same with content in gen_ai.client.inference.operation.details log
                 events, exported to /v1/logs and joined to their spans
  braintrust     braintrust.otel.BraintrustSpanProcessor (+ the openai-v2 instrumentation)

The workload: an agent root span; a chat call that returns a tool call; a tool span; a
streamed chat answer with usage; an embeddings call; a call the provider fails with 500.
Prints one JSON line: {"trace_id": ..., "span_ids": {...}}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

EMITTERS = ["openinference", "openllmetry", "openai-v2", "openai-v2-events", "braintrust"]


def configure_env(emitter: str) -> None:
    if emitter in ("openai-v2", "openai-v2-events", "braintrust"):
        os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "EVENT_ONLY" if emitter == "openai-v2-events" else "SPAN_ONLY"
    elif emitter == "openllmetry":
        os.environ["TRACELOOP_TRACE_CONTENT"] = "true"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("emitter", choices=EMITTERS)
    ap.add_argument("--spanloom", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--provider", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--grpc", help="export over OTLP/gRPC to this HOST:PORT instead of HTTP")
    args = ap.parse_args()
    configure_env(args.emitter)

    # Imports after the environment is set: the instrumentations read it at import time.
    import openai
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    headers = {"authorization": f"Bearer {args.key}", "x-bt-parent": f"project_name:{args.project}"}
    resource = Resource.create({"service.name": f"emitter-{args.emitter}", "deployment.environment": "test"})
    provider = TracerProvider(resource=resource)
    logger_provider = None

    if args.emitter == "braintrust":
        os.environ["BRAINTRUST_API_URL"] = args.spanloom
        os.environ["BRAINTRUST_API_KEY"] = args.key
        from braintrust.otel import BraintrustSpanProcessor

        provider.add_span_processor(BraintrustSpanProcessor(parent=f"project_name:{args.project}"))
    elif args.grpc:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        provider.add_span_processor(
            BatchSpanProcessor(GrpcExporter(endpoint=args.grpc, insecure=True, headers=tuple(headers.items()), compression=__import__("grpc").Compression.Gzip))
        )
    else:
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{args.spanloom}/v1/traces", headers=headers, compression=Compression.Gzip)))
    trace.set_tracer_provider(provider)

    if args.emitter == "openai-v2-events":
        from opentelemetry._logs import set_logger_provider
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{args.spanloom}/v1/logs", headers=headers)))
        set_logger_provider(logger_provider)

    if args.emitter == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider)
    elif args.emitter == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider)
    else:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider, logger_provider=logger_provider)

    client = openai.OpenAI(base_url=f"{args.provider}/v1", api_key="sk-fake", max_retries=0)
    tracer = trace.get_tracer("spanloom.e2e.agent")
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather of a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    ids = {}
    with tracer.start_as_current_span("support-agent", attributes={"session.id": "sess-42", "user.id": "u-7"}) as root:
        ctx = root.get_span_context()
        ids["trace_id"] = format(ctx.trace_id, "032x")
        ids["root"] = format(ctx.span_id, "016x")
        messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is the weather in Paris?"}]
        first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools, temperature=0.2)
        call = first.choices[0].message.tool_calls[0]
        with tracer.start_as_current_span(
            "execute_tool get_weather",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "get_weather",
                "gen_ai.tool.call.id": call.id,
                "gen_ai.tool.call.arguments": call.function.arguments,
                "gen_ai.tool.call.result": json.dumps({"forecast": "sunny", "celsius": 21}),
            },
        ) as tool_span:
            ids["tool"] = format(tool_span.get_span_context().span_id, "016x")
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"},
            {"role": "user", "content": "Summarize the forecast"},
        ]
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True})
        streamed = "".join((c.choices[0].delta.content or "") for c in stream if c.choices)
        ids["streamed_text"] = streamed
        client.embeddings.create(model="text-embedding-3-small", input=["sunny in Paris"])
        try:
            client.chat.completions.create(model="error-500", messages=[{"role": "user", "content": "fail please"}])
        except openai.APIStatusError as e:
            ids["error_status"] = e.status_code

    provider.force_flush()
    if logger_provider is not None:
        logger_provider.force_flush()
        logger_provider.shutdown()
    provider.shutdown()
    print(json.dumps(ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())
