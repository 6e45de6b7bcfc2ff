//! Cluster failover end to end, the two ways a cluster is lost:
//! - on a real `karmada up`, member2's apiserver and agent are killed (the supervisor paused so
//!   it does not restart them), and later brought back by resuming the supervisor;
//! - member2 joined in Push mode from a network namespace the test made, and its network cut.
//!
//! Within the grace period plus a few seconds the federation shows the 6 replicas Ready on
//! member1 and member3, Events say what moved and why, and the healthy members never drop to
//! zero replicas meanwhile. When member2 returns nothing moves back until a WorkloadRebalancer
//! asks for it; a workload with nowhere else to go keeps running where it was.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use support::apiserver::{ApiServer, Store, kubeconfig};
use support::federation::{Federation, Member};
use support::kubectl::Kubectl;
use support::netns::NetNs;
use support::poll;
use support::up::{self, Stopped, Up, member_processes, signal};

/// The controller-manager's default heartbeat grace period.
const GRACE: Duration = Duration::from_secs(15);
/// What the failover may take beyond the grace period (debug build, loaded machine).
const FAILOVER_SLACK: Duration = Duration::from_secs(30);
/// Longest a recovery or a report may take to show.
const DEADLINE: Duration = Duration::from_secs(60);

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: nginx
          image: nginx:1.25
          resources: {requests: {cpu: 100m}}
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: web}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: web}]
  placement:
    clusterAffinity: {clusterNames: [member1, member2, member3]}
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
          - {targetCluster: {clusterNames: [member1, member2, member3]}, weight: 1}
";

/// Two replicas that may only run on member2: when it is lost there is nowhere to go.
const PINNED: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: pinned}
spec:
  replicas: 2
  selector: {matchLabels: {app: pinned}}
  template:
    metadata: {labels: {app: pinned}}
    spec:
      containers: [{name: nginx, image: nginx:1.25}]
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: pinned}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: pinned}]
  placement:
    clusterAffinity: {clusterNames: [member2]}
";

const REBALANCE: &str = "apiVersion: apps.karmada.io/v1alpha1
kind: WorkloadRebalancer
metadata: {name: spread-web-again}
spec:
  workloads: [{apiVersion: apps/v1, kind: Deployment, namespace: default, name: web}]
";

/// Ready replicas of `web` in the member of context `member` (0 when it is not there).
fn ready_in(kubectl: &Kubectl, member: &str) -> Result<i64, String> {
    let out = kubectl
        .run(&[
            "--context",
            member,
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ])
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return if out.stderr.contains("NotFound") {
            Ok(0)
        } else {
            Err(out.stderr)
        };
    }
    Ok(out.stdout.trim().parse().unwrap_or(0))
}

/// Watches the ready replicas of `web` on member1 and member3 for as long as it lives, keeping
/// the lowest count seen.
struct Floor {
    stop: Arc<AtomicBool>,
    lowest: Arc<AtomicI64>,
    watcher: JoinHandle<anyhow::Result<()>>,
}

impl Floor {
    fn watch(kubeconfig: &Path) -> anyhow::Result<Floor> {
        let stop = Arc::new(AtomicBool::new(false));
        let lowest = Arc::new(AtomicI64::new(i64::MAX));
        let kubectl = Kubectl::for_kubeconfig(kubeconfig)?;
        let watcher = {
            let (stop, lowest) = (stop.clone(), lowest.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                while !stop.load(Ordering::Relaxed) {
                    for member in ["member1", "member3"] {
                        let ready = ready_in(&kubectl, member).map_err(anyhow::Error::msg)?;
                        lowest.fetch_min(ready, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Ok(())
            })
        };
        Ok(Floor {
            stop,
            lowest,
            watcher,
        })
    }

    /// Stops watching and checks neither member went below its 2 replicas.
    fn held(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.watcher
            .join()
            .map_err(|_| anyhow::anyhow!("the watcher panicked"))??;
        let lowest = self.lowest.load(Ordering::Relaxed);
        ensure!(
            lowest >= 2,
            "a healthy member dropped to {lowest} ready replicas"
        );
        Ok(())
    }
}

/// Waits for the 6 replicas of `web` Ready on member1 and member3, then checks the Events on
/// the Deployment say member2 was evicted for `taint` and where the replicas went.
fn failed_over(
    kubectl: &Kubectl,
    lost: Instant,
    taint: &str,
    logs: impl Fn() -> String,
) -> anyhow::Result<()> {
    poll::until(
        "6 replicas Ready on member1 and member3",
        GRACE + FAILOVER_SLACK,
        || {
            let (m1, m3) = (ready_in(kubectl, "member1")?, ready_in(kubectl, "member3")?);
            if m1 == 3 && m3 == 3 {
                Ok(())
            } else {
                Err(format!("member1 {m1}, member3 {m3}"))
            }
        },
    )
    .with_context(&logs)?;
    up::until_ready(kubectl, "web", 6).with_context(&logs)?;
    eprintln!("failover took {:.1}s", lost.elapsed().as_secs_f64());
    let events = kubectl.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=web,involvedObject.kind=Deployment",
        "-o",
        "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
    ])?;
    ensure!(
        events
            .lines()
            .any(|l| l.starts_with("EvictWorkloadFromCluster:")
                && l.contains("cluster member2")
                && l.contains(taint)),
        "no eviction event for {taint}:\n{events}"
    );
    ensure!(
        events.lines().any(|l| l.contains("{member1:3, member3:3}")),
        "no scheduling event with the new placement:\n{events}"
    );
    Ok(())
}

