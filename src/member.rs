//! `karmada member`: one member cluster (apiserver, controllers, scheduler, simulated nodes).

use std::net::SocketAddr;

use karmada_agents::member::cluster::{self, Config};
use karmada_agents::member::controllers::service::ServiceConfig;
use karmada_agents::member::kubelet;
use karmada_apiserver::server;

use crate::apiserver::{AuthArgs, StorageArgs, cluster_ca};

#[derive(clap::Args)]
pub struct Args {
    /// The cluster's name (node names and the kubeconfig context derive from it).
    #[arg(long)]
    name: String,
    /// Address to serve on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    auth: AuthArgs,
    /// Number of simulated nodes.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// CPU of each node (a Kubernetes quantity).
    #[arg(long, default_value = "8")]
    node_cpu: String,
    /// Memory of each node (a Kubernetes quantity).
    #[arg(long, default_value = "32Gi")]
    node_memory: String,
    /// Pods each node can run.
    #[arg(long, default_value_t = 110)]
    node_pods: u32,
    /// Region label of the nodes (topology.kubernetes.io/region).
    #[arg(long)]
    region: Option<String>,
    /// Zone label of the nodes (topology.kubernetes.io/zone).
    #[arg(long)]
    zone: Option<String>,
    /// Cloud provider, recorded as the nodes' instance-type prefix.
    #[arg(long)]
    provider: Option<String>,
    /// Pod IPs come from here, one /24 per node.
    #[arg(long, default_value = "10.244.0.0/16")]
    pod_cidr: String,
    /// ClusterIPs of Services come from here.
    #[arg(long, default_value = "10.96.0.0/16")]
    service_cidr: String,
    /// LoadBalancer Services get their ingress IP from these CIDRs (comma-separated).
    #[arg(long, default_value = "172.30.0.0/24", value_delimiter = ',')]
    load_balancer_pool: Vec<String>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let instance_type = args.provider.as_deref().map(|p| format!("{p}.simulated"));
    let nodes = kubelet::Config {
        nodes: args.nodes,
        name_prefix: format!("{}-node", args.name),
        cpu: args.node_cpu.clone(),
        memory: args.node_memory.clone(),
        pods: args.node_pods,
        labels: kubelet::topology_labels(
            args.region.as_deref(),
            args.zone.as_deref(),
            instance_type.as_deref(),
        ),
        pod_cidr: args.pod_cidr.clone(),
        ..kubelet::Config::default()
    };
    let data_dir = args.storage.data_dir.as_deref();
    let ca = cluster_ca(data_dir, &format!("{}-ca", args.name))?;
    let apiserver = server::Config::new(args.listen, args.storage.backend()?);
    let apiserver = args.auth.apply(apiserver, data_dir, &ca)?;
    let config = Config {
        name: args.name.clone(),
        apiserver,
        nodes,
        services: ServiceConfig {
            service_cidr: args.service_cidr.clone(),
            node_port_range: 30000..=32767,
            load_balancer_pool: args.load_balancer_pool.clone(),
        },
        root_ca_pem: ca.cert_pem,
    };
    let cancel = crate::shutdown_signal();
    let member = cluster::start(config, cancel).await?;
    let url = member.url();
    let server = &member.apiserver;
    args.storage.write_kubeconfig(
        &args.name,
        &url,
        server.admin_token.clone(),
        server.ca_pem.clone(),
    )?;
    tracing::info!(name = %args.name, %url, "member ready");
    member.wait().await;
    Ok(())
}
