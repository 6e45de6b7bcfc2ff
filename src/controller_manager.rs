//! `karmada controller-manager`: the federation's controllers against a federation apiserver
//! reached through a kubeconfig, including the serving of Push clusters.

use std::path::PathBuf;
use std::time::Duration;

use karmada_agents::push;
use karmada_api::policy::propagation::PurgeMode;
use karmada_propagation::{
    application_failover, binding, cluster_health, dependencies, detector, execution_namespace,
    graceful_eviction, namespace_sync, rebalancer, service_import, status, taint_manager,
    taint_policy,
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
    /// How long a Push cluster must fail every probe before it is reported not Ready; 0
    /// reports the first failure.
    #[arg(long, default_value_t = karmada_agents::agent::cluster::DEFAULT_FAILURE_THRESHOLD.as_secs())]
    cluster_failure_threshold_seconds: u64,
    /// Keep the built-in ClusterTaintPolicies, which taint a cluster NoExecute while its Ready
    /// condition is False (`cluster.karmada.io/not-ready`) or Unknown
    /// (`cluster.karmada.io/unreachable`); `false` removes them.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    default_taint_policies: bool,
    /// Evict workloads from clusters with NoExecute taints they do not tolerate.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    enable_no_execute_taint_eviction: bool,
    /// How the copy on a cluster evicted for a NoExecute taint is removed, unless the policy's
    /// `failover.cluster.purgeMode` says: Gracefully (once the new placement is healthy),
    /// Directly, or Never.
    #[arg(long, default_value = "Gracefully", value_parser = purge_mode)]
    no_execute_taint_eviction_purge_mode: PurgeMode,
    /// Evictions per second (bursts of as many).
    #[arg(long, default_value_t = 20.0)]
    resource_eviction_rate: f64,
    /// Evictions per second while more than half of the clusters are unhealthy.
    #[arg(long, default_value_t = 1.0)]
    secondary_resource_eviction_rate: f64,
    /// How long an evicted cluster's copy may outlive the rescheduling when the new placement
    /// is not healthy yet (tasks may set their own).
    #[arg(long, default_value_t = graceful_eviction::DEFAULT_TIMEOUT.as_secs())]
    graceful_eviction_timeout_seconds: u64,
}

fn purge_mode(value: &str) -> Result<PurgeMode, String> {
    match value {
        "Gracefully" => Ok(PurgeMode::Gracefully),
        "Directly" => Ok(PurgeMode::Directly),
        "Never" => Ok(PurgeMode::Never),
        other => Err(format!(
            "{other:?} is not a purge mode: use Gracefully, Directly or Never"
        )),
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = crate::kubeconfig::client(&args.kubeconfig).await?;
    let cancel = crate::shutdown_signal();
    tracing::info!("controller-manager ready");
    let grace = Duration::from_secs(args.cluster_monitor_grace_period_seconds.max(1));
    let mut push_clusters = push::Config::new(client.clone());
    push_clusters.periods.status_period =
        Duration::from_secs(args.cluster_status_update_frequency_seconds.max(1));
    push_clusters.periods.failure_threshold =
        Duration::from_secs(args.cluster_failure_threshold_seconds);
    let evictions = taint_manager::Config {
        purge_mode: args.no_execute_taint_eviction_purge_mode,
        rate: args.resource_eviction_rate,
        burst: args.resource_eviction_rate.ceil().max(1.0) as u32,
        secondary_rate: args.secondary_resource_eviction_rate,
    };
    let taint_eviction = {
        let (client, cancel) = (client.clone(), cancel.clone());
        async move {
            if args.enable_no_execute_taint_eviction {
                taint_manager::run(client, evictions, cancel).await;
            }
        }
    };
    tokio::join!(
        execution_namespace::run(client.clone(), cancel.clone()),
        Box::pin(taint_policy::run(
            client.clone(),
            args.default_taint_policies,
            cancel.clone()
        )),
        Box::pin(taint_eviction),
        Box::pin(application_failover::run(client.clone(), cancel.clone())),
        Box::pin(graceful_eviction::run(
            client.clone(),
            Duration::from_secs(args.graceful_eviction_timeout_seconds),
            cancel.clone(),
        )),
        cluster_health::run(client.clone(), grace, cancel.clone()),
        namespace_sync::run(client.clone(), cancel.clone()),
        detector::controller::run(client.clone(), cancel.clone()),
        binding::controller::run(client.clone(), cancel.clone()),
        dependencies::run(client.clone(), cancel.clone()),
        rebalancer::run(client.clone(), cancel.clone()),
        Box::pin(service_import::run(client.clone(), cancel.clone())),
        Box::pin(status::controller::run(client, cancel.clone())),
        Box::pin(push::run(push_clusters, cancel)),
    );
    Ok(())
}
