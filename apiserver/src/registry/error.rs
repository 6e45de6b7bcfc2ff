//! Registry errors: one variant per Kubernetes failure reason, mapped to a `Status` once, in `http`.

use crate::storage;

/// One field-level cause of an `Invalid` error (`details.causes[]` of a Status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// Kubernetes cause type, e.g. `FieldValueInvalid`, `FieldValueRequired`.
    pub reason: String,
    pub message: String,
    /// Field path, e.g. `metadata.name`.
    pub field: String,
}

/// What a registry operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{resource}{} \"{name}\" not found", group_suffix(group))]
    NotFound {
        group: String,
        resource: String,
        name: String,
    },
    #[error("{resource}{} \"{name}\" already exists", group_suffix(group))]
    AlreadyExists {
        group: String,
        resource: String,
        name: String,
    },
    #[error(
        "Operation cannot be fulfilled on {resource}{} \"{name}\": {message}",
        group_suffix(group)
    )]
    Conflict {
        group: String,
        resource: String,
        name: String,
        message: String,
    },
    /// A server-side apply that would change fields other managers own.
    #[error("{message}")]
    ApplyConflict { message: String, causes: Vec<Cause> },
    #[error(
        "{kind}{} \"{name}\" is invalid: {}",
        group_suffix(group),
        render_causes(causes)
    )]
    Invalid {
        group: String,
        kind: String,
        name: String,
        causes: Vec<Cause>,
    },
    /// A path the server does not serve at all.
    #[error("the server could not find the requested resource")]
    NotFoundPath,
    #[error("{0}")]
    BadRequest(String),
    /// Credentials missing or not verified, in Kubernetes' one word.
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    RequestEntityTooLarge(String),
    /// The client took too long to send its request.
    #[error("{0}")]
    RequestTimeout(String),
    /// Over an in-flight limit; the client should retry after a moment.
    #[error("{0}")]
    TooManyRequests(String),
    /// A resource version or continue token older than the retained history.
    #[error("{0}")]
    Expired(String),
    #[error("{0}")]
    Timeout(String),
    #[error("the server is currently unable to handle the request: {0}")]
    ServiceUnavailable(String),
    #[error("storage failed: {0}")]
    Storage(#[source] storage::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

fn group_suffix(group: &str) -> String {
    if group.is_empty() {
        String::new()
    } else {
        format!(".{group}")
    }
}

fn render_causes(causes: &[Cause]) -> String {
    let parts: Vec<String> = causes
        .iter()
        .map(|c| {
            if c.field.is_empty() {
                c.message.clone()
            } else {
                format!("{}: {}", c.field, c.message)
            }
        })
        .collect();
    match parts.len() {
        0 => "invalid object".into(),
        1 => parts[0].clone(),
        _ => format!("[{}]", parts.join(", ")),
    }
}

impl Error {
    /// A single-cause `Invalid` error.
    pub fn invalid(
        group: &str,
        kind: &str,
        name: &str,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            group: group.into(),
            kind: kind.into(),
            name: name.into(),
            causes: vec![Cause {
                reason: "FieldValueInvalid".into(),
                message: message.into(),
                field: field.into(),
            }],
        }
    }

    /// HTTP status code of this error.
    pub fn code(&self) -> u16 {
        match self {
            Error::NotFound { .. } | Error::NotFoundPath => 404,
            Error::AlreadyExists { .. } | Error::Conflict { .. } | Error::ApplyConflict { .. } => {
                409
            }
            Error::Invalid { .. } => 422,
            Error::BadRequest(_) => 400,
            Error::Unauthorized => 401,
            Error::Forbidden(_) => 403,
            Error::MethodNotAllowed(_) => 405,
            Error::NotAcceptable(_) => 406,
            Error::UnsupportedMediaType(_) => 415,
            Error::RequestEntityTooLarge(_) => 413,
            Error::RequestTimeout(_) => 408,
            Error::TooManyRequests(_) => 429,
            Error::Expired(_) => 410,
            Error::Timeout(_) => 504,
            Error::ServiceUnavailable(_) => 503,
            Error::Storage(storage::Error::Compacted { .. }) => 410,
            Error::Storage(_) | Error::Internal(_) => 500,
        }
    }

    /// Kubernetes `Status.reason` of this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::NotFound { .. } | Error::NotFoundPath => "NotFound",
            Error::AlreadyExists { .. } => "AlreadyExists",
            Error::Conflict { .. } | Error::ApplyConflict { .. } => "Conflict",
            Error::Invalid { .. } => "Invalid",
            Error::BadRequest(_) => "BadRequest",
            Error::Unauthorized => "Unauthorized",
            Error::Forbidden(_) => "Forbidden",
            Error::MethodNotAllowed(_) => "MethodNotAllowed",
            Error::NotAcceptable(_) => "NotAcceptable",
            Error::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Error::RequestEntityTooLarge(_) => "RequestEntityTooLarge",
            Error::RequestTimeout(_) => "Timeout",
            Error::TooManyRequests(_) => "TooManyRequests",
            Error::Expired(_) | Error::Storage(storage::Error::Compacted { .. }) => "Expired",
            Error::Timeout(_) => "Timeout",
            Error::ServiceUnavailable(_) => "ServiceUnavailable",
            Error::Storage(_) | Error::Internal(_) => "InternalError",
        }
    }

    /// The `Status` object Kubernetes clients expect for this error.
    pub fn to_status(&self) -> serde_json::Value {
        let mut details = serde_json::Map::new();
        match self {
            Error::NotFound {
                group,
                resource,
                name,
            }
            | Error::AlreadyExists {
                group,
                resource,
                name,
            }
            | Error::Conflict {
                group,
                resource,
                name,
                ..
            } => {
                details.insert("name".into(), name.clone().into());
                if !group.is_empty() {
                    details.insert("group".into(), group.clone().into());
                }
                details.insert("kind".into(), resource.clone().into());
            }
            Error::ApplyConflict { causes, .. } => {
                details.insert("causes".into(), causes_json(causes));
            }
            Error::Invalid {
                group,
                kind,
                name,
                causes,
            } => {
                details.insert("name".into(), name.clone().into());
                if !group.is_empty() {
                    details.insert("group".into(), group.clone().into());
                }
                details.insert("kind".into(), kind.clone().into());
                details.insert("causes".into(), causes_json(causes));
            }
            _ => {}
        }
        let mut status = serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        if !details.is_empty() {
            status["details"] = details.into();
        }
        status
    }
}

