//! The row model of Spanloom, shared by every stage of the data flow.
//!
//! ```text
//! ingest ──▶ normalize ──▶ store ──▶ api
//!   ▲ all of them speak in the types defined here
//! ```
//!
//! A *row* is keyed by an object ([`ObjectRef`]: project logs, an experiment or a dataset) and
//! a row `id`. Writes replace, deep-merge ([`merge`]) or delete a row; every write request is
//! stamped with one [`XactId`]. This crate does no I/O, so its rules can be tested exhaustively
//! and reused by every storage backend.
//!
//! ```
//! use serde_json::json;
//! use spanloom_model::merge::merge_row;
//!
//! let mut row = json!({"span_id": "a", "metrics": {"start": 1.0}, "tags": ["x"]});
//! let patch = json!({"span_id": "ignored", "metrics": {"end": 2.0}, "tags": ["y"]});
//! merge_row(row.as_object_mut().unwrap(), patch.as_object().unwrap().clone(), &[]);
//! assert_eq!(row, json!({"span_id": "a", "metrics": {"start": 1.0, "end": 2.0}, "tags": ["x", "y"]}));
//! ```

pub mod entities;
pub mod fields;
pub mod ids;
pub mod merge;
pub mod object;
pub mod timefmt;
pub mod xact;

pub use entities::{ApiKeyInfo, AuthContext, Dataset, Experiment, Org, Project};
pub use object::{ObjectKind, ObjectRef};
pub use xact::XactId;
