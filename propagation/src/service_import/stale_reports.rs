//! Deletes the reported EndpointSlices of clusters that no longer exist: an unjoined cluster's
//! agent is gone and cannot withdraw its reports, and its endpoints must stop being answered.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::discovery::v1::EndpointSlice;
use karmada_api::cluster::Cluster;
use kube::runtime::reflector::Store;
use kube::{Api, Client, ResourceExt};
use tokio::sync::Notify;

use super::desired::source_cluster;

/// How soon a failed deletion is tried again.
const RETRY: Duration = Duration::from_secs(2);

/// The reported slices (namespace, name, source cluster) whose source cluster is not among
/// `clusters`.
pub fn stale_reports<'a>(
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
    clusters: &BTreeSet<String>,
) -> Vec<(String, String, String)> {
    slices
        .into_iter()
        .filter_map(|s| {
            let cluster = source_cluster(s)?;
            (!clusters.contains(&cluster))
                .then(|| (s.namespace().unwrap_or_default(), s.name_any(), cluster))
        })
        .collect()
}

/// Deletes stale reports whenever `changed` is notified (a cluster or reported slice changed),
/// retrying failures after a short wait; runs until the caller drops it. Waits for both caches
/// to fill first, so a cluster not yet listed is never taken for a deleted one.
pub async fn run(
    client: Client,
    clusters: Store<Cluster>,
    slices: Store<EndpointSlice>,
    changed: Arc<Notify>,
) {
    if clusters.wait_until_ready().await.is_err() || slices.wait_until_ready().await.is_err() {
        return;
    }
    loop {
        let known: BTreeSet<String> = clusters.state().iter().map(|c| c.name_any()).collect();
        let stale = stale_reports(slices.state().iter().map(Arc::as_ref), &known);
        let mut failed = false;
        for (namespace, name, cluster) in stale {
            // The cache may not have seen a Cluster that just joined: only the apiserver can
            // say a cluster is gone, and deleting a live cluster's report would lose it.
            match Api::<Cluster>::all(client.clone()).get_opt(&cluster).await {
                Ok(None) => {}
                Ok(Some(_)) => continue,
                Err(e) => {
                    tracing::warn!(%cluster, error = %e, retry_in = ?RETRY, "cannot check whether a cluster still exists");
                    failed = true;
                    continue;
                }
            }
            let api: Api<EndpointSlice> = Api::namespaced(client.clone(), &namespace);
            match super::sync::delete_if_present(&api, &name).await {
                Ok(true) => {
                    tracing::info!(%namespace, %name, "deleted the reported EndpointSlice of a cluster that no longer exists");
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(%namespace, %name, error = %e, retry_in = ?RETRY, "cannot delete a stale reported EndpointSlice");
                    failed = true;
                }
            }
        }
        if failed {
            tokio::select! {
                () = changed.notified() => {}
                () = tokio::time::sleep(RETRY) => {}
            }
        } else {
            changed.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use karmada_api::mcs::LABEL_SOURCE_CLUSTER;
    use serde_json::json;

    fn slice(namespace: &str, name: &str, cluster: Option<&str>) -> EndpointSlice {
        let labels = match cluster {
            Some(c) => json!({LABEL_SOURCE_CLUSTER: c}),
            None => json!({}),
        };
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "addressType": "IPv4", "endpoints": [],
        }))
        .unwrap()
    }

    #[test]
    fn reports_of_unknown_clusters_are_stale() {
        let slices = [
            slice("karmada-es-member1", "shop.a", Some("member1")),
            slice("karmada-es-gone", "shop.b", Some("gone")),
            slice("karmada-es-gone", "shop.c", None),
            slice("karmada-es-member1", "shop.d", None),
            // Not in an execution namespace: not a report, whatever its labels say.
            slice("shop", "web", Some("gone")),
        ];
        let known: BTreeSet<String> = ["member1".to_string()].into();
        assert_eq!(
            stale_reports(&slices, &known),
            [
                ("karmada-es-gone", "shop.b", "gone"),
                ("karmada-es-gone", "shop.c", "gone"),
            ]
            .map(|(ns, name, cluster)| (
                ns.to_string(),
                name.to_string(),
                cluster.to_string()
            ))
        );
        assert!(stale_reports(&slices[..1], &known).is_empty());
    }
}
