//! Keeps one named object in every live namespace, as Kubernetes does for the `default`
//! ServiceAccount and the `kube-root-ca.crt` ConfigMap: created with the namespace, recreated
//! when deleted, and put back when its content drifts.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{PostParams, Resource};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::member::runtime::{self, Context};

/// Whether an existing object still says what the template says.
pub type InSync<K> = fn(existing: &K, template: &K) -> bool;

/// Runs until `ctx.cancel` fires, keeping `template` (named, without a namespace) in every
/// live namespace.
pub async fn run<K>(ctx: Arc<Context>, template: K, in_sync: InSync<K>)
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let client = ctx.client.clone();
    let name = template.name_any();
    let controller = Controller::new(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches(
        Api::<K>::all(client),
        watcher::Config::default().fields(&format!("metadata.name={name}")),
        |object| object.namespace().map(|ns| ObjectRef::new(&ns)),
    );
    let template = Arc::new(template);
    let reconcile = move |namespace: Arc<Namespace>, ctx: Arc<Context>| {
        let template = template.clone();
        async move { reconcile(&namespace, &ctx, template.as_ref(), in_sync).await }
    };
    runtime::run(controller, ctx, reconcile, Duration::from_secs(5)).await;
}

/// Whether a namespace should hold the object now.
fn is_live(namespace: &Namespace) -> bool {
    let phase = namespace.status.as_ref().and_then(|s| s.phase.as_deref());
    namespace.metadata.deletion_timestamp.is_none() && phase != Some("Terminating")
}

async fn reconcile<K>(
    namespace: &Namespace,
    ctx: &Context,
    template: &K,
    in_sync: InSync<K>,
) -> Result<Action, kube::Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
{
    if !is_live(namespace) {
        return Ok(Action::await_change());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace.name_any());
    let name = template.name_any();
    let written = match api.get_opt(&name).await? {
        None => api.create(&PostParams::default(), template).await.map(drop),
        Some(existing) if in_sync(&existing, template) => Ok(()),
        Some(existing) => match restored(&existing, template) {
            Some(object) => api
                .replace(&name, &PostParams::default(), &object)
                .await
                .map(drop),
            None => Ok(()),
        },
    };
    match written {
        // Written by someone else meanwhile (409), or the namespace started terminating (403):
        // the watch brings the next state.
        Ok(()) | Err(kube::Error::Api(_)) => Ok(Action::await_change()),
        Err(e) => Err(e),
    }
}

/// `existing` with everything but its metadata taken from `template`, so labels, annotations
/// and the resource version (for the optimistic-concurrency check) are kept.
fn restored<K: Serialize + DeserializeOwned>(existing: &K, template: &K) -> Option<K> {
    let Value::Object(mut object) = serde_json::to_value(existing).ok()? else {
        return None;
    };
    let Value::Object(want) = serde_json::to_value(template).ok()? else {
        return None;
    };
    object.retain(|key, _| matches!(key.as_str(), "metadata" | "apiVersion" | "kind"));
    for (key, value) in want {
        if !matches!(key.as_str(), "metadata" | "apiVersion" | "kind") {
            object.insert(key, value);
        }
    }
    serde_json::from_value(Value::Object(object)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use serde_json::json;

    #[test]
    fn only_live_namespaces_hold_the_object() {
        let ns =
            |v: serde_json::Value| -> Namespace { serde_json::from_value(v).expect("namespace") };
        assert!(is_live(&ns(
            json!({"metadata": {"name": "a"}, "status": {"phase": "Active"}})
        )));
        assert!(!is_live(&ns(
            json!({"metadata": {"name": "b"}, "status": {"phase": "Terminating"}})
        )));
        assert!(!is_live(&ns(
            json!({"metadata": {"name": "c", "deletionTimestamp": "2026-01-01T00:00:00Z"}})
        )));
    }

    #[test]
    fn restoring_replaces_content_and_keeps_metadata() {
        let cm = |v: serde_json::Value| -> ConfigMap { serde_json::from_value(v).expect("cm") };
        let existing = cm(json!({
            "metadata": {"name": "x", "namespace": "team", "resourceVersion": "7", "labels": {"a": "b"}},
            "data": {"ca.crt": "old", "extra": "1"},
        }));
        let template = cm(json!({"metadata": {"name": "x"}, "data": {"ca.crt": "new"}}));
        let fixed = restored(&existing, &template).expect("restored");
        assert_eq!(fixed.data, template.data);
        assert_eq!(fixed.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(fixed.labels().get("a").map(String::as_str), Some("b"));
    }
}
