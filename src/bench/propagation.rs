//! `karmada bench propagation`: a whole federation as child processes (federation apiserver,
//! controller-manager, scheduler, N members each with its agent), M Deployments propagated to
//! every member; reports per-Deployment latency to exist in every member and to show all
//! replicas Ready on the federation, throughput, and each component's CPU and peak memory.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::PostParams;
use kube::runtime::watcher::{self, Event};
use kube::{Api, ResourceExt};
use serde::Serialize;
use serde_json::json;

use super::component::{Component, Footprint, footprint_table};
use super::federation::{Federation, NAMESPACE, deployment, prepare};
use super::machine::Machine;
use super::report::{Milestone, milestone, milestone_table};

const PROGRESS_EVERY: Duration = Duration::from_secs(5);

#[derive(clap::Args)]
pub struct Args {
    /// Member clusters, each with its agent [default: 3; 2 with --quick].
    #[arg(long)]
    members: Option<usize>,
    /// Deployments to propagate, one replica in every member [default: 100; 5 with --quick].
    #[arg(long)]
    workloads: Option<usize>,
    /// Simulated nodes per member.
    #[arg(long, default_value_t = 2)]
    nodes_per_member: usize,
    /// Create this many Deployments per second, to measure latency under a steady load rather
    /// than behind a queue [default: all at once].
    #[arg(long)]
    rate: Option<f64>,
    /// Give up when not everything is Ready after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_seconds: u64,
    #[command(flatten)]
    common: super::Common,
}

/// The sizes a run used.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {
    pub members: usize,
    pub workloads: usize,
    pub nodes_per_member: usize,
    /// Deployments created per second; `None` creates them all at once.
    pub rate: Option<f64>,
}

impl Args {
    fn params(&self) -> anyhow::Result<Params> {
        let pick = |explicit, full, quick| self.common.pick(explicit, full, quick);
        let params = Params {
            members: pick(self.members, 3, 2),
            workloads: pick(self.workloads, 100, 5),
            nodes_per_member: self.nodes_per_member,
            rate: self.rate,
        };
        if let Some(rate) = params.rate {
            ensure!(
                rate.is_finite() && rate > 0.0,
                "--rate must be a positive number of Deployments per second"
            );
        }
        for (flag, value) in [
            ("--members", params.members),
            ("--workloads", params.workloads),
            ("--nodes-per-member", params.nodes_per_member),
        ] {
            ensure!(value >= 1, "{flag} must be at least 1");
        }
        Ok(params)
    }
}

/// The JSON document written to `--out`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub benchmark: &'static str,
    pub machine: Machine,
    pub params: Params,
    /// From starting the processes to every cluster Ready in the federation.
    pub federation_ready_seconds: f64,
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

