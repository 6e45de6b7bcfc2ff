//! Per-kind behaviour the generic store defers to: status handling, generation, defaults and
//! validation.

use serde_json::Value;

use super::catalog::{Origin, Resource};
use super::error::{Cause, Error, Result};
use super::object::{Meta, spec_part};
use super::{defaults, validation};

/// Which part of an object a write targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    /// The object itself; status is ignored when the kind has a status subresource.
    Main,
    /// `/status`: only status changes.
    Status,
}

impl Subresource {
    pub fn name(self) -> Option<&'static str> {
        match self {
            Subresource::Main => None,
            Subresource::Status => Some("status"),
        }
    }
}

/// Whether `metadata.generation` counts spec changes for this resource.
pub fn tracks_generation(resource: &Resource) -> bool {
    resource.status_subresource || resource.is_custom()
}

/// Prepares a new object: clears status the client may not set, and applies defaults.
pub fn prepare_create(resource: &Resource, object: &mut Value) {
    if resource.status_subresource
        && let Some(map) = object.as_object_mut()
    {
        map.remove("status");
    }
    if matches!(resource.origin, Origin::Native) {
        defaults::apply(&resource.group, &resource.kind, object);
        if (resource.group.as_str(), resource.kind.as_str()) == ("batch", "Job") {
            defaults::job_selector(object);
        }
    }
}

/// Merges an update into the current object according to the targeted subresource.
pub fn prepare_update(
    resource: &Resource,
    current: &Value,
    new: &mut Value,
    subresource: Subresource,
) {
    match subresource {
        Subresource::Main => {
            if resource.status_subresource {
                set_field(new, "status", current.get("status").cloned());
            }
        }
        Subresource::Status => {
            let status = new.get("status").cloned();
            let resource_version = new.resource_version().map(str::to_string);
            *new = current.clone();
            set_field(new, "status", status);
            if let Some(rv) = resource_version {
                super::object::meta_mut(new).insert("resourceVersion".into(), rv.into());
            }
        }
    }
    if matches!(resource.origin, Origin::Native) {
        defaults::apply(&resource.group, &resource.kind, new);
    }
}

fn set_field(object: &mut Value, field: &str, value: Option<Value>) {
    if let Some(map) = object.as_object_mut() {
        match value {
            Some(v) => map.insert(field.into(), v),
            None => map.remove(field),
        };
    }
}

/// Sets `metadata.generation`: 1 on create, +1 whenever the spec part changes.
pub fn bump_generation(resource: &Resource, current: Option<&Value>, new: &mut Value) {
    if !tracks_generation(resource) {
        return;
    }
    let generation = match current {
        None => 1,
        Some(old) => {
            let old_gen = old
                .meta()
                .and_then(|m| m.get("generation"))
                .and_then(Value::as_i64)
                .unwrap_or(1);
            if spec_part(old) == spec_part(new) {
                old_gen
            } else {
                old_gen + 1
            }
        }
    };
    super::object::meta_mut(new).insert("generation".into(), generation.into());
}

/// Validates an object about to be written; `current` is set for updates.
pub fn validate(resource: &Resource, current: Option<&Value>, object: &Value) -> Result<()> {
    let meta = object.get("metadata").cloned().unwrap_or(Value::Null);
    let rule = validation::name_rule(&resource.group, &resource.kind);
    let mut causes: Vec<Cause> = validation::validate_object_meta(&meta, resource.namespaced, rule)
        .into_iter()
        .map(to_cause)
        .collect();
    if matches!(resource.origin, Origin::Native) {
        causes.extend(
            validation::validate_native(&resource.group, &resource.kind, object)
                .into_iter()
                .map(to_cause),
        );
        if let Some(old) = current {
            causes.extend(immutable_fields(resource, old, object));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid {
            group: resource.group.clone(),
            kind: resource.kind.clone(),
            name: object.name().unwrap_or_default().to_string(),
            causes,
        })
    }
}

