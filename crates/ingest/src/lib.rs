//! Ingest: turns write requests into validated store write operations.
//!
//! ```text
//! HTTP body ──▶ [ingest] decode + validate + route ──▶ Vec<WriteRow> ──▶ store (merge, commit)
//! ```
//!
//! Everything a request can get wrong is caught here, before anything is written, and reported
//! with the row index and the field that is wrong: a request is applied whole or not at all, so a
//! rejected request never half-writes and a good row is never dropped silently.
//!
//! ```
//! use spanloom_ingest::logs3::decode_logs3;
//! let body = br#"{"rows":[{"id":"r1","project_id":"p1","log_id":"g","input":"hi"}],"api_version":2}"#;
//! let rows = decode_logs3(body).unwrap();
//! assert_eq!(rows[0].id, "r1");
//! ```

pub mod error;
pub mod logs3;
pub mod payload;
pub mod row;

pub use error::DecodeError;
pub use payload::RawPayload;
pub use row::{WriteOp, WriteRow};
