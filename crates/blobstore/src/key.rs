//! Object keys: which org an object belongs to, what it is, and its client-chosen name.

use crate::BlobError;
use serde::{Deserialize, Serialize};

/// What an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// An `Attachment` uploaded by an SDK.
    Attachment,
    /// A `/logs3` body too large for one request.
    Overflow,
}

impl ObjectKind {
    fn dir(self) -> &'static str {
        match self {
            ObjectKind::Attachment => "attachments",
            ObjectKind::Overflow => "overflow",
        }
    }
}

/// The address of one object: `(org, kind, name)`. Names are checked so that no key can point
/// outside its org's directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectKey {
    /// Owning org id.
    pub org_id: String,
    /// What the object is.
    pub kind: ObjectKind,
    /// The object's name within the org and kind (an attachment's client-chosen key).
    pub name: String,
}

fn check(part: &str, what: &str) -> Result<(), BlobError> {
    let ok = !part.is_empty()
        && part.len() <= 256
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !part.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(BlobError::InvalidKey(format!(
            "{what} {part:?} must be 1-256 characters of letters, digits, '-', '_' or '.', not starting with '.'"
        )))
    }
}

impl ObjectKey {
    /// A key, validated.
    pub fn new(org_id: &str, kind: ObjectKind, name: &str) -> Result<Self, BlobError> {
        check(org_id, "org id")?;
        check(name, "key")?;
        Ok(Self {
            org_id: org_id.to_owned(),
            kind,
            name: name.to_owned(),
        })
    }

    /// An attachment's key.
    pub fn attachment(org_id: &str, name: &str) -> Result<Self, BlobError> {
        Self::new(org_id, ObjectKind::Attachment, name)
    }

    /// An overflow payload's key.
    pub fn overflow(org_id: &str, name: &str) -> Result<Self, BlobError> {
        Self::new(org_id, ObjectKind::Overflow, name)
    }

    /// The path below the store root.
    pub(crate) fn relative_path(&self) -> std::path::PathBuf {
        [self.org_id.as_str(), self.kind.dir(), self.name.as_str()]
            .iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape() {
        for bad in ["", "../x", ".hidden", "a/b", "a\\\\b", "x\0y"] {
            assert!(ObjectKey::attachment("org", bad).is_err(), "{bad:?}");
        }
        assert!(ObjectKey::attachment("../org", "k").is_err());
        assert!(ObjectKey::attachment("org", "0b6a2c1e-5a3f-4f0e-9c7a-2f1d3e4b5a6c").is_ok());
    }
}
