//! Test fixtures: clusters and binding specs from compact JSON, so table rows stay one line.

use karmada_api::cluster::Cluster;
use karmada_api::work::binding::ResourceBindingSpec;
use serde_json::{Value, json};

/// A cluster from `{"name", "labels"?, "provider"?, "region"?, "zone"?, "zones"?, "taints"?,
/// "apis"? ({groupVersion: [kind]}, default: apps/v1 Deployment), "summary"?
/// (resourceSummary), "models"? (spec.resourceModels), "deleting"?}`.
pub fn cluster(v: &Value) -> Cluster {
    let mut object = json!({
        "apiVersion": "cluster.karmada.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": v["name"], "labels": v.get("labels").cloned().unwrap_or(json!({}))},
        "spec": {"syncMode": "Push"},
        "status": {},
    });
    for field in ["provider", "region", "zone", "zones", "taints"] {
        if let Some(value) = v.get(field) {
            object["spec"][field] = value.clone();
        }
    }
    if let Some(models) = v.get("models") {
        object["spec"]["resourceModels"] = models.clone();
    }
    if v.get("deleting").is_some() {
        object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    }
    let apis = v
        .get("apis")
        .cloned()
        .unwrap_or(json!({"apps/v1": ["Deployment"]}));
    let enablements: Vec<Value> = apis
        .as_object()
        .unwrap()
        .iter()
        .map(|(gv, kinds)| {
            let resources: Vec<Value> = kinds
                .as_array()
                .unwrap()
                .iter()
                .map(|k| json!({"name": k.as_str().unwrap().to_lowercase() + "s", "kind": k}))
                .collect();
            json!({"groupVersion": gv, "resources": resources})
        })
        .collect();
    object["status"]["apiEnablements"] = json!(enablements);
    if let Some(summary) = v.get("summary") {
        object["status"]["resourceSummary"] = summary.clone();
    }
    serde_json::from_value(object).unwrap()
}

/// A binding spec for Deployment `default/nginx` (uid `uid-b`, whose FNV-1a hash is even, so
/// ties go to names ascending) with `extra` merged over it.
pub fn spec(extra: &Value) -> ResourceBindingSpec {
    let mut object = json!({
        "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "default",
                     "name": "nginx", "uid": "uid-b"},
    });
    for (k, value) in extra.as_object().unwrap() {
        object[k] = value.clone();
    }
    serde_json::from_value(object).unwrap()
}

/// A cluster that can run exactly `pods` more pods, with no other resource reported.
pub fn with_room(name: &str, pods: i64) -> Cluster {
    cluster(&json!({"name": name, "summary": {"allocatable": {"pods": pods.to_string()}}}))
}
