//! `karmada bench failover`: a federation of N members runs M Deployments whose replicas are
//! spread over every member; the last member and its agent are killed (SIGKILL). Reports, from
//! the loss: when the federation called the cluster not Ready, when each workload's binding
//! left it, and when each workload showed all its replicas Ready again on the remaining members,
//! against the target of the grace period plus 5 s.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use karmada_api::cluster::Cluster;
use karmada_api::work::binding::ResourceBinding;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde::Serialize;
use serde_json::json;

use super::component::{Component, Footprint, footprint_table};
use super::federation::{Federation, NAMESPACE, deployment, prepare};
use super::machine::Machine;
use super::report::{Milestone, milestone, milestone_table};

/// What the failover may take beyond the grace period: the target.
const TARGET_SLACK: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(100);

#[derive(clap::Args)]
pub struct Args {
    /// Member clusters, each with its agent; the last one is lost [default: 3; 2 with --quick].
    #[arg(long)]
    members: Option<usize>,
    /// Deployments spread over every member [default: 20; 2 with --quick].
    #[arg(long)]
    workloads: Option<usize>,
    /// Replicas of each Deployment [default: 6; 2 with --quick].
    #[arg(long)]
    replicas: Option<usize>,
    /// Simulated nodes per member.
    #[arg(long, default_value_t = 2)]
    nodes_per_member: usize,
    /// The controller-manager's heartbeat grace period (`--cluster-monitor-grace-period-seconds`).
    #[arg(long, default_value_t = 15)]
    grace_seconds: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_seconds: u64,
    #[command(flatten)]
    common: super::Common,
}

/// The sizes a run used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Params {
    pub members: usize,
    pub workloads: usize,
    pub replicas: usize,
    pub nodes_per_member: usize,
    pub grace_seconds: u64,
}

impl Args {
    fn params(&self) -> anyhow::Result<Params> {
        let pick = |explicit, full, quick| self.common.pick(explicit, full, quick);
        let params = Params {
            members: pick(self.members, 3, 2),
            workloads: pick(self.workloads, 20, 2),
            replicas: pick(self.replicas, 6, 2),
            nodes_per_member: self.nodes_per_member,
            grace_seconds: self.grace_seconds,
        };
        ensure!(
            params.members >= 2,
            "--members must be at least 2: one is lost, the others take over"
        );
        for (flag, value) in [
            ("--workloads", params.workloads),
            ("--replicas", params.replicas),
            ("--nodes-per-member", params.nodes_per_member),
        ] {
            ensure!(value >= 1, "{flag} must be at least 1");
        }
        ensure!(
            params.grace_seconds >= 1,
            "--grace-seconds must be at least 1"
        );
        Ok(params)
    }
}

/// The JSON document written to `--out`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub benchmark: &'static str,
    pub machine: Machine,
    pub params: Params,
    /// The cluster that was lost.
    pub lost: String,
    /// Grace period plus 5 s.
    pub target_seconds: f64,
    /// From the loss to the lost cluster's Ready condition leaving True.
    pub detected_seconds: f64,
    /// From the loss to the DNS no longer answering the lost cluster's copy of an exported
    /// Service.
    pub dns_seconds: f64,
    /// From the loss, per workload: its binding left the cluster; all replicas Ready again.
    pub milestones: Vec<Milestone>,
    pub footprints: Vec<Footprint>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let params = args.params()?;
    let timeout = Duration::from_secs(args.timeout_seconds);
    let p = &params;
    super::execute(
        p,
        args.common.out.as_deref(),
        table,
        |dir, machine| async move { bench(p, &dir, timeout, machine).await },
    )
    .await
}

