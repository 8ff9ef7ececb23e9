//! Store errors.

use spanloom_model::ObjectRef;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A row or request named an object that does not exist in the caller's org.
    #[error("{0} does not exist in this organization")]
    UnknownObject(ObjectRef),
    /// A referenced parent (project, ...) does not exist in the caller's org.
    #[error("{0}")]
    NotFound(String),
    /// A pagination cursor that this store did not issue.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    /// A query this store cannot run as written (the message names the part).
    #[error("{0}")]
    InvalidQuery(String),
    /// The write queue is full; the client should retry after a short wait.
    #[error("the write queue is full; retry shortly")]
    Overloaded,
    /// The store is shutting down and takes no more writes.
    #[error("the store is shutting down")]
    ShuttingDown,
    /// The backend failed.
    #[error("storage backend error: {0}")]
    Backend(String),
}
