//! Input and output: the first source that yields a value wins, per field (reference §5.3).
//! Every message form is converted to OpenAI-style `{role, content, tool_calls, tool_call_id}`
//! messages so the UI renders one shape; the original form stays in the raw span.

use super::{Ctx, EventView};
use crate::value::{is_empty, parse_any_json, parse_json_text};
use serde_json::{Map, Value, json};

/// The derived input and output.
#[derive(Debug, Default)]
pub struct Io {
    /// `input`.
    pub input: Option<Value>,
    /// `output`.
    pub output: Option<Value>,
}

/// Derives input and output from the span's attributes and events.
pub fn extract(ctx: &Ctx) -> Io {
    let a = &ctx.attrs;
    // Every candidate is evaluated in priority order; evaluation also consumes the keys, so
    // lower-priority duplicates of the same content don't reappear as metadata.
    let inputs: Vec<Option<Value>> = vec![
        a.json("braintrust.input_json")
            .or_else(|| a.get("braintrust.input").cloned()),
        a.json("langfuse.observation.input"),
        events_input(&ctx.events),
        genai_input(ctx),
        a.unflatten("llm.input_messages").map(|v| oi_messages(&v)),
        a.unflatten("gen_ai.prompt").map(|v| indexed_messages(&v)),
        ai_sdk_input(ctx),
        a.json("pydantic_ai.all_messages")
            .or_else(|| a.json("tool_arguments")),
        a.json("gen_ai.tool.call.arguments")
            .or_else(|| a.json("ai.toolCall.args"))
            .or_else(|| a.json("ai.toolCall.input")),
        generic_io(ctx, "input"),
        a.json("traceloop.entity.input").map(unwrap_traceloop),
        a.get("gen_ai.prompt").map(single_blob_input),
        long_tail(
            ctx,
            &[
                "gcp.vertex.agent.llm_request",
                "gcp.vertex.agent.tool_call_args",
                "mlflow.spanInputs",
                "genkit:input",
            ],
        ),
        retrieval_query(ctx),
    ];
    let outputs: Vec<Option<Value>> = vec![
        a.json("braintrust.output_json")
            .or_else(|| a.get("braintrust.output").cloned()),
        a.json("langfuse.observation.output"),
        events_output(&ctx.events),
        a.json("gen_ai.output.messages").map(|v| otel_messages(&v)),
        a.unflatten("llm.output_messages").map(|v| oi_messages(&v)),
        a.unflatten("gen_ai.completion")
            .map(|v| indexed_messages(&v)),
        ai_sdk_output(ctx),
        a.json("final_result").or_else(|| a.json("tool_response")),
        a.json("gen_ai.tool.call.result")
            .or_else(|| a.json("ai.toolCall.result"))
            .or_else(|| a.json("ai.toolCall.output")),
        generic_io(ctx, "output"),
        a.json("traceloop.entity.output").map(unwrap_traceloop),
        a.get("gen_ai.completion").map(single_blob_output),
        long_tail(
            ctx,
            &[
                "gcp.vertex.agent.llm_response",
                "gcp.vertex.agent.tool_response",
                "mlflow.spanOutputs",
                "genkit:output",
            ],
        ),
        retrieval_documents(ctx),
    ];
    let first = |list: Vec<Option<Value>>| list.into_iter().flatten().find(|v| !is_empty(v));
    Io {
        input: first(inputs),
        output: first(outputs),
    }
}

// ---- GenAI semantic conventions ----

fn genai_input(ctx: &Ctx) -> Option<Value> {
    let a = &ctx.attrs;
    let system = a.json("gen_ai.system_instructions");
    let messages = a.json("gen_ai.input.messages").map(|v| otel_messages(&v));
    match (system, messages) {
        (None, m) => m,
        (Some(sys), m) => {
            let mut list = vec![json!({"role": "system", "content": parts_content(&sys)})];
            match m {
                Some(Value::Array(items)) => list.extend(items),
                Some(other) => list.push(other),
                None => {}
            }
            Some(Value::Array(list))
        }
    }
}

