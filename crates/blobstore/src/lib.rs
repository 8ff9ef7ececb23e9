//! Blob store: attachments and `/logs3` overflow payloads, apart from the row store.
//!
//! ```text
//! SDK ──POST /attachment──▶ api ──▶ signed PUT URL ──▶ SDK PUTs bytes ──▶ [blobstore] file
//! SDK ──GET  /attachment──▶ api ──▶ signed GET URL ──▶ SDK GETs bytes ◀── [blobstore] file
//! ```
//!
//! * [`LocalDirStore`] keeps objects under a directory (`<data dir>/objects` by default):
//!   one file per object, written to a temporary file and renamed, so a reader never sees a
//!   partial upload.
//! * [`Signer`] makes and checks signed URL tokens: HMAC-SHA256 over the object, the method
//!   and an expiry, with a server secret. A token is unguessable, short-lived and good for one
//!   object and one method only.
//!
//! ```
//! use spanloom_blobstore::{ObjectKey, Signer, Method};
//! let signer = Signer::new([7u8; 32]);
//! let key = ObjectKey::attachment("org-1", "3f2a-uuid").unwrap();
//! let token = signer.sign(&key, Method::Put, 1_000, 300);
//! assert_eq!(signer.verify(&token, Method::Put, 1_100).unwrap(), key);
//! assert!(signer.verify(&token, Method::Get, 1_100).is_err());
//! assert!(signer.verify(&token, Method::Put, 1_400).is_err());
//! ```

mod key;
mod local;
mod signer;

pub use key::{ObjectKey, ObjectKind};
pub use local::{AttachmentMeta, LocalDirStore, UploadStatus};
pub use signer::{Method, Signer};

/// Errors of the blob store.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// A key that could escape its directory or is malformed.
    #[error("invalid object key: {0}")]
    InvalidKey(String),
    /// No such object.
    #[error("object not found")]
    NotFound,
    /// A signed URL that is forged, expired or for another method.
    #[error("signed URL rejected: {0}")]
    BadSignature(&'static str),
    /// An object larger than allowed.
    #[error("object exceeds the limit of {0} bytes")]
    TooLarge(u64),
    /// Disk I/O.
    #[error("blob store I/O: {0}")]
    Io(#[from] std::io::Error),
}
