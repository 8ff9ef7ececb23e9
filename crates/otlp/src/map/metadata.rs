//! Metadata and tags (reference §5.5): model, provider, request parameters, finish reasons,
//! session and user ids, tool and agent info, user metadata of every dialect, then the
//! attributes no rule consumed.

use super::Ctx;
use crate::attrs::unflatten_entries;
use crate::value::{is_empty, parse_json_text};
use serde_json::{Map, Value};

/// `gen_ai.system` values that were renamed when `gen_ai.provider.name` replaced it.
fn renamed_provider(p: &str) -> String {
    match p {
        "vertex_ai" => "gcp.vertex_ai".into(),
        "gemini" => "gcp.gemini".into(),
        "xai" => "x_ai".into(),
        _ => match p.strip_prefix("az.ai.") {
            Some(rest) => format!("azure.ai.{rest}"),
            None => p.to_owned(),
        },
    }
}

/// The provider of an LLM span, normalized (`openai`, `anthropic`, `gcp.vertex_ai`, ...).
pub fn provider(ctx: &Ctx) -> Option<String> {
    let a = &ctx.attrs;
    if let Some(p) = a.str("gen_ai.provider.name") {
        return Some(p.to_ascii_lowercase());
    }
    if let Some(p) = a.str("gen_ai.system").or_else(|| a.str("llm.system")) {
        return Some(renamed_provider(strip_api_suffix(&p.to_ascii_lowercase())));
    }
    if let Some(p) = a.str("llm.provider") {
        return Some(p.to_ascii_lowercase());
    }
    a.str("ai.model.provider")
        .map(|p| strip_api_suffix(&p.to_ascii_lowercase()).to_owned())
}

/// The AI SDK names providers by API (`openai.chat`, `openai.responses`, `anthropic.messages`).
fn strip_api_suffix(p: &str) -> &str {
    for suffix in [
        ".chat",
        ".responses",
        ".completion",
        ".completions",
        ".embedding",
        ".messages",
        ".image",
    ] {
        if let Some(base) = p.strip_suffix(suffix) {
            return base;
        }
    }
    p
}

