//! The Karmada API a federation apiserver serves from start: the CRDs of every Karmada and MCS
//! kind, installed before the first request, and the admission Karmada's webhooks apply to
//! them (defaults, then every wrong field reported as a 422 with its path).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

use super::catalog::Resource;
use super::error::{Cause, Error, Result};
use super::object::Meta;
use karmada_api::validation::{FieldError, Reason};

/// The CRDs to install, as JSON objects.
pub fn crds() -> Vec<Value> {
    values(karmada_api::crds::all())
}

/// The MCS API's CRDs alone, as a member cluster serves them.
pub fn mcs_crds() -> Vec<Value> {
    values(karmada_api::crds::mcs())
}

fn values(crds: Vec<CustomResourceDefinition>) -> Vec<Value> {
    crds.into_iter()
        .map(|crd| {
            let mut value = serde_json::to_value(crd).expect("a CRD always serializes");
            // The generated CRDs carry no type information; the store wants it.
            value["apiVersion"] = "apiextensions.k8s.io/v1".into();
            value["kind"] = "CustomResourceDefinition".into();
            value
        })
        .collect()
}

/// Defaults and validates a Karmada object about to be written; other kinds pass untouched.
pub fn admit(resource: &Resource, old: Option<&Value>, object: &mut Value) -> Result<()> {
    if old.is_none() {
        stamp_permanent_id(resource, object);
    }
    match karmada_api::admission::admit(&resource.group, &resource.kind, old, object) {
        Ok(_) => Ok(()),
        Err(errors) => Err(Error::Invalid {
            group: resource.group.clone(),
            kind: resource.kind.clone(),
            name: object.name().unwrap_or_default().to_string(),
            causes: errors.into_iter().map(cause).collect(),
        }),
    }
}

/// Gives a new policy the permanent id label Karmada's webhook sets at creation: a UUID that
/// names the policy in the labels of what it claims, and never changes (validation refuses
/// a change on update).
fn stamp_permanent_id(resource: &Resource, object: &mut Value) {
    use karmada_api::policy::propagation::{
        CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL, PROPAGATION_POLICY_PERMANENT_ID_LABEL,
    };
    let label = match (resource.group.as_str(), resource.kind.as_str()) {
        (karmada_api::POLICY_GROUP, "PropagationPolicy") => PROPAGATION_POLICY_PERMANENT_ID_LABEL,
        (karmada_api::POLICY_GROUP, "ClusterPropagationPolicy") => {
            CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL
        }
        _ => return,
    };
    let labels = super::object::meta_mut(object)
        .entry("labels")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(labels) = labels.as_object_mut() {
        labels
            .entry(label)
            .or_insert_with(|| uuid::Uuid::new_v4().to_string().into());
    }
}

/// A field error in Kubernetes' wording: the reason's phrase, then what to fix.
fn cause(error: FieldError) -> Cause {
    let phrase = match error.reason {
        Reason::Invalid => "Invalid value",
        Reason::Required => "Required value",
        Reason::Forbidden => "Forbidden",
        Reason::Duplicate => "Duplicate value",
        Reason::NotSupported => "Unsupported value",
    };
    Cause {
        reason: error.reason.as_str().into(),
        message: format!("{phrase}: {}", error.message),
        field: error.field,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crd_is_a_typed_apiextensions_object() {
        let crds = crds();
        assert!(crds.len() >= 12);
        for crd in &crds {
            assert_eq!(crd["kind"], "CustomResourceDefinition");
            assert!(
                crd["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.contains('.'))
            );
        }
    }

    #[test]
    fn field_errors_read_like_kubernetes() {
        let c = cause(FieldError::required(
            "spec.resourceSelectors",
            "at least one selector",
        ));
        assert_eq!(c.reason, "FieldValueRequired");
        assert_eq!(c.message, "Required value: at least one selector");
        assert_eq!(c.field, "spec.resourceSelectors");
    }
}
