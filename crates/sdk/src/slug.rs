//! Span export slugs ("span components"): `base64(version, object type, binary ids, JSON)`,
//! as the official SDKs write and read them (protocol reference §8).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

/// The object a slug points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    /// An experiment.
    Experiment = 1,
    /// A project's logs.
    ProjectLogs = 2,
    /// Playground logs.
    PlaygroundLogs = 3,
}

impl ObjectType {
    fn from_byte(b: u8) -> Result<Self, SlugError> {
        match b {
            1 => Ok(ObjectType::Experiment),
            2 => Ok(ObjectType::ProjectLogs),
            3 => Ok(ObjectType::PlaygroundLogs),
            other => Err(SlugError(format!("unknown object type {other}"))),
        }
    }
}

/// A malformed slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid span slug: {0}")]
pub struct SlugError(pub String);

/// What a slug holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanComponents {
    /// The object type.
    pub object_type: ObjectType,
    /// The object id, once resolved.
    pub object_id: Option<String>,
    /// How to resolve the object when its id is not known yet (`{"project_name": ...}`).
    pub compute_object_metadata_args: Option<Value>,
    /// The span's row id.
    pub row_id: Option<String>,
    /// The span id.
    pub span_id: Option<String>,
    /// The trace id.
    pub root_span_id: Option<String>,
    /// Merged into the first row of every descendant span.
    pub propagated_event: Option<Value>,
}

const FIELD_OBJECT_ID: u8 = 1;
const FIELD_ROW_ID: u8 = 2;
const FIELD_SPAN_ID: u8 = 3;
const FIELD_ROOT_SPAN_ID: u8 = 4;

