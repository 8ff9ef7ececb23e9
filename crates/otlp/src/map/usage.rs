//! Metrics: times, token counts and emitter-supplied cost (reference §5.4). The first present
//! key wins per metric; values are coerced from ints, doubles or numeric strings.

use super::Ctx;
use crate::value::number;
use serde_json::{Map, Value, json};

/// Metric sources in precedence order.
const PROMPT: [&str; 7] = [
    "braintrust.metrics.prompt_tokens",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "ai.usage.inputTokens",
    "ai.usage.promptTokens",
    "llm.usage.prompt_tokens",
];
const COMPLETION: [&str; 6] = [
    "braintrust.metrics.completion_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "ai.usage.outputTokens",
    "ai.usage.completionTokens",
];
const TOTAL: [&str; 6] = [
    "braintrust.metrics.tokens",
    "llm.token_count.total",
    "gen_ai.usage.total_tokens",
    "llm.usage.total_tokens",
    "ai.usage.totalTokens",
    "ai.usage.tokens",
];
const CACHE_READ: [&str; 6] = [
    "braintrust.metrics.prompt_cached_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
    "ai.usage.inputTokenDetails.cacheReadTokens",
    "ai.usage.cachedInputTokens",
];
const CACHE_WRITE: [&str; 6] = [
    "braintrust.metrics.prompt_cache_creation_tokens",
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
    "ai.usage.inputTokenDetails.cacheWriteTokens",
];
const REASONING: [&str; 5] = [
    "braintrust.metrics.completion_reasoning_tokens",
    "gen_ai.usage.reasoning.output_tokens",
    "llm.token_count.completion_details.reasoning",
    "ai.usage.outputTokenDetails.reasoningTokens",
    "ai.usage.reasoningTokens",
];
const PROMPT_AUDIO: [&str; 2] = [
    "gen_ai.usage.audio.input_tokens",
    "llm.token_count.prompt_details.audio",
];
const COMPLETION_AUDIO: [&str; 2] = [
    "gen_ai.usage.audio.output_tokens",
    "llm.token_count.completion_details.audio",
];
/// Emitter-supplied costs (USD).
pub const COST_KEYS: [&str; 3] = [
    "braintrust.metrics.estimated_cost",
    "llm.cost.total",
    "gen_ai.usage.cost",
];

/// Metrics of a span, plus facts about how they were derived (for metadata).
#[derive(Debug, Default)]
pub struct Usage {
    /// `metrics`.
    pub metrics: Map<String, Value>,
    /// Set when cached tokens were added to an input count that excluded them.
    pub normalized: bool,
    /// Which attribute supplied the cost, when the emitter gave one.
    pub cost_attribute: Option<&'static str>,
    /// Usage that a wrapper span repeats from its children (kept out of `metrics`).
    pub aggregated: Map<String, Value>,
}

/// Derives metrics. `is_llm` decides whether token counts are the span's own: only LLM spans
/// contribute tokens to trace totals, so wrapper spans keep theirs as aggregated usage.
pub fn extract(ctx: &Ctx, is_llm: bool, provider: Option<&str>) -> Usage {
    let a = &ctx.attrs;
    let mut u = Usage::default();
    let raw = ctx.raw;
    if raw.start_time_unix_nano > 0 {
        u.metrics
            .insert("start".into(), json!(raw.start_time_unix_nano as f64 / 1e9));
    }
    if raw.end_time_unix_nano > 0 {
        u.metrics
            .insert("end".into(), json!(raw.end_time_unix_nano as f64 / 1e9));
    }

    let mut prompt = a.first_num(&PROMPT);
    let completion = a.first_num(&COMPLETION);
    let total = a.first_num(&TOTAL);
    let cache_read = a.first_num(&CACHE_READ);
    let cache_write = a.first_num(&CACHE_WRITE);
    let reasoning = a.first_num(&REASONING);
    // Anthropic reports input tokens without cache reads and writes; AI SDK <= 5 did the same
    // with `promptTokens`. Normalize to the OTel convention: input includes cached tokens.
    let excludes_cache = (provider == Some("anthropic")
        && cache_read.is_some_and(|c| prompt.is_some_and(|p| p < c)))
        || (a.has("ai.usage.promptTokens")
            && a.has("ai.usage.cachedInputTokens")
            && !a.has("gen_ai.usage.input_tokens"));
    if excludes_cache && let Some(p) = prompt.as_mut() {
        *p += cache_read.unwrap_or(0.0) + cache_write.unwrap_or(0.0);
        u.normalized = true;
    }
    // Embedding calls report input tokens only; their total is the input count.
    let tokens = total.or(match (prompt, completion) {
        (None, None) => None,
        (p, c) => Some(p.unwrap_or(0.0) + c.unwrap_or(0.0)),
    });
    let counts = [
        ("prompt_tokens", prompt),
        ("completion_tokens", completion),
        ("tokens", tokens),
        ("prompt_cached_tokens", cache_read),
        ("prompt_cache_creation_tokens", cache_write),
        ("completion_reasoning_tokens", reasoning),
        ("prompt_audio_tokens", a.first_num(&PROMPT_AUDIO)),
        ("completion_audio_tokens", a.first_num(&COMPLETION_AUDIO)),
    ];
    let target = if is_llm {
        &mut u.metrics
    } else {
        &mut u.aggregated
    };
    for (name, value) in counts {
        if let Some(v) = value {
            target.insert(name.into(), number(v));
        }
    }
    // Pydantic AI's agent spans repeat their children's usage.
    if let Some(Value::Object(agg)) = a.unflatten("gen_ai.aggregated_usage") {
        for (k, v) in agg {
            u.aggregated.entry(k).or_insert(v);
        }
    }

    let ttft = a
        .first_num(&[
            "braintrust.metrics.time_to_first_token",
            "gen_ai.response.time_to_first_chunk",
            "gen_ai.server.ttft",
        ])
        .or_else(|| {
            a.first_num(&["ai.response.msToFirstChunk", "ai.stream.msToFirstChunk"])
                .map(|ms| ms / 1000.0)
        });
    if let Some(t) = ttft {
        u.metrics.insert("time_to_first_token".into(), json!(t));
    }
    for key in COST_KEYS {
        if let Some(cost) = a.num(key) {
            u.metrics.insert("estimated_cost".into(), json!(cost));
            u.cost_attribute = Some(key);
            break;
        }
    }
    // Other `braintrust.metrics.*` pass through verbatim; a JSON `braintrust.metrics` too.
    let mut extra = Map::new();
    if let Some(Value::Object(m)) = a.json("braintrust.metrics") {
        extra.extend(m);
    }
    if let Some(Value::Object(m)) = a.unflatten("braintrust.metrics") {
        extra.extend(m);
    }
    for (k, v) in extra {
        if let Some(n) = crate::value::as_number(&v) {
            u.metrics.entry(k).or_insert(number(n));
        }
    }
    // The rest of the usage families are consumed: they are represented above.
    for prefix in [
        "gen_ai.usage",
        "llm.token_count",
        "ai.usage",
        "llm.usage",
        "llm.cost",
    ] {
        a.consume_prefix(prefix);
    }
    u
}
