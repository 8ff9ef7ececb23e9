//! Project routing of OTel spans: per-span `braintrust.parent` > the `x-bt-parent` header >
//! the `x-project-name` header (Phoenix-compatible) > the resource's
//! `openinference.project.name` > the default project.

/// Where spans go, before names are resolved to ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A project's logs, by id.
    ProjectId(String),
    /// A project's logs, by name (created if missing).
    ProjectName(String),
    /// An experiment, by id.
    ExperimentId(String),
}

/// The project that spans without any routing hint land in (the Braintrust SDK's default).
pub const DEFAULT_PROJECT: &str = "default-otel-project";

/// Parses a `braintrust.parent` / `x-bt-parent` value.
pub fn parse_parent(value: &str) -> Result<Target, String> {
    let value = value.trim();
    let (kind, id) = value.split_once(':').ok_or_else(|| {
        format!("parent {value:?} must be `project_id:<id>`, `project_name:<name>` or `experiment_id:<id>`")
    })?;
    let id = id.trim();
    if id.is_empty() {
        return Err(format!("parent {value:?} names no object after `{kind}:`"));
    }
    match kind {
        "project_id" => Ok(Target::ProjectId(id.to_owned())),
        "project_name" => Ok(Target::ProjectName(id.to_owned())),
        "experiment_id" => Ok(Target::ExperimentId(id.to_owned())),
        other => Err(format!(
            "parent {value:?} has an unknown kind `{other}`: expected project_id, project_name or experiment_id"
        )),
    }
}

/// Request-level routing from headers.
#[derive(Debug, Clone, Default)]
pub struct RequestRoute {
    /// Parsed `x-bt-parent`.
    pub parent: Option<Target>,
    /// `x-project-name`.
    pub project_name: Option<String>,
    /// The API key's default project, for spans with no hint at all.
    pub default_project: Option<String>,
}

impl RequestRoute {
    /// Builds the request route from header values; a malformed `x-bt-parent` is an error for
    /// the whole request.
    pub fn from_headers(
        bt_parent: Option<&str>,
        project_name: Option<&str>,
    ) -> Result<Self, String> {
        Ok(Self {
            parent: bt_parent
                .filter(|v| !v.trim().is_empty())
                .map(parse_parent)
                .transpose()
                .map_err(|e| format!("x-bt-parent: {e}"))?,
            project_name: project_name
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            default_project: None,
        })
    }

    /// Resolves one span's target.
    pub fn resolve(
        &self,
        span_parent: Option<&str>,
        resource_project: Option<&str>,
    ) -> Result<Target, String> {
        if let Some(p) = span_parent {
            return parse_parent(p).map_err(|e| format!("braintrust.parent: {e}"));
        }
        if let Some(t) = &self.parent {
            return Ok(t.clone());
        }
        if let Some(name) = self.project_name.as_deref().or(resource_project) {
            return Ok(Target::ProjectName(name.to_owned()));
        }
        Ok(Target::ProjectName(
            self.default_project
                .clone()
                .unwrap_or_else(|| DEFAULT_PROJECT.to_owned()),
        ))
    }

    /// The same route with the key's default project as the last resort.
    pub fn with_default_project(mut self, project: Option<String>) -> Self {
        self.default_project = project.filter(|p| !p.is_empty());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let r = RequestRoute::from_headers(Some("project_name:hdr"), Some("phoenix")).unwrap();
        assert_eq!(
            r.resolve(Some("experiment_id:e1"), None).unwrap(),
            Target::ExperimentId("e1".into())
        );
        assert_eq!(
            r.resolve(None, Some("res")).unwrap(),
            Target::ProjectName("hdr".into())
        );
        let r = RequestRoute::from_headers(None, Some("phoenix")).unwrap();
        assert_eq!(
            r.resolve(None, Some("res")).unwrap(),
            Target::ProjectName("phoenix".into())
        );
        let r = RequestRoute::default();
        assert_eq!(
            r.resolve(None, Some("res")).unwrap(),
            Target::ProjectName("res".into())
        );
        assert_eq!(
            r.resolve(None, None).unwrap(),
            Target::ProjectName(DEFAULT_PROJECT.into())
        );
    }

    #[test]
    fn bad_parents_are_named() {
        assert!(
            RequestRoute::from_headers(Some("playground:x"), None)
                .unwrap_err()
                .contains("unknown kind `playground`")
        );
        assert!(
            parse_parent("project_id:")
                .unwrap_err()
                .contains("names no object")
        );
        assert!(parse_parent("nonsense").unwrap_err().contains("must be"));
    }
}