fn hex_bytes(s: &str, len: usize) -> Option<Vec<u8>> {
    (s.len() == len * 2
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then(|| const_hex::decode(s).ok())
    .flatten()
}

impl SpanComponents {
    /// A slug of an object only (no span): children of it become new roots.
    pub fn object(object_type: ObjectType, object_id: &str) -> Self {
        Self {
            object_type,
            object_id: Some(object_id.to_owned()),
            compute_object_metadata_args: None,
            row_id: None,
            span_id: None,
            root_span_id: None,
            propagated_event: None,
        }
    }

    /// The V4 encoding (the official SDKs' default): 16-hex span ids and 32-hex trace ids
    /// travel as bytes, everything else in the JSON tail.
    pub fn to_v4(&self) -> String {
        let mut bytes = vec![4, self.object_type as u8, 0];
        // The JSON tail's keys in the official SDKs' order (the text is built by hand because
        // serde_json's maps sort their keys).
        let mut tail: Vec<(&str, Value)> = Vec::new();
        if let Some(args) = &self.compute_object_metadata_args {
            tail.push(("compute_object_metadata_args", args.clone()));
        }
        if let Some(event) = &self.propagated_event {
            tail.push(("propagated_event", event.clone()));
        }
        for (key, value) in [("object_id", &self.object_id), ("row_id", &self.row_id)] {
            if let Some(v) = value {
                tail.push((key, Value::String(v.clone())));
            }
        }
        let mut binary = 0u8;
        for (field, value, len, key) in [
            (FIELD_SPAN_ID, &self.span_id, 8, "span_id"),
            (FIELD_ROOT_SPAN_ID, &self.root_span_id, 16, "root_span_id"),
        ] {
            match value.as_deref().and_then(|v| hex_bytes(v, len)) {
                Some(raw) => {
                    bytes.push(field);
                    bytes.extend(raw);
                    binary += 1;
                }
                None => {
                    if let Some(v) = value {
                        tail.push((key, Value::String(v.clone())));
                    }
                }
            }
        }
        bytes[2] = binary;
        if !tail.is_empty() {
            let members: Vec<String> = tail
                .iter()
                .map(|(k, v)| format!("{}:{v}", Value::String((*k).to_owned())))
                .collect();
            bytes.extend(format!("{{{}}}", members.join(",")).into_bytes());
        }
        STANDARD.encode(bytes)
    }

    /// Parses a V4 or V3 slug (V3 carries UUIDs as 16 raw bytes).
    pub fn parse(slug: &str) -> Result<Self, SlugError> {
        let bytes = STANDARD
            .decode(slug.trim())
            .map_err(|e| SlugError(format!("not base64: {e}")))?;
        let [version, object_type, count, rest @ ..] = bytes.as_slice() else {
            return Err(SlugError("too short".into()));
        };
        if *version != 3 && *version != 4 {
            return Err(SlugError(format!("unsupported version {version}")));
        }
        let mut out = Self {
            object_type: ObjectType::from_byte(*object_type)?,
            object_id: None,
            compute_object_metadata_args: None,
            row_id: None,
            span_id: None,
            root_span_id: None,
            propagated_event: None,
        };
        let mut at = 0;
        for _ in 0..*count {
            let field = *rest
                .get(at)
                .ok_or_else(|| SlugError("truncated field".into()))?;
            let len = match (*version, field) {
                (4, FIELD_SPAN_ID) => 8,
                (4, FIELD_ROOT_SPAN_ID) => 16,
                _ => 16,
            };
            let raw = rest
                .get(at + 1..at + 1 + len)
                .ok_or_else(|| SlugError("truncated field".into()))?;
            let text = if *version == 3 {
                uuid::Uuid::from_slice(raw)
                    .map_err(|e| SlugError(e.to_string()))?
                    .to_string()
            } else {
                const_hex::encode(raw)
            };
            match field {
                FIELD_OBJECT_ID => out.object_id = Some(text),
                FIELD_ROW_ID => out.row_id = Some(text),
                FIELD_SPAN_ID => out.span_id = Some(text),
                FIELD_ROOT_SPAN_ID => out.root_span_id = Some(text),
                other => return Err(SlugError(format!("unknown field {other}"))),
            }
            at += 1 + len;
        }
        let tail = &rest[at..];
        if !tail.is_empty() {
            let json: Map<String, Value> = serde_json::from_slice(tail)
                .map_err(|e| SlugError(format!("bad JSON tail: {e}")))?;
            let text = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_owned);
            out.compute_object_metadata_args = json.get("compute_object_metadata_args").cloned();
            out.propagated_event = json.get("propagated_event").cloned();
            out.object_id = out.object_id.or_else(|| text("object_id"));
            out.row_id = out.row_id.or_else(|| text("row_id"));
            out.span_id = out.span_id.or_else(|| text("span_id"));
            out.root_span_id = out.root_span_id.or_else(|| text("root_span_id"));
        }
        if out.object_id.is_some() == out.compute_object_metadata_args.is_some() {
            return Err(SlugError(
                "a slug names exactly one of object_id and compute_object_metadata_args".into(),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_official_sdks_slugs() {
        // From the protocol reference §8.2: a logger whose project is not registered yet.
        let slug = "BAIAeyJjb21wdXRlX29iamVjdF9tZXRhZGF0YV9hcmdzIjp7InByb2plY3RfbmFtZSI6InByb2JlLXByb2oiLCJwcm9qZWN0X2lkIjpudWxsfX0=";
        let c = SpanComponents::parse(slug).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.object_type, ObjectType::ProjectLogs);
        assert_eq!(
            c.compute_object_metadata_args,
            Some(json!({"project_name": "probe-proj", "project_id": null}))
        );
        assert_eq!(SpanComponents::parse(&c.to_v4()), Ok(c));
        // An object slug re-encodes byte for byte.
        let slug = SpanComponents::object(ObjectType::ProjectLogs, "50f20ab3").to_v4();
        assert_eq!(
            STANDARD.decode(&slug).unwrap_or_default(),
            b"\x04\x02\x00{\"object_id\":\"50f20ab3\"}".to_vec()
        );
    }

    #[test]
    fn span_ids_travel_as_bytes() {
        let c = SpanComponents {
            object_type: ObjectType::Experiment,
            object_id: Some("8c3f4cf4-1111-4222-8333-444455556666".into()),
            compute_object_metadata_args: None,
            row_id: Some("458c33fa-aaaa-4bbb-8ccc-dddd11112222".into()),
            span_id: Some("e6221293734bd218".into()),
            root_span_id: Some("6192c7d9cdc7fe4b5e9ba63099cb2cb9".into()),
            propagated_event: Some(json!({"metadata": {"tenant": "acme"}})),
        };
        let slug = c.to_v4();
        let raw = STANDARD.decode(&slug).unwrap_or_default();
        assert_eq!(&raw[..4], &[4, 1, 2, 3]);
        assert_eq!(const_hex::encode(&raw[4..12]), "e6221293734bd218");
        assert_eq!(SpanComponents::parse(&slug), Ok(c));
    }

    #[test]
    fn legacy_uuid_ids_stay_in_json() {
        let mut c = SpanComponents::object(ObjectType::ProjectLogs, "p1");
        c.row_id = Some("r".into());
        c.span_id = Some("0b1c2d3e-0000-4000-8000-000000000001".into());
        c.root_span_id = Some("0b1c2d3e-0000-4000-8000-000000000002".into());
        assert_eq!(SpanComponents::parse(&c.to_v4()), Ok(c));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "!!!", "AQ==", "BAkA"] {
            assert!(SpanComponents::parse(bad).is_err(), "{bad:?}");
        }
    }
}