/// `[{role, parts: [...]}]` (GenAI conventions) → OpenAI-style messages. Values that are not
/// that shape (OpenAI-style already, or an unparseable repr string) pass through.
pub fn otel_messages(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().flat_map(otel_message).collect()),
        other => other.clone(),
    }
}

fn otel_message(m: &Value) -> Vec<Value> {
    let Some(parts) = m.get("parts").and_then(Value::as_array) else {
        return vec![m.clone()];
    };
    let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
    let mut content = Vec::new();
    let mut tool_calls = Vec::new();
    let mut tool_results = Vec::new();
    for part in parts {
        match part.get("type").and_then(Value::as_str).unwrap_or("") {
            "tool_call" => tool_calls.push(json!({
                "id": part.get("id").cloned().unwrap_or(Value::Null),
                "type": "function",
                "function": {
                    "name": part.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": arguments_text(part.get("arguments")),
                }
            })),
            "tool_call_response" => tool_results.push(json!({
                "role": "tool",
                "tool_call_id": part.get("id").cloned().unwrap_or(Value::Null),
                "content": text_or_json(part.get("result").or_else(|| part.get("response"))),
            })),
            _ => content.push(content_part(part)),
        }
    }
    let mut out = Vec::new();
    if !content.is_empty() || !tool_calls.is_empty() || tool_results.is_empty() {
        let mut msg = Map::new();
        msg.insert("role".into(), Value::String(role.to_owned()));
        msg.insert("content".into(), collapse_content(content));
        if !tool_calls.is_empty() {
            msg.insert("tool_calls".into(), Value::Array(tool_calls));
        }
        for key in ["name", "finish_reason"] {
            if let Some(v) = m.get(key) {
                msg.insert(key.into(), v.clone());
            }
        }
        out.push(Value::Object(msg));
    }
    out.extend(tool_results);
    out
}

/// One non-tool part as an OpenAI content part.
fn content_part(part: &Value) -> Value {
    let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" => {
            json!({"type": "text", "text": part.get("content").cloned().unwrap_or(Value::Null)})
        }
        "blob" => {
            let mime = part
                .get("mime_type")
                .and_then(Value::as_str)
                .unwrap_or("application/octet-stream");
            let data = part.get("content").and_then(Value::as_str).unwrap_or("");
            json!({"type": "image_url", "image_url": {"url": format!("data:{mime};base64,{data}")}})
        }
        "uri" => {
            json!({"type": "image_url", "image_url": {"url": part.get("uri").cloned().unwrap_or(Value::Null)}})
        }
        "reasoning" => {
            json!({"type": "reasoning", "text": part.get("content").cloned().unwrap_or(Value::Null)})
        }
        _ => part.clone(),
    }
}

/// A single text part becomes a plain string, as OpenAI messages usually carry.
fn collapse_content(mut parts: Vec<Value>) -> Value {
    if parts.len() == 1 && parts[0].get("type").and_then(Value::as_str) == Some("text") {
        return parts.remove(0).get("text").cloned().unwrap_or(Value::Null);
    }
    if parts.is_empty() {
        return Value::Null;
    }
    Value::Array(parts)
}

/// System instructions: a list of parts (or a string) → message content.
fn parts_content(v: &Value) -> Value {
    match v {
        Value::Array(parts) => collapse_content(parts.iter().map(content_part).collect()),
        other => other.clone(),
    }
}

fn arguments_text(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => Value::String(String::new()),
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(other) => Value::String(other.to_string()),
    }
}

fn text_or_json(v: Option<&Value>) -> Value {
    match v {
        None => Value::Null,
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(other) => Value::String(other.to_string()),
    }
}

// ---- GenAI events (span events or correlated log records) ----

