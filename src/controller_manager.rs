//! `karmada controller-manager`: the federation's controllers against a federation apiserver
//! reached through a kubeconfig, including the serving of Push clusters.

use std::path::PathBuf;
use std::time::Duration;

use karmada_agents::push;
use karmada_propagation::{
    binding, cluster_health, dependencies, detector, execution_namespace, namespace_sync,
    rebalancer, status,
};

#[derive(clap::Args)]
pub struct Args {
    /// Kubeconfig of the federation apiserver (its current context is used).
    #[arg(long)]
    kubeconfig: PathBuf,
    /// How long a pull cluster's agent may miss its heartbeat before the cluster's Ready
    /// condition turns Unknown (and it is tainted unreachable).
    #[arg(long, default_value_t = cluster_health::DEFAULT_GRACE_PERIOD.as_secs())]
    cluster_monitor_grace_period_seconds: u64,
    /// How often the status of a Push cluster (which the controller-manager reaches itself)
    /// is collected; pull agents have their own setting.
    #[arg(long, default_value_t = 10)]
    cluster_status_update_frequency_seconds: u64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = crate::kubeconfig::client(&args.kubeconfig).await?;
    let cancel = crate::shutdown_signal();
    tracing::info!("controller-manager ready");
    let grace = Duration::from_secs(args.cluster_monitor_grace_period_seconds.max(1));
    let mut push_clusters = push::Config::new(client.clone());
    push_clusters.periods.status_period =
        Duration::from_secs(args.cluster_status_update_frequency_seconds.max(1));
    tokio::join!(
        execution_namespace::run(client.clone(), cancel.clone()),
        cluster_health::run(client.clone(), grace, cancel.clone()),
        namespace_sync::run(client.clone(), cancel.clone()),
        detector::controller::run(client.clone(), cancel.clone()),
        binding::controller::run(client.clone(), cancel.clone()),
        dependencies::run(client.clone(), cancel.clone()),
        rebalancer::run(client.clone(), cancel.clone()),
        status::controller::run(client, cancel.clone()),
        Box::pin(push::run(push_clusters, cancel)),
    );
    Ok(())
}
