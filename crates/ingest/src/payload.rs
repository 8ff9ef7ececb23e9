//! Payload fields (`input`, `output`, `expected`, ...) kept as the client's JSON text.
//!
//! They are most of a row's bytes (chat messages), and the store only hashes, compresses and
//! stores them, so building a value tree of them and serializing it back is wasted work. A row
//! is parsed with its payload fields captured as raw text ([`SplitRow`]); each is checked to
//! parse on its own later, and a text with `\u` or `\/` escapes is written out again without
//! them, since full-text search reads the stored text and `"\u5929"` must be found as `天`
//! ([`prepare`]).

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use spanloom_model::fields::PAYLOAD_FIELDS;
use std::fmt;

/// One payload field of a row, as JSON text that [`prepare`] accepted.
#[derive(Debug, Clone)]
pub struct RawPayload {
    /// The field (one of [`PAYLOAD_FIELDS`]).
    pub name: &'static str,
    /// Its value's JSON text: as sent (whitespace included), or written out again when it
    /// had escapes that hide characters from a text search.
    pub json: Box<RawValue>,
}

impl RawPayload {
    /// A payload field from a value built in code (OTLP rows): its text is the value written
    /// out, which parses back as the same value.
    pub fn from_value(name: &'static str, value: &Value) -> Self {
        let json =
            RawValue::from_string(value.to_string()).unwrap_or_else(|_| RawValue::NULL.to_owned());
        Self { name, json }
    }

    /// The value, parsed.
    pub fn value(&self) -> Value {
        // `prepare` made sure it parses; null is a safe answer anyway.
        serde_json::from_str(self.json.get()).unwrap_or(Value::Null)
    }

    /// True if the value is a JSON object (a merge descends into objects only).
    pub fn is_object(&self) -> bool {
        self.json.get().starts_with('{')
    }
}

/// A row object parsed with its payload fields as text and every other field as a value.
pub(crate) struct SplitRow {
    /// The fields that are not payload fields.
    pub(crate) map: Map<String, Value>,
    /// The payload fields, each once (a repeated key keeps its last value, as in a map).
    pub(crate) payloads: Vec<RawPayload>,
}

impl<'de> de::Deserialize<'de> for SplitRow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SplitRowVisitor)
    }
}

struct SplitRowVisitor;

impl<'de> Visitor<'de> for SplitRowVisitor {
    type Value = SplitRow;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<SplitRow, A::Error> {
        let mut map = Map::new();
        let mut payloads: Vec<RawPayload> = Vec::new();
        while let Some(key) = access.next_key::<String>()? {
            match PAYLOAD_FIELDS.iter().find(|name| **name == key) {
                Some(name) => {
                    let json = prepare(access.next_value()?).map_err(|e| {
                        de::Error::custom(format_args!("`{name}` is not valid JSON: {e}"))
                    })?;
                    payloads.retain(|p| p.name != *name);
                    payloads.push(RawPayload { name, json });
                }
                None => {
                    map.insert(key, access.next_value()?);
                }
            }
        }
        Ok(SplitRow { map, payloads })
    }
}

/// Most nested lists and objects in a payload: the value parser's own limit (it refuses the
/// 128th level), so every stored payload parses back.
const MAX_DEPTH: usize = 127;

/// The payload text ready to store, or why it cannot be. The raw capture checked only the
/// syntax; what parsing a value would also refuse is checked here:
/// - A text with a `\u` escape (`json.dumps` writes every non-ASCII character so) or a `\/` is
///   parsed and written out again, so a text search sees the characters themselves; the parse
///   also refuses lone surrogates, too deep nesting and out-of-range numbers.
/// - Any other text is kept as sent after a scan of its structure: nesting depth, and the
///   range of numbers that could overflow (with an exponent or over 300 characters).
pub fn prepare(json: Box<RawValue>) -> Result<Box<RawValue>, String> {
    if hides_characters(json.get().as_bytes()) {
        let value: Value = serde_json::from_str(json.get()).map_err(|e| e.to_string())?;
        return RawValue::from_string(value.to_string()).map_err(|e| e.to_string());
    }
    scan(json.get())?;
    Ok(json)
}

/// True if a well-formed JSON text has a `\u` or `\/` escape. In valid JSON every backslash
/// starts an escape, so from each one the scan steps over the character it escapes: linear
/// even in a long run of backslashes.
fn hides_characters(text: &[u8]) -> bool {
    let mut from = 0;
    while let Some(at) = text
        .get(from..)
        .and_then(|rest| memchr::memchr(b'\\', rest))
    {
        let escape = from + at;
        if matches!(text.get(escape + 1), Some(b'u' | b'/')) {
            return true;
        }
        from = escape + 2;
    }
    false
}

