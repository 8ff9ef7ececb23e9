//! Snapshot tests of the normalizer, one per emitter, over spans captured from the real
//! instrumentation libraries (`tests/e2e/capture_otel_fixtures.py` writes `fixtures/`).
//! A mapping change shows up as a snapshot diff: review it with `cargo insta review`.

use serde_json::{Value, json};
use spanloom_otlp::map::map_span;
use spanloom_otlp::raw::{RawLogEvent, RawSpan};
use std::path::Path;

#[derive(serde::Deserialize)]
struct Captured {
    span: RawSpan,
    #[serde(default)]
    log_events: Vec<RawLogEvent>,
}

/// Maps every span of a fixture; the snapshot holds what Spanloom derives, not the raw input.
fn mapped(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spans: Vec<Captured> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    Value::Array(
        spans
            .iter()
            .map(|c| match map_span(&c.span, &c.log_events) {
                Ok(m) => json!({"row": m.row, "parent": m.parent, "project_name": m.project_name}),
                Err(skip) => json!({"skipped": format!("{skip:?}")}),
            })
            .collect(),
    )
}

macro_rules! emitter_snapshot {
    ($test:ident, $fixture:literal) => {
        #[test]
        fn $test() {
            insta::assert_json_snapshot!($fixture, mapped($fixture));
        }
    };
}

emitter_snapshot!(openinference, "openinference");
emitter_snapshot!(openllmetry, "openllmetry");
emitter_snapshot!(openai_v2, "openai-v2");
emitter_snapshot!(openai_v2_events, "openai-v2-events");
emitter_snapshot!(braintrust_span_processor, "braintrust");
emitter_snapshot!(vercel_ai_sdk, "ai-sdk");
