//! Status flowing back from member clusters: what each member reports, how healthy it is, and
//! what the federation's binding and resource template show for it, as Karmada computes them.
//!
//! Everything here is pure: controllers fetch Works and templates, call these functions, and
//! write the results. Kinds are recognised by exact `apiVersion` and `kind`, as Karmada's
//! default resource interpreter keys its tables by GroupVersionKind; other versions of the same
//! kind fall back to the generic behaviour.

pub mod binding;
pub mod controller;
pub mod health;
mod loadbalancer;
pub mod reflect;
pub mod template;
mod workloads;

use serde_json::Value;

pub use self::binding::{
    FULLY_APPLIED_FAILED_REASON, FULLY_APPLIED_SUCCESS_REASON, MemberWork, aggregated_status,
    binding_conditions, existing_clusters, fully_applied_condition,
};
pub use self::health::health;
pub use self::reflect::{manifest_status, reflect_status};
pub use self::template::aggregate_template_status;

/// Annotation the binding controller stamps on every member copy with the template's
/// `metadata.generation`, so a member's reflected status tells which template revision it runs.
pub const RESOURCE_TEMPLATE_GENERATION_ANNOTATION: &str = "resourcetemplate.karmada.io/generation";

/// Why a status could not be reflected or aggregated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A field holds JSON of the wrong type, so counting it would give a wrong total.
    #[error("field {field} must be {expected}, found {found}")]
    FieldType {
        field: String,
        expected: &'static str,
        found: String,
    },
    /// The member copy carries a template-generation annotation that is not an integer.
    #[error(
        "annotation {RESOURCE_TEMPLATE_GENERATION_ANNOTATION}={value:?} on the member object is not an integer; remove it or let the binding controller set it"
    )]
    TemplateGeneration { value: String },
    /// One member's reported status cannot be read.
    #[error("status reported by cluster {cluster}: {source}")]
    MemberStatus {
        cluster: String,
        #[source]
        source: Box<Error>,
    },
}

/// The kinds Karmada's default interpreter knows, by exact `apiVersion` and `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NativeKind {
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    Pod,
    Service,
    Ingress,
    PersistentVolume,
    PersistentVolumeClaim,
    PodDisruptionBudget,
    HorizontalPodAutoscaler,
}

impl NativeKind {
    /// The kind of `object`, or `None` for kinds (and versions) without native handling.
    pub(crate) fn of(object: &Value) -> Option<Self> {
        let api_version = object.get("apiVersion").and_then(Value::as_str)?;
        let kind = object.get("kind").and_then(Value::as_str)?;
        Some(match (api_version, kind) {
            ("apps/v1", "Deployment") => Self::Deployment,
            ("apps/v1", "ReplicaSet") => Self::ReplicaSet,
            ("apps/v1", "StatefulSet") => Self::StatefulSet,
            ("apps/v1", "DaemonSet") => Self::DaemonSet,
            ("batch/v1", "Job") => Self::Job,
            ("batch/v1", "CronJob") => Self::CronJob,
            ("v1", "Pod") => Self::Pod,
            ("v1", "Service") => Self::Service,
            ("networking.k8s.io/v1", "Ingress") => Self::Ingress,
            ("v1", "PersistentVolume") => Self::PersistentVolume,
            ("v1", "PersistentVolumeClaim") => Self::PersistentVolumeClaim,
            ("policy/v1", "PodDisruptionBudget") => Self::PodDisruptionBudget,
            ("autoscaling/v2", "HorizontalPodAutoscaler") => Self::HorizontalPodAutoscaler,
            _ => return None,
        })
    }
}

/// The value at `path`, or `None` when any step is absent or null.
pub(crate) fn at<'a>(object: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(object, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

fn wrong_type(path: &[&str], expected: &'static str, found: &Value) -> Error {
    Error::FieldType {
        field: path.join("."),
        expected,
        found: found.to_string(),
    }
}

/// An integer field; absent counts as 0, as Go's zero value does.
pub(crate) fn int(object: &Value, path: &[&str]) -> Result<i64, Error> {
    opt_int(object, path).map(Option::unwrap_or_default)
}

/// An integer field that may be absent (e.g. `spec.replicas`, which has a meaning when unset).
pub(crate) fn opt_int(object: &Value, path: &[&str]) -> Result<Option<i64>, Error> {
    match at(object, path) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| wrong_type(path, "an integer", v)),
    }
}

/// A string field; absent reads as "".
pub(crate) fn string<'a>(object: &'a Value, path: &[&str]) -> Result<&'a str, Error> {
    match at(object, path) {
        None => Ok(""),
        Some(v) => v.as_str().ok_or_else(|| wrong_type(path, "a string", v)),
    }
}

/// An array field; absent reads as empty.
pub(crate) fn array<'a>(object: &'a Value, path: &[&str]) -> Result<&'a [Value], Error> {
    match at(object, path) {
        None => Ok(&[]),
        Some(v) => v
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| wrong_type(path, "a list", v)),
    }
}

/// An object field, or `None` when absent.
pub(crate) fn object<'a>(
    value: &'a Value,
    path: &[&str],
) -> Result<Option<&'a serde_json::Map<String, Value>>, Error> {
    match at(value, path) {
        None => Ok(None),
        Some(v) => v
            .as_object()
            .map(Some)
            .ok_or_else(|| wrong_type(path, "an object", v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_are_matched_by_exact_api_version() {
        let cases = [
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment"}),
                Some(NativeKind::Deployment),
            ),
            (
                json!({"apiVersion": "extensions/v1beta1", "kind": "Deployment"}),
                None,
            ),
            (
                json!({"apiVersion": "v1", "kind": "Service"}),
                Some(NativeKind::Service),
            ),
            (
                json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler"}),
                None,
            ),
            (
                json!({"apiVersion": "example.io/v1", "kind": "Widget"}),
                None,
            ),
            (json!({"kind": "Pod"}), None),
        ];
        for (object, want) in cases {
            assert_eq!(NativeKind::of(&object), want, "{object}");
        }
    }

    #[test]
    fn field_readers_default_absent_and_reject_wrong_types() {
        let v = json!({"status": {"replicas": 2, "phase": "Bound", "bad": "x", "nul": null}});
        assert_eq!(int(&v, &["status", "replicas"]), Ok(2));
        assert_eq!(int(&v, &["status", "missing"]), Ok(0));
        assert_eq!(int(&v, &["status", "nul"]), Ok(0));
        assert_eq!(opt_int(&v, &["spec", "replicas"]), Ok(None));
        assert_eq!(string(&v, &["status", "phase"]), Ok("Bound"));
        let err = int(&v, &["status", "bad"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "field status.bad must be an integer, found \"x\""
        );
        assert!(array(&v, &["status", "replicas"]).is_err());
        assert!(object(&v, &["status"]).unwrap().is_some());
    }
}
