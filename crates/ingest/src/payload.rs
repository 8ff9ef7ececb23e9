//! Payload fields (`input`, `output`, `expected`, ...) kept as the client's JSON text.
//!
//! They are most of a row's bytes (chat messages), and the store only hashes, compresses and
//! stores them, so building a value tree of them and serializing it back is wasted work. A row
//! is parsed with its payload fields captured as raw text ([`SplitRow`]); each is checked to
//! parse on its own later ([`check`]), so nothing is stored that cannot be read back. A text
//! with `\u` or `\/` escapes is written out again without them ([`searchable`]): full-text
//! search reads the stored text, and `"\u5929"` must be found as `天`.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use spanloom_model::fields::PAYLOAD_FIELDS;
use std::fmt;

/// One payload field of a row, as JSON text that [`check`] accepted.
#[derive(Debug, Clone)]
pub struct RawPayload {
    /// The field (one of [`PAYLOAD_FIELDS`]).
    pub name: &'static str,
    /// Its value's JSON text: as sent (whitespace included), or written out again when it
    /// had escapes that hide characters from a text search.
    pub json: Box<RawValue>,
}

impl RawPayload {
    /// The value, parsed.
    pub fn value(&self) -> Value {
        // `check` parsed it once already, so this cannot fail; null is a safe answer anyway.
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
                    let json: Box<RawValue> = access.next_value()?;
                    check(json.get()).map_err(|e| {
                        de::Error::custom(format_args!("`{name}` is not valid JSON: {e}"))
                    })?;
                    let json = searchable(json).map_err(de::Error::custom)?;
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

/// The text with every character as itself: a text with a `\u` escape (`json.dumps` writes
/// any non-ASCII character so) or a `\/` is parsed and written out again; others are kept.
fn searchable(json: Box<RawValue>) -> Result<Box<RawValue>, serde_json::Error> {
    let text = json.get().as_bytes();
    let hides_characters = memchr::memchr_iter(b'\\', text).any(|at| {
        // An escaped backslash is followed by its pair, which this also visits; only the
        // first of a pair can start an escape, and a pair is never `\u` or `\/`.
        let escaped = text[..at].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 1;
        !escaped && matches!(text.get(at + 1), Some(b'u' | b'/'))
    });
    if !hides_characters {
        return Ok(json);
    }
    let value: Value = serde_json::from_str(json.get())?;
    RawValue::from_string(value.to_string())
}

/// Checks that a JSON text (already known to be well-formed) parses into a value on its own:
/// numbers within range, no lone surrogate escapes, nesting within the parser's limit. A raw
/// capture skips these checks, which parsing a value does, without building anything.
pub fn check(json: &str) -> Result<(), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    Checked.deserialize(&mut deserializer)?;
    deserializer.end()
}

/// Visits a value the way parsing it into a tree would, keeping nothing.
#[derive(Clone, Copy)]
struct Checked;

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }
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
        let row = split(r#"{"input":1,"input":{"a":2}}"#).unwrap();
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
    fn check_accepts_what_parses() {
        for json in [
            "null",
            "true",
            "-0.5e-3",
            "18446744073709551615",
            "1e-400",
            r#""\ud83d\ude00""#,
            r#"{"a":[1,{"b":"c"}],"":{}}"#,
        ] {
            check(json).unwrap();
            serde_json::from_str::<Value>(json).unwrap();
        }
    }
}
