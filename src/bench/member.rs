//! `karmada bench member`: starts one `karmada member` with many simulated nodes as a child
//! process, applies Deployments totalling many pods, and reports how long the nodes and then
//! the pods took at each step of their lives, with the member's CPU time and peak memory.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{ListParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt};
use serde::Serialize;
use serde_json::json;
use tokio::process::{Child, Command};

use super::machine::{self, Machine};
use super::report::{Percentiles, milestone_table, percentiles};

/// How often a long phase says how far it got.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
const NAMESPACE: &str = "bench";

#[derive(clap::Args)]
pub struct Args {
    /// Simulated nodes [default: 1000; 10 with --quick].
    #[arg(long)]
    nodes: Option<usize>,
    /// Pods to run, spread over the Deployments [default: 10000; 40 with --quick].
    #[arg(long)]
    pods: Option<usize>,
    /// Deployments the pods are divided among [default: 10; 2 with --quick].
    #[arg(long)]
    deployments: Option<usize>,
    /// Give up when the pods are not all Ready after this many seconds.
    #[arg(long, default_value_t = 900)]
    timeout_seconds: u64,
    #[command(flatten)]
    common: super::Common,
}

/// The sizes a run used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Params {
    pub nodes: usize,
    pub pods: usize,
    pub deployments: usize,
}

impl Args {
    fn params(&self) -> anyhow::Result<Params> {
        let pick = |explicit, full, quick| self.common.pick(explicit, full, quick);
        let params = Params {
            nodes: pick(self.nodes, 1000, 10),
            pods: pick(self.pods, 10_000, 40),
            deployments: pick(self.deployments, 10, 2),
        };
        for (flag, value) in [
            ("--nodes", params.nodes),
            ("--pods", params.pods),
            ("--deployments", params.deployments),
        ] {
            ensure!(value >= 1, "{flag} must be at least 1");
        }
        ensure!(
            params.deployments <= params.pods,
            "--deployments ({}) cannot exceed --pods ({})",
            params.deployments,
            params.pods
        );
        Ok(params)
    }
}

/// One step every pod goes through, and when the last pod reached it.
#[derive(Debug, Clone, Serialize)]
pub struct Milestone {
    pub step: &'static str,
    /// From the first Deployment being created to the last pod reaching the step.
    pub seconds: f64,
    /// Pods that reached the step per second over that time.
    pub pods_per_sec: f64,
    /// Per pod, from its creation to reaching the step.
    pub latency_ms: Percentiles,
}

/// The JSON document written to `--out`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub benchmark: &'static str,
    pub machine: Machine,
    pub params: Params,
    /// From starting the member process to every node registered and Ready.
    pub nodes_ready_seconds: f64,
    pub milestones: Vec<Milestone>,
    /// The member process's resident memory at the end, and its peak.
    pub member_rss_bytes: Option<u64>,
    pub member_peak_rss_bytes: Option<u64>,
    /// CPU time (user + system) the member process used over the whole run.
    pub member_cpu_seconds: Option<f64>,
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
    let started = Instant::now();
    let mut member = spawn_member(params, dir)?;
    let pid = member.id().context("the member process has no pid")?;
    let client = connect(&mut member, &dir.join("kubeconfig"), timeout).await?;
    wait_for_nodes(&client, params.nodes, started + timeout).await?;
    let nodes_ready = started.elapsed();
    eprintln!(
        "bench: {} nodes Ready after {:.1}s",
        params.nodes,
        nodes_ready.as_secs_f64()
    );

    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?,
        )
        .await
        .context("cannot create the bench namespace")?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let tracker = tokio::spawn(track_pods(pods, params.pods, timeout));
    let t0 = Instant::now();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    for (i, replicas) in split(params.pods, params.deployments)
        .into_iter()
        .enumerate()
    {
        deployments
            .create(&PostParams::default(), &deployment(i, replicas))
            .await
            .with_context(|| format!("cannot create deployment {i}"))?;
    }
    let lives = tracker.await.context("the pod tracker panicked")??;
    let milestones = milestones(t0, &lives);

    let member_rss_bytes = machine::rss_bytes(pid);
    let member_peak_rss_bytes = machine::peak_rss_bytes(pid);
    let member_cpu_seconds = machine::cpu_seconds(pid);
    let _ = member.kill().await;
    Ok(Report {
        benchmark: "member",
        machine,
        params: *params,
        nodes_ready_seconds: nodes_ready.as_secs_f64(),
        milestones,
        member_rss_bytes,
        member_peak_rss_bytes,
        member_cpu_seconds,
    })
}