/// The child processes of the run, by component name; killed when dropped.
async fn bench(
    params: &Params,
    dir: &Path,
    timeout: Duration,
    machine: Machine,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let deadline = started + timeout;
    let Federation {
        components,
        client,
        members,
    } = Federation::start(dir, params.members, params.nodes_per_member, &[], deadline).await?;
    prepare(
        &client,
        &members,
        &json!({"replicaSchedulingType": "Duplicated"}),
        deadline,
    )
    .await?;
    let federation_ready = started.elapsed();
    eprintln!(
        "bench: federation ready after {:.1}s",
        federation_ready.as_secs_f64()
    );

    let t0 = Instant::now();
    let mut trackers = tokio::task::JoinSet::new();
    for member in &members {
        let api: Api<Deployment> = Api::namespaced(member.clone(), NAMESPACE);
        trackers.spawn(first_seen(api, params.workloads, deadline));
    }
    let ready = tokio::spawn(all_ready(
        Api::namespaced(client.clone(), NAMESPACE),
        params.workloads,
        params.members,
        deadline,
    ));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let mut created = HashMap::new();
    for i in 0..params.workloads {
        if let Some(rate) = params.rate {
            #[allow(clippy::cast_precision_loss)]
            let due = t0 + Duration::from_secs_f64(i as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let name = format!("bench-{i}");
        created.insert(name.clone(), Instant::now());
        deployments
            .create(&PostParams::default(), &deployment(&name, 1))
            .await
            .with_context(|| format!("cannot create deployment {name}"))?;
    }
    // Per Deployment, when the last member got it.
    let mut everywhere: HashMap<String, Instant> = HashMap::new();
    while let Some(seen) = trackers.join_next().await {
        for (name, at) in seen.context("a member tracker panicked")?? {
            let entry = everywhere.entry(name).or_insert(at);
            *entry = (*entry).max(at);
        }
    }
    let ready = ready.await.context("the readiness tracker panicked")??;
    let milestones = vec![
        milestone("in every member", t0, &created, &everywhere),
        milestone("Ready on federation", t0, &created, &ready),
    ];
    Ok(Report {
        benchmark: "propagation",
        machine,
        params: *params,
        federation_ready_seconds: federation_ready.as_secs_f64(),
        milestones,
        footprints: components.iter().map(Component::footprint).collect(),
    })
}

/// When each of `target` Deployments was first seen in one member.
async fn first_seen(
    api: Api<Deployment>,
    target: usize,
    deadline: Instant,
) -> anyhow::Result<HashMap<String, Instant>> {
    let mut seen = HashMap::new();
    let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
    while seen.len() < target {
        let event = next(&mut events, deadline, || {
            format!("{}/{target} Deployments in a member", seen.len())
        })
        .await?;
        if let Event::Apply(d) | Event::InitApply(d) = event {
            seen.entry(d.name_any()).or_insert_with(Instant::now);
        }
    }
    Ok(seen)
}

/// When each of `target` federation Deployments showed a ready replica from every member.
async fn all_ready(
    api: Api<Deployment>,
    target: usize,
    members: usize,
    deadline: Instant,
) -> anyhow::Result<HashMap<String, Instant>> {
    let mut ready: HashMap<String, Instant> = HashMap::new();
    let mut waiting: HashSet<String> = HashSet::new();
    let mut last_report = Instant::now();
    let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
    while ready.len() < target {
        let event = next(&mut events, deadline, || {
            format!("{}/{target} Deployments Ready", ready.len())
        })
        .await?;
        if let Event::Apply(d) | Event::InitApply(d) = event {
            let count = d
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            // Duplicated: every member runs the one replica, and the federation sums them.
            if usize::try_from(count).unwrap_or(0) >= members {
                waiting.remove(&d.name_any());
                ready.entry(d.name_any()).or_insert_with(Instant::now);
            } else {
                waiting.insert(d.name_any());
            }
        }
        if last_report.elapsed() >= PROGRESS_EVERY {
            eprintln!(
                "bench: {}/{target} Deployments Ready on the federation",
                ready.len()
            );
            last_report = Instant::now();
        }
    }
    Ok(ready)
}

async fn next<S, T>(
    events: &mut S,
    deadline: Instant,
    progress: impl Fn() -> String,
) -> anyhow::Result<Event<T>>
where
    S: futures::Stream<Item = Result<Event<T>, watcher::Error>> + Unpin,
{
    let remaining = deadline.saturating_duration_since(Instant::now());
    tokio::time::timeout(remaining, events.try_next())
        .await
        .map_err(|_| anyhow::anyhow!("timed out with {}", progress()))?
        .context("a watch failed")?
        .context("a watch ended")
}

fn table(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let p = report.params;
    let pace = match p.rate {
        Some(rate) => format!("created at {rate}/s"),
        None => "created at once".to_string(),
    };
    let _ = writeln!(
        out,
        "propagation: {} Deployments to {} members ({} nodes each), {pace}; federation ready in {:.1}s",
        p.workloads, p.members, p.nodes_per_member, report.federation_ready_seconds
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
        assert_eq!((p.members, p.workloads, p.nodes_per_member), (3, 100, 2));
        let p = params(&["--quick"]).unwrap();
        assert_eq!((p.members, p.workloads), (2, 5));
        let p = params(&["--quick", "--members", "1", "--workloads", "100"]).unwrap();
        assert_eq!((p.members, p.workloads), (1, 100));
        assert!(params(&["--members", "0"]).is_err());
        assert_eq!(params(&["--rate", "2.5"]).unwrap().rate, Some(2.5));
        assert_eq!(params(&[]).unwrap().rate, None);
        for bad in ["0", "-1", "NaN", "inf"] {
            assert!(params(&["--rate", bad]).is_err(), "--rate {bad}");
        }
    }

    #[test]
    fn milestones_measure_from_each_creation() {
        let t0 = Instant::now();
        let created: HashMap<String, Instant> = [
            ("a".to_string(), t0),
            ("b".to_string(), t0 + Duration::from_millis(100)),
        ]
        .into();
        let reached: HashMap<String, Instant> = [
            ("a".to_string(), t0 + Duration::from_millis(50)),
            ("b".to_string(), t0 + Duration::from_millis(400)),
        ]
        .into();
        let m = milestone("x", t0, &created, &reached);
        assert_eq!(m.latency_ms.max, 300.0);
        assert_eq!(m.latency_ms.p50, 50.0);
        assert!((m.seconds - 0.4).abs() < 1e-9);
    }
}
