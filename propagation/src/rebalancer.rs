//! WorkloadRebalancer: asks the scheduler for a fresh placement of each listed workload by
//! stamping its binding's `spec.rescheduleTriggeredAt` with the rebalancer's creation time,
//! records the result per workload, and deletes the rebalancer `ttlSecondsAfterFinished` after
//! it finished.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use karmada_api::apps::{
    ObjectReference, ObservedWorkload, REASON_REFERENCED_BINDING_NOT_FOUND, RebalanceResult,
    WorkloadRebalancer, WorkloadRebalancerStatus,
};
use karmada_api::work::binding::{ClusterResourceBinding, ResourceBinding};
use karmada_runtime::Backoff;
use karmada_runtime::controller::{Backed, run_with_backoff};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::detector::binding::binding_name;

const CONTROLLER: &str = "workload-rebalancer";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the binding of {workload}: {source}")]
    ReadBinding {
        workload: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot trigger rescheduling of {workload}: {source}")]
    Trigger {
        workload: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot write the status of WorkloadRebalancer {name}: {source}")]
    WriteStatus {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot delete finished WorkloadRebalancer {name}: {source}")]
    Delete {
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// What happened to one workload's binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Stamped now, or already stamped at or after the trigger time.
    Triggered,
    /// No binding of that name serves this workload.
    NoBinding,
}

/// The status after one pass: the outcome of each listed workload in spec order, a workload
/// already settled in `previous` keeping its result (it is not triggered twice), and the finish
/// time set once every workload has a result.
fn next_status(
    rebalancer: &WorkloadRebalancer,
    outcomes: &[(ObjectReference, Option<Outcome>)],
    now: Timestamp,
) -> WorkloadRebalancerStatus {
    let previous = rebalancer.status.clone().unwrap_or_default();
    let observed_workloads: Vec<ObservedWorkload> = outcomes
        .iter()
        .map(|(workload, outcome)| {
            let (result, reason) = match outcome {
                Some(Outcome::Triggered) => (Some(RebalanceResult::Successful), None),
                Some(Outcome::NoBinding) => (
                    Some(RebalanceResult::Failed),
                    Some(REASON_REFERENCED_BINDING_NOT_FOUND.to_string()),
                ),
                None => (None, None),
            };
            ObservedWorkload {
                workload: workload.clone(),
                result,
                reason,
            }
        })
        .collect();
    let finished = observed_workloads.iter().all(|w| w.result.is_some());
    let finish_time = match (finished, previous.finish_time) {
        (false, _) => None,
        // Unchanged results keep the time they finished at, so the TTL is not reset.
        (true, Some(t)) if previous.observed_workloads == observed_workloads => Some(t),
        (true, _) => Some(Time(now)),
    };
    WorkloadRebalancerStatus {
        observed_workloads,
        observed_generation: rebalancer.metadata.generation,
        finish_time,
    }
}

/// How long after `now` a finished rebalancer with `ttl_seconds` is due for deletion; `None`
/// when it has no TTL or has not finished.
fn remaining_ttl(
    status: &WorkloadRebalancerStatus,
    ttl_seconds: Option<i32>,
    now: Timestamp,
) -> Option<Duration> {
    let ttl = i64::from(ttl_seconds?.max(0));
    let finished = status.finish_time.as_ref()?.0;
    let due = finished.checked_add(SignedDuration::from_secs(ttl)).ok()?;
    Some(Duration::try_from(due.duration_since(now)).unwrap_or(Duration::ZERO))
}

fn describe(workload: &ObjectReference) -> String {
    match workload.namespace.as_str() {
        "" => format!("{} {}", workload.kind, workload.name),
        ns => format!("{} {ns}/{}", workload.kind, workload.name),
    }
}

/// Stamps the binding serving `workload` with `at`, unless it already carries that time or a
/// later one.
async fn trigger(client: &Client, workload: &ObjectReference, at: Time) -> Result<Outcome, Error> {
    let name = binding_name(&workload.kind, &workload.name);
    let read_err = |source| Error::ReadBinding {
        workload: describe(workload),
        source,
    };
    let patch = Patch::Merge(json!({"spec": {"rescheduleTriggeredAt": at}}));
    let params = PatchParams::default();
    let cluster_scoped = workload.namespace.is_empty();
    let namespaced: Api<ResourceBinding> = Api::namespaced(client.clone(), &workload.namespace);
    let clustered: Api<ClusterResourceBinding> = Api::all(client.clone());
    let spec = if cluster_scoped {
        clustered.get_opt(&name).await.map(|b| b.map(|b| b.spec.0))
    } else {
        namespaced.get_opt(&name).await.map(|b| b.map(|b| b.spec))
    }
    .map_err(read_err)?;
    let Some(spec) = spec else {
        return Ok(Outcome::NoBinding);
    };
    if !serves(&spec.resource.api_version, &spec.resource.kind, workload) {
        return Ok(Outcome::NoBinding);
    }
    if stamped(spec.reschedule_triggered_at.as_ref(), &at) {
        return Ok(Outcome::Triggered);
    }
    let result = if cluster_scoped {
        clustered.patch(&name, &params, &patch).await.map(drop)
    } else {
        namespaced.patch(&name, &params, &patch).await.map(drop)
    };
    match result {
        Ok(()) => Ok(Outcome::Triggered),
        // Deleted between the read and the patch.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Outcome::NoBinding),
        Err(source) => Err(Error::Trigger {
            workload: describe(workload),
            source,
        }),
    }
}

/// Whether a binding for `api_version`/`kind` is the one of `workload`: binding names only
/// carry the kind, so a same-named kind of another group is not it.
fn serves(api_version: &str, kind: &str, workload: &ObjectReference) -> bool {
    api_version == workload.api_version && kind == workload.kind
}

fn stamped(current: Option<&Time>, at: &Time) -> bool {
    current.is_some_and(|c| c.0 >= at.0)
}

struct Context {
    client: Client,
    backoff: Backoff,
}

impl Backed for Context {
    fn backoff(&self) -> &Backoff {
        &self.backoff
    }
}

async fn reconcile(
    rebalancer: Arc<WorkloadRebalancer>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let name = rebalancer.name_any();
    let api: Api<WorkloadRebalancer> = Api::all(ctx.client.clone());
    let status = rebalancer.status.clone().unwrap_or_default();
    let settled = status.observed_generation == rebalancer.metadata.generation
        && status.finish_time.is_some();
    if !settled {
        let at = Time(
            rebalancer
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or_else(Timestamp::now, |t| t.0),
        );
        let mut outcomes = Vec::with_capacity(rebalancer.spec.workloads.len());
        let mut failure = None;
        for workload in &rebalancer.spec.workloads {
            let previous = status
                .observed_workloads
                .iter()
                .find(|w| &w.workload == workload && w.result.is_some());
            let outcome = match previous {
                Some(w) if w.result == Some(RebalanceResult::Successful) => {
                    Some(Outcome::Triggered)
                }
                Some(_) => Some(Outcome::NoBinding),
                None => match trigger(&ctx.client, workload, at.clone()).await {
                    Ok(outcome) => Some(outcome),
                    Err(e) => {
                        failure.get_or_insert(e);
                        None
                    }
                },
            };
            outcomes.push((workload.clone(), outcome));
        }
        let next = next_status(&rebalancer, &outcomes, Timestamp::now());
        if rebalancer.status.as_ref() != Some(&next) {
            api.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": next})),
            )
            .await
            .map_err(|source| Error::WriteStatus {
                name: name.clone(),
                source,
            })?;
        }
        if let Some(e) = failure {
            return Err(e);
        }
        return Ok(
            match remaining_ttl(
                &next,
                rebalancer.spec.ttl_seconds_after_finished,
                Timestamp::now(),
            ) {
                Some(left) => Action::requeue(left),
                None => Action::await_change(),
            },
        );
    }
    match remaining_ttl(
        &status,
        rebalancer.spec.ttl_seconds_after_finished,
        Timestamp::now(),
    ) {
        Some(left) if !left.is_zero() => Ok(Action::requeue(left)),
        Some(_) => {
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(source) => return Err(Error::Delete { name, source }),
            }
            tracing::info!(rebalancer = %name, "finished WorkloadRebalancer deleted after its TTL");
            Ok(Action::await_change())
        }
        None => Ok(Action::await_change()),
    }
}

/// Runs until `cancel` fires.
pub async fn run(client: Client, cancel: CancellationToken) {
    let ctx = Arc::new(Context {
        client: client.clone(),
        backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(30)),
    });
    let controller = Controller::new(
        Api::<WorkloadRebalancer>::all(client),
        watcher::Config::default(),
    )
    .graceful_shutdown_on(async move { cancel.cancelled().await });
    run_with_backoff(controller, CONTROLLER, ctx, reconcile).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(name: &str) -> ObjectReference {
        ObjectReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: name.into(),
            namespace: "default".into(),
        }
    }

    fn rebalancer(status: Option<WorkloadRebalancerStatus>) -> WorkloadRebalancer {
        let mut r = WorkloadRebalancer::new("r", Default::default());
        r.metadata.generation = Some(1);
        r.status = status;
        r
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn results_follow_the_outcomes_and_finish_when_all_are_final() {
        let outcomes = [
            (workload("a"), Some(Outcome::Triggered)),
            (workload("b"), Some(Outcome::NoBinding)),
            (workload("c"), None),
        ];
        let status = next_status(&rebalancer(None), &outcomes, at(100));
        let results: Vec<_> = status
            .observed_workloads
            .iter()
            .map(|w| (w.workload.name.as_str(), w.result, w.reason.as_deref()))
            .collect();
        assert_eq!(
            results,
            [
                ("a", Some(RebalanceResult::Successful), None),
                (
                    "b",
                    Some(RebalanceResult::Failed),
                    Some(REASON_REFERENCED_BINDING_NOT_FOUND)
                ),
                ("c", None, None),
            ]
        );
        assert_eq!(status.finish_time, None);
        assert_eq!(status.observed_generation, Some(1));

        let done = next_status(&rebalancer(None), &outcomes[..2], at(100));
        assert_eq!(done.finish_time, Some(Time(at(100))));
        // A later pass with the same results keeps the finish time (and so the TTL).
        let again = next_status(&rebalancer(Some(done)), &outcomes[..2], at(200));
        assert_eq!(again.finish_time, Some(Time(at(100))));
    }

    #[test]
    fn the_ttl_counts_from_the_finish_time() {
        let mut status = WorkloadRebalancerStatus::default();
        assert_eq!(remaining_ttl(&status, Some(10), at(100)), None);
        status.finish_time = Some(Time(at(100)));
        assert_eq!(remaining_ttl(&status, None, at(100)), None);
        assert_eq!(
            remaining_ttl(&status, Some(10), at(104)),
            Some(Duration::from_secs(6))
        );
        assert_eq!(
            remaining_ttl(&status, Some(10), at(200)),
            Some(Duration::ZERO)
        );
        assert_eq!(
            remaining_ttl(&status, Some(0), at(100)),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn a_binding_is_only_restamped_for_a_later_trigger() {
        let trigger = Time(at(100));
        assert!(!stamped(None, &trigger));
        assert!(!stamped(Some(&Time(at(50))), &trigger));
        assert!(stamped(Some(&Time(at(100))), &trigger));
        assert!(stamped(Some(&Time(at(150))), &trigger));
    }

    #[test]
    fn a_binding_of_another_group_is_not_the_workload_s() {
        let w = workload("a");
        assert!(serves("apps/v1", "Deployment", &w));
        assert!(!serves("example.io/v1", "Deployment", &w));
    }
}
