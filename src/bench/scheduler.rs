//! `karmada bench scheduler`: the federation apiserver (embedded store) and the scheduler as
//! child processes, N Ready clusters, then M ResourceBindings created as fast as allowed;
//! reports bindings scheduled per second end to end, each binding's latency from its create
//! to its `Scheduled` condition turning True, and the scheduler's CPU time and peak memory.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use karmada_api::cluster::Cluster;
use karmada_api::work::binding::{ResourceBinding, SCHEDULED_CONDITION};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt};
use serde::Serialize;
use serde_json::{Value, json};

use super::component::{Component, Footprint, footprint_table};
use super::machine::Machine;
use super::member::connect;
use super::report::{Milestone, milestone, milestone_table};

const NAMESPACE: &str = "bench";
const REGIONS: usize = 8;
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Upstream Karmada's published scheduler figures, printed beside ours for scale.
const ANCHOR: &str = "Karmada: 20-100 bindings/s, scheduling P99 32 ms";

#[derive(clap::Args)]
pub struct Args {
    /// Member clusters to create, Ready and with a resource summary [default: 100; 5 with
    /// --quick].
    #[arg(long)]
    clusters: Option<usize>,
    /// ResourceBindings to create and have scheduled [default: 1000; 20 with --quick].
    #[arg(long)]
    bindings: Option<usize>,
    /// Creates in flight at once [default: 16; 4 with --quick].
    #[arg(long)]
    concurrency: Option<usize>,
    /// Give up when not every binding is scheduled after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_seconds: u64,
    #[command(flatten)]
    common: super::Common,
}

/// The sizes a run used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Params {
    pub clusters: usize,
    pub bindings: usize,
    pub concurrency: usize,
}

