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

/// How long a burst of changes is gathered into one pass.
const COALESCE: Duration = Duration::from_millis(20);

/// Waits for the next batch of changes whose key starts with `prefix` (any change when
/// empty), coalescing bursts, or for `resync` to pass. Returns `false` when cancelled. A lagged
/// receiver counts as a change: the caller re-reads everything anyway.
pub(crate) async fn next_batch(
    receiver: &mut broadcast::Receiver<Arc<Change>>,
    prefix: &str,
    cancel: &CancellationToken,
    resync: Duration,
) -> bool {
    // `Some(relevant)` for what arrived, `None` once the cache has stopped.
    let relevant = |received: Result<Arc<Change>, broadcast::error::RecvError>| match received {
        Ok(c) => Some(prefix.is_empty() || c.key.starts_with(prefix)),
        Err(broadcast::error::RecvError::Lagged(_)) => Some(true),
        Err(broadcast::error::RecvError::Closed) => None,
    };
    // One deadline for the whole wait, so steady traffic of other kinds cannot put it off.
    let resync = tokio::time::sleep(resync);
    tokio::pin!(resync);
    // A loop, not a recursion: under steady traffic to other prefixes a recursive wait would
    // nest one future per window until the stack overflows.
    loop {
        let mut seen = tokio::select! {
            _ = cancel.cancelled() => return false,
            _ = &mut resync => return true,
            r = receiver.recv() => match relevant(r) {
                Some(seen) => seen,
                None => return false,
            },
        };
        // Coalesce what arrives in the next few milliseconds into one pass.
        let window = tokio::time::sleep(COALESCE);
        tokio::pin!(window);
        loop {
            tokio::select! {
                _ = &mut window => break,
                r = receiver.recv() => match relevant(r) {
                    Some(relevant) => seen |= relevant,
                    None => return false,
                },
            }
        }
        if seen {
            return true;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::watch_cache::ChangeKind;

    fn change(key: &str, revision: i64) -> Arc<Change> {
        Arc::new(Change {
            kind: ChangeKind::Added,
            key: key.to_string(),
            revision,
            object: Arc::new(serde_json::json!({})),
            prev: None,
        })
    }

    /// Thousands of windows of other kinds' changes, as a busy apiserver sees, before the one
    /// the controller waits for: the wait neither returns early nor grows the stack.
    #[tokio::test(start_paused = true)]
    async fn waits_through_long_runs_of_other_changes() {
        let (sender, mut receiver) = broadcast::channel(16);
        let cancel = CancellationToken::new();
        let feeder = tokio::spawn(async move {
            for revision in 1..=20_000 {
                sender.send(change("/registry/pods/a", revision)).unwrap();
                tokio::time::sleep(COALESCE * 2).await;
            }
            sender
                .send(change("/registry/certificates/x", 20_001))
                .unwrap();
            sender
        });
        let resync = Duration::from_secs(24 * 3600);
        assert!(next_batch(&mut receiver, "/registry/certificates/", &cancel, resync).await);
        assert!(feeder.is_finished() || feeder.await.is_ok());
    }

    /// The resync comes on time even while other kinds' changes keep arriving.
    #[tokio::test(start_paused = true)]
    async fn steady_traffic_of_other_kinds_does_not_put_off_the_resync() {
        let (sender, mut receiver) = broadcast::channel(16);
        let cancel = CancellationToken::new();
        let feeder = tokio::spawn(async move {
            for revision in 1.. {
                if sender.send(change("/registry/pods/a", revision)).is_err() {
                    break;
                }
                tokio::time::sleep(COALESCE * 2).await;
            }
        });
        let resync = Duration::from_secs(60);
        let started = tokio::time::Instant::now();
        let wait = next_batch(&mut receiver, "/registry/certificates/", &cancel, resync);
        let resynced = tokio::time::timeout(resync * 2, wait).await;
        assert_eq!(resynced, Ok(true), "no resync within {:?}", resync * 2);
        let waited = started.elapsed();
        assert!(
            waited >= resync && waited < resync + COALESCE * 2,
            "resynced after {waited:?}"
        );
        drop(receiver);
        feeder.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_wait_returns_false() {
        let (_sender, mut receiver) = broadcast::channel::<Arc<Change>>(1);
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert!(!next_batch(&mut receiver, "", &cancel, Duration::from_secs(60)).await);
    }
}
