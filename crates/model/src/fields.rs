//! Names of row fields with special meaning. Attribute keys live here once, never as repeated
//! literals.

/// The row id.
pub const ID: &str = "id";
/// This span's id.
pub const SPAN_ID: &str = "span_id";
/// The trace id (the root span's id space; equals an OTel trace id).
pub const ROOT_SPAN_ID: &str = "root_span_id";
/// Parent span ids; `null` or empty for roots.
pub const SPAN_PARENTS: &str = "span_parents";
/// Creation timestamp (ISO-8601).
pub const CREATED: &str = "created";
/// Top-level tags (merged as a set union).
pub const TAGS: &str = "tags";
/// Transaction id, assigned by the server.
pub const XACT_ID: &str = "_xact_id";
/// Marks a merge write.
pub const IS_MERGE: &str = "_is_merge";
/// Marks a delete write.
pub const OBJECT_DELETE: &str = "_object_delete";
/// Paths below which a merge must not descend.
pub const MERGE_PATHS: &str = "_merge_paths";
/// Values to remove from arrays after a merge.
pub const ARRAY_DELETE: &str = "_array_delete";
/// Deprecated parent pointer (ignored).
pub const PARENT_ID: &str = "_parent_id";
/// Audit source of a write (kept in the event log, not in the row).
pub const AUDIT_SOURCE: &str = "_audit_source";
/// Audit metadata of a write (kept in the event log, not in the row).
pub const AUDIT_METADATA: &str = "_audit_metadata";
/// A comment attached to another row.
pub const COMMENT: &str = "comment";
/// Where a row came from; for comments, `origin.id` is the target row.
pub const ORIGIN: &str = "origin";
/// Project id (routing for project logs).
pub const PROJECT_ID: &str = "project_id";
/// Log stream id (`"g"` for project logs).
pub const LOG_ID: &str = "log_id";
/// Experiment id (routing).
pub const EXPERIMENT_ID: &str = "experiment_id";
/// Dataset id (routing).
pub const DATASET_ID: &str = "dataset_id";
/// Playground session id (routing; not supported yet).
pub const PROMPT_SESSION_ID: &str = "prompt_session_id";
/// Org id (never sent by SDKs; derived from the key).
pub const ORG_ID: &str = "org_id";

/// Fields that a merge never changes: a span keeps its identity and creation time.
pub const IDENTITY_FIELDS: [&str; 5] = [SPAN_ID, ROOT_SPAN_ID, SPAN_PARENTS, CREATED, PARENT_ID];

/// Fields that route a row to its object; stripped from stored data, re-added on read.
pub const ROUTING_FIELDS: [&str; 6] = [
    PROJECT_ID,
    LOG_ID,
    EXPERIMENT_ID,
    DATASET_ID,
    PROMPT_SESSION_ID,
    ORG_ID,
];

/// Write-control fields: instructions about the write, never row content.
pub const CONTROL_FIELDS: [&str; 7] = [
    IS_MERGE,
    OBJECT_DELETE,
    MERGE_PATHS,
    ARRAY_DELETE,
    AUDIT_SOURCE,
    AUDIT_METADATA,
    XACT_ID,
];

/// The payload fields: large, written once, rarely merged. Storage backends may keep them apart
/// from the rest of the row so that merges touching only small fields never rewrite them.
/// `otel` is the raw OpenTelemetry source of a span ingested over OTLP.
pub const PAYLOAD_FIELDS: [&str; 4] = ["input", "output", "expected", OTEL];

/// The raw OpenTelemetry source of a row (`{"span": ..., "log_events": {...}}`).
pub const OTEL: &str = "otel";

/// `metrics` sub-fields.
pub mod metrics {
    /// Start time, unix seconds.
    pub const START: &str = "start";
    /// End time, unix seconds.
    pub const END: &str = "end";
    /// Prompt tokens.
    pub const PROMPT_TOKENS: &str = "prompt_tokens";
    /// Completion tokens.
    pub const COMPLETION_TOKENS: &str = "completion_tokens";
    /// Total tokens.
    pub const TOKENS: &str = "tokens";
    /// Estimated cost in USD.
    pub const ESTIMATED_COST: &str = "estimated_cost";
}
