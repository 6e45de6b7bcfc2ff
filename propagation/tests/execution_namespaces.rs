//! Every Cluster gets its execution namespace; deleting the Cluster removes the namespace (and
//! the Works in it) before the Cluster itself goes.

mod support;

use k8s_openapi::api::core::v1::Namespace;
use karmada_api::cluster::Cluster;
use karmada_propagation::execution_namespace::{self, FINALIZER};
use kube::api::DeleteParams;
use kube::{Api, ResourceExt};

use support::{create_cluster, federation, until};

#[tokio::test]
async fn clusters_get_their_execution_namespace_and_take_it_with_them() -> anyhow::Result<()> {
    let fed = federation().await?;
    let client = fed.client.clone();
    let controller = tokio::spawn(execution_namespace::run(client.clone(), fed.cancel.clone()));

    let clusters: Api<Cluster> = Api::all(client.clone());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    create_cluster(&client, "member1", &[]).await?;

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

    fed.cancel.cancel();
    controller.await?;
    fed.running.wait().await;
    Ok(())
}