async fn bench(
    params: &Params,
    dir: &Path,
    timeout: Duration,
    machine: Machine,
) -> anyhow::Result<Report> {
    let deadline = Instant::now() + timeout;
    let grace = params.grace_seconds.to_string();
    let Federation {
        mut components,
        client,
        members,
    } = Federation::start(
        dir,
        params.members,
        params.nodes_per_member,
        &["--cluster-monitor-grace-period-seconds", &grace],
        deadline,
    )
    .await?;
    prepare(
        &client,
        &members,
        &json!({"replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted"}),
        deadline,
    )
    .await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    for i in 0..params.workloads {
        deployments
            .create(
                &PostParams::default(),
                &deployment(&format!("bench-{i}"), params.replicas),
            )
            .await
            .context("cannot create a bench Deployment")?;
    }
    let lost = format!("member{}", params.members);
    wait_until_settled(&client, params, &lost, deadline).await?;
    let dns = exported_service(dir, &mut components, &client, &members, &lost, deadline).await?;
    eprintln!(
        "bench: {} Deployments Ready on every member; losing {lost}",
        params.workloads
    );

    for component in &mut components {
        if component.name == lost || component.name == format!("agent {lost}") {
            component
                .child
                .start_kill()
                .with_context(|| format!("cannot kill {}", component.name))?;
        }
    }
    let t0 = Instant::now();
    let since: HashMap<String, Instant> = (0..params.workloads)
        .map(|i| (format!("bench-{i}"), t0))
        .collect();
    let dns_dropped = tokio::spawn(until_dns_drops(dns, deadline));
    let progress = track(&client, params, &lost, deadline).await?;
    let dns_dropped = dns_dropped.await.context("the DNS watch panicked")??;
    let milestones = vec![
        milestone("left the cluster", t0, &since, &progress.evicted),
        milestone("Ready elsewhere", t0, &since, &progress.ready),
    ];
    Ok(Report {
        benchmark: "failover",
        machine,
        params: *params,
        lost,
        target_seconds: (Duration::from_secs(params.grace_seconds) + TARGET_SLACK).as_secs_f64(),
        detected_seconds: progress.detected.duration_since(t0).as_secs_f64(),
        dns_seconds: dns_dropped.duration_since(t0).as_secs_f64(),
        milestones,
        footprints: components
            .iter()
            .filter(|c| c.child.id().is_some())
            .map(Component::footprint)
            .collect(),
    })
}

/// The exported Service, as the DNS answers it.
struct Exported {
    dns: SocketAddr,
    /// The name of the lost cluster's copy (`<cluster>.<svc>...`): members may give the
    /// Service the same ClusterIP, so only this name tells the lost cluster's answer apart.
    lost_name: String,
}

const EXPORTED: &str = "bench-0.bench.svc.clusterset.local";

