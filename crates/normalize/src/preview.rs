//! Short, human-readable previews of span inputs and outputs for trace lists.

use serde_json::Value;

/// Maximum characters in a preview.
pub const PREVIEW_CHARS: usize = 200;

/// A one-line preview of a value: plain strings as they are, chat messages as the text of the
/// last message, anything else as compact JSON; cut to [`PREVIEW_CHARS`] characters.
pub fn preview(value: &Value) -> Option<String> {
    let text = match value {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        other => message_text(other).unwrap_or_else(|| other.to_string()),
    };
    // Only the head of a long text can reach the preview; don't walk the rest.
    let head = match text.char_indices().nth(PREVIEW_CHARS * 4) {
        Some((cut, _)) => &text[..cut],
        None => text.as_str(),
    };
    let one_line: String = head.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(truncate_chars(&one_line, PREVIEW_CHARS))
}

/// The text of the last chat message in a list of messages, a `{messages: [...]}` object, or a
/// list of OpenAI choices.
fn message_text(value: &Value) -> Option<String> {
    let list = match value {
        Value::Array(list) => list,
        Value::Object(map) => map.get("messages")?.as_array()?,
        _ => return None,
    };
    let last = list.last()?;
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
        let long = "日本語".repeat(100);
        assert_eq!(
            preview(&json!(long)).unwrap().chars().count(),
            PREVIEW_CHARS + 1
        );
    }
}
