//! Simulated Node objects and their heartbeat: registration (create or adopt), the status a
//! real kubelet posts, and one loop that renews every node's Lease and Ready heartbeat.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, stream};
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use super::ipam::Cidr;
use super::{Config, Error, is_status};
use crate::member::runtime::Context;

/// Namespace of node heartbeat Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// How often the Ready condition's `lastHeartbeatTime` is refreshed; the Lease carries the
/// frequent heartbeat, as with the kubelet's `nodeStatusReportFrequency`.
pub const STATUS_REPORT_EVERY: Duration = Duration::from_secs(60);
/// Requests in flight at once when registering or renewing many nodes.
const PARALLEL: usize = 32;

/// One simulated node: its name and addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub ip: Ipv4Addr,
    pub subnet: Cidr,
}

pub fn time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn micro_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The Node as registered: labels and pod CIDR (status is written separately).
pub fn node_object(config: &Config, node: &Identity) -> Value {
    let mut labels = config.labels.clone();
    labels.insert("kubernetes.io/hostname".into(), node.name.clone());
    labels.insert("kubernetes.io/os".into(), "linux".into());
    labels.insert("kubernetes.io/arch".into(), "amd64".into());
    labels.insert("beta.kubernetes.io/os".into(), "linux".into());
    labels.insert("beta.kubernetes.io/arch".into(), "amd64".into());
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "labels": labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
        },
        "spec": {"podCIDR": node.subnet.to_string(), "podCIDRs": [node.subnet.to_string()]},
    })
}

/// The status a healthy kubelet posts; `since` is when the node became ready, `heartbeat` the
/// time of this report.
pub fn node_status(
    config: &Config,
    node: &Identity,
    since: Timestamp,
    heartbeat: Timestamp,
) -> Value {
    let resources = json!({
        "cpu": config.cpu,
        "memory": config.memory,
        "pods": config.pods.to_string(),
        "ephemeral-storage": "100Gi",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
    });
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": type_,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": time(heartbeat),
            "lastTransitionTime": time(since),
        })
    };
    json!({
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "phase": "Running",
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": node.ip.to_string()},
                {"type": "Hostname", "address": node.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": machine_id(&node.name),
                "systemUUID": machine_id(&format!("uuid-{}", node.name)),
                "bootID": machine_id(&format!("boot-{}", node.name)),
                "kernelVersion": "6.8.0-simulated",
                "osImage": "Ubuntu 24.04 LTS (simulated)",
                "containerRuntimeVersion": "containerd://simulated",
                "kubeletVersion": "v1.33.0",
                "kubeProxyVersion": "v1.33.0",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }
    })
}

/// A stable 32-hex-digit id derived from `seed`, shaped like `/etc/machine-id`.
fn machine_id(seed: &str) -> String {
    let (a, b) = super::pod::hash_pair(seed);
    format!("{a:016x}{b:016x}")
}

/// The node's heartbeat Lease.
pub fn lease_object(node: &str, now: Timestamp, duration_seconds: i32) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": node, "namespace": LEASE_NAMESPACE},
        "spec": {
            "holderIdentity": node,
            "leaseDurationSeconds": duration_seconds,
            "renewTime": micro_time(now),
        },
    })
}

/// The `leaseDurationSeconds` the kubelet uses (`nodeLeaseDurationSeconds`).
pub const LEASE_SECONDS: i32 = 40;

