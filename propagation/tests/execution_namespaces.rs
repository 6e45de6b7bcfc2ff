//! Every Cluster gets its execution namespace; deleting the Cluster removes the namespace (and
//! the Works in it) before the Cluster itself goes.

use std::time::{Duration, Instant};

use anyhow::bail;
use k8s_openapi::api::core::v1::Namespace;
use karmada_api::cluster::Cluster;
use karmada_apiserver::server::{self, Backend, Config};
use karmada_propagation::execution_namespace::{self, FINALIZER};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

/// Polls `check` every 50 ms until it holds, failing after 20 s with what it last saw.
async fn until<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Result<(), String>>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let last = match check().await? {
            Ok(()) => return Ok(()),
            Err(seen) => seen,
        };
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}; last saw {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn clusters_get_their_execution_namespace_and_take_it_with_them() -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    let config = Config {
        karmada_api: true,
        ..Config::new("127.0.0.1:0".parse()?, Backend::Memory)
    };
    let running = server::start(config, cancel.clone()).await?;
    let client = Client::try_from(kube::Config::new(running.url().parse()?))?;
    let controller = tokio::spawn(execution_namespace::run(client.clone(), cancel.clone()));

    let clusters: Api<Cluster> = Api::all(client.clone());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let cluster: Cluster = serde_json::from_value(serde_json::json!({
        "apiVersion": "cluster.karmada.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": "member1"},
        "spec": {"syncMode": "Pull"},
    }))?;
    clusters.create(&PostParams::default(), &cluster).await?;

    until("karmada-es-member1 and the finalizer", || {
        let (clusters, namespaces) = (clusters.clone(), namespaces.clone());
        async move {
            let ns = namespaces.get_opt("karmada-es-member1").await?;
            let finalizers = clusters.get("member1").await?.finalizers().to_vec();
            Ok(
                if ns.is_some() && finalizers.iter().any(|f| f == FINALIZER) {
                    Ok(())
                } else {
                    Err(format!(
                        "namespace: {}, finalizers: {finalizers:?}",
                        ns.is_some()
                    ))
                },
            )
        }
    })
    .await?;

    // A namespace deleted by hand comes back while the cluster is there.
    namespaces
        .delete("karmada-es-member1", &DeleteParams::default())
        .await?;
    until("the namespace recreated", || {
        let namespaces = namespaces.clone();
        async move {
            let ns = namespaces.get_opt("karmada-es-member1").await?;
            Ok(match ns {
                Some(ns) if ns.metadata.deletion_timestamp.is_none() => Ok(()),
                other => Err(format!(
                    "{:?}",
                    other.map(|n| n.metadata.deletion_timestamp)
                )),
            })
        }
    })
    .await?;

    clusters.delete("member1", &DeleteParams::default()).await?;
    until("the cluster and its namespace gone", || {
        let (clusters, namespaces) = (clusters.clone(), namespaces.clone());
        async move {
            let ns = namespaces.get_opt("karmada-es-member1").await?;
            let cluster = clusters.get_opt("member1").await?;
            Ok(if ns.is_none() && cluster.is_none() {
                Ok(())
            } else {
                Err(format!(
                    "namespace: {}, cluster: {}",
                    ns.is_some(),
                    cluster.is_some()
                ))
            })
        }
    })
    .await?;

    cancel.cancel();
    controller.await?;
    running.wait().await;
    Ok(())
}
