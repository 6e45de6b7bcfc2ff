//! Objects the tests create and assertions on the errors and lists they get back.

use std::collections::BTreeSet;

use anyhow::{bail, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{ObjectMeta, Patch};
use kube::core::Status;
use serde_json::{Value, json};

pub(crate) fn configmap(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}

pub(crate) fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1", "ports": [{"containerPort": 80}]}]}
            }
        }
    }))
    .expect("a valid Deployment")
}

/// The `Status` of a failed call; fails the test if the call succeeded or failed otherwise.
pub(crate) fn api_status<T: std::fmt::Debug>(
    result: kube::Result<T>,
    call: &str,
) -> anyhow::Result<Status> {
    match result {
        Err(kube::Error::Api(status)) => Ok(*status),
        Err(other) => bail!("{call}: expected an API error Status, got transport error {other}"),
        Ok(value) => bail!("{call}: expected an API error, but it succeeded with {value:?}"),
    }
}

pub(crate) fn expect_status(
    status: &Status,
    code: u16,
    reason: &str,
    call: &str,
) -> anyhow::Result<()> {
    ensure!(
        status.code == code && status.reason == reason,
        "{call}: expected {code} {reason}, got {} {:?} ({})",
        status.code,
        status.reason,
        status.message
    );
    Ok(())
}

pub(crate) fn names<K: ResourceExt>(items: &[K]) -> BTreeSet<String> {
    items.iter().map(ResourceExt::name_any).collect()
}

pub(crate) fn data_of(cm: &ConfigMap) -> Value {
    json!(cm.data.clone().unwrap_or_default())
}

pub(crate) fn json_patch(ops: Value) -> Patch<()> {
    Patch::Json(serde_json::from_value(ops).expect("a valid JSON patch"))
}

pub(crate) fn names_of(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub(crate) fn names_arc<K: ResourceExt>(items: &[std::sync::Arc<K>]) -> BTreeSet<String> {
    items.iter().map(|o| o.name_any()).collect()
}
