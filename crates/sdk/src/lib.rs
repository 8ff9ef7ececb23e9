//! The SDK core shared by Spanloom's SDKs (the Python package binds it; a Rust SDK uses it
//! directly): what every SDK needs besides its language's tracing API.
//!
//! ```text
//! app ──log(row)──▶ [BackgroundLogger] bounded queue ──▶ merge rows of one span
//!                     ──▶ batches under the size limit ──▶ POST /logs3 (retries, backoff)
//! ```
//!
//! * [`slug`]: span export slugs (V4, and V3 for legacy UUID ids), byte-compatible with the
//!   official SDKs, so spans resume across processes and SDKs.
//! * [`logger`]: the background logger: a bounded queue (drop the oldest or block), rows of
//!   one span merged before sending (the protocol's client-side rule), batches under the
//!   server's payload limit, retries with exponential backoff and jitter, no retry on 413,
//!   payload dump directories, and a synchronous `flush`.
//!
//! ```
//! use spanloom_sdk::slug::{ObjectType, SpanComponents};
//! let slug = SpanComponents::object(ObjectType::ProjectLogs, "50f20ab3-0000-4000-8000-000000000000").to_v4();
//! let back = SpanComponents::parse(&slug).unwrap();
//! assert_eq!(back.object_id.as_deref(), Some("50f20ab3-0000-4000-8000-000000000000"));
//! ```

pub mod logger;
pub mod rows;
pub mod slug;
pub mod transport;