impl Args {
    fn params(&self) -> anyhow::Result<Params> {
        let pick = |explicit, full, quick| self.common.pick(explicit, full, quick);
        let params = Params {
            clusters: pick(self.clusters, 100, 5),
            bindings: pick(self.bindings, 1000, 20),
            concurrency: pick(self.concurrency, 16, 4),
        };
        for (flag, value) in [
            ("--clusters", params.clusters),
            ("--bindings", params.bindings),
            ("--concurrency", params.concurrency),
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
    /// Bindings whose `Scheduled` condition turned True.
    pub bindings_scheduled: usize,
    /// `bindings_scheduled` over the wall time from the first create to the last scheduled.
    pub bindings_per_sec: f64,
    pub milestones: Vec<Milestone>,
    pub footprints: Vec<Footprint>,
    pub anchor: &'static str,
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
    let data_dir = dir.join("federation");
    let data = data_dir.to_string_lossy().into_owned();
    let mut apiserver = Component::spawn(
        "apiserver",
        &["apiserver", "--listen", "127.0.0.1:0", "--data-dir", &data],
    )?;
    let kubeconfig = data_dir.join("kubeconfig");
    let client = connect(&mut apiserver.child, &kubeconfig, timeout).await?;
    create_clusters(&client, params.clusters).await?;
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?,
        )
        .await
        .context("cannot create the bench namespace")?;
    // Started after the clusters exist, so its first list already sees them all.
    let kubeconfig = kubeconfig.to_string_lossy().into_owned();
    let mut scheduler = Component::spawn("scheduler", &["scheduler", "--kubeconfig", &kubeconfig])?;
    let api: Api<ResourceBinding> = Api::namespaced(client.clone(), NAMESPACE);
    warm_up(&api, &mut scheduler, params.clusters, deadline).await?;
    eprintln!(
        "bench: {} clusters Ready; scheduler running",
        params.clusters
    );

    let bindings: Vec<ResourceBinding> = (0..params.bindings)
        .map(|i| binding(i, params.clusters))
        .collect::<anyhow::Result<_>>()?;
    let bindings = Arc::new(bindings);
    apiserver.mark();
    scheduler.mark();
    let (watch, watching) = tokio::sync::oneshot::channel();
    let tracker = tokio::spawn(scheduled(api.clone(), params.bindings, watch, deadline));
    if watching.await.is_err() {
        // The tracker gave up before its watch was established; its error says why.
        tracker.await.context("the binding tracker panicked")??;
        anyhow::bail!("the binding watch stopped before it started");
    }
    let t0 = Instant::now();
    let creates = super::driver::run("create", params.bindings, params.concurrency, {
        let api = api.clone();
        move |i| {
            let (api, bindings) = (api.clone(), bindings.clone());
            async move {
                let name = bindings[i].name_any();
                let began = Instant::now();
                api.create(&PostParams::default(), &bindings[i])
                    .await
                    .with_context(|| format!("cannot create binding {name}"))?;
                Ok((name, began))
            }
        }
    })
    .await?;
    let created_done: HashMap<String, Instant> = creates
        .outputs
        .iter()
        .zip(&creates.measured.latencies)
        .map(|((name, began), took)| (name.clone(), *began + *took))
        .collect();
    let created: HashMap<String, Instant> = creates.outputs.into_iter().collect();
    let reached = tracker.await.context("the binding tracker panicked")??;
    let milestones = vec![
        milestone("created", t0, &created, &created_done),
        milestone("scheduled", t0, &created, &reached),
    ];
    let footprints = vec![apiserver.footprint(), scheduler.footprint()];
    Ok(Report {
        benchmark: "scheduler",
        machine,
        params: *params,
        bindings_scheduled: reached.len(),
        bindings_per_sec: milestones[1].per_sec,
        milestones,
        footprints,
        anchor: ANCHOR,
    })
}

/// Member `i`: spread over providers and eight regions, capacity varying by index, every 25th
/// one tainted for maintenance; the status is what a cluster status controller reports.
fn cluster(i: usize) -> anyhow::Result<(Cluster, Value)> {
    let region = format!("region-{}", i % REGIONS);
    let zones: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|z| format!("{region}{z}"))
        .collect();
    let provider = ["aws", "gcp", "azure"][i % 3];
    let taints = if i % 25 == 24 {
        json!([{"key": "maintenance", "value": "true", "effect": "NoSchedule"}])
    } else {
        json!([])
    };
    let cluster = serde_json::from_value(json!({
        "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": cluster_name(i), "labels": {
            "env": if i.is_multiple_of(4) { "staging" } else { "prod" },
            "topology.karmada.io/region": region,
            "provider": provider,
        }},
        "spec": {"syncMode": "Push", "provider": provider, "region": region,
                 "zones": zones, "taints": taints},
    }))?;
    let cores = 32 + 16 * (i % 5);
    let used = (i * 7) % cores;
    let status = json!({"status": {
        "kubernetesVersion": "v1.31.2",
        "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterReady",
                        "message": "cluster is healthy and ready to accept workloads",
                        "lastTransitionTime": jiff::Timestamp::now().to_string()}],
        "apiEnablements": [
            {"groupVersion": "v1", "resources": [
                {"name": "configmaps", "kind": "ConfigMap"}, {"name": "secrets", "kind": "Secret"},
                {"name": "services", "kind": "Service"}, {"name": "pods", "kind": "Pod"}]},
            {"groupVersion": "apps/v1", "resources": [
                {"name": "deployments", "kind": "Deployment"},
                {"name": "statefulsets", "kind": "StatefulSet"},
                {"name": "daemonsets", "kind": "DaemonSet"}]},
            {"groupVersion": "batch/v1", "resources": [{"name": "jobs", "kind": "Job"}]},
        ],
        "nodeSummary": {"totalNum": 10, "readyNum": 10},
        "resourceSummary": {
            "allocatable": {"cpu": cores.to_string(), "memory": format!("{}Gi", cores * 4),
                            "pods": "1100"},
            "allocated": {"cpu": used.to_string(), "memory": format!("{}Gi", used * 3),
                          "pods": ((i * 13) % 600).to_string()},
        },
    }});
    Ok((cluster, status))
}

fn cluster_name(i: usize) -> String {
    format!("member-{i:04}")
}

