//! Ends graceful eviction tasks, as Karmada's graceful-eviction controllers do: while a task
//! stays, the binding controller keeps the evicted cluster's copy (unless it purges
//! `Directly`) and the scheduler keeps the cluster out. A task ends when the binding has been
//! rescheduled and every new target cluster reports the workload Healthy, or when its grace
//! period (the task's, or the controller's timeout) runs out after the rescheduling. A binding
//! that could not be rescheduled keeps its tasks, and so the copies that still run: nothing is
//! taken from the last healthy placement while no other cluster can take the replicas.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Taint, Toleration};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use karmada_api::cluster::Cluster;
use karmada_api::policy::propagation::PurgeMode;
use karmada_api::work::binding::{
    ClusterResourceBinding, GracefulEvictionTask, ResourceBinding, ResourceBindingSpec,
    ResourceBindingStatus, ResourceHealth, SCHEDULED_CONDITION, TargetCluster,
};
use karmada_runtime::Backoff;
use karmada_runtime::conflict::{self, write_fresh};
use karmada_runtime::controller::{Backed, run_with_backoff};
use karmada_runtime::events::Recorder;
use kube::api::PostParams;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::binding::controller::{BindingObject, Regarding, record};
use crate::cluster_watch::ClusterWatch;
use crate::eviction::{Verdict, judge};

const CONTROLLER: &str = "graceful-eviction";
const ACTION: &str = "Evict";
/// Event reason when an evicted cluster's copy is let go.
pub const EVICTION_ENDED_REASON: &str = "GracefulEvictionEnded";
/// How long a Gracefully purged copy outlives the rescheduling by default, as Karmada's
/// `--graceful-eviction-timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// What became of a binding's tasks at one look.
#[derive(Clone, Debug, PartialEq)]
pub struct Settled {
    /// The tasks that stay.
    pub remaining: Vec<GracefulEvictionTask>,
    /// The tasks that end, each with why.
    pub ended: Vec<(GracefulEvictionTask, String)>,
    /// Evicted clusters that go back into the placement, in the same write that ends their
    /// task, so their copy is never removed in between.
    pub restored: Vec<TargetCluster>,
    /// When to look again for a grace period to run out.
    pub recheck: Option<Duration>,
}

/// What the scheduler made of the binding's current spec: `None` while it has not acted on
/// it yet, then whether it placed it. A success moves `schedulerObservedGeneration`; a failure
/// only the Scheduled condition's `observedGeneration`.
pub fn schedule_outcome(
    generation: Option<i64>,
    status: Option<&ResourceBindingStatus>,
) -> Option<bool> {
    let status = status?;
    let condition = status.condition(SCHEDULED_CONDITION)?;
    let seen = |observed: Option<i64>| match (generation, observed) {
        (Some(generation), Some(observed)) => observed >= generation,
        (None, _) => true,
        (Some(_), None) => false,
    };
    let placed = condition.status == "True";
    let observed = if placed {
        seen(status.scheduler_observed_generation)
    } else {
        seen(condition.observed_generation)
    };
    observed.then_some(placed)
}

