//! Short, human-readable previews of span inputs and outputs for trace lists.

use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::HashMap;

/// Maximum characters in a preview.
pub const PREVIEW_CHARS: usize = 200;

/// A one-line preview of a value: plain strings as they are, chat messages as the text of the
/// last message, anything else as compact JSON; cut to [`PREVIEW_CHARS`] characters.
pub fn preview(value: &Value) -> Option<String> {
    let text = match value {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        other => message_list(other)
            .and_then(|list| list.last())
            .and_then(message_text)
            .unwrap_or_else(|| other.to_string()),
    };
    Some(one_line(&text))
}

/// [`preview`] of a value given as JSON text. Of a list of messages (or an object with one
/// under `messages`) only the last message is parsed into a value; the rest is only scanned.
pub fn preview_json(json: &str) -> Option<String> {
    let whole = || serde_json::from_str::<Value>(json).ok();
    let last_message = match json.as_bytes().first()? {
        b'[' => last_item(json),
        b'{' => serde_json::from_str::<HashMap<String, &RawValue>>(json)
            .ok()
            .and_then(|map| last_item(map.get("messages")?.get())),
        _ => return preview(&whole()?),
    };
    match last_message.as_ref().and_then(message_text) {
        Some(text) => Some(one_line(&text)),
        None => preview(&whole()?),
    }
}

/// The last item of a JSON list given as text, parsed.
fn last_item(json: &str) -> Option<Value> {
    let items: Vec<&RawValue> = serde_json::from_str(json).ok()?;
    serde_json::from_str(items.last()?.get()).ok()
}

/// The text as one line of at most [`PREVIEW_CHARS`] characters.
fn one_line(text: &str) -> String {
    // Only the head of a long text can reach the preview; don't walk the rest.
    let head = match text.char_indices().nth(PREVIEW_CHARS * 4) {
        Some((cut, _)) => &text[..cut],
        None => text,
    };
    let one_line: String = head.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_chars(&one_line, PREVIEW_CHARS)
}

/// A list of chat messages (or OpenAI choices), or an object holding one under `messages`.
fn message_list(value: &Value) -> Option<&Vec<Value>> {
    match value {
        Value::Array(list) => Some(list),
        Value::Object(map) => map.get("messages")?.as_array(),
        _ => None,
    }
}

/// The text of one chat message (or of an OpenAI choice's `message`).
fn message_text(last: &Value) -> Option<String> {
    let message = last.get("message").unwrap_or(last);
    message.get("role")?;
    match message.get("content")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            (!texts.is_empty()).then(|| texts.join(" "))
        }
        _ => None,
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn previews() {
        assert_eq!(preview(&json!("a\n b")).unwrap(), "a b");
        let msgs = json!([{"role": "system", "content": "x"}, {"role": "user", "content": "what is 2+2?"}]);
        assert_eq!(preview(&msgs).unwrap(), "what is 2+2?");
        let choices = json!([{"index": 0, "message": {"role": "assistant", "content": "4"}}]);
        assert_eq!(preview(&choices).unwrap(), "4");
        assert_eq!(preview(&json!({"q": 1})).unwrap(), "{\"q\":1}");
        for value in [
            json!("a\n b"),
            msgs.clone(),
            choices.clone(),
            json!({"messages": msgs, "model": "m"}),
            json!({"q": 1}),
            json!([1, 2]),
            json!([]),
            json!([{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image"}]}]),
            json!(null),
            json!(3.5),
        ] {
            for text in [
                value.to_string(),
                serde_json::to_string_pretty(&value).unwrap(),
            ] {
                assert_eq!(preview_json(text.trim()), preview(&value), "{text}");
            }
        }
        let long = "日本語".repeat(100);
        assert_eq!(
            preview(&json!(long)).unwrap().chars().count(),
            PREVIEW_CHARS + 1
        );
    }
}