/// Builds `metadata` and `tags`.
pub fn extract(ctx: &Ctx, provider: Option<String>) -> (Map<String, Value>, Vec<String>) {
    let a = &ctx.attrs;
    let mut m = Map::new();
    let put = |m: &mut Map<String, Value>, key: &str, v: Option<Value>| {
        if let Some(v) = v.filter(|v| !is_empty(v)) {
            m.entry(key.to_owned()).or_insert(v);
        }
    };
    let s = |v: Option<&str>| v.map(|s| Value::String(s.to_owned()));

    let request_model = a.first_str(&[
        "gen_ai.request.model",
        "llm.request.model_name",
        "ai.model.id",
    ]);
    let response_model = a.first_str(&[
        "gen_ai.response.model",
        "llm.response.model_name",
        "ai.response.model",
    ]);
    let model = response_model
        .or_else(|| a.str("llm.model_name"))
        .or(request_model)
        .or_else(|| a.str("embedding.model_name"));
    put(&mut m, "model", s(model));
    put(&mut m, "request_model", s(request_model));
    put(&mut m, "provider", provider.map(Value::String));

    // Request parameters: gen_ai.request.* > llm.invocation_parameters > ai.settings.*.
    let invocation = a.json("llm.invocation_parameters");
    for (ours, genai, invocation_key, ai) in [
        (
            "temperature",
            "gen_ai.request.temperature",
            "temperature",
            "ai.settings.temperature",
        ),
        ("top_p", "gen_ai.request.top_p", "top_p", "ai.settings.topP"),
        ("top_k", "gen_ai.request.top_k", "top_k", "ai.settings.topK"),
        (
            "max_tokens",
            "gen_ai.request.max_tokens",
            "max_tokens",
            "ai.settings.maxOutputTokens",
        ),
        (
            "frequency_penalty",
            "gen_ai.request.frequency_penalty",
            "frequency_penalty",
            "ai.settings.frequencyPenalty",
        ),
        (
            "presence_penalty",
            "gen_ai.request.presence_penalty",
            "presence_penalty",
            "ai.settings.presencePenalty",
        ),
        (
            "stop",
            "gen_ai.request.stop_sequences",
            "stop",
            "ai.settings.stopSequences",
        ),
        ("seed", "gen_ai.request.seed", "seed", "ai.settings.seed"),
        (
            "stream",
            "gen_ai.request.stream",
            "stream",
            "ai.settings.stream",
        ),
        ("n", "gen_ai.request.choice.count", "n", "ai.settings.n"),
    ] {
        let v = a
            .get(genai)
            .cloned()
            .or_else(|| {
                invocation
                    .as_ref()
                    .and_then(|i| i.get(invocation_key))
                    .cloned()
            })
            .or_else(|| a.get(ai).cloned());
        put(&mut m, ours, v);
    }
    a.consume("gen_ai.openai.request.seed");
    if let Some(Value::Object(inv)) = &invocation {
        put(
            &mut m,
            "invocation_parameters",
            Some(Value::Object(inv.clone())),
        );
    }

    let finish = a
        .get("gen_ai.response.finish_reasons")
        .cloned()
        .or_else(|| {
            a.get("llm.finish_reason")
                .map(|v| Value::Array(vec![v.clone()]))
        })
        .or_else(|| {
            a.get("ai.response.finishReason")
                .map(|v| Value::Array(vec![v.clone()]))
        });
    put(&mut m, "finish_reasons", finish);
    put(&mut m, "response_id", a.get("gen_ai.response.id").cloned());
    let session = a.first_str(&[
        "gen_ai.conversation.id",
        "session.id",
        "langsmith.trace.session_id",
        "ai.telemetry.metadata.sessionId",
        "langfuse.session.id",
    ]);
    put(&mut m, "session_id", s(session));
    put(
        &mut m,
        "user_id",
        s(a.first_str(&[
            "user.id",
            "enduser.id",
            "langfuse.user.id",
            "ai.telemetry.metadata.userId",
        ])),
    );
    put(&mut m, "output_type", a.get("gen_ai.output.type").cloned());
    put(
        &mut m,
        "function_id",
        a.get("ai.telemetry.functionId").cloned(),
    );

    let mut tool = Map::new();
    for (ours, keys) in [
        (
            "name",
            &["gen_ai.tool.name", "tool.name", "ai.toolCall.name"][..],
        ),
        (
            "call_id",
            &["gen_ai.tool.call.id", "tool.id", "ai.toolCall.id"][..],
        ),
        ("type", &["gen_ai.tool.type"][..]),
        (
            "description",
            &["gen_ai.tool.description", "tool.description"][..],
        ),
        ("parameters", &["tool.parameters"][..]),
    ] {
        if let Some(v) = keys.iter().find_map(|k| a.json(k)) {
            tool.insert(ours.into(), v);
        }
    }
    put(&mut m, "tool", Some(Value::Object(tool)));
    let mut agent = Map::new();
    for (ours, keys) in [
        ("name", &["gen_ai.agent.name", "agent.name"][..]),
        ("id", &["gen_ai.agent.id"][..]),
        ("description", &["gen_ai.agent.description"][..]),
        ("version", &["gen_ai.agent.version"][..]),
    ] {
        if let Some(v) = keys.iter().find_map(|k| a.get(k)) {
            agent.insert(ours.into(), v.clone());
        }
    }
    put(&mut m, "agent", Some(Value::Object(agent)));
    put(
        &mut m,
        "workflow",
        a.get("gen_ai.workflow.name")
            .or_else(|| a.get("traceloop.workflow.name"))
            .cloned(),
    );

    // Tools offered to the model.
    let tools = a
        .json("gen_ai.tool.definitions")
        .or_else(|| {
            a.unflatten("llm.tools").map(|v| match v {
                Value::Array(items) => Value::Array(
                    items
                        .into_iter()
                        .map(|t| {
                            t.pointer("/tool/json_schema")
                                .map(parse_json_text)
                                .unwrap_or(t)
                        })
                        .collect(),
                ),
                other => other,
            })
        })
        .or_else(|| a.unflatten("llm.request.functions"))
        .or_else(|| a.json("ai.prompt.tools"));
    put(&mut m, "tools", tools);

    // User metadata of every dialect, first writer wins.
    let mut user = Map::new();
    let mut absorb = |v: Option<Value>| {
        if let Some(Value::Object(obj)) = v {
            for (k, v) in obj {
                user.entry(k).or_insert(v);
            }
        }
    };
    absorb(a.json("braintrust.metadata"));
    absorb(a.unflatten("braintrust.metadata"));
    absorb(a.json("metadata"));
    absorb(a.unflatten("langsmith.metadata"));
    absorb(a.unflatten("ai.telemetry.metadata"));
    absorb(a.unflatten("traceloop.association.properties"));
    absorb(a.unflatten("langfuse.observation.metadata"));
    absorb(a.unflatten("langfuse.trace.metadata"));
    for (k, v) in user {
        m.entry(k).or_insert(v);
    }

    let mut tags = Vec::new();
    for key in [
        "braintrust.tags",
        "tag.tags",
        "langsmith.span.tags",
        "logfire.tags",
        "langfuse.trace.tags",
    ] {
        match a.json(key) {
            Some(Value::Array(items)) => {
                tags.extend(items.iter().filter_map(|t| t.as_str().map(str::to_owned)))
            }
            Some(Value::String(t)) => tags.extend(
                t.split(',')
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty()),
            ),
            _ => {}
        }
    }
    tags.sort();
    tags.dedup();

    // Keys that only drive the mapping.
    for key in [
        "openinference.span.kind",
        "gen_ai.operation.name",
        "langsmith.span.kind",
        "traceloop.span.kind",
        "llm.request.type",
        "ai.operationId",
        "operation.name",
        "input.mime_type",
        "output.mime_type",
        "braintrust.parent",
        "braintrust.span_attributes",
        "braintrust.otel.preserve_attributes",
        "traceloop.entity.name",
        "logfire.msg",
        "logfire.span_type",
        "logfire.msg_template",
        "logfire.json_schema",
    ] {
        a.consume(key);
    }
    a.consume_prefix("braintrust.span_attributes");

    if !ctx.raw.resource.is_empty() {
        let resource = unflatten_entries(ctx.raw.resource.iter().map(|(k, v)| (k.as_str(), v)));
        m.insert("resource".into(), resource);
    }
    if !ctx.raw.scope.name.is_empty() {
        let mut scope = Map::new();
        scope.insert("name".into(), Value::String(ctx.raw.scope.name.clone()));
        if !ctx.raw.scope.version.is_empty() {
            scope.insert(
                "version".into(),
                Value::String(ctx.raw.scope.version.clone()),
            );
        }
        m.insert("scope".into(), Value::Object(scope));
    }
    if let Some(kind) = span_kind_name(ctx.raw.kind) {
        m.insert("span_kind".into(), Value::String(kind.into()));
    }
    (m, tags)
}

/// Adds the attributes no rule consumed, nested by their dotted keys; existing keys win.
pub fn add_leftovers(ctx: &Ctx, m: &mut Map<String, Value>) {
    let left = ctx.attrs.leftovers();
    if left.is_empty() {
        return;
    }
    if let Value::Object(nested) = unflatten_entries(left.iter().map(|(k, v)| (k.as_str(), *v))) {
        for (k, v) in nested {
            m.entry(k).or_insert(v);
        }
    }
}

fn span_kind_name(kind: i32) -> Option<&'static str> {
    Some(match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => return None,
    })
}
