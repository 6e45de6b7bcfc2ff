//! A pull cluster whose agent stops renewing its heartbeat Lease turns Ready Unknown and gets
//! the unreachable taint within the grace period; a renewed heartbeat and a Ready report from
//! the agent lift the taint again.

mod support;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use karmada_api::cluster::Cluster;
use karmada_propagation::cluster_health::{self, LEASE_NAMESPACE, UNREACHABLE_TAINT};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use support::{create_cluster, create_namespace, federation, until};

/// What the agent does: renew the Lease and report Ready True.
async fn heartbeat(client: &Client) -> anyhow::Result<()> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "member1", "namespace": LEASE_NAMESPACE},
        "spec": {"holderIdentity": "member1", "leaseDurationSeconds": 10,
                 "renewTime": Timestamp::now().to_string()},
    }))?;
    match leases.get_opt("member1").await? {
        None => drop(leases.create(&PostParams::default(), &lease).await?),
        Some(_) => drop(
            leases
                .patch("member1", &PatchParams::default(), &Patch::Merge(&lease))
                .await?,
        ),
    }
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True",
        "reason": "ClusterReady", "message": "cluster is healthy and ready to accept workloads",
        "lastTransitionTime": Timestamp::now().to_string()}]}});
    Api::<Cluster>::all(client.clone())
        .patch_status("member1", &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

async fn state(client: &Client) -> anyhow::Result<(String, Vec<String>)> {
    let cluster = Api::<Cluster>::all(client.clone()).get("member1").await?;
    let ready = cluster
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone())
        .unwrap_or_default();
    let taints = cluster.spec.taints.iter().map(|t| t.key.clone()).collect();
    Ok((ready, taints))
}

#[tokio::test]
async fn a_silent_agent_makes_its_cluster_unknown_and_a_heartbeat_brings_it_back()
-> anyhow::Result<()> {
    let fed = federation().await?;
    let client = fed.client.clone();
    create_namespace(&client, LEASE_NAMESPACE).await?;
    create_cluster(&client, "member1", &[]).await?;
    heartbeat(&client).await?;
    tokio::spawn(cluster_health::run(
        client.clone(),
        Duration::from_secs(1),
        fed.cancel.child_token(),
    ));

    until("member1 Unknown and tainted unreachable", || {
        let client = client.clone();
        async move {
            let (ready, taints) = state(&client).await?;
            Ok(if ready == "Unknown" && taints == [UNREACHABLE_TAINT] {
                Ok(())
            } else {
                Err(format!("ready {ready}, taints {taints:?}"))
            })
        }
    })
    .await?;

    // The agent returns: it renews and reports Ready; the taint goes.
    until("member1 Ready without taints", || {
        let client = client.clone();
        async move {
            heartbeat(&client).await?;
            let (ready, taints) = state(&client).await?;
            Ok(if ready == "True" && taints.is_empty() {
                Ok(())
            } else {
                Err(format!("ready {ready}, taints {taints:?}"))
            })
        }
    })
    .await?;
    fed.cancel.cancel();
    Ok(())
}