fn causes_json(causes: &[Cause]) -> serde_json::Value {
    causes
        .iter()
        .map(|c| serde_json::json!({"reason": c.reason, "message": c.message, "field": c.field}))
        .collect()
}

impl From<storage::Error> for Error {
    fn from(e: storage::Error) -> Self {
        match e {
            storage::Error::Compacted {
                requested,
                compacted,
            } => Error::Expired(format!(
                "too old resource version: {requested} ({compacted})"
            )),
            storage::Error::FutureRevision { requested, current } => Error::Timeout(format!(
                "Too large resource version: {requested}, current: {current}"
            )),
            other => Error::Storage(other),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_reads_like_kubernetes() {
        let e = Error::NotFound {
            group: "apps".into(),
            resource: "deployments".into(),
            name: "web".into(),
        };
        assert_eq!(e.to_string(), "deployments.apps \"web\" not found");
        let s = e.to_status();
        assert_eq!(s["code"], 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["details"]["kind"], "deployments");
    }

    #[test]
    fn invalid_lists_field_causes() {
        let e = Error::invalid(
            "",
            "ConfigMap",
            "Bad_Name",
            "metadata.name",
            "Invalid value: \"Bad_Name\"",
        );
        assert_eq!(
            e.to_string(),
            "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\""
        );
        assert_eq!(
            e.to_status()["details"]["causes"][0]["field"],
            "metadata.name"
        );
        assert_eq!(e.code(), 422);
    }
}
