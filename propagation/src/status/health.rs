//! Health of a member cluster's copy of a resource, by Karmada's default rules per kind.
//!
//! Kinds without a rule (Job, ConfigMap, custom resources, other API versions) are Healthy,
//! as Karmada's work status controller treats them; an object whose fields cannot be read is
//! Unknown, so application failover never acts on a guess.

use karmada_api::work::work::ResourceHealth;
use serde_json::Value;

use super::{Error, NativeKind, array, int, opt_int, string};

/// Judges `member`, the object as it exists in a member cluster.
pub fn health(member: &Value) -> ResourceHealth {
    let Some(kind) = NativeKind::of(member) else {
        return ResourceHealth::Healthy;
    };
    match healthy(kind, member) {
        Ok(Some(true)) | Ok(None) => ResourceHealth::Healthy,
        Ok(Some(false)) => ResourceHealth::Unhealthy,
        Err(_) => ResourceHealth::Unknown,
    }
}

/// `None` when the kind has no health rule.
fn healthy(kind: NativeKind, o: &Value) -> Result<Option<bool>, Error> {
    let observed_current = || -> Result<bool, Error> {
        Ok(int(o, &["status", "observedGeneration"])? == int(o, &["metadata", "generation"])?)
    };
    Ok(Some(match kind {
        // The rollout is complete: every desired replica runs the new revision and is
        // available.
        NativeKind::Deployment | NativeKind::StatefulSet => {
            let updated = int(o, &["status", "updatedReplicas"])?;
            observed_current()?
                && opt_int(o, &["spec", "replicas"])?.is_none_or(|want| updated >= want)
                && int(o, &["status", "availableReplicas"])? >= updated
        }
        NativeKind::ReplicaSet => {
            let available = int(o, &["status", "availableReplicas"])?;
            observed_current()?
                && opt_int(o, &["spec", "replicas"])?.is_none_or(|want| available >= want)
        }
        NativeKind::DaemonSet => {
            let updated = int(o, &["status", "updatedNumberScheduled"])?;
            observed_current()?
                && updated >= int(o, &["status", "desiredNumberScheduled"])?
                && int(o, &["status", "numberAvailable"])? >= updated
        }
        // Only a LoadBalancer Service waits for anything: an address from its provider.
        NativeKind::Service => string(o, &["spec", "type"])? != "LoadBalancer" || has_address(o)?,
        NativeKind::Ingress => has_address(o)?,
        NativeKind::PersistentVolumeClaim => string(o, &["status", "phase"])? == "Bound",
        NativeKind::Pod => match string(o, &["status", "phase"])? {
            "Succeeded" => true,
            "Running" => array(o, &["status", "conditions"])?.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            }),
            _ => false,
        },
        NativeKind::PodDisruptionBudget => {
            int(o, &["status", "currentHealthy"])? >= int(o, &["status", "desiredHealthy"])?
        }
        NativeKind::Job
        | NativeKind::CronJob
        | NativeKind::PersistentVolume
        | NativeKind::HorizontalPodAutoscaler => return Ok(None),
    }))
}

