//! `karmada bench footprint`: what a federation costs in memory at rest. It starts the
//! federation apiserver, controller-manager and scheduler and N members each with its pull
//! agent, propagates M Deployments to every member, lets everything settle, then reads each
//! process's resident memory: per member control plane, per agent, the federation's own
//! components, and the whole. Karmada's agent is the anchor (266 MiB).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde::Serialize;
use serde_json::json;

use super::federation::{Federation, NAMESPACE, deployment, prepare};
use super::machine::{self, Machine};

/// Karmada's agent at rest, as its project reports it: what one of ours is compared with.
const KARMADA_AGENT_MIB: f64 = 266.0;
const MIB: f64 = 1048576.0;

#[derive(clap::Args)]
pub struct Args {
    /// Member clusters, each with its agent [default: 3; 1 with --quick].
    #[arg(long)]
    members: Option<usize>,
    /// Deployments propagated to every member before measuring [default: 100; 2 with --quick].
    #[arg(long)]
    workloads: Option<usize>,
    /// Simulated nodes per member.
    #[arg(long, default_value_t = 2)]
    nodes_per_member: usize,
    /// How long everything idles, once Ready, before memory is read.
    #[arg(long, default_value_t = 10)]
    settle_seconds: u64,
    /// Give up when not everything is Ready after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_seconds: u64,
    #[command(flatten)]
    common: super::Common,
}

/// The sizes a run used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Params {
    pub members: usize,
    pub workloads: usize,
    pub nodes_per_member: usize,
    pub settle_seconds: u64,
}

impl Args {
    fn params(&self) -> anyhow::Result<Params> {
        let pick = |explicit, full, quick| self.common.pick(explicit, full, quick);
        let params = Params {
            members: pick(self.members, 3, 1),
            workloads: pick(self.workloads, 100, 2),
            nodes_per_member: self.nodes_per_member,
            settle_seconds: self.settle_seconds,
        };
        for (flag, value) in [
            ("--members", params.members),
            ("--nodes-per-member", params.nodes_per_member),
        ] {
            ensure!(value >= 1, "{flag} must be at least 1");
        }
        Ok(params)
    }
}

/// Resident memory of one process, now and at its peak.
#[derive(Debug, Clone, Serialize)]
pub struct Process {
    pub component: String,
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
}

/// Resident memory of a kind of component: the mean and the largest, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub count: usize,
    pub mean_bytes: f64,
    pub max_bytes: u64,
}

