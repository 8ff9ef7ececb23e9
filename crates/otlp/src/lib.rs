//! OpenTelemetry ingest: OTLP trace and log exports → Spanloom rows.
//!
//! ```text
//! OTLP body ──▶ decode (protobuf / JSON) ──▶ raw spans (ids checked, AnyValue → JSON)
//!           ──▶ map (one pure function per span: type, messages, usage, metadata, error)
//!           ──▶ rows (routed to a project or experiment, validated like /logs3 rows)
//! ```
//!
//! Every LLM attribute dialect in the wild is understood: the GenAI semantic conventions
//! (attributes, span events and log events, old and new names), OpenInference, OpenLLMetry /
//! Traceloop, the Vercel AI SDK, Pydantic AI / Logfire, OpenLIT, LangSmith and Braintrust's
//! own `braintrust.*` attributes. The mapping follows `shared/reference/otel-mapping.md` §5.
//!
//! ```
//! use spanloom_otlp::raw::RawSpan;
//! use spanloom_otlp::map::map_span;
//! let raw: RawSpan = serde_json::from_value(serde_json::json!({
//!     "trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331",
//!     "name": "chat gpt-4o", "kind": 3,
//!     "start_time_unix_nano": 1_700_000_000_000_000_000u64, "end_time_unix_nano": 1_700_000_001_000_000_000u64,
//!     "attributes": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
//!                    "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}
//! })).unwrap();
//! let row = map_span(&raw, &[]).unwrap().row;
//! assert_eq!(row["span_attributes"]["type"], "llm");
//! assert_eq!(row["metrics"]["tokens"], 15);
//! assert_eq!(row["metadata"]["model"], "gpt-4o");
//! ```

pub mod attrs;
pub mod decode;
pub mod error;
pub mod logs;
pub mod map;
pub mod raw;
pub mod route;
pub mod rows;
pub mod spans;
pub mod value;

pub use error::OtlpError;