/// Starts `karmada dns` on the federation, exports the Service of `bench-0` from every member,
/// and waits until the DNS answers every member's ClusterIP for it.
async fn exported_service(
    dir: &Path,
    components: &mut Vec<Component>,
    client: &Client,
    members: &[Client],
    lost: &str,
    deadline: Instant,
) -> anyhow::Result<Exported> {
    let port = crate::dns::free_port(Ipv4Addr::LOCALHOST.into()).await?;
    let dns = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let kubeconfig = dir.join("federation").join("kubeconfig");
    components.push(Component::spawn(
        "dns",
        &[
            "dns",
            "--kubeconfig",
            &kubeconfig.to_string_lossy(),
            "--listen",
            &dns.to_string(),
        ],
    )?);
    for (kind, manifest) in [
        (
            "Service",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bench-0"},
                   "spec": {"selector": {"app": "bench-0"}, "ports": [{"name": "http", "port": 80}]}}),
        ),
        (
            "ServiceExport",
            json!({"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport",
                   "metadata": {"name": "bench-0"}}),
        ),
        (
            "PropagationPolicy",
            json!({"apiVersion": "policy.karmada.io/v1alpha1", "kind": "PropagationPolicy",
                   "metadata": {"name": "bench-dns"},
                   "spec": {"resourceSelectors": [
                       {"apiVersion": "v1", "kind": "Service", "name": "bench-0"},
                       {"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport", "name": "bench-0"}],
                       "placement": {}}}),
        ),
    ] {
        let object: kube::api::DynamicObject = serde_json::from_value(manifest)?;
        let api_resource = kube::discovery::ApiResource::from_gvk(
            &object.types.clone().context("typed")?.try_into()?,
        );
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(client.clone(), NAMESPACE, &api_resource);
        api.create(&PostParams::default(), &object)
            .await
            .with_context(|| format!("cannot create the bench {kind}"))?;
    }
    let lost_name = format!("{lost}.{EXPORTED}");
    loop {
        let all = super::dns::query_a(dns, EXPORTED).await.unwrap_or_default();
        let lost = super::dns::query_a(dns, &lost_name)
            .await
            .unwrap_or_default();
        if all.len() == members.len() && !lost.is_empty() {
            return Ok(Exported { dns, lost_name });
        }
        ensure!(
            Instant::now() < deadline,
            "the DNS did not answer {EXPORTED} from every member in time: {all:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// When the DNS stopped answering the lost cluster's copy.
async fn until_dns_drops(exported: Exported, deadline: Instant) -> anyhow::Result<Instant> {
    loop {
        let answered = super::dns::query_a(exported.dns, &exported.lost_name).await;
        if answered.is_ok_and(|ips| ips.is_empty()) {
            return Ok(Instant::now());
        }
        ensure!(
            Instant::now() < deadline,
            "the DNS kept answering {}",
            exported.lost_name
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ready_replicas(d: &Deployment) -> usize {
    let ready = d
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    usize::try_from(ready).unwrap_or(0)
}

/// Waits until every Deployment is Ready on the federation and placed on the cluster to lose.
async fn wait_until_settled(
    client: &Client,
    params: &Params,
    lost: &str,
    deadline: Instant,
) -> anyhow::Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let bindings: Api<ResourceBinding> = Api::namespaced(client.clone(), NAMESPACE);
    loop {
        let ready = deployments
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|d| ready_replicas(d) >= params.replicas)
            .count();
        let placed = bindings
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|b| b.spec.targets(lost))
            .count();
        if ready == params.workloads && placed == params.workloads {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "before the loss only {ready}/{} Deployments were Ready and {placed} placed on {lost}",
            params.workloads
        );
        tokio::time::sleep(POLL).await;
    }
}

/// When things happened after the loss.
struct Progress {
    detected: Instant,
    evicted: HashMap<String, Instant>,
    ready: HashMap<String, Instant>,
}

/// Polls the federation until every workload is Ready again without the lost cluster.
async fn track(
    client: &Client,
    params: &Params,
    lost: &str,
    deadline: Instant,
) -> anyhow::Result<Progress> {
    let clusters: Api<Cluster> = Api::all(client.clone());
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let bindings: Api<ResourceBinding> = Api::namespaced(client.clone(), NAMESPACE);
    let mut detected = None;
    let mut evicted: HashMap<String, Instant> = HashMap::new();
    let mut ready: HashMap<String, Instant> = HashMap::new();
    let mut last_report = Instant::now();
    while ready.len() < params.workloads {
        let now = Instant::now();
        if detected.is_none() && !clusters.get(lost).await?.is_ready() {
            detected = Some(now);
            eprintln!("bench: {lost} is no longer Ready");
        }
        for b in bindings.list(&ListParams::default()).await?.items {
            if !b.spec.targets(lost) {
                let workload = b.spec.resource.name.clone();
                evicted.entry(workload).or_insert(now);
            }
        }
        for d in deployments.list(&ListParams::default()).await?.items {
            // Ready counts only Ready clusters, so this is the replicas elsewhere.
            if evicted.contains_key(&d.name_any()) && ready_replicas(&d) >= params.replicas {
                ready.entry(d.name_any()).or_insert(now);
            }
        }
        ensure!(
            Instant::now() < deadline,
            "timed out: {} evicted, {}/{} Ready elsewhere",
            evicted.len(),
            ready.len(),
            params.workloads
        );
        if last_report.elapsed() >= Duration::from_secs(5) {
            eprintln!(
                "bench: {} evicted, {}/{} Ready elsewhere",
                evicted.len(),
                ready.len(),
                params.workloads
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(Progress {
        detected: detected.unwrap_or_else(Instant::now),
        evicted,
        ready,
    })
}

fn table(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let p = report.params;
    let _ = writeln!(
        out,
        "failover: {} Deployments x {} replicas over {} members; {} lost (SIGKILL)",
        p.workloads, p.replicas, p.members, report.lost
    );
    let _ = writeln!(
        out,
        "grace period {}s, target {:.0}s; {} not Ready after {:.1}s; DNS stopped answering it after {:.1}s",
        p.grace_seconds,
        report.target_seconds,
        report.lost,
        report.detected_seconds,
        report.dns_seconds
    );
    milestone_table(
        &mut out,
        "per s",
        report
            .milestones
            .iter()
            .map(|m| (m.step, m.seconds, m.per_sec, m.latency_ms)),
    );
    footprint_table(&mut out, &report.footprints);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(argv: &[&str]) -> anyhow::Result<Params> {
        super::super::parse::<Args>(argv)?.params()
    }

    #[test]
    fn sizes_default_shrink_with_quick_and_are_checked() {
        let p = params(&[]).unwrap();
        assert_eq!(
            (p.members, p.workloads, p.replicas, p.grace_seconds),
            (3, 20, 6, 15)
        );
        let p = params(&["--quick", "--grace-seconds", "3"]).unwrap();
        assert_eq!(
            (p.members, p.workloads, p.replicas, p.grace_seconds),
            (2, 2, 2, 3)
        );
        assert!(params(&["--members", "1"]).is_err());
        assert!(params(&["--replicas", "0"]).is_err());
        assert!(params(&["--grace-seconds", "0"]).is_err());
    }
}