fn spawn_member(params: &Params, dir: &Path) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot find the karmada binary")?;
    Command::new(exe)
        .args(["member", "--name", "bench", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir)
        .args(["--nodes", &params.nodes.to_string()])
        // A /24 of pod IPs for every node however many there are.
        .args(["--pod-cidr", "10.64.0.0/10"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start `karmada member`")
}

/// Waits for the member's kubeconfig and builds a client from it.
pub(super) async fn connect(
    member: &mut Child,
    kubeconfig: &Path,
    timeout: Duration,
) -> anyhow::Result<Client> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = member.try_wait()? {
            bail!("the member exited before it was ready: {status}");
        }
        if let Ok(config) = kube::config::Kubeconfig::read_from(kubeconfig) {
            let options = kube::config::KubeConfigOptions::default();
            let config = kube::Config::from_custom_kubeconfig(config, &options).await?;
            return Client::try_from(config).context("cannot build a client for the member");
        }
        ensure!(
            Instant::now() < deadline,
            "the member was not ready in {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for_nodes(client: &Client, nodes: usize, deadline: Instant) -> anyhow::Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    let mut last_report = Instant::now();
    loop {
        let list = api.list(&ListParams::default()).await?;
        let ready = list.items.iter().filter(|n| node_ready(n)).count();
        if ready >= nodes {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "only {ready} of {nodes} nodes turned Ready"
        );
        if last_report.elapsed() >= PROGRESS_EVERY {
            eprintln!("bench: {ready}/{nodes} nodes Ready");
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// `total` pods divided among `parts` Deployments as evenly as whole numbers allow.
fn split(total: usize, parts: usize) -> Vec<usize> {
    (0..parts)
        .map(|i| total / parts + usize::from(i < total % parts))
        .collect()
}

fn deployment(i: usize, replicas: usize) -> Deployment {
    let name = format!("bench-{i}");
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "app",
                    "image": "registry.k8s.io/pause:3.10",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }]},
            },
        },
    }))
    .expect("the bench deployment is valid")
}

/// When one pod was first seen and reached each later step.
#[derive(Debug, Clone, Copy)]
struct Life {
    created: Instant,
    scheduled: Option<Instant>,
    running: Option<Instant>,
    ready: Option<Instant>,
}

impl Life {
    fn observe(&mut self, pod: &Pod, now: Instant) {
        let spec = pod.spec.as_ref();
        if spec.and_then(|s| s.node_name.as_deref()).is_some() {
            self.scheduled.get_or_insert(now);
        }
        let status = pod.status.as_ref();
        if status.and_then(|s| s.phase.as_deref()) == Some("Running") {
            self.running.get_or_insert(now);
        }
        if karmada_agents::member::runtime::pod_ready(pod) {
            self.ready.get_or_insert(now);
        }
    }
}

/// Watches the bench pods until `target` of them are Ready, timing every step of each.
async fn track_pods(api: Api<Pod>, target: usize, timeout: Duration) -> anyhow::Result<Vec<Life>> {
    let deadline = Instant::now() + timeout;
    let mut lives: HashMap<String, Life> = HashMap::new();
    let mut ready = 0;
    let mut last_report = Instant::now();
    let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
    while ready < target {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(remaining, events.try_next())
            .await
            .map_err(|_| {
                anyhow::anyhow!("only {ready} of {target} pods turned Ready in {timeout:?}")
            })?
            .context("the pod watch failed")?
            .context("the pod watch ended")?;
        let now = Instant::now();
        if let Event::Apply(pod) | Event::InitApply(pod) = event {
            let life = lives.entry(pod.uid().unwrap_or_default()).or_insert(Life {
                created: now,
                scheduled: None,
                running: None,
                ready: None,
            });
            let was_ready = life.ready.is_some();
            life.observe(&pod, now);
            ready += usize::from(!was_ready && life.ready.is_some());
        }
        if last_report.elapsed() >= PROGRESS_EVERY {
            eprintln!("bench: {} pods seen, {ready}/{target} Ready", lives.len());
            last_report = now;
        }
    }
    Ok(lives.into_values().collect())
}

