//! `span_attributes.type`: the first matching rule wins (reference §5.2).

use super::Ctx;

/// Span types of the protocol.
pub const LLM: &str = "llm";
/// A tool call.
pub const TOOL: &str = "tool";
/// An agent, chain or workflow step.
pub const TASK: &str = "task";
/// Retrieval, memory, prompts and other plain functions.
pub const FUNCTION: &str = "function";
/// An evaluator.
pub const SCORE: &str = "score";

/// Model attributes that, with usage or messages, make a span an LLM call.
pub const MODEL_KEYS: [&str; 5] = [
    "gen_ai.request.model",
    "gen_ai.response.model",
    "llm.model_name",
    "ai.model.id",
    "embedding.model_name",
];

/// Decides the span type; `None` lets the UI render a generic span.
pub fn span_type(ctx: &Ctx) -> Option<String> {
    let a = &ctx.attrs;
    if let Some(t) = a.str("braintrust.span_attributes.type").or_else(|| {
        ctx.braintrust_span_attributes
            .get("type")
            .and_then(|v| v.as_str())
    }) {
        return Some(t.to_owned());
    }
    let is_transport = a.has("rpc.system") || a.has("http.request.method") || a.has("http.method");
    let found = from_openinference(a.str("openinference.span.kind"))
        .or_else(|| from_operation(a.str("gen_ai.operation.name")))
        .or_else(|| from_langsmith(a.str("langsmith.span.kind")))
        .or_else(|| from_traceloop(a.str("traceloop.span.kind"), a.str("llm.request.type")))
        .or_else(|| from_ai_sdk(&ctx.name, a.str("ai.operationId")))
        .or_else(|| (a.has("gen_ai.tool.name") || a.has("gen_ai.tool.call.id")).then_some(TOOL))
        .or_else(|| {
            let has_model = MODEL_KEYS.iter().any(|k| a.has(k));
            let has_llm_data = a.has_prefix("gen_ai.usage.")
                || a.has_prefix("llm.token_count.")
                || a.has_prefix("ai.usage.")
                || a.has("gen_ai.input.messages")
                || a.has("gen_ai.output.messages")
                || a.has_prefix("llm.input_messages.")
                || a.has_prefix("gen_ai.prompt.");
            (has_model && has_llm_data).then_some(LLM)
        });
    // An HTTP/RPC client span that carries gen_ai.* (botocore's Bedrock spans) is transport
    // around the real call, not another LLM call: counting it would double the tokens.
    match found {
        Some(LLM) if is_transport && !a.has("openinference.span.kind") => Some(FUNCTION.into()),
        other => other.map(str::to_owned),
    }
}

fn from_openinference(kind: Option<&str>) -> Option<&'static str> {
    Some(match kind?.to_ascii_uppercase().as_str() {
        "LLM" | "EMBEDDING" => LLM,
        "TOOL" => TOOL,
        "AGENT" | "CHAIN" => TASK,
        "RETRIEVER" | "RERANKER" | "PROMPT" | "GUARDRAIL" => FUNCTION,
        "EVALUATOR" => SCORE,
        _ => return None,
    })
}

fn from_operation(op: Option<&str>) -> Option<&'static str> {
    let op = op?;
    Some(match op {
        "chat" | "text_completion" | "completion" | "generate_content" | "generate"
        | "embeddings" => LLM,
        "execute_tool" => TOOL,
        "invoke_agent"
        | "create_agent"
        | "invoke_workflow"
        | "handle_conversation_turn"
        | "plan" => TASK,
        "retrieval" => FUNCTION,
        _ if op.contains("memory") => FUNCTION,
        _ => return None,
    })
}

fn from_langsmith(kind: Option<&str>) -> Option<&'static str> {
    Some(match kind? {
        "llm" | "embedding" => LLM,
        "tool" => TOOL,
        "chain" => TASK,
        "retriever" | "prompt" | "parser" => FUNCTION,
        _ => return None,
    })
}

fn from_traceloop(kind: Option<&str>, request_type: Option<&str>) -> Option<&'static str> {
    match kind {
        Some("workflow" | "agent" | "task") => return Some(TASK),
        Some("tool") => return Some(TOOL),
        _ => {}
    }
    matches!(
        request_type?,
        "chat" | "completion" | "embedding" | "rerank"
    )
    .then_some(LLM)
}

fn from_ai_sdk(name: &str, operation_id: Option<&str>) -> Option<&'static str> {
    let op = operation_id.unwrap_or(name);
    if !op.starts_with("ai.") {
        return None;
    }
    if op.ends_with(".doGenerate") || op.ends_with(".doStream") || op.ends_with(".doEmbed") {
        Some(LLM)
    } else if op.starts_with("ai.toolCall") {
        Some(TOOL)
    } else {
        Some(TASK)
    }
}
