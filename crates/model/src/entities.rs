//! Organizations, API keys and the objects that own rows, as the API returns them.

use serde::Serialize;
use serde_json::Value;

/// An organization: the tenant boundary. Every read and write is scoped to one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Org {
    /// Org id (UUID).
    pub id: String,
    /// Unique org name.
    pub name: String,
    /// Creation time (ISO-8601).
    pub created: String,
}

/// Who a request is made by, derived from its API key.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthContext {
    /// The org the key belongs to.
    pub org_id: String,
    /// That org's name.
    pub org_name: String,
    /// The key's id.
    pub key_id: String,
    /// The project (by name) that writes without any project hint go to, e.g. OTLP exports
    /// with neither `x-bt-parent` nor a resource project name.
    pub default_project: Option<String>,
}

/// An API key as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKeyInfo {
    /// Key id (UUID).
    pub id: String,
    /// The org the key belongs to.
    pub org_id: String,
    /// A human label.
    pub name: String,
    /// The first characters of the key, for recognising it.
    pub prefix: String,
    /// Creation time.
    pub created: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
    /// The key's default project name, if set.
    pub default_project: Option<String>,
}

/// A project. Field names follow the protocol's Project object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    /// Project id (UUID).
    pub id: String,
    /// Owning org.
    pub org_id: String,
    /// Unique name within the org.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Creation time.
    pub created: String,
    /// Always null (soft delete is not implemented).
    pub deleted_at: Option<String>,
    /// Creating user (null: keys are not users).
    pub user_id: Option<String>,
    /// Project settings (free-form JSON, null by default).
    pub settings: Option<Value>,
}

/// An experiment. Field names follow the protocol's Experiment object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Experiment {
    /// Experiment id (UUID).
    pub id: String,
    /// Owning project.
    pub project_id: String,
    /// Unique name within the project.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Creation time.
    pub created: String,
    /// Everything else the client sent at creation (repo info, dataset link, metadata, ...).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// A dataset. Field names follow the protocol's Dataset object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dataset {
    /// Dataset id (UUID).
    pub id: String,
    /// Owning project.
    pub project_id: String,
    /// Unique name within the project.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Creation time.
    pub created: String,
    /// Free-form metadata.
    pub metadata: Option<Value>,
}
