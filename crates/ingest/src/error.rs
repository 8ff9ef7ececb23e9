//! Why a write request was rejected.

/// A request that cannot be ingested. Messages name the row and the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body is not UTF-8.
    #[error("request body is not valid UTF-8 (first bad byte at offset {offset})")]
    InvalidUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The body is not JSON (includes nesting deeper than the parser's limit and bare NaN).
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// The body is JSON of the wrong shape.
    #[error("{0}")]
    InvalidShape(String),
    /// One row is invalid; the whole request is rejected.
    #[error("rows[{index}]: {message}")]
    InvalidRow {
        /// Index of the row in the request.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// A valid request this server does not support yet.
    #[error("{0}")]
    Unsupported(String),
}
