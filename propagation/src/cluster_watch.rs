//! One watch of the Clusters shared by a controller's ResourceBinding and
//! ClusterResourceBinding halves: a store to read clusters from, and triggers that fire when
//! the aspect of a cluster the controller cares about (its NoExecute taints, its readiness)
//! changes, and not on every status report.

use std::collections::HashMap;
use std::future::Future;

use futures::{Stream, StreamExt};
use karmada_api::cluster::{CONDITION_READY, Cluster};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;

/// The clusters, and a counter bumped on every change of the watched aspect.
#[derive(Clone)]
pub struct ClusterWatch {
    pub store: Store<Cluster>,
    changes: watch::Receiver<u64>,
}

impl ClusterWatch {
    /// Starts watching; the returned future drives the watch and must be polled (it ends when
    /// the watch does, or never).
    pub fn start<T>(
        client: Client,
        aspect: fn(&Cluster) -> T,
    ) -> (ClusterWatch, impl Future<Output = ()> + Send + 'static)
    where
        T: PartialEq + Send + 'static,
    {
        let (store, writer) = reflector::store::<Cluster>();
        let (bump, changes) = watch::channel(0_u64);
        let mut seen: HashMap<String, T> = HashMap::new();
        let driver = reflector::reflector(
            writer,
            watcher(Api::<Cluster>::all(client), watcher::Config::default()),
        )
        .default_backoff()
        .touched_objects()
        .for_each(move |cluster| {
            if let Ok(cluster) = cluster {
                let now = aspect(&cluster);
                let changed = seen.get(&cluster.name_any()) != Some(&now);
                if changed {
                    seen.insert(cluster.name_any(), now);
                    bump.send_modify(|n| *n = n.wrapping_add(1));
                }
            }
            futures::future::ready(())
        });
        (ClusterWatch { store, changes }, driver)
    }

    /// Yields once per change of the watched aspect of any cluster (changes that come close
    /// together may yield once).
    pub fn changes(&self) -> impl Stream<Item = ()> + Send + 'static {
        futures::stream::unfold(self.changes.clone(), |mut changes| async move {
            changes.changed().await.ok()?;
            Some(((), changes))
        })
    }

    /// Whether the status of `cluster` should be counted: it is not known to be unhealthy (a
    /// Cluster that exists with a Ready condition other than True is not counted).
    pub fn counts(&self, cluster: &str) -> bool {
        self.store
            .get(&reflector::ObjectRef::new(cluster))
            .is_none_or(|c| counted(&c))
    }
}

/// Whether a cluster's reports count: its Ready condition is True, or it has none yet.
pub fn counted(cluster: &Cluster) -> bool {
    cluster
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == CONDITION_READY))
        .is_none_or(|ready| ready.status == "True")
}
