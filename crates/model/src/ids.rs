//! Fresh identifiers in the protocol's formats.

use rand::Rng;

/// A new row id (UUID v4, the SDK default).
pub fn new_row_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new span id: 16 lowercase hex characters (8 random bytes).
pub fn new_span_id() -> String {
    let bytes: [u8; 8] = rand::rng().random();
    const_hex::encode(bytes)
}

/// A new trace id (`root_span_id`): 32 lowercase hex characters (16 random bytes).
pub fn new_trace_id() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    const_hex::encode(bytes)
}

/// A new object id (projects, experiments, datasets, orgs, keys).
pub fn new_object_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
