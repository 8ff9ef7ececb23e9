//! The mapping rules for dialects no emitter in the e2e suite produces (Logfire, Pydantic AI,
//! LangSmith, OpenLIT, Braintrust's own attributes, deprecated GenAI span events, ...), on
//! span shapes taken from `shared/reference/otel-mapping.md`.

use serde_json::{Map, Value, json};
use spanloom_otlp::map::{Skip, map_span};
use spanloom_otlp::raw::RawSpan;

fn raw(name: &str, attrs: Value) -> RawSpan {
    raw_with(name, attrs, json!({}))
}

fn raw_with(name: &str, attrs: Value, extra: Value) -> RawSpan {
    let mut v = json!({
        "trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331",
        "parent_span_id": "00f067aa0ba902b7", "name": name, "kind": 3,
        "start_time_unix_nano": 1_750_000_000_000_000_000u64, "end_time_unix_nano": 1_750_000_001_000_000_000u64,
        "attributes": attrs,
    });
    if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
        m.extend(e);
    }
    serde_json::from_value(v).expect("raw span")
}

fn row(span: &RawSpan) -> Map<String, Value> {
    map_span(span, &[]).expect("mapped").row
}

#[test]
fn logfire_pending_twins_are_skipped_and_messages_name_spans() {
    let pending = raw(
        "agent run",
        json!({"logfire.span_type": "pending_span", "logfire.pending_parent_id": "x"}),
    );
    assert_eq!(map_span(&pending, &[]).unwrap_err(), Skip::LogfirePending);
    let r = row(&raw(
        "agent run",
        json!({"logfire.span_type": "span", "logfire.msg": "Agent run for weather", "logfire.tags": ["prod"]}),
    ));
    assert_eq!(r["span_attributes"]["name"], "Agent run for weather");
    assert_eq!(r["tags"], json!(["prod"]));
}

#[test]
fn pydantic_ai_agent_usage_is_not_counted_twice() {
    let r = row(&raw(
        "invoke_agent weather",
        json!({
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "weather",
            "gen_ai.aggregated_usage.input_tokens": 120, "gen_ai.aggregated_usage.output_tokens": 30,
            "pydantic_ai.all_messages": "[{\"role\": \"user\", \"parts\": [{\"type\": \"text\", \"content\": \"hi\"}]}]",
            "final_result": "sunny",
        }),
    ));
    assert_eq!(r["span_attributes"]["type"], "task");
    assert!(r["metrics"].get("prompt_tokens").is_none());
    assert_eq!(r["metadata"]["aggregated_usage"]["input_tokens"], 120);
    assert_eq!(r["metadata"]["agent"]["name"], "weather");
    assert_eq!(r["output"], "sunny");
}

#[test]
fn langsmith_spans() {
    let r = row(&raw(
        "ChatOpenAI",
        json!({
            "langsmith.span.kind": "llm", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.prompt": "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
            "gen_ai.completion": "{\"generations\": [[{\"text\": \"hello\"}]]}",
            "gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 1,
            "langsmith.metadata.tenant": "acme", "langsmith.span.tags": "a,b", "langsmith.trace.session_id": "s1",
        }),
    ));
    assert_eq!(r["span_attributes"]["type"], "llm");
    assert_eq!(r["input"]["messages"][0]["content"], "hi");
    assert_eq!(r["output"]["generations"][0][0]["text"], "hello");
    assert_eq!(r["metadata"]["tenant"], "acme");
    assert_eq!(r["metadata"]["session_id"], "s1");
    assert_eq!(r["tags"], json!(["a", "b"]));
}

#[test]
fn openlit_costs_text_prompts_and_repr_messages() {
    let r = row(&raw(
        "chat gpt-4o",
        json!({
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "telemetry.sdk.name": "openlit",
            "gen_ai.prompt": "user: hello", "gen_ai.completion": "hi there",
            "gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 2, "gen_ai.usage.cost": 0.0012,
        }),
    ));
    assert_eq!(
        r["input"],
        json!([{"role": "user", "content": "user: hello"}])
    );
    assert_eq!(
        r["output"],
        json!([{"role": "assistant", "content": "hi there"}])
    );
    assert_eq!(r["metrics"]["estimated_cost"], 0.0012);
    assert_eq!(r["metadata"]["pricing"]["source"], "emitter");
    let repr = row(&raw(
        "chat",
        json!({"gen_ai.operation.name": "chat", "gen_ai.input.messages": "[{'role': 'user', 'content': 'hi'}]"}),
    ));
    assert_eq!(repr["input"], "[{'role': 'user', 'content': 'hi'}]");
}

#[test]
fn braintrust_attributes_win() {
    let r = row(&raw(
        "my step",
        json!({
            "braintrust.span_attributes.type": "score", "braintrust.span_attributes.name": "judge",
            "braintrust.input_json": "{\"q\": 1}", "braintrust.output": "ok", "braintrust.expected": "ok",
            "braintrust.metadata": "{\"team\": \"search\"}", "braintrust.metadata.env": "prod",
            "braintrust.metrics.prompt_tokens": 4, "braintrust.metrics.custom_latency": 0.5,
            "braintrust.tags": ["x"], "braintrust.parent": "project_name:evals",
            "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 999,
        }),
    ));
    assert_eq!(
        r["span_attributes"],
        json!({"name": "judge", "type": "score"})
    );
    assert_eq!(r["input"], json!({"q": 1}));
    assert_eq!((&r["output"], &r["expected"]), (&json!("ok"), &json!("ok")));
    assert_eq!(
        (&r["metadata"]["team"], &r["metadata"]["env"]),
        (&json!("search"), &json!("prod"))
    );
    assert_eq!(r["metadata"]["aggregated_usage"]["prompt_tokens"], 4);
    assert_eq!(r["metrics"]["custom_latency"], 0.5);
    assert_eq!(r["tags"], json!(["x"]));
    let mapped = map_span(
        &raw("s", json!({"braintrust.parent": "project_name:evals"})),
        &[],
    )
    .expect("mapped");
    assert_eq!(mapped.parent.as_deref(), Some("project_name:evals"));
}