/// Decides, at `now`, which of `spec`'s tasks end. `recovered` says whether an evicted
/// cluster is healthy again and could take the workload back: a task whose binding could not
/// be rescheduled ends when its cluster recovers, so the workload may return there.
pub fn settle(
    spec: &ResourceBindingSpec,
    generation: Option<i64>,
    status: Option<&ResourceBindingStatus>,
    timeout: Duration,
    now: Timestamp,
    recovered: impl Fn(&str) -> bool,
) -> Settled {
    let outcome = schedule_outcome(generation, status);
    let scheduled = outcome == Some(true) && !spec.clusters.is_empty();
    let unhealthy: Vec<&str> = spec
        .clusters
        .iter()
        .filter(|target| {
            !status.is_some_and(|s| {
                s.aggregated_status.iter().any(|item| {
                    item.cluster_name == target.name && item.health == Some(ResourceHealth::Healthy)
                })
            })
        })
        .map(|target| target.name.as_str())
        .collect();
    let targets: Vec<&str> = spec.clusters.iter().map(|c| c.name.as_str()).collect();
    let mut settled = Settled {
        remaining: Vec::new(),
        ended: Vec::new(),
        restored: Vec::new(),
        recheck: None,
    };
    for task in &spec.graceful_eviction_tasks {
        let kept_on_purpose =
            task.suppress_deletion == Some(true) || task.purge_mode == Some(PurgeMode::Never);
        if kept_on_purpose {
            settled.remaining.push(task.clone());
            continue;
        }
        if !scheduled {
            // Only a binding the scheduler could not place gives its task up, and only to a
            // cluster that can run the workload again.
            if outcome != Some(false) || !recovered(&task.from_cluster) {
                settled.remaining.push(task.clone());
            } else {
                let why = format!(
                    "cluster {} recovered before the workload could be placed anywhere else, so it stays there",
                    task.from_cluster
                );
                settled.restored.push(TargetCluster {
                    name: task.from_cluster.clone(),
                    replicas: task.replicas,
                    ..TargetCluster::default()
                });
                settled.ended.push((task.clone(), why));
            }
            continue;
        }
        if task.purge_mode == Some(PurgeMode::Directly) {
            let why = format!(
                "the workload was rescheduled to {} and the copy on {} was removed at once",
                targets.join(", "),
                task.from_cluster
            );
            settled.ended.push((task.clone(), why));
            continue;
        }
        if unhealthy.is_empty() {
            let why = format!(
                "the new placement ({}) is healthy, so the copy on {} is removed",
                targets.join(", "),
                task.from_cluster
            );
            settled.ended.push((task.clone(), why));
            continue;
        }
        let grace = task.grace_period_seconds.map_or(timeout, |s| {
            Duration::from_secs(u64::try_from(s).unwrap_or(0))
        });
        let started = task.creation_timestamp.as_ref().map_or(now, |t| t.0);
        let deadline = started
            .checked_add(SignedDuration::try_from(grace).unwrap_or(SignedDuration::MAX))
            .unwrap_or(Timestamp::MAX);
        if deadline <= now {
            let why = format!(
                "its grace period of {}s ended while {} still reported unhealthy, so the copy on {} is removed",
                grace.as_secs(),
                unhealthy.join(", "),
                task.from_cluster
            );
            settled.ended.push((task.clone(), why));
        } else {
            let left = now.duration_until(deadline).unsigned_abs();
            settled.recheck = Some(settled.recheck.map_or(left, |r| r.min(left)));
            settled.remaining.push(task.clone());
        }
    }
    settled
}

struct Context {
    client: Client,
    recorder: Recorder,
    timeout: Duration,
    backoff: Backoff,
    clusters: ClusterWatch,
}

impl Backed for Context {
    fn backoff(&self) -> &Backoff {
        &self.backoff
    }
}

/// Runs until `cancel` fires; `timeout` is the grace period of tasks that name none.
pub async fn run(client: Client, timeout: Duration, cancel: CancellationToken) {
    let (clusters, watching) = ClusterWatch::start(client.clone(), health);
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), Reporter::from(CONTROLLER)),
        client,
        timeout,
        backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(30)),
        clusters,
    });
    tokio::select! {
        _ = async {
            tokio::join!(
                controller::<ResourceBinding>(ctx.clone(), cancel.clone()),
                controller::<ClusterResourceBinding>(ctx, cancel.clone()),
            )
        } => {}
        () = watching => {}
    }
}

/// What this controller reacts to in a cluster: its readiness and NoExecute taints, which
/// decide whether an evicted cluster has recovered.
fn health(cluster: &Cluster) -> (bool, Vec<Taint>) {
    let no_execute = cluster
        .spec
        .taints
        .iter()
        .filter(|t| t.effect == "NoExecute")
        .cloned()
        .collect();
    (cluster.is_ready(), no_execute)
}

/// Whether `cluster` is Ready and none of its NoExecute taints would evict a placement with
/// `tolerations` again.
fn recovered(clusters: &ClusterWatch, cluster: &str, tolerations: &[Toleration]) -> bool {
    clusters
        .store
        .get(&ObjectRef::new(cluster))
        .is_some_and(|c| {
            c.is_ready()
                && !matches!(
                    judge(tolerations, &c.spec.taints, Timestamp::now()),
                    Verdict::EvictNow { .. }
                )
        })
}

async fn controller<K: BindingObject>(ctx: Arc<Context>, cancel: CancellationToken) {
    let controller = Controller::new(
        Api::<K>::all(ctx.client.clone()),
        watcher::Config::default(),
    )
    .reconcile_all_on(ctx.clusters.changes())
    .graceful_shutdown_on(async move { cancel.cancelled().await });
    run_with_backoff(controller, CONTROLLER, ctx, reconcile::<K>).await;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot end the eviction tasks of {binding}: {source}")]
    Write {
        binding: String,
        #[source]
        source: conflict::Error,
    },
}

