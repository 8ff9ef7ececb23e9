//! `error` (reference §5.6): span status ERROR, an escaping `exception` event, or `error.type`.

use super::Ctx;
use crate::value::as_bool;
use serde_json::{Map, Value};

const STATUS_ERROR: i32 = 2;

/// The error text of a span (type, message and traceback when known), or `None`.
pub fn extract(ctx: &Ctx, metadata: &mut Map<String, Value>) -> Option<String> {
    let exception = ctx.raw.events.iter().find(|e| e.name == "exception");
    let exc_text = exception.and_then(|e| {
        let get = |k: &str| {
            e.attributes
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let head = match (get("exception.type"), get("exception.message")) {
            (Some(t), Some(m)) => format!("{t}: {m}"),
            (Some(t), None) => t.to_owned(),
            (None, Some(m)) => m.to_owned(),
            (None, None) => return None,
        };
        if let Some(t) = get("exception.type") {
            metadata
                .entry("error_type")
                .or_insert_with(|| Value::String(t.into()));
        }
        Some(match get("exception.stacktrace") {
            Some(stack) => format!("{head}\n\n{stack}"),
            None => head,
        })
    });
    let error_type = ctx.attrs.str("error.type");
    if let Some(t) = error_type {
        metadata
            .entry("error_type")
            .or_insert_with(|| Value::String(t.into()));
    }
    if ctx.raw.status_code == STATUS_ERROR {
        let message = ctx.raw.status_message.trim();
        return Some(match (exc_text, message.is_empty()) {
            (Some(text), _) => text,
            (None, false) => message.to_owned(),
            (None, true) => error_type.unwrap_or("error").to_owned(),
        });
    }
    // An exception recorded but handled (escaped = false) is not a failure of the span.
    let escaped = exception
        .and_then(|e| e.attributes.get("exception.escaped"))
        .and_then(as_bool);
    if escaped != Some(false)
        && let Some(text) = exc_text
    {
        return Some(text);
    }
    error_type.map(str::to_owned)
}