#[test]
fn deprecated_genai_span_events_override_attributes() {
    let events = json!({"events": [
        {"name": "gen_ai.system.message", "time_unix_nano": 1, "attributes": {"content": "be brief"}},
        {"name": "gen_ai.user.message", "time_unix_nano": 2, "attributes": {"content": "hi"}},
        {"name": "gen_ai.choice", "time_unix_nano": 3, "attributes": {"index": 0, "finish_reason": "stop",
                                                                    "message": "{\"role\": \"assistant\", \"content\": \"hello\"}"}},
    ]});
    let r = row(&raw_with(
        "chat gpt-4o",
        json!({"gen_ai.operation.name": "chat", "gen_ai.system": "openai",
        "gen_ai.input.messages": "[{\"role\": \"user\", \"parts\": [{\"type\": \"text\", \"content\": \"older\"}]}]"}),
        events,
    ));
    assert_eq!(
        r["input"],
        json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}])
    );
    assert_eq!(r["output"][0]["finish_reason"], "stop");
}

#[test]
fn anthropic_input_tokens_are_normalized_to_include_cache() {
    let r = row(&raw(
        "chat claude",
        json!({
            "gen_ai.operation.name": "chat", "gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 5, "gen_ai.usage.cache_read_input_tokens": 100,
            "gen_ai.usage.cache_creation_input_tokens": 20, "gen_ai.usage.output_tokens": 7,
        }),
    ));
    assert_eq!(r["metrics"]["prompt_tokens"], 125);
    assert_eq!(r["metrics"]["prompt_cached_tokens"], 100);
    assert_eq!(r["metrics"]["prompt_cache_creation_tokens"], 20);
    assert_eq!(r["metrics"]["tokens"], 132);
    assert_eq!(r["metadata"]["usage_normalized"], true);
}

#[test]
fn transport_spans_with_genai_attributes_are_not_llm_calls() {
    let r = row(&raw(
        "BedrockRuntime.Converse",
        json!({
            "rpc.system": "aws-api", "gen_ai.operation.name": "chat", "gen_ai.request.model": "anthropic.claude-3-5-sonnet",
            "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2,
        }),
    ));
    assert_eq!(r["span_attributes"]["type"], "function");
    assert!(r["metrics"].get("prompt_tokens").is_none());
}

#[test]
fn openinference_retrievers_and_renamed_providers() {
    let r = row(&raw(
        "retrieve",
        json!({
            "openinference.span.kind": "RETRIEVER", "input.value": "where is paris",
            "retrieval.documents.0.document.id": "d1", "retrieval.documents.0.document.content": "Paris is in France",
            "retrieval.documents.0.document.score": 0.9, "retrieval.documents.0.document.metadata": "{\"src\": \"wiki\"}",
            "retrieval.documents.1.document.id": "d2",
        }),
    ));
    assert_eq!(r["span_attributes"]["type"], "function");
    assert_eq!(r["input"], "where is paris");
    assert_eq!(
        r["output"][0],
        json!({"id": "d1", "content": "Paris is in France", "score": 0.9, "metadata": {"src": "wiki"}})
    );
    assert_eq!(r["output"][1]["id"], "d2");
    let v = row(&raw(
        "generate",
        json!({"gen_ai.system": "vertex_ai", "gen_ai.operation.name": "generate_content"}),
    ));
    assert_eq!(v["metadata"]["provider"], "gcp.vertex_ai");
}

#[test]
fn handled_exceptions_are_not_errors_and_error_type_is() {
    let handled = json!({"events": [{"name": "exception", "attributes": {"exception.type": "KeyError", "exception.escaped": "False"}}]});
    assert!(
        row(&raw_with("step", json!({}), handled))
            .get("error")
            .is_none()
    );
    let typed = row(&raw_with(
        "step",
        json!({"error.type": "timeout"}),
        json!({"status_code": 2}),
    ));
    assert_eq!(typed["error"], "timeout");
    assert_eq!(typed["metadata"]["error_type"], "timeout");
}

#[test]
fn multimodal_parts_become_openai_content_parts() {
    let r = row(&raw(
        "chat",
        json!({"gen_ai.operation.name": "chat",
        "gen_ai.system_instructions": "[{\"type\": \"text\", \"content\": \"describe\"}]",
        "gen_ai.input.messages": json!([{"role": "user", "parts": [
            {"type": "text", "content": "what is this"},
            {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0KGgo="},
            {"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"}]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "result": {"ok": true}}]}]).to_string()}),
    ));
    assert_eq!(
        r["input"][0],
        json!({"role": "system", "content": "describe"})
    );
    let parts = &r["input"][1]["content"];
    assert_eq!(
        parts[1]["image_url"]["url"],
        "data:image/png;base64,iVBORw0KGgo="
    );
    assert_eq!(parts[2]["image_url"]["url"], "https://example.com/cat.png");
    assert_eq!(
        r["input"][2],
        json!({"role": "tool", "tool_call_id": "c1", "content": "{\"ok\":true}"})
    );
}
