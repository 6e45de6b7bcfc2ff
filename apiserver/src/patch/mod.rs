//! The PATCH engines: JSON patch, JSON merge patch, strategic merge patch and server-side apply,
//! as pure functions over JSON values.

mod apply;
mod fields;
mod fieldset;
pub mod managed_fields;
mod schema;
mod strategic;

use serde_json::Value;

pub use apply::{ApplyContext, apply};
pub use fieldset::FieldSet;
pub use strategic::strategic_merge_patch;

/// Why a patch could not be applied. Each variant maps to one HTTP status (see the variant).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The patch document is malformed (HTTP 400).
    #[error("invalid patch: {0}")]
    InvalidPatch(String),
    /// A JSON patch `test` operation found a different value (HTTP 422).
    #[error("JSON patch operation {index} (test) failed: the value at {path:?} did not match")]
    TestFailed { index: usize, path: String },
    /// A JSON patch operation addressed a location that does not exist (HTTP 422).
    #[error("JSON patch operation {index} ({op}) failed: {reason} at {path:?}")]
    PathNotFound {
        index: usize,
        op: String,
        path: String,
        reason: String,
    },
    /// A strategic merge patch is well formed but does not fit the object (HTTP 422).
    #[error("unable to apply strategic merge patch: {0}")]
    Unprocessable(String),
    /// `metadata.managedFields` cannot be decoded.
    #[error("invalid metadata.managedFields: {0}")]
    InvalidManagedFields(String),
    /// A server-side apply would change fields another manager owns (HTTP 409).
    #[error("{}", conflict_message(conflicts))]
    Conflict { conflicts: Vec<FieldConflict> },
}

/// One field a server-side apply wanted to change that another manager owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldConflict {
    /// The other manager's name.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// The API version the other manager wrote with.
    pub api_version: String,
    pub subresource: Option<String>,
    /// The field in Kubernetes' path notation: `.spec.replicas`,
    /// `.spec.containers[name="nginx"].image`.
    pub field: String,
}

impl FieldConflict {
    /// Kubernetes' description of the other manager: `conflict with "kubectl" using apps/v1`;
    /// this is the `message` of the `FieldManagerConflict` cause in the 409 Status.
    pub fn message(&self) -> String {
        let mut manager = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            manager = format!("{manager} with subresource {sub:?}");
        }
        if self.operation == "Update" {
            manager = format!("{manager} using {}", self.api_version);
        }
        format!("conflict with {manager}")
    }
}

fn conflict_message(conflicts: &[FieldConflict]) -> String {
    let lines: Vec<String> = conflicts
        .iter()
        .map(|c| format!("{}: {}", c.message(), c.field))
        .collect();
    let noun = if conflicts.len() == 1 {
        "conflict"
    } else {
        "conflicts"
    };
    format!(
        "Apply failed with {} {noun}: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Applies an RFC 6902 JSON patch. A malformed patch is `InvalidPatch`; an operation that
/// cannot be carried out is `TestFailed` or `PathNotFound`.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, Error> {
    if !patch.is_array() {
        return Err(Error::InvalidPatch(
            "a JSON patch must be a JSON array of operations".into(),
        ));
    }
    let operations: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| Error::InvalidPatch(format!("malformed JSON patch: {e}")))?;
    let mut doc = target.clone();
    for (index, operation) in operations.0.iter().enumerate() {
        if tests_absent_as_null(&doc, operation) {
            continue;
        }
        let single = json_patch::Patch(vec![operation.clone()]);
        json_patch::patch(&mut doc, &single).map_err(|mut e| {
            e.operation = index;
            patch_failure(&operations, &e)
        })?;
    }
    Ok(doc)
}

/// Kubernetes' JSON patch treats a missing location as `null` for `test`, so
/// `{"op":"test","path":"/metadata/finalizers","value":null}` passes on an object without
/// finalizers (kube-rs's finalizer helper sends exactly that).
fn tests_absent_as_null(doc: &Value, operation: &json_patch::PatchOperation) -> bool {
    let Ok(op) = serde_json::to_value(operation) else {
        return false;
    };
    op["op"] == "test"
        && op["value"].is_null()
        && op["path"]
            .as_str()
            .is_some_and(|path| doc.pointer(path).is_none_or(Value::is_null))
}

fn patch_failure(operations: &json_patch::Patch, e: &json_patch::PatchError) -> Error {
    let op = operations.0.get(e.operation);
    let op_name = op.map(operation_name).unwrap_or("unknown");
    let path = e.path.to_string();
    match e.kind {
        json_patch::PatchErrorKind::TestFailed => Error::TestFailed {
            index: e.operation,
            path,
        },
        json_patch::PatchErrorKind::InvalidFromPointer => Error::PathNotFound {
            index: e.operation,
            op: op_name.into(),
            path: from_path(op).unwrap_or(path),
            reason: "the \"from\" location does not exist".into(),
        },
        json_patch::PatchErrorKind::CannotMoveInsideItself => Error::PathNotFound {
            index: e.operation,
            op: op_name.into(),
            path,
            reason: "a value cannot be moved into itself".into(),
        },
        _ => Error::PathNotFound {
            index: e.operation,
            op: op_name.into(),
            path,
            reason: "the location does not exist".into(),
        },
    }
}