/// Input messages from GenAI events: the inference details event, else the per-message events.
pub fn events_input(events: &[EventView]) -> Option<Value> {
    if let Some(details) = events
        .iter()
        .find(|e| e.name == "gen_ai.client.inference.operation.details")
    {
        let system = details
            .attr("gen_ai.system_instructions")
            .map(parse_json_text);
        let messages = details
            .attr("gen_ai.input.messages")
            .map(|v| otel_messages(&parse_json_text(v)));
        let mut list = Vec::new();
        if let Some(sys) = system {
            list.push(json!({"role": "system", "content": parts_content(&sys)}));
        }
        match messages {
            Some(Value::Array(items)) => list.extend(items),
            Some(other) => list.push(other),
            None => {}
        }
        if !list.is_empty() {
            return Some(Value::Array(list));
        }
    }
    let list: Vec<Value> = events
        .iter()
        .filter_map(|e| {
            let role = match e.name {
                "gen_ai.system.message" => "system",
                "gen_ai.user.message" => "user",
                "gen_ai.assistant.message" => "assistant",
                "gen_ai.tool.message" => "tool",
                _ => return None,
            };
            Some(legacy_event_message(e, role))
        })
        .collect();
    (!list.is_empty()).then_some(Value::Array(list))
}

/// Output messages from GenAI events: the inference details event, else `gen_ai.choice` events.
pub fn events_output(events: &[EventView]) -> Option<Value> {
    if let Some(details) = events
        .iter()
        .find(|e| e.name == "gen_ai.client.inference.operation.details")
        && let Some(v) = details.attr("gen_ai.output.messages")
    {
        return Some(otel_messages(&parse_json_text(v)));
    }
    let list: Vec<Value> = events
        .iter()
        .filter(|e| e.name == "gen_ai.choice")
        .map(|e| {
            let fields = e.fields();
            let message = fields.get("message").cloned().unwrap_or(Value::Null);
            let mut msg = match message {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            msg.entry("role")
                .or_insert_with(|| Value::String("assistant".into()));
            msg.entry("content").or_insert(Value::Null);
            if let Some(reason) = fields.get("finish_reason") {
                msg.insert("finish_reason".into(), reason.clone());
            }
            Value::Object(msg)
        })
        .collect();
    (!list.is_empty()).then_some(Value::Array(list))
}

/// A deprecated per-message event: content in the body (`{content, tool_calls, id}`) or in
/// the attributes when sent as a span event.
fn legacy_event_message(e: &EventView, role: &str) -> Value {
    let fields = e.fields();
    let mut msg = Map::new();
    msg.insert(
        "role".into(),
        fields
            .get("role")
            .cloned()
            .unwrap_or_else(|| Value::String(role.into())),
    );
    msg.insert(
        "content".into(),
        fields
            .get("content")
            .map(parse_json_text)
            .unwrap_or(Value::Null),
    );
    if let Some(calls) = fields.get("tool_calls") {
        msg.insert("tool_calls".into(), parse_json_text(calls));
    }
    if role == "tool"
        && let Some(id) = fields.get("id").or_else(|| fields.get("tool_call_id"))
    {
        msg.insert("tool_call_id".into(), id.clone());
    }
    Value::Object(msg)
}

// ---- OpenInference ----

/// `[{message: {role, content, contents, tool_calls, tool_call_id, name}}]` → OpenAI-style.
pub fn oi_messages(v: &Value) -> Value {
    let Value::Array(items) = v else {
        return v.clone();
    };
    Value::Array(
        items
            .iter()
            .map(|item| {
                let m = item.get("message").unwrap_or(item);
                let mut msg = Map::new();
                msg.insert("role".into(), m.get("role").cloned().unwrap_or(Value::Null));
                let content = match m.get("contents").and_then(Value::as_array) {
                    Some(parts) => Value::Array(parts.iter().map(oi_content_part).collect()),
                    None => m.get("content").cloned().unwrap_or(Value::Null),
                };
                msg.insert("content".into(), content);
                if let Some(calls) = m.get("tool_calls").and_then(Value::as_array) {
                    let calls: Vec<Value> = calls
                        .iter()
                        .map(|c| {
                            let c = c.get("tool_call").unwrap_or(c);
                            json!({
                                "id": c.get("id").cloned().unwrap_or(Value::Null),
                                "type": "function",
                                "function": {
                                    "name": c.pointer("/function/name").cloned().unwrap_or(Value::Null),
                                    "arguments": arguments_text(c.pointer("/function/arguments")),
                                }
                            })
                        })
                        .collect();
                    msg.insert("tool_calls".into(), Value::Array(calls));
                }
                for (from, to) in [("tool_call_id", "tool_call_id"), ("name", "name")] {
                    if let Some(v) = m.get(from) {
                        msg.insert(to.into(), v.clone());
                    }
                }
                if let (Some(name), Some(args)) = (m.get("function_call_name"), m.get("function_call_arguments_json")) {
                    msg.insert("function_call".into(), json!({"name": name, "arguments": args}));
                }
                Value::Object(msg)
            })
            .collect(),
    )
}

fn oi_content_part(part: &Value) -> Value {
    let p = part.get("message_content").unwrap_or(part);
    match p.get("type").and_then(Value::as_str) {
        Some("text") => {
            json!({"type": "text", "text": p.get("text").cloned().unwrap_or(Value::Null)})
        }
        Some("image") => {
            json!({"type": "image_url", "image_url": {"url": p.pointer("/image/image/url").or_else(|| p.pointer("/image/url")).cloned().unwrap_or(Value::Null)}})
        }
        _ => p.clone(),
    }
}

// ---- OpenLLMetry indexed prompts and completions ----

/// `[{role, content, tool_calls: [{id, name, arguments}], finish_reason}]` → OpenAI-style.
pub fn indexed_messages(v: &Value) -> Value {
    let Value::Array(items) = v else {
        return v.clone();
    };
    Value::Array(
        items
            .iter()
            .map(|m| {
                let mut msg = Map::new();
                msg.insert("role".into(), m.get("role").cloned().unwrap_or(Value::Null));
                // Multimodal content arrives as a JSON text of the content list.
                msg.insert(
                    "content".into(),
                    m.get("content").map(parse_json_text).unwrap_or(Value::Null),
                );
                if let Some(calls) = m.get("tool_calls").and_then(Value::as_array) {
                    let calls: Vec<Value> = calls
                        .iter()
                        .map(|c| {
                            json!({
                                "id": c.get("id").cloned().unwrap_or(Value::Null),
                                "type": "function",
                                "function": {
                                    "name": c.get("name").cloned().unwrap_or(Value::Null),
                                    "arguments": arguments_text(c.get("arguments")),
                                }
                            })
                        })
                        .collect();
                    msg.insert("tool_calls".into(), Value::Array(calls));
                }
                for key in ["tool_call_id", "name", "finish_reason"] {
                    if let Some(v) = m.get(key) {
                        msg.insert(key.into(), v.clone());
                    }
                }
                Value::Object(msg)
            })
            .collect(),
    )
}

// ---- Vercel AI SDK ----

fn ai_sdk_input(ctx: &Ctx) -> Option<Value> {
    let a = &ctx.attrs;
    let messages = a.json("ai.prompt.messages");
    let prompt = a.json("ai.prompt");
    if let Some(m) = messages.filter(|m| !is_empty(m)) {
        return Some(m);
    }
    let prompt = prompt?;
    let Value::Object(p) = &prompt else {
        return Some(json!([{"role": "user", "content": prompt}]));
    };
    let mut list = Vec::new();
    if let Some(system) = p.get("system").filter(|s| !is_empty(s)) {
        list.push(json!({"role": "system", "content": system}));
    }
    match p.get("messages") {
        Some(Value::Array(items)) => list.extend(items.iter().cloned()),
        _ => {
            if let Some(text) = p.get("prompt").filter(|s| !is_empty(s)) {
                list.push(json!({"role": "user", "content": text}));
            }
        }
    }
    Some(Value::Array(list))
}

fn ai_sdk_output(ctx: &Ctx) -> Option<Value> {
    let a = &ctx.attrs;
    let text = a
        .str("ai.response.text")
        .or_else(|| a.str("ai.result.text"));
    let calls = a
        .json("ai.response.toolCalls")
        .or_else(|| a.json("ai.result.toolCalls"));
    let object = a
        .json("ai.response.object")
        .or_else(|| a.json("ai.result.object"));
    if text.is_none() && calls.is_none() {
        return object.map(|o| parse_any_json(&o));
    }
    let mut msg = Map::new();
    msg.insert("role".into(), Value::String("assistant".into()));
    msg.insert(
        "content".into(),
        text.map(|t| Value::String(t.to_owned()))
            .unwrap_or(Value::Null),
    );
    if let Some(Value::Array(calls)) = calls {
        let calls: Vec<Value> = calls
            .iter()
            .map(|c| {
                json!({
                    "id": c.get("toolCallId").cloned().unwrap_or(Value::Null),
                    "type": "function",
                    "function": {
                        "name": c.get("toolName").cloned().unwrap_or(Value::Null),
                        "arguments": arguments_text(c.get("input").or_else(|| c.get("args"))),
                    }
                })
            })
            .collect();
        msg.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(reason) = a.str("ai.response.finishReason") {
        msg.insert("finish_reason".into(), Value::String(reason.into()));
    }
    Some(json!([msg]))
}

// ---- generic and long tail ----

/// OpenInference `input.value` / `output.value`, parsed when the mime type says JSON.
fn generic_io(ctx: &Ctx, which: &str) -> Option<Value> {
    let a = &ctx.attrs;
    let value = a.get(&format!("{which}.value"))?;
    let mime = a.str(&format!("{which}.mime_type")).unwrap_or("");
    Some(if mime.contains("json") {
        parse_any_json(value)
    } else {
        value.clone()
    })
}

/// Traceloop wraps function arguments as `{"inputs": ..., "kwargs": ...}` or `{"args": [...]}`.
fn unwrap_traceloop(v: Value) -> Value {
    match v {
        Value::Object(mut m) if m.len() <= 2 && m.contains_key("inputs") => {
            m.remove("inputs").unwrap_or(Value::Null)
        }
        other => other,
    }
}

fn single_blob_input(v: &Value) -> Value {
    match parse_json_text(v) {
        Value::String(s) => json!([{"role": "user", "content": s}]),
        other => other,
    }
}

fn single_blob_output(v: &Value) -> Value {
    match parse_json_text(v) {
        Value::String(s) => json!([{"role": "assistant", "content": s}]),
        other => other,
    }
}

fn long_tail(ctx: &Ctx, keys: &[&str]) -> Option<Value> {
    keys.iter().find_map(|k| ctx.attrs.json(k))
}

fn retrieval_query(ctx: &Ctx) -> Option<Value> {
    ctx.attrs
        .get("gen_ai.retrieval.query.text")
        .or_else(|| ctx.attrs.get("reranker.query"))
        .cloned()
}

/// Retrieved documents as `[{id, content, score, metadata}]`.
fn retrieval_documents(ctx: &Ctx) -> Option<Value> {
    if let Some(Value::Array(docs)) = ctx.attrs.unflatten("retrieval.documents") {
        return Some(Value::Array(
            docs.into_iter()
                .map(|d| {
                    let mut d = d.get("document").cloned().unwrap_or(d);
                    if let Some(m) = d.get_mut("metadata") {
                        *m = parse_json_text(m);
                    }
                    d
                })
                .collect(),
        ));
    }
    ctx.attrs.json("gen_ai.retrieval.documents")
}
