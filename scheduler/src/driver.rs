//! The scheduler's async shell: watches ResourceBindings and ClusterResourceBindings, runs the
//! pure cycle ([`crate::schedule`]) on those that need it, and writes the result, the status
//! and events back.
//!
//! Both kinds share one reflector store of Clusters; any cluster change that can move a
//! binding re-examines every binding, and [`decide`] keeps that cheap: only bindings whose
//! placement, replicas or reschedule request changed, and Duplicated or replica-less ones,
//! run a cycle.

mod backoff;
mod clusters;
pub mod decide;
pub mod estimates;
pub mod events;
mod object;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use jiff::Timestamp;
use karmada_api::cluster::Cluster;
use karmada_api::work::binding::{ClusterResourceBinding, ResourceBinding};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{PredicateConfig, WatchStreamExt, predicates, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use self::backoff::Backoff;
use self::decide::{APPLIED_PLACEMENT_ANNOTATION, Decision, Trigger};
use self::estimates::Estimators;
use self::status::Outcome;
use crate::{Placement, Request};

pub use self::object::Binding;

/// Name the scheduler reports events and field ownership under.
pub const SCHEDULER_NAME: &str = "karmada-scheduler";
/// Bindings scheduled at once, per kind.
const CONCURRENCY: u16 = 16;
/// When a binding that fits nowhere, or lacks room, is tried again without a cluster event
/// (capacity changes do not wake bindings).
const UNSCHEDULABLE_RETRY: Duration = Duration::from_secs(30);
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(10);
/// Attempts at a status write that keeps losing to other writers before backing off.
const STATUS_ATTEMPTS: usize = 5;

/// Why a binding could not be scheduled or its result recorded; every variant names the
/// binding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{binding}: {source}")]
    Schedule {
        binding: String,
        #[source]
        source: crate::Error,
    },
    #[error("{binding}: cannot write the schedule result to spec.clusters: {source}")]
    WriteResult {
        binding: String,
        #[source]
        source: kube::Error,
    },
    #[error("{binding}: cannot write the scheduling status: {source}")]
    WriteStatus {
        binding: String,
        #[source]
        source: kube::Error,
    },
    #[error("{binding}: cannot re-read the binding after a conflicting status write: {source}")]
    Reread {
        binding: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "{binding}: the status changed under each of {attempts} attempts to write it; will retry"
    )]
    StatusContended { binding: String, attempts: usize },
}

impl Error {
    /// Whether the binding was deleted while it was being scheduled.
    fn binding_gone(&self) -> bool {
        match self {
            Error::WriteResult { source, .. }
            | Error::WriteStatus { source, .. }
            | Error::Reread { source, .. } => {
                matches!(source, kube::Error::Api(status) if status.code == 404)
            }
            Error::Schedule { .. } | Error::StatusContended { .. } => false,
        }
    }
}

struct Context {
    client: Client,
    clusters: Store<Cluster>,
    estimators: Estimators,
    recorder: Recorder,
    backoff: Backoff,
}

/// Schedules ResourceBindings (all namespaces) and ClusterResourceBindings until `cancel`
/// fires, then lets in-flight cycles finish.
pub async fn run(client: Client, cancel: CancellationToken) {
    let (store, writer) = reflector::store::<Cluster>();
    let (namespaced_tx, namespaced_rx) = mpsc::channel(1);
    let (cluster_tx, cluster_rx) = mpsc::channel(1);
    let watch = clusters::watch(
        client.clone(),
        writer,
        vec![namespaced_tx, cluster_tx],
        cancel.clone(),
    );
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), Reporter::from(SCHEDULER_NAME)),
        backoff: Backoff::new(RETRY_FIRST, RETRY_MAX),
        clusters: store.clone(),
        estimators: Estimators::new(estimates::DEFAULT_DEADLINE),
        client,
    });
    let controllers = async move {
        // Scheduling against a half-listed set of clusters would report false failures.
        tokio::select! {
            ready = store.wait_until_ready() => {
                if ready.is_err() {
                    return;
                }
            }
            () = cancel.cancelled() => return,
        }
        tracing::info!("scheduler: clusters listed; scheduling bindings");
        tokio::join!(
            controller::<ResourceBinding>(ctx.clone(), namespaced_rx, cancel.clone()),
            controller::<ClusterResourceBinding>(ctx, cluster_rx, cancel),
        );
    };
    tokio::join!(watch, controllers);
}

