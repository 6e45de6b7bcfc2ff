//! Cluster failover end to end on a real `karmada up`: member2 and its agent stop (frozen with
//! SIGSTOP, so the supervisor does not restart them: to the federation that is a dead cluster
//! and a cut network at once). Within the grace period plus a few seconds the federation shows
//! the 6 replicas Ready on member1 and member3, Events say what moved and why, and the healthy
//! members never drop to zero replicas meanwhile. When member2 returns nothing moves back until
//! a WorkloadRebalancer asks for it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use support::poll;
use support::up::{Up, processes_mentioning, signal};

/// The controller-manager's default heartbeat grace period.
const GRACE: Duration = Duration::from_secs(15);
/// What the failover may take beyond the grace period (debug build, loaded machine).
const FAILOVER_SLACK: Duration = Duration::from_secs(30);

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

/// The pids of member2's apiserver and agent in this federation.
fn member2_processes(dir: &str) -> anyhow::Result<Vec<u32>> {
    let pids: Vec<u32> = processes_mentioning(dir)
        .into_iter()
        .filter(|(_, cmd)| {
            cmd.contains("member --name member2 ") || cmd.contains("agent --cluster member2 ")
        })
        .map(|(pid, _)| pid)
        .collect();
    ensure!(pids.len() == 2, "member2 and its agent expected: {pids:?}");
    Ok(pids)
}

/// Ready replicas of `web` in `member` (0 when it is not there).
fn ready_in(up: &Up, member: &str) -> Result<i64, String> {
    let out = up
        .kubectl
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

#[test]
fn a_lost_cluster_fails_over_and_comes_back_only_when_rebalanced() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let needle = dir.path().to_string_lossy().into_owned();
    let up = Up::start(dir.path(), &["--port", "0"])?;
    up.kubectl.ok_stdin(&["apply", "-f", "-"], WEB)?;
    up.kubectl.ok_stdin(&["apply", "-f", "-"], PINNED)?;
    up.until_placed("web", &[("member1", 2), ("member2", 2), ("member3", 2)])?;
    up.until_placed("pinned", &[("member2", 2)])?;
    up.until_ready("web", 6)?;

    // Watch the healthy members for the whole move: neither may drop to zero.
    let stop = Arc::new(AtomicBool::new(false));
    let lowest = Arc::new(AtomicI64::new(i64::MAX));
    let watcher = {
        let (stop, lowest) = (stop.clone(), lowest.clone());
        let kubeconfig = dir.path().join("kubeconfig");
        std::thread::spawn(move || -> anyhow::Result<()> {
            let kubectl = support::kubectl::Kubectl::for_kubeconfig(&kubeconfig)?;
            while !stop.load(Ordering::Relaxed) {
                for member in ["member1", "member3"] {
                    let out = kubectl.ok(&[
                        "--context",
                        member,
                        "get",
                        "deployment",
                        "web",
                        "-o",
                        "jsonpath={.status.readyReplicas}",
                    ])?;
                    let ready = out.trim().parse().unwrap_or(0);
                    lowest.fetch_min(ready, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Ok(())
        })
    };

    let frozen = member2_processes(&needle)?;
    let lost = Instant::now();
    for pid in &frozen {
        signal(*pid, "STOP")?;
    }
    let result = (|| -> anyhow::Result<()> {
        poll::until(
            "6 replicas Ready on member1 and member3",
            GRACE + FAILOVER_SLACK,
            || {
                let (m1, m3) = (ready_in(&up, "member1")?, ready_in(&up, "member3")?);
                if m1 == 3 && m3 == 3 {
                    Ok(())
                } else {
                    Err(format!("member1 {m1}, member3 {m3}"))
                }
            },
        )
        .with_context(|| up.logs())?;
        up.until_ready("web", 6)?;
        eprintln!("failover took {:.1}s", lost.elapsed().as_secs_f64());

        // Events on the Deployment say what happened.
        let events = up.kubectl.ok(&[
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
                    && l.contains("cluster.karmada.io/unreachable:NoExecute")),
            "no eviction event:\n{events}"
        );
        ensure!(
            events.lines().any(|l| l.contains("{member1:3, member3:3}")),
            "no scheduling event with the new placement:\n{events}"
        );
        // The pinned workload has nowhere to go: its binding says why, and its Work on
        // member2 stays, so what runs there is not deleted.
        let why = poll::until(
            "pinned reported unschedulable",
            Duration::from_secs(30),
            || {
                let out = up
                    .kubectl
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
            },
        )?;
        eprintln!("pinned is unschedulable: {why}");
        ensure!(
            why.contains("member2"),
            "the reason does not name member2: {why}"
        );
        let works = up
            .kubectl
            .ok(&["get", "works", "-n", "karmada-es-member2", "-o", "name"])?;
        ensure!(
            works.contains("pinned"),
            "pinned's Work left member2:\n{works}"
        );
        Ok(())
    })();
    // Thaw member2 whatever happened, so nothing stays frozen.
    for pid in &frozen {
        let _ = signal(*pid, "CONT");
    }
    result?;
    stop.store(true, Ordering::Relaxed);
    watcher
        .join()
        .map_err(|_| anyhow::anyhow!("the watcher panicked"))??;
    let lowest = lowest.load(Ordering::Relaxed);
    ensure!(
        lowest >= 2,
        "a healthy member dropped to {lowest} ready replicas"
    );

    // member2 is back: Ready again, its NoExecute taint lifted, its old copy removed by its
    // agent, and nothing moved back.
    up.kubectl
        .until_prints(
            "member2 Ready again",
            Duration::from_secs(60),
            &[
                "get",
                "cluster",
                "member2",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ],
            "True",
        )
        .with_context(|| up.logs())?;
    up.until_placed("web", &[("member1", 3), ("member3", 3)])?;
    // The pinned copy ran on through the outage, and goes back into the placement.
    up.kubectl
        .until_prints(
            "pinned scheduled on member2 again",
            Duration::from_secs(60),
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
    up.kubectl.until_prints(
        "member2's NoExecute taint lifted",
        Duration::from_secs(30),
        &[
            "get",
            "cluster",
            "member2",
            "-o",
            "jsonpath={.spec.taints[?(@.effect==\"NoExecute\")].key}",
        ],
        "",
    )?;

    // A rebalance spreads it again.
    up.kubectl.ok_stdin(&["apply", "-f", "-"], REBALANCE)?;
    up.until_placed("web", &[("member1", 2), ("member2", 2), ("member3", 2)])?;
    up.until_ready("web", 6)?;
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
