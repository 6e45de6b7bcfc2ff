//! Admission of every Karmada kind by group and kind, on JSON objects as an apiserver holds
//! them: Karmada's defaults filled in, then every wrong field reported at once.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::validation::{Admit, FieldError};
use crate::{apps, cluster, mcs, policy, work};

/// Defaults and validates `object` (and `old`, the stored object on update) when `group` and
/// `kind` name a Karmada kind with admission rules; `Ok(false)` when they name none.
pub fn admit(
    group: &str,
    kind: &str,
    old: Option<&Value>,
    object: &mut Value,
) -> Result<bool, Vec<FieldError>> {
    use policy::{overrides, propagation, taint};
    match (group, kind) {
        (crate::POLICY_GROUP, "PropagationPolicy") => {
            typed::<propagation::PropagationPolicy>(old, object)
        }
        (crate::POLICY_GROUP, "ClusterPropagationPolicy") => {
            typed::<propagation::ClusterPropagationPolicy>(old, object)
        }
        (crate::POLICY_GROUP, "OverridePolicy") => typed::<overrides::OverridePolicy>(old, object),
        (crate::POLICY_GROUP, "ClusterOverridePolicy") => {
            typed::<overrides::ClusterOverridePolicy>(old, object)
        }
        (crate::POLICY_GROUP, "ClusterTaintPolicy") => {
            typed::<taint::ClusterTaintPolicy>(old, object)
        }
        (crate::CLUSTER_GROUP, "Cluster") => typed::<cluster::Cluster>(old, object),
        (crate::APPS_GROUP, "WorkloadRebalancer") => typed::<apps::WorkloadRebalancer>(old, object),
        (crate::WORK_GROUP, "Work") => typed::<work::work::Work>(old, object),
        (crate::MCS_GROUP, "ServiceImport") => typed::<mcs::ServiceImport>(old, object),
        _ => return Ok(false),
    }
    .map(|()| true)
}

/// Reads `object` as `K`, applies its defaults and validation, and writes the defaulted spec
/// back, keeping the metadata and status exactly as given.
fn typed<K: Admit + Serialize + DeserializeOwned>(
    old: Option<&Value>,
    object: &mut Value,
) -> Result<(), Vec<FieldError>> {
    let mut typed: K = serde_json::from_value(object.clone()).map_err(|e| {
        vec![FieldError::invalid(
            "",
            format!("the object cannot be read: {e}"),
        )]
    })?;
    let old: Option<K> = old.and_then(|o| serde_json::from_value(o.clone()).ok());
    typed.default_fields();
    let errors = typed.validate(old.as_ref());
    if !errors.is_empty() {
        return Err(errors);
    }
    let Ok(Value::Object(mut defaulted)) = serde_json::to_value(&typed) else {
        return Err(vec![FieldError::invalid(
            "",
            "the object cannot be written back",
        )]);
    };
    if let Value::Object(given) = object {
        for key in ["apiVersion", "kind", "metadata", "status"] {
            match given.get(key) {
                Some(value) => defaulted.insert(key.into(), value.clone()),
                None => defaulted.remove(key),
            };
        }
    }
    *object = Value::Object(defaulted);
    Ok(())
}
