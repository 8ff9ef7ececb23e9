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

/// [`preview`] of a value given as JSON text (valid JSON: payloads are checked at ingest). Of
/// a list of messages (or an object with one under `messages`) only the last message is parsed
/// into a value: it is found by scanning back from the end of the list.
pub fn preview_json(json: &str) -> Option<String> {
    let whole = || serde_json::from_str::<Value>(json).ok();
    let last_message = match json.as_bytes().first()? {
        b'[' => last_element(json).and_then(|t| serde_json::from_str::<Value>(t).ok()),
        b'{' => serde_json::from_str::<HashMap<String, &RawValue>>(json)
            .ok()
            .and_then(|map| last_element(map.get("messages")?.get()))
            .and_then(|t| serde_json::from_str::<Value>(t).ok()),
        // A string is decoded once, not copied again.
        b'"' => {
            return serde_json::from_str::<String>(json)
                .ok()
                .map(|s| one_line(&s));
        }
        _ => return preview(&whole()?),
    };
    match last_message.as_ref().and_then(message_text) {
        Some(text) => Some(one_line(&text)),
        None => preview(&whole()?),
    }
}

/// The text of the last element of a JSON array given as valid JSON text, found by scanning
/// back from the end: brackets count only outside strings, and a quote delimits a string
/// unless an odd number of backslashes comes before it. `None` for an empty array or text
/// that is not an array.
fn last_element(json: &str) -> Option<&str> {
    let b = json.as_bytes();
    let trimmed = json.trim_end();
    let close = trimmed.len().checked_sub(1)?;
    if b.get(close) != Some(&b']') {
        return None;
    }
    let end = json[..close].trim_end().len();
    let (mut depth, mut in_string) = (0usize, false);
    let mut i = end;
    while i > 0 {
        i -= 1;
        match b[i] {
            b'"' => {
                let backslashes = b[..i].iter().rev().take_while(|&&c| c == b'\\').count();
                if backslashes % 2 == 0 {
                    in_string = !in_string;
                }
                // Step over the backslashes: each is looked at once.
                i -= backslashes;
            }
            _ if in_string => {}
            b'}' | b']' => depth += 1,
            b'{' | b'[' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return Some(&json[i..end]);
                }
            }
            // The list's own `[`: the last element is its only one (or there is none).
            b'[' => return Some(json[i + 1..end].trim()).filter(|t| !t.is_empty()),
            b',' if depth == 0 => return Some(json[i + 1..end].trim()),
            _ => {}
        }
    }
    None
}

/// The text as one line of at most [`PREVIEW_CHARS`] characters: runs of whitespace become
/// one space, and only the head of a long text is looked at.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(PREVIEW_CHARS * 4));
    let mut chars = 0;
    for word in text.split_whitespace() {
        let space = (!out.is_empty()).then_some(' ');
        for c in space.into_iter().chain(word.chars()) {
            if chars == PREVIEW_CHARS {
                out.push('…');
                return out;
            }
            out.push(c);
            chars += 1;
        }
    }
    out
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
        // The last element of a list is found by scanning back, through strings that hold
        // brackets, commas, quotes and backslashes.
        for list in [
            json!([{"role": "user", "content": "a [b], {c}"}, {"role": "user", "content": "x \\\" ] , { \\"}]),
            json!([{"role": "user", "content": "only"}]),
            json!([1, {"role": "user", "content": [{"type": "text", "text": "]}"}]}]),
            json!(["s", "\\"]),
            json!([[1, 2], [3]]),
        ] {
            let text = list.to_string();
            assert_eq!(preview_json(&text), preview(&list), "{text}");
            let last = list.as_array().unwrap().last().unwrap();
            assert_eq!(
                last_element(&text)
                    .map(|t| serde_json::from_str::<Value>(t).unwrap())
                    .as_ref(),
                Some(last)
            );
            let pretty = serde_json::to_string_pretty(&list).unwrap();
            assert_eq!(
                last_element(&pretty)
                    .map(|t| serde_json::from_str::<Value>(t).unwrap())
                    .as_ref(),
                Some(last)
            );
        }
        assert_eq!(last_element("[]"), None);
        assert_eq!(last_element("[ ]"), None);
        assert_eq!(last_element("{}"), None);
        // Exactly the preview length: no ellipsis; one more character: cut, with one.
        let exact = "a".repeat(PREVIEW_CHARS);
        assert_eq!(one_line(&exact), exact);
        assert_eq!(one_line(&format!("{exact} b")), format!("{exact}…"));
        assert_eq!(one_line("  a \n\t b  "), "a b");
        let long = "日本語".repeat(100);
        assert_eq!(
            preview(&json!(long)).unwrap().chars().count(),
            PREVIEW_CHARS + 1
        );
    }
}
