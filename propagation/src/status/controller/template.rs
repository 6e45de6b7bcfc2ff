//! Writes a binding's aggregated member status into its resource template's `.status`, for
//! kinds with an aggregation rule, through the template's status subresource.

use std::collections::HashSet;
use std::sync::Mutex;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use karmada_api::work::binding::{AggregatedStatusItem, ObjectReference};
use kube::api::{Patch, PatchParams};
use serde_json::{Map, Value, json};

use crate::resources::{self, Resources};
use crate::status::{self, NativeKind, aggregate_template_status};

/// Why a template's status could not be aggregated or written; each names the template.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot find the kind of resource template {template}: {source}")]
    Resolve {
        template: String,
        #[source]
        source: resources::Error,
    },
    #[error("cannot read resource template {template}: {source}")]
    Read {
        template: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot aggregate the status of resource template {template}: {source}")]
    Aggregate {
        template: String,
        #[source]
        source: status::Error,
    },
    #[error("cannot write the status of resource template {template}: {source}")]
    Write {
        template: String,
        #[source]
        source: kube::Error,
    },
}

/// What happened to the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its status was written.
    Updated,
    /// Nothing to do: the status already matches, the kind has no rule or no status
    /// subresource, or the template is gone.
    Unchanged,
}

/// Template kinds found to have no status subresource, so the failure is logged once.
#[derive(Debug, Default)]
pub struct WithoutStatus(Mutex<HashSet<(String, String)>>);

impl WithoutStatus {
    fn contains(&self, key: &(String, String)) -> bool {
        self.lock().contains(key)
    }

    /// Remembers `key`; `true` the first time.
    fn insert(&self, key: (String, String)) -> bool {
        self.lock().insert(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Aggregates `items` into the template `resource` names and writes the result when it differs.
pub async fn sync(
    resources: &Resources,
    without_status: &WithoutStatus,
    resource: &ObjectReference,
    items: &[AggregatedStatusItem],
) -> Result<Outcome, Error> {
    let kind_key = (resource.api_version.clone(), resource.kind.clone());
    let has_rule =
        NativeKind::of(&json!({"apiVersion": resource.api_version, "kind": resource.kind}))
            .is_some();
    if !has_rule || without_status.contains(&kind_key) {
        return Ok(Outcome::Unchanged);
    }
    let template_name = resource.to_string();
    let api = resources
        .api(
            &resource.api_version,
            &resource.kind,
            resource.namespace.as_deref(),
        )
        .await
        .map_err(|source| Error::Resolve {
            template: template_name.clone(),
            source,
        })?;
    let read_error = |source| Error::Read {
        template: template_name.clone(),
        source,
    };
    let Some(template) = api.get_opt(&resource.name).await.map_err(read_error)? else {
        return Ok(Outcome::Unchanged);
    };
    let template = serde_json::to_value(&template).unwrap_or_default();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let aggregated =
        aggregate_template_status(&template, items, &now).map_err(|source| Error::Aggregate {
            template: template_name.clone(),
            source,
        })?;
    let current = template.get("status").cloned().unwrap_or(Value::Null);
    let Some(patch) = aggregated.and_then(|status| status_patch(&current, &status)) else {
        return Ok(Outcome::Unchanged);
    };
    let result = api
        .patch_status(
            &resource.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": patch})),
        )
        .await;
    match result {
        Ok(_) => Ok(Outcome::Updated),
        Err(kube::Error::Api(e)) if e.code == 404 => {
            // Either the template just went, or its kind serves no /status.
            if api
                .get_opt(&resource.name)
                .await
                .map_err(read_error)?
                .is_some()
                && without_status.insert(kind_key)
            {
                tracing::info!(
                    kind = %resource.kind, api_version = %resource.api_version,
                    "resource templates of this kind have no status subresource; their status is not aggregated"
                );
            }
            Ok(Outcome::Unchanged)
        }
        Err(source) => Err(Error::Write {
            template: template_name,
            source,
        }),
    }
}

/// The merge patch turning status `current` into `wanted` (fields `wanted` dropped become
/// null, so they are removed), or `None` when they are equal.
fn status_patch(current: &Value, wanted: &Value) -> Option<Value> {
    if current == wanted {
        return None;
    }
    let (Some(current), Some(wanted)) = (current.as_object(), wanted.as_object()) else {
        return Some(wanted.clone());
    };
    let mut patch: Map<String, Value> = wanted
        .iter()
        .filter(|(key, value)| current.get(*key) != Some(value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    for key in current.keys() {
        if !wanted.contains_key(key) {
            patch.insert(key.clone(), Value::Null);
        }
    }
    Some(Value::Object(patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_patches_carry_changes_and_null_out_dropped_fields() {
        let cases = [
            (json!({"replicas": 2}), json!({"replicas": 2}), None),
            (
                json!({"replicas": 2, "readyReplicas": 1, "conditions": [{"type": "A"}]}),
                json!({"replicas": 2, "conditions": [{"type": "A"}], "observedGeneration": 3}),
                Some(json!({"readyReplicas": null, "observedGeneration": 3})),
            ),
            (
                Value::Null,
                json!({"replicas": 1}),
                Some(json!({"replicas": 1})),
            ),
        ];
        for (current, wanted, expected) in cases {
            assert_eq!(
                status_patch(&current, &wanted),
                expected,
                "{current} -> {wanted}"
            );
        }
    }
}
