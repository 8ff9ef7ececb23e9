//! Opaque pagination cursors: base64url of a small JSON array of sort-key values.

use crate::StoreError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// Encodes the sort key of the last item of a page.
pub fn encode(key: &[Value]) -> String {
    URL_SAFE_NO_PAD.encode(Value::Array(key.to_vec()).to_string())
}

/// Decodes a cursor into its sort-key values, checking the arity.
pub fn decode(cursor: &str, arity: usize) -> Result<Vec<Value>, StoreError> {
    let bad =
        || StoreError::InvalidCursor(format!("{cursor:?} is not a cursor this server issued"));
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Array(values)) if values.len() == arity => Ok(values),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_and_rejects_garbage() {
        let c = encode(&[json!(12), json!("x")]);
        assert_eq!(decode(&c, 2).unwrap(), vec![json!(12), json!("x")]);
        assert!(decode(&c, 1).is_err());
        assert!(decode("!!", 1).is_err());
    }
}