fn operation_name(op: &json_patch::PatchOperation) -> &'static str {
    use json_patch::PatchOperation as Op;
    match op {
        Op::Add(_) => "add",
        Op::Remove(_) => "remove",
        Op::Replace(_) => "replace",
        Op::Move(_) => "move",
        Op::Copy(_) => "copy",
        Op::Test(_) => "test",
    }
}

fn from_path(op: Option<&json_patch::PatchOperation>) -> Option<String> {
    match op? {
        json_patch::PatchOperation::Move(m) => Some(m.from.to_string()),
        json_patch::PatchOperation::Copy(c) => Some(c.from.to_string()),
        _ => None,
    }
}

/// Applies an RFC 7386 JSON merge patch: objects merge, `null` deletes, anything else replaces.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    let mut doc = target.clone();
    json_patch::merge(&mut doc, patch);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_test_of_null_passes_on_a_missing_location() {
        let target = json!({"metadata": {"name": "a"}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["x"]}
        ]);
        let out = json_patch(&target, &patch).expect("null test passes on a missing path");
        assert_eq!(out["metadata"]["finalizers"], json!(["x"]));
        let again = json_patch(&out, &patch).expect_err("the list now exists, so the test fails");
        assert!(matches!(again, Error::TestFailed { index: 0, .. }));
    }

    #[test]
    fn json_patch_applies_every_operation() {
        let target = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"list": [1, 2]}});
        let patch = json!([
            {"op": "test", "path": "/metadata/labels/a", "value": "1"},
            {"op": "add", "path": "/metadata/labels/b", "value": "2"},
            {"op": "replace", "path": "/metadata/labels/a", "value": "x"},
            {"op": "add", "path": "/spec/list/-", "value": 3},
            {"op": "copy", "from": "/spec/list", "path": "/spec/copy"},
            {"op": "move", "from": "/metadata/labels/b", "path": "/metadata/labels/c"},
            {"op": "remove", "path": "/spec/list/0"}
        ]);
        let out = json_patch(&target, &patch).unwrap();
        assert_eq!(
            out,
            json!({"metadata": {"labels": {"a": "x", "c": "2"}},
                   "spec": {"list": [2, 3], "copy": [1, 2, 3]}})
        );
    }

    #[test]
    fn json_patch_failures_name_the_operation() {
        let target = json!({"metadata": {"resourceVersion": "5"}});
        let test = json!([{"op": "test", "path": "/metadata/resourceVersion", "value": "4"}]);
        let err = json_patch(&target, &test).unwrap_err();
        assert!(
            matches!(&err, Error::TestFailed { index: 0, path } if path == "/metadata/resourceVersion")
        );

        let remove = json!([{"op": "add", "path": "/a", "value": 1},
                            {"op": "remove", "path": "/spec/missing"}]);
        let err = json_patch(&target, &remove).unwrap_err();
        assert!(
            matches!(&err, Error::PathNotFound { index: 1, op, .. } if op == "remove"),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "JSON patch operation 1 (remove) failed: the location does not exist at \"/spec/missing\""
        );

        for malformed in [
            json!({"op": "add"}),
            json!([{"op": "frobnicate", "path": "/a"}]),
        ] {
            assert!(matches!(
                json_patch(&target, &malformed),
                Err(Error::InvalidPatch(_))
            ));
        }
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": [1, 2]}), json!({"a": [3]}), json!({"a": [3]})),
            (
                json!({"a": {"b": 1, "c": 2}}),
                json!({"a": {"b": null}}),
                json!({"a": {"c": 2}}),
            ),
            (
                json!({"a": 1}),
                json!({"n": {"x": null, "y": 1}}),
                json!({"a": 1, "n": {"y": 1}}),
            ),
        ];
        for (target, patch, want) in cases {
            assert_eq!(merge_patch(&target, &patch), want, "{patch}");
        }
    }

    #[test]
    fn conflict_error_reads_like_kubernetes() {
        let one = FieldConflict {
            manager: "kubectl-client-side-apply".into(),
            operation: "Update".into(),
            api_version: "apps/v1".into(),
            subresource: None,
            field: ".spec.replicas".into(),
        };
        let err = Error::Conflict {
            conflicts: vec![one.clone()],
        };
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );
        let applier = FieldConflict {
            manager: "other".into(),
            operation: "Apply".into(),
            subresource: Some("status".into()),
            ..one.clone()
        };
        let err = Error::Conflict {
            conflicts: vec![one, applier],
        };
        assert!(
            err.to_string()
                .starts_with("Apply failed with 2 conflicts: ")
        );
        assert!(
            err.to_string()
                .ends_with("\nconflict with \"other\" with subresource \"status\": .spec.replicas")
        );
    }
}
