//! The driver's view of Clusters: one reflector store every scheduling worker reads, and a
//! wake-up for the queue whenever a cluster appears, goes, or changes in what scheduling reads.

use std::collections::HashMap;

use futures::channel::mpsc;
use futures::{StreamExt, pin_mut};
use karmada_api::cluster::Cluster;
use kube::runtime::reflector::store::Writer;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Keeps `writer`'s store in step with the Clusters and nudges every trigger when one changes
/// in a way that can move a binding, until `cancel` fires. A trigger whose buffer is full
/// already has a pass over all bindings pending, which will see this change too.
pub async fn watch(
    client: Client,
    writer: Writer<Cluster>,
    mut triggers: Vec<mpsc::Sender<()>>,
    cancel: CancellationToken,
) {
    let events = watcher(Api::<Cluster>::all(client), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .take_until(cancel.cancelled_owned());
    pin_mut!(events);
    let mut seen: HashMap<String, Value> = HashMap::new();
    while let Some(event) = events.next().await {
        let changed = match event {
            Ok(watcher::Event::Init) => {
                // A relist: clusters deleted meanwhile send no Delete, so start afresh.
                seen.clear();
                false
            }
            Ok(watcher::Event::InitApply(cluster) | watcher::Event::Apply(cluster)) => {
                let print = fingerprint(&cluster);
                seen.insert(cluster.name_any(), print.clone()) != Some(print)
            }
            Ok(watcher::Event::Delete(cluster)) => {
                seen.remove(&cluster.name_any());
                true
            }
            Ok(watcher::Event::InitDone) => true,
            Err(error) => {
                tracing::warn!(%error, "scheduler: Cluster watch failed; retrying");
                false
            }
        };
        if changed {
            for trigger in &mut triggers {
                // Full: a pass is already pending; closed: that controller stopped.
                let _ = trigger.try_send(());
            }
        }
    }
}

/// What scheduling reads of a cluster, except the fast-moving resource summary (capacity
/// failures are retried on a timer instead): labels, spec (taints, region, zone, models),
/// deletion and the APIs it serves.
fn fingerprint(cluster: &Cluster) -> Value {
    json!({
        "labels": cluster.metadata.labels,
        "deleting": cluster.metadata.deletion_timestamp.is_some(),
        "spec": cluster.spec,
        "apis": cluster.status.as_ref().map(|s| &s.api_enablements),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(v: Value) -> Cluster {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn heartbeats_and_capacity_do_not_wake_bindings_but_labels_and_apis_do() {
        let base = json!({
            "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": "member1", "labels": {"env": "edge"}},
            "spec": {"syncMode": "Push"},
            "status": {"apiEnablements": [], "conditions": []},
        });
        let print = fingerprint(&cluster(base.clone()));

        let mut heartbeat = base.clone();
        heartbeat["status"]["conditions"] = json!([{"type": "Ready", "status": "True",
            "reason": "ClusterReady", "message": "ok", "lastTransitionTime": "2026-01-01T00:00:00Z"}]);
        heartbeat["status"]["resourceSummary"] = json!({"allocatable": {"pods": "110"}});
        heartbeat["metadata"]["resourceVersion"] = json!("9");
        assert_eq!(fingerprint(&cluster(heartbeat)), print);

        let mut relabelled = base.clone();
        relabelled["metadata"]["labels"]["env"] = json!("core");
        assert_ne!(fingerprint(&cluster(relabelled)), print);

        let mut serving = base.clone();
        serving["status"]["apiEnablements"] = json!([{"groupVersion": "apps/v1",
            "resources": [{"name": "deployments", "kind": "Deployment"}]}]);
        assert_ne!(fingerprint(&cluster(serving)), print);

        let mut tainted = base;
        tainted["spec"]["taints"] = json!([{"key": "k", "effect": "NoSchedule"}]);
        assert_ne!(fingerprint(&cluster(tainted)), print);
    }
}
