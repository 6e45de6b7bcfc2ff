//! Reflection: the part of a member object's `.status` that goes into its Work's manifest
//! status, per kind, as Karmada's default interpreter picks it.
//!
//! Workloads whose template status is aggregated by generation (Deployment, ReplicaSet,
//! StatefulSet, DaemonSet) also carry the member object's `generation` and the template
//! generation it was rendered from, so the federation can tell when every member runs, and has
//! observed, the current template.

use karmada_api::work::work::{ManifestStatus, ResourceIdentifier};
use serde_json::{Map, Value};

use super::{Error, NativeKind, RESOURCE_TEMPLATE_GENERATION_ANNOTATION, at, int, object, string};

/// How an integer status field is written: Kubernetes omits some when zero and always writes
/// others, and the reflected status keeps that shape.
#[derive(Clone, Copy)]
enum Zero {
    Omit,
    Keep,
}

/// The status to record for `member` (a member cluster's copy of a resource), or `None` when
/// there is nothing to record yet: the object has no status, a Service is not a LoadBalancer,
/// or a Deployment's reflected status is empty.
pub fn reflect_status(member: &Value) -> Result<Option<Map<String, Value>>, Error> {
    let Some(status) = object(member, &["status"])? else {
        return Ok(None);
    };
    let status = Value::Object(status.clone());
    let mut out = Map::new();
    match NativeKind::of(member) {
        Some(NativeKind::Deployment) => {
            federated_generation(member, &mut out)?;
            copy_ints(
                &status,
                &mut out,
                Zero::Omit,
                &[
                    "observedGeneration",
                    "replicas",
                    "updatedReplicas",
                    "readyReplicas",
                    "availableReplicas",
                    "unavailableReplicas",
                ],
            )?;
            // An empty reflection means the member has not reported anything yet.
            if out.is_empty() {
                return Ok(None);
            }
        }
        Some(NativeKind::ReplicaSet) => {
            federated_generation(member, &mut out)?;
            copy_ints(&status, &mut out, Zero::Keep, &["replicas"])?;
            copy_ints(
                &status,
                &mut out,
                Zero::Omit,
                &["readyReplicas", "availableReplicas", "observedGeneration"],
            )?;
        }
        Some(NativeKind::StatefulSet) => {
            federated_generation(member, &mut out)?;
            copy_ints(
                &status,
                &mut out,
                Zero::Keep,
                &["replicas", "availableReplicas"],
            )?;
            // Karmada's reflection drops observedGeneration, which leaves the template's
            // observedGeneration stuck; it is kept here so the generation check can pass.
            copy_ints(
                &status,
                &mut out,
                Zero::Omit,
                &[
                    "observedGeneration",
                    "readyReplicas",
                    "currentReplicas",
                    "updatedReplicas",
                ],
            )?;
        }
        Some(NativeKind::DaemonSet) => {
            federated_generation(member, &mut out)?;
            copy_ints(
                &status,
                &mut out,
                Zero::Keep,
                &[
                    "currentNumberScheduled",
                    "numberMisscheduled",
                    "desiredNumberScheduled",
                    "numberReady",
                ],
            )?;
            copy_ints(
                &status,
                &mut out,
                Zero::Omit,
                &[
                    "observedGeneration",
                    "updatedNumberScheduled",
                    "numberAvailable",
                    "numberUnavailable",
                ],
            )?;
        }
        Some(NativeKind::Service) => {
            if string(member, &["spec", "type"])? != "LoadBalancer" {
                return Ok(None);
            }
            let lb = object(&status, &["loadBalancer"])?
                .cloned()
                .unwrap_or_default();
            out.insert("loadBalancer".into(), Value::Object(lb));
        }
        Some(NativeKind::Job) => {
            copy_ints(
                &status,
                &mut out,
                Zero::Omit,
                &["active", "succeeded", "failed"],
            )?;
            copy_present(
                &status,
                &mut out,
                &["conditions", "startTime", "completionTime"],
            );
        }
        Some(NativeKind::PodDisruptionBudget) => {
            copy_ints(
                &status,
                &mut out,
                Zero::Keep,
                &[
                    "disruptionsAllowed",
                    "currentHealthy",
                    "desiredHealthy",
                    "expectedPods",
                ],
            )?;
            copy_present(&status, &mut out, &["disruptedPods"]);
        }
        Some(NativeKind::HorizontalPodAutoscaler) => {
            copy_ints(&status, &mut out, Zero::Omit, &["currentReplicas"])?;
            copy_ints(&status, &mut out, Zero::Keep, &["desiredReplicas"])?;
        }
        // Ingress, and every kind without a dedicated rule, reflects its whole status.
        _ => return Ok(status.as_object().cloned()),
    }
    Ok(Some(out))
}

/// The entry the work status controller writes into `Work.status.manifestStatuses` for
/// `member`, the applied copy of the Work's manifest at `ordinal`; `resource` is the kind's
/// plural name, which only discovery knows.
pub fn manifest_status(
    member: &Value,
    ordinal: i64,
    resource: &str,
) -> Result<ManifestStatus, Error> {
    let api_version = string(member, &["apiVersion"])?;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    Ok(ManifestStatus {
        identifier: ResourceIdentifier {
            ordinal,
            group: group.to_string(),
            version: version.to_string(),
            kind: string(member, &["kind"])?.to_string(),
            resource: resource.to_string(),
            namespace: string(member, &["metadata", "namespace"])?.to_string(),
            name: string(member, &["metadata", "name"])?.to_string(),
        },
        status: reflect_status(member)?,
        health: Some(super::health(member)),
    })
}

/// Records the member object's `metadata.generation` and the template generation it was
/// rendered from (0, and so omitted, when the annotation is absent).
fn federated_generation(member: &Value, out: &mut Map<String, Value>) -> Result<(), Error> {
    let generation = int(member, &["metadata", "generation"])?;
    let annotation = string(
        member,
        &[
            "metadata",
            "annotations",
            RESOURCE_TEMPLATE_GENERATION_ANNOTATION,
        ],
    )?;
    let template_generation = if annotation.is_empty() {
        0
    } else {
        annotation
            .trim()
            .parse::<i64>()
            .map_err(|_| Error::TemplateGeneration {
                value: annotation.to_string(),
            })?
    };
    for (key, value) in [
        ("generation", generation),
        ("resourceTemplateGeneration", template_generation),
    ] {
        if value != 0 {
            out.insert(key.into(), value.into());
        }
    }
    Ok(())
}

fn copy_ints(
    status: &Value,
    out: &mut Map<String, Value>,
    zero: Zero,
    fields: &[&str],
) -> Result<(), Error> {
    for field in fields {
        let value = int(status, &[field]).map_err(|e| match e {
            Error::FieldType {
                field,
                expected,
                found,
            } => Error::FieldType {
                field: format!("status.{field}"),
                expected,
                found,
            },
            other => other,
        })?;
        if value != 0 || matches!(zero, Zero::Keep) {
            out.insert((*field).into(), value.into());
        }
    }
    Ok(())
}

fn copy_present(status: &Value, out: &mut Map<String, Value>, fields: &[&str]) {
    for field in fields {
        if let Some(value) = at(status, &[field]) {
            out.insert((*field).into(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests;
