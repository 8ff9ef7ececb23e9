//! The local-directory backend, and attachment metadata kept beside each attachment.

use crate::{BlobError, ObjectKey};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Upload state of an attachment, as the SDK reports it (`POST /attachment/status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatus {
    /// `uploading`, `done` or `error`.
    pub upload_status: String,
    /// Why an upload failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// What is known about an attachment besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentMeta {
    /// File name as given.
    pub filename: String,
    /// MIME type as given.
    pub content_type: String,
    /// Upload state.
    pub status: UploadStatus,
}

/// Objects as files under a root directory.
#[derive(Debug, Clone)]
pub struct LocalDirStore {
    root: PathBuf,
}

impl LocalDirStore {
    /// A store rooted at `root` (created if missing).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    fn path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.relative_path())
    }

    fn meta_path(&self, key: &ObjectKey) -> PathBuf {
        let mut p = self.path(key).into_os_string();
        p.push(".meta.json");
        PathBuf::from(p)
    }

    fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BlobError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("tmp-{:016x}", rand::random::<u64>()));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Stores an object (replacing any previous one), refusing more than `limit` bytes.
    pub fn put(&self, key: &ObjectKey, bytes: &[u8], limit: u64) -> Result<(), BlobError> {
        if bytes.len() as u64 > limit {
            return Err(BlobError::TooLarge(limit));
        }
        Self::write_atomic(&self.path(key), bytes)
    }

    /// Reads an object.
    pub fn get(&self, key: &ObjectKey) -> Result<Vec<u8>, BlobError> {
        std::fs::read(self.path(key)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BlobError::NotFound,
            _ => BlobError::Io(e),
        })
    }

    /// Whether an object exists.
    pub fn exists(&self, key: &ObjectKey) -> bool {
        self.path(key).is_file()
    }

    /// Records an attachment's metadata.
    pub fn put_meta(&self, key: &ObjectKey, meta: &AttachmentMeta) -> Result<(), BlobError> {
        let text = serde_json::to_vec(meta).map_err(|e| BlobError::Io(std::io::Error::other(e)))?;
        Self::write_atomic(&self.meta_path(key), &text)
    }

    /// An attachment's metadata, if it was registered.
    pub fn get_meta(&self, key: &ObjectKey) -> Result<Option<AttachmentMeta>, BlobError> {
        match std::fs::read(self.meta_path(key)) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BlobError::Io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = LocalDirStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let key = ObjectKey::attachment("org", "k").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(store.get(&key), Err(BlobError::NotFound)));
        store
            .put(&key, b"bytes", 10)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.get(&key).unwrap_or_default(), b"bytes");
        assert!(matches!(
            store.put(&key, &[0; 11], 10),
            Err(BlobError::TooLarge(10))
        ));
        let other_org = ObjectKey::attachment("org2", "k").unwrap_or_else(|e| panic!("{e}"));
        assert!(!store.exists(&other_org));
        let meta = AttachmentMeta {
            filename: "a.png".into(),
            content_type: "image/png".into(),
            status: UploadStatus {
                upload_status: "done".into(),
                error_message: None,
            },
        };
        store
            .put_meta(&key, &meta)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.get_meta(&key).unwrap_or(None), Some(meta));
    }
}
