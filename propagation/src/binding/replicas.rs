//! Writing a cluster's share of replicas into a workload, as Karmada's default resource
//! interpreter does (ReviseReplica), and when the binding controller asks for it.

use karmada_api::work::binding::ResourceBindingSpec;
use serde_json::Value;

/// The replica field of a workload held a value that is not an integer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind} field spec.{field} must be an integer to be revised, found {found}")]
pub struct ReviseError {
    pub kind: String,
    pub field: &'static str,
    pub found: String,
}

/// The field Karmada's default interpreter revises for a kind, keyed by exact apiVersion and
/// kind like its GVK table; `None` for kinds it has no ReviseReplica hook for.
pub fn replica_field(api_version: &str, kind: &str) -> Option<&'static str> {
    match (api_version, kind) {
        ("apps/v1", "Deployment" | "ReplicaSet" | "StatefulSet") => Some("replicas"),
        // A Job's share of a cluster is how many pods run at once.
        ("batch/v1", "Job") => Some("parallelism"),
        _ => None,
    }
}

/// Whether the binding controller revises replicas for this binding at all: Karmada treats a
/// binding as a workload when it has replicas, per-replica requirements or components, and then
/// writes each target cluster's scheduled replicas, for Divided and Duplicated alike (so the
/// member never runs more than the scheduler admitted).
pub fn is_workload(spec: &ResourceBindingSpec) -> bool {
    spec.replicas.unwrap_or(0) > 0
        || spec.replica_requirements.is_some()
        || !spec.components.is_empty()
}

/// Sets the kind's replica field to `replicas`, only when the template already has that field
/// (like Karmada's `ApplyReplica`: a Job left without parallelism stays without). Returns
/// whether the kind has a revise hook; other kinds are left untouched.
pub fn revise_replicas(manifest: &mut Value, replicas: i32) -> Result<bool, ReviseError> {
    let api_version = manifest.get("apiVersion").and_then(Value::as_str);
    let kind = manifest.get("kind").and_then(Value::as_str);
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        return Ok(false);
    };
    let Some(field) = replica_field(api_version, kind) else {
        return Ok(false);
    };
    let kind = kind.to_string();
    let Some(current) = manifest
        .get_mut("spec")
        .and_then(Value::as_object_mut)
        .and_then(|spec| spec.get_mut(field))
    else {
        return Ok(true);
    };
    if current.as_i64().is_none() {
        return Err(ReviseError {
            kind,
            field,
            found: current.to_string(),
        });
    }
    *current = Value::from(replicas);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn revise_table() {
        let cases = [
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 4}}),
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1}}),
                true,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"replicas": 4}}),
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"replicas": 1}}),
                true,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": {"replicas": 0}}),
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": {"replicas": 1}}),
                true,
            ),
            (
                json!({"apiVersion": "batch/v1", "kind": "Job",
                       "spec": {"parallelism": 4, "completions": 8}}),
                json!({"apiVersion": "batch/v1", "kind": "Job",
                       "spec": {"parallelism": 1, "completions": 8}}),
                true,
            ),
            (
                // The field is only set when the template has it.
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {}}),
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {}}),
                true,
            ),
            (
                // Other versions and kinds have no default hook.
                json!({"apiVersion": "apps/v1beta1", "kind": "Deployment", "spec": {"replicas": 4}}),
                json!({"apiVersion": "apps/v1beta1", "kind": "Deployment", "spec": {"replicas": 4}}),
                false,
            ),
            (
                json!({"apiVersion": "v1", "kind": "Pod", "spec": {"replicas": 4}}),
                json!({"apiVersion": "v1", "kind": "Pod", "spec": {"replicas": 4}}),
                false,
            ),
        ];
        for (mut manifest, want, hooked) in cases {
            let before = manifest.clone();
            assert_eq!(revise_replicas(&mut manifest, 1), Ok(hooked), "{before}");
            assert_eq!(manifest, want, "{before}");
        }
    }

    #[test]
    fn a_non_integer_field_is_an_error() {
        let mut manifest =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "3"}});
        let err = revise_replicas(&mut manifest, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Deployment field spec.replicas must be an integer to be revised, found \"3\""
        );
    }

    #[test]
    fn workload_bindings() {
        let mut spec = ResourceBindingSpec::default();
        assert!(!is_workload(&spec));
        spec.replicas = Some(0);
        assert!(!is_workload(&spec));
        spec.replicas = Some(2);
        assert!(is_workload(&spec));
        spec.replicas = None;
        spec.replica_requirements = Some(Default::default());
        assert!(is_workload(&spec));
    }
}