/// Creates every node (adopting existing ones of the same name), posts its status and Lease.
pub async fn register(
    client: &Client,
    config: &Arc<Config>,
    nodes: &Arc<Vec<Identity>>,
    since: Timestamp,
) -> Result<(), Error> {
    // Owned captures keep the stream `Send` for spawned callers (no borrowed closure args).
    let results: Vec<Result<(), Error>> = stream::iter(0..nodes.len())
        .map(|i| {
            let (client, config, nodes) = (client.clone(), config.clone(), nodes.clone());
            async move { register_one(&client, &config, &nodes[i], since).await }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    results.into_iter().collect()
}

async fn register_one(
    client: &Client,
    config: &Config,
    node: &Identity,
    since: Timestamp,
) -> Result<(), Error> {
    let api: Api<Node> = Api::all(client.clone());
    let register = |source| Error::Register {
        node: node.name.clone(),
        source,
    };
    let object = node_object(config, node);
    let typed: Node = serde_json::from_value(object.clone()).map_err(Error::Document)?;
    match api.create(&PostParams::default(), &typed).await {
        Ok(_) => {}
        Err(e) if is_status(&e, 409) => {
            // Adopt: our labels and pod CIDR win, anything else on the object is kept.
            let patch = json!({"metadata": {"labels": object["metadata"]["labels"]}, "spec": object["spec"]});
            api.patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(register)?;
        }
        Err(e) => return Err(register(e)),
    }
    let status = node_status(config, node, since, Timestamp::now());
    api.patch_status(&node.name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .map_err(register)?;
    renew_lease(client, &node.name).await.map_err(register)
}

/// Renews one Lease, creating it when missing.
async fn renew_lease(client: &Client, node: &str) -> Result<(), kube::Error> {
    let api: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let lease = lease_object(node, Timestamp::now(), LEASE_SECONDS);
    let patch = json!({"spec": lease["spec"]});
    match api
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Err(e) if is_status(&e, 404) => {
            let typed: Lease =
                serde_json::from_value(lease).expect("lease document is a valid Lease");
            match api.create(&PostParams::default(), &typed).await {
                Err(e) if !is_status(&e, 409) => Err(e),
                _ => Ok(()),
            }
        }
        other => other.map(|_| ()),
    }
}

/// Renews every node's Lease each `heartbeat` and refreshes node status every
/// [`STATUS_REPORT_EVERY`], in one loop for all nodes; failures are logged and retried on the
/// next beat.
pub async fn heartbeat(
    ctx: Arc<Context>,
    config: Arc<Config>,
    nodes: Arc<Vec<Identity>>,
    since: Timestamp,
) {
    let mut beat = tokio::time::interval(config.heartbeat);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_report = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            _ = beat.tick() => {}
        }
        let report = last_report.elapsed() >= STATUS_REPORT_EVERY;
        if report {
            last_report = tokio::time::Instant::now();
        }
        let failures = stream::iter(0..nodes.len())
            .map(|i| {
                let (client, config, nodes) = (ctx.client.clone(), config.clone(), nodes.clone());
                async move {
                    let node = &nodes[i];
                    let mut result = renew_lease(&client, &node.name).await;
                    if report && result.is_ok() {
                        let api: Api<Node> = Api::all(client.clone());
                        let status = node_status(&config, node, since, Timestamp::now());
                        result = api
                            .patch_status(
                                &node.name,
                                &PatchParams::default(),
                                &Patch::Merge(&status),
                            )
                            .await
                            .map(|_| ());
                    }
                    result.err().map(|e| (node.name.clone(), e))
                }
            })
            .buffer_unordered(PARALLEL)
            .filter_map(|failure| async move { failure })
            .collect::<Vec<_>>();
        let failures = tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            failures = failures => failures,
        };
        if let Some((node, error)) = failures.first() {
            tracing::warn!(%node, %error, failed = failures.len(), "node heartbeat failed; retrying next beat");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            name: "member1-node-2".into(),
            ip: "172.20.0.4".parse().unwrap(),
            subnet: Cidr::parse("10.7.2.0/24").unwrap(),
        }
    }

    #[test]
    fn node_carries_labels_and_pod_cidr() {
        let mut config = Config::default();
        config
            .labels
            .insert("topology.kubernetes.io/zone".into(), "z1".into());
        let node: Node = serde_json::from_value(node_object(&config, &identity())).unwrap();
        let labels = node.metadata.labels.unwrap();
        for (key, value) in [
            ("kubernetes.io/hostname", "member1-node-2"),
            ("kubernetes.io/os", "linux"),
            ("topology.kubernetes.io/zone", "z1"),
        ] {
            assert_eq!(labels.get(key).map(String::as_str), Some(value), "{key}");
        }
        assert_eq!(node.spec.unwrap().pod_cidr.as_deref(), Some("10.7.2.0/24"));
    }

    #[test]
    fn status_reports_capacity_conditions_and_addresses() {
        let config = Config::default();
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t1: Timestamp = "2026-01-01T00:05:00Z".parse().unwrap();
        let doc = node_status(&config, &identity(), t0, t1);
        let node: Node =
            serde_json::from_value(json!({"metadata": {"name": "n"}, "status": doc["status"]}))
                .unwrap();
        let status = node.status.unwrap();
        let capacity = status.capacity.unwrap();
        assert_eq!(capacity["cpu"].0, "8");
        assert_eq!(capacity["memory"].0, "32Gi");
        assert_eq!(capacity["pods"].0, "110");
        assert_eq!(capacity["ephemeral-storage"].0, "100Gi");
        assert_eq!(status.allocatable.unwrap(), capacity);
        let conditions = status.conditions.unwrap();
        let by_type = |t: &str| conditions.iter().find(|c| c.type_ == t).unwrap();
        assert_eq!(by_type("Ready").status, "True");
        assert_eq!(by_type("Ready").reason.as_deref(), Some("KubeletReady"));
        for t in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
            assert_eq!(by_type(t).status, "False", "{t}");
        }
        assert_eq!(
            doc["status"]["conditions"][3]["lastHeartbeatTime"],
            "2026-01-01T00:05:00Z"
        );
        assert_eq!(
            doc["status"]["conditions"][3]["lastTransitionTime"],
            "2026-01-01T00:00:00Z"
        );
        let addresses = status.addresses.unwrap();
        assert_eq!(
            (addresses[0].type_.as_str(), addresses[0].address.as_str()),
            ("InternalIP", "172.20.0.4")
        );
        let info = status.node_info.unwrap();
        assert_eq!(info.kubelet_version, "v1.33.0");
        assert_eq!(info.container_runtime_version, "containerd://simulated");
        assert_eq!(info.machine_id.len(), 32);
    }

    #[test]
    fn lease_renew_time_is_micro_time() {
        let t: Timestamp = "2026-01-01T00:00:01.5Z".parse().unwrap();
        let lease: Lease = serde_json::from_value(lease_object("n1", t, 40)).unwrap();
        let spec = lease.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("n1"));
        assert_eq!(spec.lease_duration_seconds, Some(40));
        assert_eq!(
            lease_object("n1", t, 40)["spec"]["renewTime"],
            "2026-01-01T00:00:01.500000Z"
        );
    }
}
