//! `karmada agent`: the pull-mode agent of one member cluster. It registers the Cluster with
//! the federation, renews its heartbeat and status, and applies the Works of the cluster's
//! execution namespace to the member.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use karmada_agents::agent::{cluster, estimator, execution};

#[derive(clap::Args)]
pub struct Args {
    /// The member cluster's name in the federation.
    #[arg(long)]
    cluster: String,
    /// Kubeconfig of the federation apiserver.
    #[arg(long)]
    karmada_kubeconfig: PathBuf,
    /// Kubeconfig of the member cluster this agent serves.
    #[arg(long)]
    member_kubeconfig: PathBuf,
    #[arg(long)]
    region: Option<String>,
    #[arg(long)]
    zone: Option<String>,
    #[arg(long)]
    provider: Option<String>,
    /// Labels for the Cluster object, as `key=value[,key=value...]`.
    #[arg(long, value_delimiter = ',')]
    labels: Vec<String>,
    /// How long the federation waits for a heartbeat before it calls the agent gone.
    #[arg(long, default_value_t = 10)]
    lease_duration_seconds: u64,
    /// How often the heartbeat Lease is renewed.
    #[arg(long, default_value_t = 2)]
    heartbeat_seconds: u64,
    /// How often the member's health endpoint is probed; a change is reported at once.
    #[arg(long, default_value_t = 2)]
    probe_seconds: u64,
    /// How often the Cluster's whole status (version, APIs, nodes, resources) is refreshed.
    #[arg(long, default_value_t = 10)]
    status_seconds: u64,
    /// How long the member must fail every probe before it is reported not Ready (one lost
    /// answer must not fail the cluster over); 0 reports the first failure.
    #[arg(long, default_value_t = cluster::DEFAULT_FAILURE_THRESHOLD.as_secs())]
    cluster_failure_threshold_seconds: u64,
    /// Serve the replica estimator (gRPC, plaintext) for this member on this address, e.g.
    /// `127.0.0.1:10352`. Not served when unset.
    #[arg(long, value_name = "ADDR")]
    estimator_listen: Option<SocketAddr>,
    /// The `host:port` the scheduler should use to reach the estimator, advertised on the
    /// Cluster; by default the address the estimator listens on (set this when listening on
    /// all interfaces or behind a proxy).
    #[arg(long, value_name = "HOST:PORT", requires = "estimator_listen")]
    estimator_advertise_address: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.heartbeat_seconds == 0 || args.heartbeat_seconds >= args.lease_duration_seconds {
        bail!(
            "--heartbeat-seconds ({}) must be at least 1 and below --lease-duration-seconds ({})",
            args.heartbeat_seconds,
            args.lease_duration_seconds
        );
    }
    let federation = crate::kubeconfig::client(&args.karmada_kubeconfig).await?;
    let member = crate::kubeconfig::client(&args.member_kubeconfig).await?;
    let endpoint = crate::kubeconfig::server(&args.member_kubeconfig)?;
    let mut registration = cluster::Registration::new(&args.cluster, endpoint);
    registration.region = args.region;
    registration.zone = args.zone;
    registration.provider = args.provider;
    registration.labels = parse_labels(&args.labels)?;
    registration.lease_duration = Duration::from_secs(args.lease_duration_seconds);
    registration.lease_renew_period = Duration::from_secs(args.heartbeat_seconds);
    registration.status_period = Duration::from_secs(args.status_seconds.max(1));
    registration.probe_period = Duration::from_secs(args.probe_seconds.max(1));
    registration.failure_threshold = Duration::from_secs(args.cluster_failure_threshold_seconds);

    // Bind before anything starts so a taken port fails the agent at once.
    let estimator_listener = match args.estimator_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on --estimator-listen {addr}"))?,
        ),
        None => None,
    };
    if let Some(listener) = &estimator_listener {
        let bound = listener
            .local_addr()
            .context("cannot read the estimator's listening address")?;
        registration.estimator_address = Some(
            args.estimator_advertise_address
                .clone()
                .unwrap_or_else(|| bound.to_string()),
        );
    }

    let cancel = crate::shutdown_signal();
    tracing::info!(cluster = %args.cluster, "agent ready");
    let works = execution::Config::new(federation.clone(), member.clone(), &args.cluster);
    let estimated = {
        let (cluster, member, cancel) = (args.cluster.clone(), member.clone(), cancel.clone());
        async move {
            let Some(listener) = estimator_listener else {
                return Ok(());
            };
            let served = estimator::serve(listener, cluster, member, cancel.clone()).await;
            // Serving failed for good: stop the agent rather than run on without it.
            cancel.cancel();
            served
        }
    };
    let (registered, executed, estimated) = tokio::join!(
        cluster::run(federation, member, registration, cancel.clone()),
        execution::run(works, cancel.clone()),
        estimated,
    );
    // Whichever part stopped first for good takes the others down with it.
    cancel.cancel();
    registered.context("cluster registration and status stopped")?;
    executed.context("applying Works stopped")?;
    estimated.context("the replica estimator stopped")?;
    Ok(())
}

fn parse_labels(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
            _ => bail!("label {pair:?} is not key=value"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_as_key_value_pairs() {
        let got = parse_labels(&["env=prod".into(), "tier=".into()]).unwrap();
        assert_eq!(got["env"], "prod");
        assert_eq!(got["tier"], "");
        assert!(parse_labels(&["novalue".into()]).is_err());
        assert!(parse_labels(&["=x".into()]).is_err());
    }
}
