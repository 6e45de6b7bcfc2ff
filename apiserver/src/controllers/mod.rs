//! Controllers that run inside the apiserver because Kubernetes semantics depend on them:
//! CRDs becoming servable, namespace termination, ownerReference garbage collection, and RBAC's
//! default roles and ClusterRole aggregation.

pub mod crd;
pub mod csr;
pub mod gc;
pub mod namespace;
pub mod rbac;
pub mod token_cleaner;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::registry::catalog::Resource;
use crate::registry::object::Meta;
use crate::registry::store::{DeleteOptions, Store};
use crate::registry::watch_cache::Change;

/// Waits for the next batch of changes whose key starts with `prefix` (any change when
/// empty), coalescing bursts. Returns `false` when cancelled. A lagged receiver counts as a
/// change: the caller re-reads everything anyway.
pub(crate) async fn next_batch(
    receiver: &mut broadcast::Receiver<Arc<Change>>,
    prefix: &str,
    cancel: &CancellationToken,
    resync: Duration,
) -> bool {
    let relevant = |c: &Change| prefix.is_empty() || c.key.starts_with(prefix);
    let first = tokio::select! {
        _ = cancel.cancelled() => return false,
        _ = tokio::time::sleep(resync) => true,
        r = receiver.recv() => match r {
            Ok(c) => relevant(&c),
            Err(broadcast::error::RecvError::Lagged(_)) => true,
            Err(broadcast::error::RecvError::Closed) => return false,
        },
    };
    let mut seen = first;
    // Coalesce what arrives in the next few milliseconds into one pass.
    let window = tokio::time::sleep(Duration::from_millis(20));
    tokio::pin!(window);
    loop {
        tokio::select! {
            _ = &mut window => break,
            r = receiver.recv() => match r {
                Ok(c) => seen |= relevant(&c),
                Err(broadcast::error::RecvError::Lagged(_)) => seen = true,
                Err(broadcast::error::RecvError::Closed) => return false,
            },
        }
    }
    if !seen {
        return Box::pin(next_batch(receiver, prefix, cancel, resync)).await;
    }
    true
}

/// The served resource an object belongs to, by its apiVersion and kind.
pub(crate) fn resource_of(store: &Store, object: &Value) -> Option<Arc<Resource>> {
    let api_version = object.get("apiVersion")?.as_str()?;
    let kind = object.get("kind")?.as_str()?;
    let (group, version) = crate::registry::catalog::split_api_version(api_version);
    store
        .catalog()
        .by_gvk(&crate::registry::catalog::Gvk::new(group, version, kind))
}

/// Deletes an object in the background, ignoring "already gone".
pub(crate) async fn delete_quietly(store: &Store, object: &Value, options: &DeleteOptions) {
    let Some(resource) = resource_of(store, object) else {
        return;
    };
    let name = object.name().unwrap_or_default();
    match store
        .delete(&resource, object.namespace(), name, options)
        .await
    {
        Ok(_) | Err(crate::registry::error::Error::NotFound { .. }) => {}
        Err(e) => {
            tracing::warn!(kind = %resource.kind, name, error = %e, "could not delete object");
        }
    }
}