async fn controller<K: Binding>(
    ctx: Arc<Context>,
    clusters_changed: mpsc::Receiver<()>,
    cancel: CancellationToken,
) {
    let (reader, writer) = reflector::store::<K>();
    // Only spec changes can need a cycle; status writes (ours, the status controller's) are
    // noise, and cluster changes arrive through `clusters_changed`.
    let bindings = watcher(
        Api::<K>::all(ctx.client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(writer)
    .applied_objects()
    .predicate_filter(predicates::generation, PredicateConfig::default());
    Controller::for_stream(bindings, reader)
        .with_config(controller::Config::default().concurrency(CONCURRENCY))
        .reconcile_all_on(clusters_changed)
        .graceful_shutdown_on(async move { cancel.cancelled().await })
        .run(
            reconcile::<K>,
            |binding, error, ctx| error_policy(&*binding, error, &ctx),
            ctx,
        )
        .for_each(|result| async move {
            // Failed cycles were logged by the error policy.
            if let Err(error) = result {
                tracing::debug!(%error, "scheduler controller event");
            }
        })
        .await;
}

fn key<K: Binding>(binding: &K) -> String {
    ObjectRef::from_obj(binding).to_string()
}

fn error_policy<K: Binding>(binding: &K, error: &Error, ctx: &Context) -> Action {
    let delay = ctx.backoff.failed(&key(binding));
    tracing::warn!(%error, retry_in = ?delay, "scheduler: cycle failed");
    Action::requeue(delay)
}

async fn reconcile<K: Binding>(binding: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    let result = match decide::decide(binding.meta(), binding.spec(), binding.status()) {
        Decision::Skip(why) => {
            tracing::debug!(binding = %binding.describe(), ?why, "scheduler: not scheduling");
            Ok(Action::await_change())
        }
        Decision::UpToDate => Ok(Action::await_change()),
        Decision::ObserveGeneration(generation) => {
            write_status(&*binding, &ctx, &Outcome::Observed { generation })
                .await
                .map(|()| Action::await_change())
        }
        Decision::Schedule { trigger, fresh } => schedule(&*binding, &ctx, trigger, fresh).await,
    };
    match result {
        Err(error) if error.binding_gone() => Ok(Action::await_change()),
        Err(error) => Err(error),
        Ok(action) => {
            ctx.backoff.succeeded(&key(&*binding));
            Ok(action)
        }
    }
}

/// Runs one cycle and records its outcome. What runs keeps running on failure: the previous
/// result stays in `spec.clusters`.
async fn schedule<K: Binding>(
    binding: &K,
    ctx: &Context,
    trigger: Trigger,
    fresh: bool,
) -> Result<Action, Error> {
    let name = binding.describe();
    let spec = binding.spec();
    let clusters: Vec<Cluster> = ctx.clusters.state().iter().map(|c| (**c).clone()).collect();
    let available = ctx.estimators.available(&clusters, spec).await;
    let request = Request {
        spec,
        observed_affinity: binding
            .status()
            .and_then(|s| s.scheduler_observing_affinity_name.as_deref()),
        available: available.as_ref(),
        fresh,
    };
    tracing::debug!(binding = %name, ?trigger, fresh, "scheduler: scheduling");
    let reference = binding.object_ref(&());
    let template = events::template_reference(spec);
    match crate::schedule(&clusters, &request) {
        Ok(placement) => {
            let written = write_result(binding, &placement, ctx).await?;
            let current = written.as_ref().unwrap_or(binding);
            let outcome = Outcome::Scheduled {
                generation: current.meta().generation.unwrap_or(0),
                affinity_name: placement.affinity_name.as_deref(),
            };
            write_status(current, ctx, &outcome).await?;
            let note = events::success_note(&placement.clusters);
            tracing::info!(binding = %name, ?trigger, "scheduler: {note}");
            let reason = events::SCHEDULE_SUCCEED_REASON;
            events::publish(
                &ctx.recorder,
                &reference,
                &template,
                EventType::Normal,
                reason,
                &note,
            )
            .await;
            Ok(Action::await_change())
        }
        Err(error) => {
            let message = error.to_string();
            let outcome = Outcome::Failed {
                reason: status::failure_reason(&error),
                message: &message,
            };
            write_status(binding, ctx, &outcome).await?;
            let reason = events::SCHEDULE_FAILED_REASON;
            events::publish(
                &ctx.recorder,
                &reference,
                &template,
                EventType::Warning,
                reason,
                &message,
            )
            .await;
            match error {
                crate::Error::NoClusterFit { .. } | crate::Error::Unschedulable { .. } => {
                    tracing::info!(binding = %name, "scheduler: cannot schedule yet: {message}");
                    Ok(Action::requeue(UNSCHEDULABLE_RETRY))
                }
                crate::Error::Invalid { .. } => Err(Error::Schedule {
                    binding: name,
                    source: error,
                }),
            }
        }
    }
}

/// Writes `spec.clusters` and the applied placement when either differs, returning the
/// binding as written (with its new generation), or `None` when nothing changed.
///
/// No resourceVersion guard: a spec edited since it was read bumps the generation, and the
/// next look at it sees the placement or replicas disagree with what was written here.
async fn write_result<K: Binding>(
    binding: &K,
    placement: &Placement,
    ctx: &Context,
) -> Result<Option<K>, Error> {
    let spec = binding.spec();
    let applied = serde_json::to_string(&spec.placement).unwrap_or_default();
    let annotated = binding.annotations().get(APPLIED_PLACEMENT_ANNOTATION) == Some(&applied);
    if annotated && spec.clusters == placement.clusters {
        return Ok(None);
    }
    let patch = json!({
        "metadata": {"annotations": {APPLIED_PLACEMENT_ANNOTATION: applied}},
        "spec": {"clusters": placement.clusters},
    });
    binding
        .api_for(ctx.client.clone())
        .patch(
            &binding.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map(Some)
        .map_err(|source| Error::WriteResult {
            binding: binding.describe(),
            source,
        })
}

/// Records `outcome` in the status subresource, re-reading and retrying when another writer
/// got in between.
async fn write_status<K: Binding>(
    binding: &K,
    ctx: &Context,
    outcome: &Outcome<'_>,
) -> Result<(), Error> {
    let api = binding.api_for(ctx.client.clone());
    let name = binding.name_any();
    let mut latest: Option<K> = None;
    for _ in 0..STATUS_ATTEMPTS {
        let current = latest.as_ref().unwrap_or(binding);
        let version = current.meta().resource_version.as_deref();
        let Some(patch) = status::patch(current.status(), version, outcome, Timestamp::now())
        else {
            return Ok(());
        };
        match api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                let reread = api.get(&name).await.map_err(|source| Error::Reread {
                    binding: binding.describe(),
                    source,
                })?;
                latest = Some(reread);
            }
            Err(source) => {
                return Err(Error::WriteStatus {
                    binding: binding.describe(),
                    source,
                });
            }
        }
    }
    Err(Error::StatusContended {
        binding: binding.describe(),
        attempts: STATUS_ATTEMPTS,
    })
}
