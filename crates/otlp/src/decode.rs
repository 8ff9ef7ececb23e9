//! OTLP/HTTP bodies: protobuf or JSON in, the matching response encoding out.

use crate::error::OtlpError;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

/// The body encoding of an OTLP/HTTP request (and of its response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf` (also `application/protobuf`).
    Protobuf,
    /// `application/json` (OTLP/JSON: hex ids, int64 as strings or numbers).
    Json,
}

impl Encoding {
    /// From a `Content-Type` header; parameters are ignored. Unknown types are an error that
    /// the API answers with 415.
    pub fn from_content_type(content_type: Option<&str>) -> Result<Encoding, OtlpError> {
        let raw = content_type.unwrap_or("");
        let essence = raw
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
            "application/json" => Ok(Encoding::Json),
            _ => Err(OtlpError::UnsupportedContentType(if raw.is_empty() {
                "(none)".into()
            } else {
                raw.to_owned()
            })),
        }
    }

    /// The response `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

fn decode<T: Message + Default + serde::de::DeserializeOwned>(
    body: &[u8],
    encoding: Encoding,
    what: &str,
) -> Result<T, OtlpError> {
    match encoding {
        Encoding::Protobuf => {
            T::decode(body).map_err(|e| OtlpError::InvalidBody(format!("{what} protobuf: {e}")))
        }
        Encoding::Json => {
            std::str::from_utf8(body).map_err(|e| {
                OtlpError::InvalidBody(format!(
                    "{what} JSON is not valid UTF-8 at byte {}",
                    e.valid_up_to()
                ))
            })?;
            serde_json::from_slice(body)
                .map_err(|e| OtlpError::InvalidBody(format!("{what} JSON: {e}")))
        }
    }
}

/// Decodes an `ExportTraceServiceRequest`.
pub fn decode_traces(
    body: &[u8],
    encoding: Encoding,
) -> Result<ExportTraceServiceRequest, OtlpError> {
    let req: ExportTraceServiceRequest = decode(body, encoding, "trace export")?;
    if encoding == Encoding::Json
        && req.resource_spans.is_empty()
        && looks_snake_case(body, "resource_spans")
    {
        // serde ignores unknown keys, as OTLP/JSON requires; snake_case keys would otherwise be
        // accepted as an empty export and the spans silently lost.
        return Err(OtlpError::InvalidBody(
            "trace export JSON uses `resource_spans`; OTLP/JSON field names are lowerCamelCase (`resourceSpans`)".into(),
        ));
    }
    Ok(req)
}

/// Decodes an `ExportLogsServiceRequest`.
pub fn decode_logs(body: &[u8], encoding: Encoding) -> Result<ExportLogsServiceRequest, OtlpError> {
    let req: ExportLogsServiceRequest = decode(body, encoding, "logs export")?;
    if encoding == Encoding::Json
        && req.resource_logs.is_empty()
        && looks_snake_case(body, "resource_logs")
    {
        return Err(OtlpError::InvalidBody(
            "logs export JSON uses `resource_logs`; OTLP/JSON field names are lowerCamelCase (`resourceLogs`)".into(),
        ));
    }
    Ok(req)
}

fn looks_snake_case(body: &[u8], key: &str) -> bool {
    let needle = format!("\"{key}\"");
    body.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Encodes the trace export answer; `{}` on full success.
pub fn encode_trace_response(encoding: Encoding, rejected: i64, message: &str) -> Vec<u8> {
    let partial = (rejected > 0 || !message.is_empty()).then(|| ExportTracePartialSuccess {
        rejected_spans: rejected,
        error_message: message.to_owned(),
    });
    match encoding {
        Encoding::Protobuf => ExportTraceServiceResponse { partial_success: partial }.encode_to_vec(),
        Encoding::Json => match partial {
            None => b"{}".to_vec(),
            Some(p) => serde_json::json!({"partialSuccess": {"rejectedSpans": p.rejected_spans.to_string(), "errorMessage": p.error_message}})
                .to_string()
                .into_bytes(),
        },
    }
}

/// Encodes the logs export answer; `{}` on full success.
pub fn encode_logs_response(encoding: Encoding, rejected: i64, message: &str) -> Vec<u8> {
    let partial = (rejected > 0 || !message.is_empty()).then(|| ExportLogsPartialSuccess {
        rejected_log_records: rejected,
        error_message: message.to_owned(),
    });
    match encoding {
        Encoding::Protobuf => ExportLogsServiceResponse { partial_success: partial }.encode_to_vec(),
        Encoding::Json => match partial {
            None => b"{}".to_vec(),
            Some(p) => serde_json::json!({"partialSuccess": {"rejectedLogRecords": p.rejected_log_records.to_string(), "errorMessage": p.error_message}})
                .to_string()
                .into_bytes(),
        },
    }
}
