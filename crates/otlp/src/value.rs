//! OTLP `AnyValue` → JSON, and the JSON-string parsing every dialect needs.

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use serde_json::{Map, Value};

/// Deepest `AnyValue` nesting converted; deeper values become a marker string, so a hostile
/// body cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// Converts an `AnyValue` to JSON. Ints stay ints, doubles stay doubles (non-finite doubles
/// become strings, which JSON cannot hold), bytes become base64 text, kvlists objects.
pub fn any_to_json(value: &AnyValue) -> Value {
    convert(value, 0)
}

fn convert(value: &AnyValue, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::String(format!("[value nested deeper than {MAX_DEPTH} levels]"));
    }
    match &value.value {
        None | Some(any_value::Value::StringValueStrindex(_)) => Value::Null,
        Some(any_value::Value::StringValue(s)) => Value::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::IntValue(i)) => Value::from(*i),
        Some(any_value::Value::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(d.to_string())),
        Some(any_value::Value::BytesValue(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(any_value::Value::ArrayValue(a)) => {
            Value::Array(a.values.iter().map(|v| convert(v, depth + 1)).collect())
        }
        Some(any_value::Value::KvlistValue(kv)) => Value::Object(kvs_at(&kv.values, depth + 1)),
    }
}

/// Converts a list of key-values into a JSON object (a later duplicate key wins).
pub fn key_values(kvs: &[KeyValue]) -> Map<String, Value> {
    kvs_at(kvs, 0)
}

fn kvs_at(kvs: &[KeyValue], depth: usize) -> Map<String, Value> {
    kvs.iter()
        .map(|kv| {
            let value = kv
                .value
                .as_ref()
                .map(|v| convert(v, depth))
                .unwrap_or(Value::Null);
            (kv.key.clone(), value)
        })
        .collect()
}

/// Parses a string that looks like JSON (`{...}` or `[...]`); other values are returned as is.
/// Emitters serialize structured values as JSON text for compatibility; some (OpenLIT) send a
/// Python `repr` instead, which is kept as the raw string.
pub fn parse_json_text(value: &Value) -> Value {
    match value {
        Value::String(s) => {
            let t = s.trim_start();
            if t.starts_with('{') || t.starts_with('[') {
                serde_json::from_str(s).unwrap_or_else(|_| value.clone())
            } else {
                value.clone()
            }
        }
        other => other.clone(),
    }
}

/// Parses any JSON text (including scalars like `"hi"` or `3`); non-JSON text stays a string.
pub fn parse_any_json(value: &Value) -> Value {
    match value {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| value.clone()),
        other => other.clone(),
    }
}

/// A number from an int, a double or a numeric string.
pub fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// A JSON number that stays an integer when the value is one (token counts).
pub fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// A boolean from a bool or the strings `true`/`false` (Python sends `"False"`).
pub fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// True for null, empty strings, lists and objects.
pub fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn s(v: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }
    }

    #[test]
    fn converts_structured_values() {
        let kv = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "role".into(),
                    value: Some(s("user")),
                    ..Default::default()
                }],
            })),
        };
        let arr = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![kv, s("x")],
            })),
        };
        assert_eq!(
            any_to_json(&arr),
            serde_json::json!([{"role": "user"}, "x"])
        );
    }

    #[test]
    fn deep_nesting_is_cut() {
        let mut v = s("leaf");
        for _ in 0..200 {
            v = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![v] })),
            };
        }
        let json = any_to_json(&v);
        assert!(json.to_string().contains("nested deeper"));
    }

    #[test]
    fn coerces_loosely() {
        assert_eq!(as_number(&Value::String("12".into())), Some(12.0));
        assert_eq!(as_bool(&Value::String("False".into())), Some(false));
        assert_eq!(
            parse_json_text(&Value::String("[1, 2]".into())),
            serde_json::json!([1, 2])
        );
        assert_eq!(
            parse_json_text(&Value::String("{'a': 1}".into())),
            Value::String("{'a': 1}".into())
        );
    }
}