/// Checks the nesting depth and number range of a well-formed JSON text.
fn scan(json: &str) -> Result<(), String> {
    let bytes = json.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // To the closing quote, stepping over escapes.
                i += 1;
                loop {
                    let rest = bytes.get(i..).unwrap_or_default();
                    let Some(at) = memchr::memchr2(b'"', b'\\', rest) else {
                        return Err("unterminated string".into());
                    };
                    i += at + 1;
                    if bytes[i - 1] == b'"' {
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err("recursion limit exceeded".into());
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                let number = &json[start..i];
                let may_overflow = number.len() > 300 || number.contains(['e', 'E']);
                if may_overflow && !number.parse::<f64>().is_ok_and(f64::is_finite) {
                    return Err(format!("number out of range: {number:.40}"));
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(json: &str) -> Result<SplitRow, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn payload_fields_keep_their_text_and_the_rest_is_parsed() {
        let row = split(r#"{"id":"a","input":[ {"role":"user","content":"hé\n"} ],"metadata":{"k":1},"output":null}"#)
            .unwrap();
        assert_eq!(row.map.len(), 2);
        assert_eq!(row.map["metadata"]["k"], 1);
        let names: Vec<_> = row.payloads.iter().map(|p| p.name).collect();
        assert_eq!(names, ["input", "output"]);
        assert_eq!(
            row.payloads[0].json.get(),
            r#"[ {"role":"user","content":"hé\n"} ]"#
        );
        assert_eq!(row.payloads[0].value()[0]["content"], "hé\n");
        assert!(!row.payloads[0].is_object());
        assert_eq!(row.payloads[1].value(), Value::Null);
    }

    #[test]
    fn escapes_that_hide_characters_are_written_out() {
        let row = split(
            r#"{"input":"\u5929\u6c14 a\/b","output":"line\nnext \\u0041","expected":"\\\u0041"}"#,
        )
        .unwrap();
        let texts: Vec<_> = row.payloads.iter().map(|p| p.json.get()).collect();
        // `\\u0041` is a backslash then `u0041`: kept as sent. `\\\u0041` ends in an escape.
        assert_eq!(
            texts,
            [r#""天气 a/b""#, r#""line\nnext \\u0041""#, r#""\\A""#]
        );
    }

    #[test]
    fn a_repeated_payload_key_keeps_its_last_value() {
        let row = split(r#"{"input":1,"input" :  {"a":2}}"#).unwrap();
        assert_eq!(row.payloads.len(), 1);
        assert!(row.payloads[0].is_object());
        assert_eq!(row.payloads[0].value(), serde_json::json!({"a": 2}));
    }

    #[test]
    fn payloads_that_would_not_parse_back_are_refused_naming_the_field() {
        for json in [
            r#"{"input":1e400}"#,
            r#"{"output":"\ud800"}"#,
            r#"{"expected":{"a":"\udc00x"}}"#,
        ] {
            // A value parse refuses these too; a raw capture alone would not.
            assert!(serde_json::from_str::<Value>(json).is_err());
            let e = split(json).err().unwrap().to_string();
            assert!(e.contains("is not valid JSON"), "{json}: {e}");
        }
        let deep = format!(r#"{{"input":{}{}}}"#, "[".repeat(200), "]".repeat(200));
        let e = split(&deep).err().unwrap().to_string();
        assert!(e.contains("recursion limit"), "{e}");
        let fine = format!(r#"{{"input":{}{}}}"#, "[".repeat(100), "]".repeat(100));
        assert!(split(&fine).is_ok());
    }

    #[test]
    fn prepare_accepts_what_parses() {
        for json in [
            "null",
            "true",
            "-0.5e-3",
            "18446744073709551615",
            "1e-400",
            "[1E+2,-0,0.25]",
            r#""\ud83d\ude00""#,
            r#"{"a":[1,{"b":"c \"]\" \\"}],"":{}}"#,
        ] {
            let raw = RawValue::from_string(json.to_owned()).unwrap();
            prepare(raw).unwrap();
            serde_json::from_str::<Value>(json).unwrap();
        }
        // Escapes are found left to right, in linear time however long a run of backslashes.
        let run = format!(r#""{}u0041""#, "\\\\".repeat(500_000));
        assert!(!hides_characters(run.as_bytes()));
        let run = format!(r#""{}\u0041""#, "\\\\".repeat(500_000));
        assert!(hides_characters(run.as_bytes()));
        // The scan never reads past the end, even of text that is not JSON.
        for broken in [r#""a\"#, r#"["\"#, r#""\""#, "\"\\\\\\"] {
            assert!(scan(broken).is_err(), "{broken}");
        }
        let deep_in_strings = format!(r#"["{}"]"#, "[".repeat(300));
        prepare(RawValue::from_string(deep_in_strings).unwrap()).unwrap();
        let long = format!("[{}]", "9".repeat(400));
        assert!(serde_json::from_str::<Value>(&long).is_err());
        let e = prepare(RawValue::from_string(long).unwrap()).unwrap_err();
        assert!(e.contains("out of range"), "{e}");
    }
}
