//! The load: agent traces in OpenInference attributes (Phoenix's native dialect, which both
//! servers map), as in `shared/reference/measurements.md`: per trace an agent span, a chain
//! span, two LLM spans (~8 KB of chat messages in, ~2 KB out) and a tool span. Texts are
//! random words, so compression gets no easy wins.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Spans per trace.
pub const SPANS_PER_TRACE: usize = 5;

const WORDS: [&str; 48] = [
    "agent",
    "weather",
    "forecast",
    "invoice",
    "refund",
    "order",
    "shipping",
    "account",
    "please",
    "thanks",
    "summary",
    "policy",
    "customer",
    "support",
    "ticket",
    "status",
    "delivery",
    "today",
    "tomorrow",
    "search",
    "result",
    "document",
    "answer",
    "question",
    "because",
    "however",
    "model",
    "token",
    "latency",
    "error",
    "retry",
    "payment",
    "address",
    "update",
    "cancel",
    "subscription",
    "premium",
    "basic",
    "upgrade",
    "discount",
    "coupon",
    "warehouse",
    "tracking",
    "carrier",
    "parcel",
    "express",
    "standard",
    "window",
];

fn text(rng: &mut SmallRng, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 16);
    while s.len() < bytes {
        s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
        s.push(' ');
        if rng.random_range(0..12) == 0 {
            s.push_str(&rng.random_range(0..100_000u32).to_string());
            s.push(' ');
        }
    }
    s
}

fn kv(key: &str, value: impl Into<Val>) -> KeyValue {
    let value = match value.into() {
        Val::S(s) => any_value::Value::StringValue(s),
        Val::I(i) => any_value::Value::IntValue(i),
    };
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// An attribute value.
pub enum Val {
    /// String.
    S(String),
    /// Int.
    I(i64),
}
impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::S(s.to_owned())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::S(s)
    }
}
impl From<i64> for Val {
    fn from(i: i64) -> Self {
        Val::I(i)
    }
}

fn span(
    trace_id: &[u8; 16],
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    name: &str,
    start: u64,
    dur_ms: u64,
    attributes: Vec<KeyValue>,
) -> Span {
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        parent_span_id: parent.map(|p| p.to_vec()).unwrap_or_default(),
        name: name.into(),
        kind: 1,
        start_time_unix_nano: start,
        end_time_unix_nano: start + dur_ms * 1_000_000,
        attributes,
        ..Default::default()
    }
}

fn llm_span(
    rng: &mut SmallRng,
    trace_id: &[u8; 16],
    id: [u8; 8],
    parent: [u8; 8],
    start: u64,
) -> Span {
    let mut attrs = vec![
        kv("openinference.span.kind", "LLM"),
        kv("llm.model_name", "gpt-4o-mini"),
        kv("llm.provider", "openai"),
        kv(
            "llm.invocation_parameters",
            "{\"temperature\": 0.2, \"max_tokens\": 512}",
        ),
    ];
    let roles = ["system", "user", "assistant", "user"];
    for (i, role) in roles.iter().enumerate() {
        attrs.push(kv(&format!("llm.input_messages.{i}.message.role"), *role));
        attrs.push(kv(
            &format!("llm.input_messages.{i}.message.content"),
            text(rng, 2_000),
        ));
    }
    attrs.push(kv("llm.output_messages.0.message.role", "assistant"));
    attrs.push(kv(
        "llm.output_messages.0.message.content",
        text(rng, 2_000),
    ));
    attrs.push(kv("llm.token_count.prompt", 2_000i64));
    attrs.push(kv("llm.token_count.completion", 500i64));
    attrs.push(kv("llm.token_count.total", 2_500i64));
    span(
        trace_id,
        id,
        Some(parent),
        "ChatCompletion",
        start,
        800,
        attrs,
    )
}

/// Builds `requests` export bodies of `batch` spans each (whole traces), protobuf-encoded.
pub fn bodies(spans: usize, batch: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let traces_per_request = (batch / SPANS_PER_TRACE).max(1);
    let traces = spans.div_ceil(SPANS_PER_TRACE);
    let base = 1_760_000_000_000_000_000u64;
    let mut out = Vec::new();
    let mut made = 0;
    while made < traces {
        let mut list = Vec::new();
        for _ in 0..traces_per_request.min(traces - made) {
            let trace_id: [u8; 16] = rng.random();
            let ids: Vec<[u8; 8]> = (0..SPANS_PER_TRACE).map(|_| rng.random()).collect();
            let start = base + made as u64 * 1_000_000_000;
            list.push(span(
                &trace_id,
                ids[0],
                None,
                "support-agent",
                start,
                3_000,
                vec![
                    kv("openinference.span.kind", "AGENT"),
                    kv("input.value", text(&mut rng, 200)),
                    kv("output.value", text(&mut rng, 200)),
                    kv("session.id", format!("sess-{}", made % 500)),
                ],
            ));
            list.push(span(
                &trace_id,
                ids[1],
                Some(ids[0]),
                "plan",
                start + 1_000_000,
                2_500,
                vec![
                    kv("openinference.span.kind", "CHAIN"),
                    kv("input.value", text(&mut rng, 300)),
                ],
            ));
            list.push(llm_span(
                &mut rng,
                &trace_id,
                ids[2],
                ids[1],
                start + 2_000_000,
            ));
            list.push(span(
                &trace_id,
                ids[3],
                Some(ids[1]),
                "get_order_status",
                start + 900_000_000,
                50,
                vec![
                    kv("openinference.span.kind", "TOOL"),
                    kv("tool.name", "get_order_status"),
                    kv("input.value", "{\"order_id\": 42}"),
                    kv("output.value", text(&mut rng, 300)),
                ],
            ));
            list.push(llm_span(
                &mut rng,
                &trace_id,
                ids[4],
                ids[1],
                start + 1_000_000_000,
            ));
            made += 1;
        }
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", "bench-agent")],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "openinference.instrumentation.openai".into(),
                        ..Default::default()
                    }),
                    spans: list,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        out.push(request.encode_to_vec());
    }
    out
}