/// Waits until member2's Ready condition is `status` and its NoExecute taints are `no_execute`.
fn member2_health(kubectl: &Kubectl, status: &str, no_execute: &str) -> anyhow::Result<()> {
    cluster_health(kubectl, "member2", status, no_execute)
}

/// Waits until `cluster`'s Ready condition is `status` and its NoExecute taints are
/// `no_execute`.
fn cluster_health(
    kubectl: &Kubectl,
    cluster: &str,
    status: &str,
    no_execute: &str,
) -> anyhow::Result<()> {
    kubectl.until_prints(
        &format!("{cluster} Ready {status} with NoExecute taints [{no_execute}]"),
        DEADLINE,
        &[
            "get",
            "cluster",
            cluster,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}|\
             {.spec.taints[?(@.effect==\"NoExecute\")].key}",
        ],
        &format!("{status}|{no_execute}"),
    )
}

#[test]
fn a_killed_cluster_fails_over_and_comes_back_only_when_rebalanced() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let needle = dir.path().to_string_lossy().into_owned();
    let up = Up::start(dir.path(), &["--port", "0"])?;
    let k = &up.kubectl;
    k.ok_stdin(&["apply", "-f", "-"], WEB)?;
    k.ok_stdin(&["apply", "-f", "-"], PINNED)?;
    up.until_placed("web", &[("member1", 2), ("member2", 2), ("member3", 2)])?;
    up.until_placed("pinned", &[("member2", 2)])?;
    up.until_ready("web", 6)?;

    let floor = Floor::watch(&dir.path().join("kubeconfig"))?;
    // The supervisor is paused so it does not restart what is killed; resuming it is how
    // member2 comes back.
    let supervisor = Stopped::stop(up.pid())?;
    let lost = Instant::now();
    for pid in member_processes(&needle, "member2")? {
        signal(pid, "KILL")?;
    }
    failed_over(k, lost, "cluster.karmada.io/unreachable:NoExecute", || {
        up.logs()
    })?;
    // The pinned workload has nowhere to go: its binding says why, and its Work for member2
    // stays, so what runs there is not deleted.
    let why = poll::until("pinned reported unschedulable", DEADLINE, || {
        let out = k
            .ok(&[
                "get",
                "rb",
                "pinned-deployment",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Scheduled\")].status}|\
                 {.status.conditions[?(@.type==\"Scheduled\")].message}",
            ])
            .map_err(|e| e.to_string())?;
        match out.split_once('|') {
            Some(("False", message)) if !message.is_empty() => Ok(message.to_string()),
            _ => Err(out),
        }
    })?;
    eprintln!("pinned is unschedulable: {why}");
    ensure!(
        why.contains("member2"),
        "the reason does not name member2: {why}"
    );
    let works = k.ok(&["get", "works", "-n", "karmada-es-member2", "-o", "name"])?;
    ensure!(
        works.contains("pinned"),
        "pinned's Work left member2:\n{works}"
    );
    floor.held()?;

    // member2 is back (the supervisor restarts it, on its own store): Ready again, its
    // NoExecute taint lifted, its old copy of web removed, and nothing moved back.
    drop(supervisor);
    member2_health(k, "True", "").with_context(|| up.logs())?;
    up.until_placed("web", &[("member1", 3), ("member3", 3)])?;
    // The pinned copy outlived the outage, and goes back into the placement.
    k.until_prints(
        "pinned scheduled on member2 again",
        DEADLINE,
        &[
            "get",
            "rb",
            "pinned-deployment",
            "-o",
            "jsonpath={.spec.clusters[*].name}",
        ],
        "member2",
    )
    .with_context(|| up.logs())?;
    up.until_placed("pinned", &[("member2", 2)])?;

    // A rebalance spreads it again.
    k.ok_stdin(&["apply", "-f", "-"], REBALANCE)?;
    up.until_placed("web", &[("member1", 2), ("member2", 2), ("member3", 2)])?;
    up.until_ready("web", 6)?;
    Ok(())
}

#[test]
fn a_cluster_cut_off_by_the_network_fails_over() -> anyhow::Result<()> {
    // Declared first so it is dropped last, after every process inside it.
    let netns = NetNs::create()?;
    let federation = Federation::start(&[])?;
    let member1 = Member::start("member1", &federation)?;
    let member3 = Member::start("member3", &federation)?;
    let member2_data = tempfile::tempdir()?;
    let member2 = ApiServer::start_launched(
        &netns.launcher(),
        netns.address(),
        &["member", "--name", "member2", "--nodes", "2"],
        Store::Embedded(member2_data.path()),
    )?;
    let joined = support::apiserver::karmada(&[
        "join",
        "member2",
        "--kubeconfig",
        &federation.apiserver.kubeconfig().to_string_lossy(),
        "--cluster-kubeconfig",
        &member2.kubeconfig().to_string_lossy(),
    ])
    .output()?;
    ensure!(
        joined.status.success(),
        "join failed: {}",
        String::from_utf8_lossy(&joined.stderr)
    );
    let config = tempfile::tempdir()?;
    let path = config.path().join("kubeconfig");
    std::fs::write(
        &path,
        kubeconfig(&[
            ("karmada", &federation.apiserver),
            ("member1", &member1.server),
            ("member2", &member2),
            ("member3", &member3.server),
        ])?,
    )?;
    let k = &Kubectl::for_kubeconfig(&path)?;
    let logs = || {
        format!(
            "{}\n--- member2\n{}",
            federation.logs(&[&member1, &member3]),
            member2.log()
        )
    };
    // Every member healthy first: a cluster that has just joined is briefly tainted
    // unreachable, and a workload scheduled in that moment would leave it out for good.
    for cluster in ["member1", "member2", "member3"] {
        cluster_health(k, cluster, "True", "").with_context(logs)?;
    }
    k.ok_stdin(&["apply", "-f", "-"], WEB)?;
    up::until_placed(k, "web", &[("member1", 2), ("member2", 2), ("member3", 2)])
        .with_context(logs)?;
    up::until_ready(k, "web", 6).with_context(logs)?;

    let floor = Floor::watch(&path)?;
    let lost = Instant::now();
    netns.cut()?;
    failed_over(k, lost, "cluster.karmada.io/not-ready:NoExecute", logs)?;
    floor.held()?;

    // The network is back: member2 is Ready again, its old copy removed, nothing moved back.
    netns.restore()?;
    member2_health(k, "True", "").with_context(logs)?;
    up::until_placed(k, "web", &[("member1", 3), ("member3", 3)]).with_context(logs)?;
    Ok(())
}

/// Four replicas over member1 and member2 that fail over after 3 s unhealthy; member2's copy
/// is made to never turn Ready (the simulated kubelet's `simulate-unready`).
const FLAKY: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: flaky}
spec:
  replicas: 4
  selector: {matchLabels: {app: flaky}}
  template:
    metadata: {labels: {app: flaky}}
    spec:
      containers: [{name: nginx, image: nginx:1.25}]
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: flaky}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: flaky}]
  propagateDeps: true
  placement:
    clusterAffinity: {clusterNames: [member1, member2]}
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
          - {targetCluster: {clusterNames: [member1, member2]}, weight: 1}
  failover:
    application:
      decisionConditions: {tolerationSeconds: 3}
      purgeMode: Gracefully
      gracePeriodSeconds: 5
---
apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: {name: flaky-on-member2}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: flaky}]
  overrideRules:
    - targetCluster: {clusterNames: [member2]}
      overriders:
        plaintext:
          - path: /spec/template/metadata/annotations
            operator: add
            value: {karmada.io/simulate-unready: \"true\"}
";

#[test]
fn an_application_unhealthy_in_one_cluster_fails_over() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let up = Up::start(dir.path(), &["--port", "0", "--members", "2"])?;
    up.kubectl.ok_stdin(&["apply", "-f", "-"], FLAKY)?;
    // member2's pods never turn Ready: 3 s later its replicas go to member1, and once the grace
    // period of 5 s ends the copy on member2 is removed.
    up.until_placed("flaky", &[("member1", 4)])?;
    up.until_ready("flaky", 4)?;
    let events = up.kubectl.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=flaky,involvedObject.kind=Deployment,reason=EvictWorkloadFromCluster",
        "-o",
        "jsonpath={.items[*].message}",
    ])?;
    ensure!(
        events.contains("unhealthy on cluster member2"),
        "no application failover event: {events}"
    );
    Ok(())
}