/// The JSON document written to `--out`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub benchmark: &'static str,
    pub machine: Machine,
    pub params: Params,
    pub processes: Vec<Process>,
    /// Each member's control plane (apiserver, controllers, scheduler, simulated nodes).
    pub member: Spread,
    pub agent: Spread,
    /// The federation apiserver, controller-manager and scheduler together.
    pub control_plane_bytes: u64,
    /// Every process of the run.
    pub total_bytes: u64,
    /// Our mean agent over Karmada's 266 MiB.
    pub agent_vs_karmada: f64,
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
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    for i in 0..params.workloads {
        let name = format!("bench-{i}");
        deployments
            .create(&PostParams::default(), &deployment(&name, 1))
            .await
            .with_context(|| format!("cannot create deployment {name}"))?;
    }
    until_all_ready(&deployments, params, deadline).await?;
    eprintln!(
        "bench: {} Deployments Ready in {} members; settling for {}s",
        params.workloads, params.members, params.settle_seconds
    );
    tokio::time::sleep(Duration::from_secs(params.settle_seconds)).await;
    let processes = components
        .iter()
        .map(|c| {
            let pid = c.child.id().context("a component exited")?;
            Ok(Process {
                component: c.name.clone(),
                rss_bytes: machine::rss_bytes(pid).context("cannot read a process's memory")?,
                peak_rss_bytes: machine::peak_rss_bytes(pid).unwrap_or(0),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(summarize(machine, *params, processes))
}

/// Waits until every Deployment shows one ready replica per member on the federation.
async fn until_all_ready(
    deployments: &Api<Deployment>,
    params: &Params,
    deadline: Instant,
) -> anyhow::Result<()> {
    let want = i32::try_from(params.members)?;
    loop {
        let listed = deployments.list(&ListParams::default()).await?;
        let ready = listed
            .items
            .iter()
            .filter(|d| d.status.as_ref().and_then(|s| s.ready_replicas) >= Some(want))
            .count();
        if ready >= params.workloads {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "only {ready} of {} Deployments turned Ready in every member",
            params.workloads
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The report of `processes`, named as [`Federation::start`] names them.
fn summarize(machine: Machine, params: Params, processes: Vec<Process>) -> Report {
    let of = |pick: &dyn Fn(&str) -> bool| {
        let rss: Vec<u64> = processes
            .iter()
            .filter(|p| pick(&p.component))
            .map(|p| p.rss_bytes)
            .collect();
        Spread {
            count: rss.len(),
            mean_bytes: if rss.is_empty() {
                0.0
            } else {
                rss.iter().sum::<u64>() as f64 / rss.len() as f64
            },
            max_bytes: rss.iter().copied().max().unwrap_or(0),
        }
    };
    let is_agent = |name: &str| name.starts_with("agent ");
    let is_member = |name: &str| name.starts_with("member");
    let control_plane_bytes = processes
        .iter()
        .filter(|p| !is_agent(&p.component) && !is_member(&p.component))
        .map(|p| p.rss_bytes)
        .sum();
    let agent = of(&is_agent);
    Report {
        benchmark: "footprint",
        machine,
        params,
        member: of(&is_member),
        agent,
        control_plane_bytes,
        total_bytes: processes.iter().map(|p| p.rss_bytes).sum(),
        agent_vs_karmada: agent.mean_bytes / MIB / KARMADA_AGENT_MIB,
        processes,
    }
}

fn table(report: &Report) -> String {
    use std::fmt::Write as _;
    let mib = |bytes: f64| format!("{:.1} MiB", bytes / MIB);
    let mut out = String::new();
    let p = report.params;
    let _ = writeln!(
        out,
        "footprint: {} members ({} nodes each), {} Deployments in every member, after {}s at rest",
        p.members, p.nodes_per_member, p.workloads, p.settle_seconds
    );
    let _ = writeln!(out, "{:<28} {:>12} {:>12}", "", "mean rss", "max rss");
    for (what, spread) in [
        ("member control plane", &report.member),
        ("agent", &report.agent),
    ] {
        let _ = writeln!(
            out,
            "{:<28} {:>12} {:>12}",
            format!("{what} (x{})", spread.count),
            mib(spread.mean_bytes),
            mib(spread.max_bytes as f64)
        );
    }
    let _ = writeln!(
        out,
        "{:<28} {:>12}",
        "federation control plane",
        mib(report.control_plane_bytes as f64)
    );
    let _ = writeln!(
        out,
        "{:<28} {:>12}",
        "everything",
        mib(report.total_bytes as f64)
    );
    let _ = writeln!(
        out,
        "agent vs Karmada's agent ({KARMADA_AGENT_MIB} MiB): {:.2}x",
        report.agent_vs_karmada
    );
    let _ = writeln!(out, "{:<28} {:>12} {:>12}", "process", "rss", "peak rss");
    for process in &report.processes {
        let _ = writeln!(
            out,
            "{:<28} {:>12} {:>12}",
            process.component,
            mib(process.rss_bytes as f64),
            mib(process.peak_rss_bytes as f64)
        );
    }
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
        assert_eq!((p.members, p.workloads), (1, 2));
        assert!(params(&["--members", "0"]).is_err());
    }

    #[test]
    fn processes_are_summed_by_kind() {
        let process = |name: &str, mib: u64| Process {
            component: name.into(),
            rss_bytes: mib << 20,
            peak_rss_bytes: mib << 20,
        };
        let processes = vec![
            process("apiserver", 100),
            process("controller-manager", 50),
            process("scheduler", 20),
            process("member1", 60),
            process("agent member1", 30),
            process("member2", 80),
            process("agent member2", 40),
        ];
        let report = summarize(Machine::probe(), params(&[]).unwrap(), processes);
        assert_eq!(report.control_plane_bytes, 170 << 20);
        assert_eq!(report.total_bytes, 380 << 20);
        assert_eq!(report.member.count, 2);
        assert_eq!(report.member.mean_bytes, (70u64 << 20) as f64);
        assert_eq!(report.member.max_bytes, 80 << 20);
        assert_eq!(report.agent.mean_bytes, (35u64 << 20) as f64);
        assert!((report.agent_vs_karmada - 35.0 / 266.0).abs() < 1e-9);
        assert!(table(&report).contains("agent (x2)"));
    }
}
