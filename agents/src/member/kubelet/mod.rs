//! Simulated kubelets (KWOK-style): N Node objects with heartbeats, and the pods bound to them
//! played through their lifecycle, all from two loops however many nodes and pods there are.

pub mod ipam;
mod lifecycle;
pub mod node;
pub mod pod;
mod timers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use self::ipam::Cidr;
use self::node::Identity;
use crate::member::runtime::Context;

pub use self::pod::{DURATION_ANNOTATION, EXIT_CODE_ANNOTATION, UNREADY_ANNOTATION};

/// The simulated nodes and how their pods behave.
#[derive(Debug, Clone)]
pub struct Config {
    /// How many nodes to run.
    pub nodes: usize,
    /// Node names are `{name_prefix}-{i}`, `i` from 0.
    pub name_prefix: String,
    /// Capacity (= allocatable) per node, as Kubernetes quantities.
    pub cpu: String,
    pub memory: String,
    pub pods: u32,
    /// Labels every node carries besides hostname/os/arch (see [`topology_labels`]).
    pub labels: BTreeMap<String, String>,
    /// Split into one subnet per node (a /24 when they fit) for pod IPs.
    pub pod_cidr: String,
    /// Node InternalIPs are taken from here, `.2` upward.
    pub node_cidr: String,
    /// From container start to Ready.
    pub ready_delay: Duration,
    /// How long Job pods run before they succeed.
    pub job_duration: Duration,
    /// How often node Leases are renewed.
    pub heartbeat: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            nodes: 3,
            name_prefix: "member-node".into(),
            cpu: "8".into(),
            memory: "32Gi".into(),
            pods: 110,
            labels: BTreeMap::new(),
            pod_cidr: "10.244.0.0/16".into(),
            node_cidr: "172.20.0.0/16".into(),
            ready_delay: Duration::from_secs(1),
            job_duration: Duration::from_secs(5),
            heartbeat: Duration::from_secs(10),
        }
    }
}

/// The well-known topology labels for a node pool.
pub fn topology_labels(
    region: Option<&str>,
    zone: Option<&str>,
    instance_type: Option<&str>,
) -> BTreeMap<String, String> {
    [
        ("topology.kubernetes.io/region", region),
        ("topology.kubernetes.io/zone", zone),
        ("node.kubernetes.io/instance-type", instance_type),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_string(), v?.to_string())))
    .collect()
}

/// Why the kubelets could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid kubelet address plan: {0}")]
    Addresses(#[from] ipam::Error),
    #[error("registering node {node}: {source}")]
    Register {
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("building a node document: {0}")]
    Document(#[source] serde_json::Error),
}

/// Whether a kube-rs error is an apiserver response with this HTTP code.
fn is_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}

/// Names and addresses of every node of `config`.
pub fn identities(config: &Config) -> Result<Vec<Identity>, Error> {
    let pod_cidr = Cidr::parse(&config.pod_cidr)?;
    let node_cidr = Cidr::parse(&config.node_cidr)?;
    let subnets = ipam::node_subnets(pod_cidr, config.nodes)?;
    subnets
        .into_iter()
        .enumerate()
        .map(|(i, subnet)| {
            Ok(Identity {
                name: format!("{}-{i}", config.name_prefix),
                ip: ipam::node_ip(node_cidr, i, config.nodes)?,
                subnet,
            })
        })
        .collect()
}

/// Registers the nodes, then keeps their heartbeats and plays their pods until `ctx.cancel`.
/// Registration is retried until it succeeds (the apiserver may still be starting); an
/// address plan that cannot work is the only error returned.
pub async fn run(ctx: Arc<Context>, config: Config) -> Result<(), Error> {
    let nodes = Arc::new(identities(&config)?);
    let config = Arc::new(config);
    let since = Timestamp::now();
    loop {
        let registered = tokio::select! {
            _ = ctx.cancel.cancelled() => return Ok(()),
            result = node::register(&ctx.client, &config, &nodes, since) => result,
        };
        match registered {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(%error, "node registration failed; retrying");
                tokio::select! {
                    _ = ctx.cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
    tracing::info!(nodes = nodes.len(), "simulated nodes registered");
    tokio::join!(
        node::heartbeat(ctx.clone(), config.clone(), nodes.clone(), since),
        lifecycle::run(ctx.clone(), config.clone(), nodes.clone()),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_name_and_address_each_node() {
        let config = Config {
            name_prefix: "member1-node".into(),
            pod_cidr: "10.7.0.0/16".into(),
            ..Config::default()
        };
        let nodes = identities(&config).unwrap();
        let got: Vec<(String, String, String)> = nodes
            .iter()
            .map(|n| (n.name.clone(), n.ip.to_string(), n.subnet.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "member1-node-0".into(),
                    "172.20.0.2".into(),
                    "10.7.0.0/24".into()
                ),
                (
                    "member1-node-1".into(),
                    "172.20.0.3".into(),
                    "10.7.1.0/24".into()
                ),
                (
                    "member1-node-2".into(),
                    "172.20.0.4".into(),
                    "10.7.2.0/24".into()
                ),
            ]
        );
        let bad = Config {
            pod_cidr: "10.7.0.0".into(),
            ..Config::default()
        };
        assert!(matches!(identities(&bad), Err(Error::Addresses(_))));
    }

    #[test]
    fn topology() {
        let labels = topology_labels(Some("eu-west-1"), None, Some("m5.2xlarge"));
        assert_eq!(labels.len(), 2);
        assert_eq!(labels["topology.kubernetes.io/region"], "eu-west-1");
    }
}