/// Whether `status.loadBalancer.ingress` holds an entry with an IP or a hostname.
fn has_address(o: &Value) -> Result<bool, Error> {
    for ingress in array(o, &["status", "loadBalancer", "ingress"])? {
        if !string(ingress, &["ip"])?.is_empty() || !string(ingress, &["hostname"])?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ResourceHealth::{Healthy, Unhealthy, Unknown};
    use serde_json::json;

    fn deploy(generation: i64, replicas: Option<i64>, status: &Value) -> Value {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                           "metadata": {"name": "nginx", "generation": generation}, "spec": {},
                           "status": status});
        if let Some(r) = replicas {
            d["spec"]["replicas"] = r.into();
        }
        d
    }

    #[test]
    fn health_table() {
        let cases = [
            (
                "deployment rolled out",
                deploy(
                    2,
                    Some(2),
                    &json!({"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2}),
                ),
                Healthy,
            ),
            (
                "deployment generation not observed",
                deploy(
                    3,
                    Some(2),
                    &json!({"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2}),
                ),
                Unhealthy,
            ),
            (
                "deployment still updating",
                deploy(
                    2,
                    Some(2),
                    &json!({"observedGeneration": 2, "updatedReplicas": 1, "availableReplicas": 1}),
                ),
                Unhealthy,
            ),
            (
                "deployment updated but not available",
                deploy(
                    2,
                    Some(2),
                    &json!({"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 1}),
                ),
                Unhealthy,
            ),
            (
                "deployment without spec.replicas",
                deploy(1, None, &json!({"observedGeneration": 1})),
                Healthy,
            ),
            (
                "deployment with a malformed count",
                deploy(
                    1,
                    Some(1),
                    &json!({"observedGeneration": 1, "updatedReplicas": "1"}),
                ),
                Unknown,
            ),
            (
                "statefulset ready",
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"generation": 1}, "spec": {"replicas": 3},
                "status": {"observedGeneration": 1, "updatedReplicas": 3, "availableReplicas": 3}}),
                Healthy,
            ),
            (
                "statefulset short",
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"generation": 1}, "spec": {"replicas": 3},
                "status": {"observedGeneration": 1, "updatedReplicas": 3, "availableReplicas": 2}}),
                Unhealthy,
            ),
            (
                "replicaset available",
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"generation": 1}, "spec": {"replicas": 2},
                "status": {"observedGeneration": 1, "availableReplicas": 2}}),
                Healthy,
            ),
            (
                "replicaset short",
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"generation": 1}, "spec": {"replicas": 2},
                "status": {"observedGeneration": 1, "availableReplicas": 1}}),
                Unhealthy,
            ),
            (
                "daemonset rolled out",
                json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": 1},
                "status": {"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 3}}),
                Healthy,
            ),
            (
                "daemonset not updated",
                json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": 1},
                "status": {"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 2, "numberAvailable": 2}}),
                Unhealthy,
            ),
            (
                "clusterip service",
                json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "ClusterIP"}}),
                Healthy,
            ),
            (
                "service without type",
                json!({"apiVersion": "v1", "kind": "Service", "spec": {}}),
                Healthy,
            ),
            (
                "loadbalancer with address",
                json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"},
                "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}}}),
                Healthy,
            ),
            (
                "loadbalancer pending",
                json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"},
                "status": {"loadBalancer": {}}}),
                Unhealthy,
            ),
            (
                "ingress with address",
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}}}),
                Healthy,
            ),
            (
                "ingress without address",
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "status": {}}),
                Unhealthy,
            ),
            (
                "pvc bound",
                json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Bound"}}),
                Healthy,
            ),
            (
                "pvc pending",
                json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}}),
                Unhealthy,
            ),
            (
                "pod running and ready",
                json!({"apiVersion": "v1", "kind": "Pod",
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}),
                Healthy,
            ),
            (
                "pod running not ready",
                json!({"apiVersion": "v1", "kind": "Pod",
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}}),
                Unhealthy,
            ),
            (
                "pod succeeded",
                json!({"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Succeeded"}}),
                Healthy,
            ),
            (
                "pod pending",
                json!({"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Pending"}}),
                Unhealthy,
            ),
            (
                "pdb satisfied",
                json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "status": {"currentHealthy": 2, "desiredHealthy": 2}}),
                Healthy,
            ),
            (
                "pdb short",
                json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "status": {"currentHealthy": 1, "desiredHealthy": 2}}),
                Unhealthy,
            ),
            (
                "failed job has no rule",
                json!({"apiVersion": "batch/v1", "kind": "Job",
                "status": {"conditions": [{"type": "Failed", "status": "True"}]}}),
                Healthy,
            ),
            (
                "configmap has no rule",
                json!({"apiVersion": "v1", "kind": "ConfigMap"}),
                Healthy,
            ),
            (
                "older api version has no rule",
                json!({"apiVersion": "extensions/v1beta1", "kind": "Deployment",
                "metadata": {"generation": 2}, "status": {}}),
                Healthy,
            ),
        ];
        for (name, object, want) in cases {
            assert_eq!(health(&object), want, "{name}");
        }
    }
}