fn milestones(t0: Instant, lives: &[Life]) -> Vec<Milestone> {
    type Step = fn(&Life) -> Option<Instant>;
    let steps: [(&'static str, Step); 4] = [
        ("created", |l| Some(l.created)),
        ("scheduled", |l| l.scheduled),
        ("running", |l| l.running),
        ("ready", |l| l.ready),
    ];
    steps
        .into_iter()
        .map(|(step, at)| {
            let reached: Vec<&Life> = lives.iter().filter(|l| at(l).is_some()).collect();
            let last = reached.iter().filter_map(|l| at(l)).max().unwrap_or(t0);
            let seconds = last.saturating_duration_since(t0).as_secs_f64();
            let latencies: Vec<Duration> = reached
                .iter()
                .filter_map(|l| Some(at(l)?.saturating_duration_since(l.created)))
                .collect();
            Milestone {
                step,
                seconds,
                pods_per_sec: if seconds > 0.0 {
                    reached.len() as f64 / seconds
                } else {
                    0.0
                },
                latency_ms: percentiles(&latencies),
            }
        })
        .collect()
}

fn table(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let p = report.params;
    let _ = writeln!(
        out,
        "member: {} nodes Ready in {:.1}s; {} pods in {} deployments",
        p.nodes, report.nodes_ready_seconds, p.pods, p.deployments
    );
    milestone_table(
        &mut out,
        "pods/s",
        report
            .milestones
            .iter()
            .map(|m| (m.step, m.seconds, m.pods_per_sec, m.latency_ms)),
    );
    let mib = |b: Option<u64>| b.map_or("?".into(), |b| format!("{:.0} MiB", b as f64 / 1048576.0));
    let _ = writeln!(
        out,
        "member process: rss {}, peak {}, cpu {}",
        mib(report.member_rss_bytes),
        mib(report.member_peak_rss_bytes),
        report
            .member_cpu_seconds
            .map_or("?".into(), |s| format!("{s:.1} s"))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(argv: &[&str]) -> anyhow::Result<Params> {
        super::super::parse::<Args>(argv)?.params()
    }

    #[test]
    fn sizes_come_from_flags_then_quick_then_full_defaults() {
        let full = Params {
            nodes: 1000,
            pods: 10_000,
            deployments: 10,
        };
        assert_eq!(params(&[]).unwrap(), full);
        assert_eq!(
            params(&["--quick", "--pods", "7"]).unwrap(),
            Params {
                nodes: 10,
                pods: 7,
                deployments: 2
            }
        );
        for argv in [
            &["--nodes", "0"][..],
            &["--pods", "3", "--deployments", "4"],
        ] {
            assert!(params(argv).is_err(), "{argv:?}");
        }
    }

    #[test]
    fn pods_are_split_evenly_over_deployments() {
        assert_eq!(split(10, 3), [4, 3, 3]);
        assert_eq!(split(10_000, 10).iter().sum::<usize>(), 10_000);
        assert_eq!(split(2, 2), [1, 1]);
    }

    #[test]
    fn milestones_measure_from_the_start_and_per_pod() {
        let t0 = Instant::now();
        let at = |ms: u64| Some(t0 + Duration::from_millis(ms));
        let lives = [
            Life {
                created: t0,
                scheduled: at(100),
                running: at(200),
                ready: at(1000),
            },
            Life {
                created: t0 + Duration::from_millis(500),
                scheduled: at(600),
                running: None,
                ready: None,
            },
        ];
        let m = milestones(t0, &lives);
        let steps: Vec<&str> = m.iter().map(|m| m.step).collect();
        assert_eq!(steps, ["created", "scheduled", "running", "ready"]);
        assert_eq!(m[1].seconds, 0.6);
        assert_eq!(m[1].latency_ms.max, 100.0);
        assert_eq!(m[3].seconds, 1.0);
        assert_eq!(m[3].pods_per_sec, 1.0);
    }
}