/// Creates the clusters and writes their status through the subresource, as the cluster
/// status controller does.
async fn create_clusters(client: &Client, count: usize) -> anyhow::Result<()> {
    let api: Api<Cluster> = Api::all(client.clone());
    for i in 0..count {
        let (cluster, status) = cluster(i)?;
        let name = cluster.name_any();
        api.create(&PostParams::default(), &cluster)
            .await
            .with_context(|| format!("cannot create cluster {name}"))?;
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .with_context(|| format!("cannot write the status of cluster {name}"))?;
    }
    Ok(())
}

/// Binding `i` of Deployment bench/app-`i`, cycling through the three placements: Duplicated
/// over one region, static weights over three regions, and dynamic weights by available
/// replicas over the prod clusters.
fn binding(i: usize, clusters: usize) -> anyhow::Result<ResourceBinding> {
    let region = |r: usize| {
        json!({"labelSelector": {"matchLabels": {
            "topology.karmada.io/region": format!("region-{}", r % REGIONS.min(clusters))}}})
    };
    let (replicas, placement) = match i % 3 {
        0 => (
            2,
            json!({"clusterAffinity": region(i),
                   "replicaScheduling": {"replicaSchedulingType": "Duplicated"}}),
        ),
        1 => (
            12,
            json!({"replicaScheduling": {
                "replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted",
                "weightPreference": {"staticWeightList": [
                    {"targetCluster": region(i), "weight": 3},
                    {"targetCluster": region(i + 1), "weight": 2},
                    {"targetCluster": region(i + 2), "weight": 1},
                ]},
            }}),
        ),
        _ => (
            12,
            json!({"clusterAffinity": {"labelSelector": {"matchLabels": {"env": "prod"}}},
                   "replicaScheduling": {
                "replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted",
                "weightPreference": {"dynamicWeight": "AvailableReplicas"},
            }}),
        ),
    };
    deployment_binding(&format!("app-{i}"), replicas, &placement)
}

fn deployment_binding(
    app: &str,
    replicas: i32,
    placement: &Value,
) -> anyhow::Result<ResourceBinding> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "work.karmada.io/v1alpha2", "kind": "ResourceBinding",
        "metadata": {"name": format!("{app}-deployment"), "namespace": NAMESPACE},
        "spec": {
            "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": NAMESPACE,
                         "name": app, "uid": format!("uid-{app}")},
            "replicas": replicas,
            "replicaRequirements": {"resourceRequest": {"cpu": "100m", "memory": "256Mi"}},
            "placement": placement,
        },
    }))?)
}

fn is_scheduled(binding: &ResourceBinding) -> bool {
    binding
        .status
        .as_ref()
        .and_then(|s| s.condition(SCHEDULED_CONDITION))
        .is_some_and(|c| c.status == "True")
}