async fn reconcile<K: BindingObject>(binding: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    if binding.spec().graceful_eviction_tasks.is_empty()
        || binding.meta().deletion_timestamp.is_some()
    {
        return Ok(Action::await_change());
    }
    let settle_now = |b: &K| {
        let tolerations = b
            .spec()
            .placement
            .as_ref()
            .map(|p| p.cluster_tolerations.as_slice())
            .unwrap_or_default();
        settle(
            b.spec(),
            b.meta().generation,
            b.status(),
            ctx.timeout,
            Timestamp::now(),
            |cluster| recovered(&ctx.clusters, cluster, tolerations),
        )
    };
    let first = settle_now(&binding);
    if first.ended.is_empty() {
        return Ok(first.recheck.map_or_else(Action::await_change, |left| {
            Action::requeue(left + Duration::from_millis(100))
        }));
    }
    let api = binding.api_for(ctx.client.clone());
    let name = binding.name_any();
    let mut ended = Vec::new();
    let mut recheck = None;
    write_fresh(
        (*binding).clone(),
        5,
        |mut current: K| {
            let settled = settle_now(&current);
            ended.clone_from(&settled.ended);
            recheck = settled.recheck;
            let (api, name) = (api.clone(), name.clone());
            async move {
                if settled.ended.is_empty() {
                    return Ok(());
                }
                let spec = current.spec_mut();
                spec.graceful_eviction_tasks = settled.remaining;
                for target in settled.restored {
                    if !spec.targets(&target.name) {
                        spec.clusters.push(target);
                    }
                }
                api.replace(&name, &PostParams::default(), &current)
                    .await
                    .map(drop)
            }
        },
        || api.get(&name),
    )
    .await
    .map_err(|source| Error::Write {
        binding: binding.describe(),
        source,
    })?;
    for (task, why) in &ended {
        let note = format!("Eviction from cluster {} ended: {why}.", task.from_cluster);
        tracing::info!(binding = %binding.describe(), cluster = %task.from_cluster, "{note}");
        record(
            &ctx.recorder,
            &*binding,
            Regarding::BindingAndTemplate,
            EventType::Normal,
            ACTION,
            EVICTION_ENDED_REASON,
            &note,
        )
        .await;
    }
    Ok(recheck.map_or_else(Action::await_change, |left| {
        Action::requeue(left + Duration::from_millis(100))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn spec(clusters: &[&str], tasks: &Value) -> ResourceBindingSpec {
        let clusters: Vec<Value> = clusters
            .iter()
            .map(|c| json!({"name": c, "replicas": 3}))
            .collect();
        serde_json::from_value(json!({
            "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "d", "name": "w"},
            "clusters": clusters,
            "gracefulEvictionTasks": tasks,
        }))
        .unwrap()
    }

    fn task(cluster: &str, purge: &str, created: i64, grace: Option<i32>) -> Value {
        json!({"fromCluster": cluster, "purgeMode": purge, "reason": "TaintUntolerated",
               "producer": "TaintManager", "creationTimestamp": at(created).to_string(),
               "gracePeriodSeconds": grace})
    }

    fn status(observed: i64, scheduled: &str, healthy: &[(&str, &str)]) -> ResourceBindingStatus {
        let items: Vec<Value> = healthy
            .iter()
            .map(|(c, h)| json!({"clusterName": c, "applied": true, "health": h}))
            .collect();
        // As the scheduler writes it: a failure records its generation on the condition only,
        // the last success stays in schedulerObservedGeneration.
        let last_success = if scheduled == "True" {
            observed
        } else {
            observed - 1
        };
        serde_json::from_value(json!({
            "schedulerObservedGeneration": last_success,
            "conditions": [{"type": "Scheduled", "status": scheduled, "reason": "R", "message": "",
                            "observedGeneration": observed,
                            "lastTransitionTime": at(0).to_string()}],
            "aggregatedStatus": items,
        }))
        .unwrap()
    }

    fn ended(s: &Settled) -> Vec<&str> {
        s.ended
            .iter()
            .map(|(t, _)| t.from_cluster.as_str())
            .collect()
    }

    const TIMEOUT: Duration = Duration::from_secs(600);

    #[test]
    fn a_task_ends_when_the_new_placement_is_healthy() {
        let s = spec(&["m1", "m3"], &json!([task("m2", "Gracefully", 0, None)]));
        let all_healthy = status(
            2,
            "True",
            &[("m1", "Healthy"), ("m3", "Healthy"), ("m2", "Unknown")],
        );
        let settled = settle(&s, Some(2), Some(&all_healthy), TIMEOUT, at(10), |_| false);
        assert_eq!(ended(&settled), ["m2"]);
        assert!(settled.remaining.is_empty());
        assert!(
            settled.ended[0]
                .1
                .contains("new placement (m1, m3) is healthy"),
            "{:?}",
            settled.ended
        );
        // One new cluster not healthy yet: kept, looked at again when the grace period ends.
        let one_unhealthy = status(2, "True", &[("m1", "Healthy"), ("m3", "Unhealthy")]);
        let settled = settle(&s, Some(2), Some(&one_unhealthy), TIMEOUT, at(10), |_| {
            false
        });
        assert!(settled.ended.is_empty());
        assert_eq!(settled.recheck, Some(Duration::from_secs(590)));
    }

    #[test]
    fn a_task_ends_when_its_grace_period_runs_out_after_rescheduling() {
        let s = spec(
            &["m1"],
            &json!([
                task("m2", "Gracefully", 0, Some(30)),
                task("m3", "Gracefully", 0, None)
            ]),
        );
        let unhealthy = status(2, "True", &[("m1", "Unhealthy")]);
        let settled = settle(&s, Some(2), Some(&unhealthy), TIMEOUT, at(31), |_| false);
        assert_eq!(ended(&settled), ["m2"]);
        assert!(
            settled.ended[0].1.contains("grace period of 30s"),
            "{:?}",
            settled.ended
        );
        assert_eq!(settled.remaining[0].from_cluster, "m3");
        assert_eq!(settled.recheck, Some(Duration::from_secs(569)));
    }

    #[test]
    fn nothing_ends_before_the_binding_is_rescheduled() {
        let s = spec(
            &["m1"],
            &json!([
                task("m2", "Gracefully", 0, Some(1)),
                task("m3", "Directly", 0, None)
            ]),
        );
        let healthy = [("m1", "Healthy")];
        // Unschedulable: every task stays, so the evicted copies keep running.
        let failed = status(2, "False", &healthy);
        assert!(
            settle(&s, Some(2), Some(&failed), TIMEOUT, at(1000), |_| false)
                .ended
                .is_empty()
        );
        // Scheduled, but for an older generation.
        let stale = status(1, "True", &healthy);
        assert!(
            settle(&s, Some(2), Some(&stale), TIMEOUT, at(1000), |_| false)
                .ended
                .is_empty()
        );
        // No target cluster left at all.
        let empty = spec(&[], &json!([task("m2", "Gracefully", 0, Some(1))]));
        assert!(
            settle(
                &empty,
                Some(2),
                Some(&status(2, "True", &[])),
                TIMEOUT,
                at(1000),
                |_| false
            )
            .ended
            .is_empty()
        );
        // Rescheduled: Directly ends at once, Gracefully once healthy.
        let done = settle(
            &s,
            Some(2),
            Some(&status(2, "True", &healthy)),
            TIMEOUT,
            at(5),
            |_| false,
        );
        assert_eq!(ended(&done), ["m2", "m3"]);
    }

    #[test]
    fn an_unschedulable_binding_gives_its_task_up_when_the_cluster_recovers() {
        let mut evicted = task("m2", "Gracefully", 0, None);
        evicted["replicas"] = json!(3);
        let s = spec(&[], &json!([evicted]));
        let failed = status(2, "False", &[]);
        // Still down: the task, and so the copy on m2, stays.
        let down = settle(&s, Some(2), Some(&failed), TIMEOUT, at(5), |_| false);
        assert!(down.ended.is_empty());
        // Back: the task ends so the scheduler may place the workload on m2 again.
        let back = settle(&s, Some(2), Some(&failed), TIMEOUT, at(5), |c| c == "m2");
        assert_eq!(ended(&back), ["m2"]);
        // ...and m2 goes back into the placement with its replicas in the same write.
        assert_eq!(back.restored.len(), 1);
        assert_eq!(
            (back.restored[0].name.as_str(), back.restored[0].replicas),
            ("m2", Some(3))
        );
        assert!(back.ended[0].1.contains("recovered"), "{:?}", back.ended);
        // While the scheduler has not looked at the eviction yet, nothing is given up.
        let pending = status(1, "False", &[]);
        assert!(
            settle(&s, Some(2), Some(&pending), TIMEOUT, at(5), |_| true)
                .ended
                .is_empty()
        );
    }

    #[test]
    fn never_and_suppressed_tasks_stay() {
        let mut suppressed = task("m3", "Gracefully", 0, Some(1));
        suppressed["suppressDeletion"] = json!(true);
        let s = spec(
            &["m1"],
            &json!([task("m2", "Never", 0, Some(1)), suppressed]),
        );
        let healthy = status(2, "True", &[("m1", "Healthy")]);
        let settled = settle(&s, Some(2), Some(&healthy), TIMEOUT, at(1000), |_| false);
        assert!(settled.ended.is_empty());
        assert_eq!(settled.remaining.len(), 2);
        assert_eq!(settled.recheck, None);
    }
}
