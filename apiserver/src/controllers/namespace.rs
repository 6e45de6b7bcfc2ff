//! Namespace termination: deletes everything in a namespace being deleted, then releases it.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::registry::object::Meta;
use crate::registry::store::{DeleteOptions, Propagation, Store, WriteOptions};
use crate::registry::strategy::Subresource;

const PREFIX: &str = "/registry/core/namespaces/";
/// The `spec.finalizers` entry that holds a namespace until it is empty.
pub const KUBERNETES_FINALIZER: &str = "kubernetes";

pub async fn run(store: Store, cancel: CancellationToken) {
    let Ok(mut receiver) = store.cache().watch(None).map(|s| s.receiver) else {
        return;
    };
    loop {
        let (namespaces, _) = store.cache().list(PREFIX);
        let mut busy = false;
        for (_, ns) in namespaces.iter().filter(|(_, ns)| ns.is_deleting()) {
            busy |= !terminate(&store, ns).await;
        }
        // While a namespace still drains, look again soon even without new events.
        let resync = if busy {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(10)
        };
        if !super::next_batch(&mut receiver, "", &cancel, resync).await {
            return;
        }
    }
}

/// One pass over a terminating namespace; true when it has been released.
async fn terminate(store: &Store, namespace: &Value) -> bool {
    let name = namespace.name().unwrap_or_default().to_string();
    let mut remaining = 0usize;
    let mut prefixes = BTreeSet::new();
    for resource in store.catalog().all().into_iter().filter(|r| r.namespaced) {
        if !prefixes.insert(resource.storage_prefix()) {
            continue;
        }
        let (items, _) = store
            .cache()
            .list(&format!("{}{name}/", resource.storage_prefix()));
        for (_, object) in items {
            remaining += 1;
            if !object.is_deleting() {
                let options = DeleteOptions {
                    propagation: Some(Propagation::Background),
                    ..Default::default()
                };
                super::delete_quietly(store, &object, &options).await;
            }
        }
    }
    if remaining > 0 {
        return false;
    }
    let Some(namespaces) = store.catalog().get("", "v1", "namespaces") else {
        return false;
    };
    let options = WriteOptions {
        field_manager: Some("namespace-controller".into()),
        ..Default::default()
    };
    let result = store
        .update_with(
            &namespaces,
            None,
            &name,
            Subresource::Main,
            &options,
            false,
            |current| {
                let mut new = current.cloned().unwrap_or_default();
                let kept: Vec<Value> = new
                    .pointer("/spec/finalizers")
                    .and_then(Value::as_array)
                    .map(|f| {
                        f.iter()
                            .filter(|v| *v != KUBERNETES_FINALIZER)
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                new["spec"]["finalizers"] = json!(kept);
                Ok(new)
            },
        )
        .await;
    match result {
        Ok(_) | Err(crate::registry::error::Error::NotFound { .. }) => true,
        Err(e) => {
            tracing::warn!(namespace = name, error = %e, "could not release namespace");
            false
        }
    }
}