fn to_cause(c: validation::Cause) -> Cause {
    Cause {
        reason: c.reason.to_string(),
        message: c.message,
        field: c.field,
    }
}

/// Fields Kubernetes refuses to change after creation.
fn immutable_fields(resource: &Resource, old: &Value, new: &Value) -> Vec<Cause> {
    let paths: &[&[&str]] = match (resource.group.as_str(), resource.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            &[&["spec", "selector"]]
        }
        ("batch", "Job") => &[&["spec", "selector"], &["spec", "completionMode"]],
        ("", "Service") => &[&["spec", "clusterIP"]],
        _ => &[],
    };
    let mut causes = Vec::new();
    for path in paths {
        let get = |v: &Value| path.iter().try_fold(v, |v, k| v.get(*k)).cloned();
        let (before, after) = (get(old), get(new));
        // A cleared clusterIP on update keeps the allocated one in Kubernetes; treat absence as unchanged.
        let set = |v: &Option<Value>| v.as_ref().is_some_and(|v| !v.is_null() && v != "");
        if set(&before) && set(&after) && before != after {
            causes.push(Cause {
                reason: "FieldValueInvalid".into(),
                message: format!(
                    "Invalid value: {}: field is immutable",
                    after.map(|v| v.to_string()).unwrap_or_default()
                ),
                field: path.join("."),
            });
        }
    }
    if old.get("immutable") == Some(&Value::Bool(true))
        && matches!(resource.kind.as_str(), "ConfigMap" | "Secret")
        && (old.get("data") != new.get("data") || old.get("binaryData") != new.get("binaryData"))
    {
        causes.push(Cause {
            reason: "FieldValueForbidden".into(),
            message: "Forbidden: field is immutable when `immutable` is set".into(),
            field: "data".into(),
        });
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::catalog::Catalog;
    use serde_json::json;

    #[test]
    fn generation_counts_spec_changes_only() {
        let deployments = Catalog::with_native()
            .get("apps", "v1", "deployments")
            .expect("served");
        let mut v1 = json!({"metadata": {"name": "a"}, "spec": {"replicas": 1}});
        bump_generation(&deployments, None, &mut v1);
        assert_eq!(v1["metadata"]["generation"], 1);
        let mut labelled = v1.clone();
        labelled["metadata"]["labels"] = json!({"x": "y"});
        bump_generation(&deployments, Some(&v1), &mut labelled);
        assert_eq!(labelled["metadata"]["generation"], 1);
        let mut scaled = v1.clone();
        scaled["spec"]["replicas"] = json!(3);
        bump_generation(&deployments, Some(&v1), &mut scaled);
        assert_eq!(scaled["metadata"]["generation"], 2);
    }

    #[test]
    fn status_writes_touch_only_status() {
        let deployments = Catalog::with_native()
            .get("apps", "v1", "deployments")
            .expect("served");
        let current =
            json!({"metadata": {"name": "a", "resourceVersion": "5"}, "spec": {"replicas": 1}});
        let mut new = json!({"metadata": {"name": "a", "resourceVersion": "5"}, "spec": {"replicas": 9}, "status": {"replicas": 1}});
        prepare_update(&deployments, &current, &mut new, Subresource::Status);
        assert_eq!(new["spec"]["replicas"], 1);
        assert_eq!(new["status"]["replicas"], 1);
        let mut main =
            json!({"metadata": {"name": "a"}, "spec": {"replicas": 2}, "status": {"replicas": 7}});
        prepare_update(&deployments, &new, &mut main, Subresource::Main);
        assert_eq!(main["status"]["replicas"], 1);
    }

    #[test]
    fn selector_is_immutable() {
        let deployments = Catalog::with_native()
            .get("apps", "v1", "deployments")
            .expect("served");
        let old = json!({"spec": {"selector": {"matchLabels": {"app": "a"}}}});
        let new = json!({"spec": {"selector": {"matchLabels": {"app": "b"}}}});
        let causes = immutable_fields(&deployments, &old, &new);
        assert_eq!(causes[0].field, "spec.selector");
    }
}
