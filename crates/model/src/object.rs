//! Which object a row belongs to.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of object that owns rows. Each project has one `project_logs` stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// The logs of a project (`project_id` + `log_id: "g"` on the wire).
    ProjectLogs,
    /// An experiment (`experiment_id` on the wire).
    Experiment,
    /// A dataset (`dataset_id` on the wire).
    Dataset,
}

impl ObjectKind {
    /// All kinds, in a stable order.
    pub const ALL: [ObjectKind; 3] = [Self::ProjectLogs, Self::Experiment, Self::Dataset];

    /// The protocol's name (`project_logs`, `experiment`, `dataset`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProjectLogs => "project_logs",
            Self::Experiment => "experiment",
            Self::Dataset => "dataset",
        }
    }

    /// Parses the protocol's name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// A small integer used as a compact column value by storage backends.
    pub fn code(self) -> i64 {
        match self {
            Self::ProjectLogs => 1,
            Self::Experiment => 2,
            Self::Dataset => 3,
        }
    }

    /// Inverse of [`ObjectKind::code`].
    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The wire field that carries this object's id on a row.
    pub fn id_field(self) -> &'static str {
        match self {
            Self::ProjectLogs => "project_id",
            Self::Experiment => "experiment_id",
            Self::Dataset => "dataset_id",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object: its kind and id. For project logs the id is the project id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    /// What kind of object.
    pub kind: ObjectKind,
    /// The object's id (a UUID string).
    pub id: String,
}

impl ObjectRef {
    /// Builds a reference.
    pub fn new(kind: ObjectKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }

    /// The project logs of a project.
    pub fn project_logs(project_id: impl Into<String>) -> Self {
        Self::new(ObjectKind::ProjectLogs, project_id)
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}('{}')", self.kind, self.id)
    }
}