/// Schedules one binding onto the last cluster and waits for it, so the measurement starts
/// with a scheduler that has listed every cluster; the binding is deleted again.
async fn warm_up(
    api: &Api<ResourceBinding>,
    scheduler: &mut Component,
    clusters: usize,
    deadline: Instant,
) -> anyhow::Result<()> {
    let last = cluster_name(clusters - 1);
    let warm = deployment_binding(
        "warm-up",
        1,
        &json!({"clusterAffinity": {"clusterNames": [last]},
               "clusterTolerations": [{"key": "maintenance", "operator": "Exists"}],
               "replicaScheduling": {"replicaSchedulingType": "Duplicated"}}),
    )?;
    let name = warm.name_any();
    api.create(&PostParams::default(), &warm)
        .await
        .context("cannot create the warm-up binding")?;
    loop {
        if let Some(status) = scheduler.child.try_wait()? {
            anyhow::bail!("the scheduler exited: {status}");
        }
        if is_scheduled(&api.get(&name).await?) {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the scheduler never scheduled the warm-up binding"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    api.delete(&name, &Default::default())
        .await
        .context("cannot delete the warm-up binding")?;
    Ok(())
}

/// When each of `target` bindings was first seen with `Scheduled` True; `watching` fires once
/// the watch is established, so no create can precede it.
async fn scheduled(
    api: Api<ResourceBinding>,
    target: usize,
    watching: tokio::sync::oneshot::Sender<()>,
    deadline: Instant,
) -> anyhow::Result<HashMap<String, Instant>> {
    let mut watching = Some(watching);
    let mut reached: HashMap<String, Instant> = HashMap::new();
    let mut last_report = Instant::now();
    let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
    while reached.len() < target {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(remaining, events.try_next())
            .await
            .map_err(|_| anyhow::anyhow!("timed out with {}/{target} scheduled", reached.len()))?
            .context("the binding watch failed")?
            .context("the binding watch ended")?;
        match event {
            Event::InitDone => {
                if let Some(tx) = watching.take() {
                    let _ = tx.send(());
                }
            }
            Event::Apply(b) | Event::InitApply(b) if is_scheduled(&b) => {
                reached.entry(b.name_any()).or_insert_with(Instant::now);
            }
            _ => {}
        }
        if last_report.elapsed() >= PROGRESS_EVERY {
            eprintln!("bench: {}/{target} bindings scheduled", reached.len());
            last_report = Instant::now();
        }
    }
    Ok(reached)
}

fn table(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let p = report.params;
    let _ = writeln!(
        out,
        "scheduler: {} bindings onto {} clusters, {} creates in flight; {:.1} bindings/s end to end",
        p.bindings, p.clusters, p.concurrency, report.bindings_per_sec
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
    let _ = writeln!(out, "anchor: {}", report.anchor);
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
        assert_eq!((p.clusters, p.bindings, p.concurrency), (100, 1000, 16));
        let p = params(&["--quick"]).unwrap();
        assert_eq!((p.clusters, p.bindings, p.concurrency), (5, 20, 4));
        let p = params(&["--quick", "--bindings", "7"]).unwrap();
        assert_eq!((p.clusters, p.bindings), (5, 7));
        for flag in ["--clusters", "--bindings", "--concurrency"] {
            let error = params(&[flag, "0"]).unwrap_err().to_string();
            assert!(error.contains(flag), "{flag}: {error}");
        }
    }

    #[test]
    fn bindings_cycle_through_the_three_placements_and_schedule() {
        let clusters: Vec<Cluster> = (0..5)
            .map(|i| {
                let (mut member, status) = cluster(i).unwrap();
                member.status = Some(serde_json::from_value(status["status"].clone()).unwrap());
                member
            })
            .collect();
        let kinds: Vec<String> = (0..6)
            .map(|i| {
                let binding = binding(i, clusters.len()).unwrap();
                let placement = karmada_scheduler::schedule(
                    &clusters,
                    &karmada_scheduler::Request::new(&binding.spec),
                )
                .unwrap_or_else(|e| panic!("binding {i} must schedule: {e}"));
                assert!(!placement.clusters.is_empty(), "binding {i} placed nothing");
                let strategy = binding.spec.placement.as_ref().unwrap();
                format!("{:?}", strategy.replica_scheduling_type())
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "Duplicated",
                "Divided",
                "Divided",
                "Duplicated",
                "Divided",
                "Divided"
            ]
        );
    }

    #[test]
    fn milestones_measure_from_each_create() {
        let t0 = Instant::now();
        let created: HashMap<String, Instant> = [
            ("a".to_string(), t0),
            ("b".to_string(), t0 + Duration::from_millis(100)),
        ]
        .into();
        let reached: HashMap<String, Instant> = [
            ("a".to_string(), t0 + Duration::from_millis(30)),
            ("b".to_string(), t0 + Duration::from_millis(500)),
        ]
        .into();
        let m = milestone("scheduled", t0, &created, &reached);
        assert_eq!((m.latency_ms.p50, m.latency_ms.max), (30.0, 400.0));
        assert!((m.seconds - 0.5).abs() < 1e-9);
        assert!((m.per_sec - 4.0).abs() < 1e-9);
    }
}
