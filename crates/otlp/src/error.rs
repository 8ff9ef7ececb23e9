//! Errors of OTLP decoding.

/// Why an OTLP request cannot be taken at all (single bad spans are partial successes instead).
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// The body does not decode as the OTLP message.
    #[error("invalid OTLP body: {0}")]
    InvalidBody(String),
    /// Neither protobuf nor JSON.
    #[error(
        "unsupported Content-Type {0:?}: OTLP/HTTP takes application/x-protobuf or application/json"
    )]
    UnsupportedContentType(String),
    /// A malformed routing header.
    #[error("{0}")]
    InvalidRoute(String),
}
