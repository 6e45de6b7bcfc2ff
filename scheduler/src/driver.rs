//! The scheduler's async shell: watches ResourceBindings and ClusterResourceBindings, runs the
//! pure cycle ([`crate::schedule`]) on those that need it, and writes the result, the status
//! and events back.
//!
//! Bindings of both kinds wait in one [`queue::Queue`], as in Karmada: higher
//! `spec.schedulePriority.priority` first, failed cycles backing off, bindings that fit nowhere
//! parked until a cluster changes. A pool of workers drains it. Any cluster change that can
//! move a binding re-examines every binding, and [`decide`] keeps that cheap: only bindings
//! whose placement, replicas or reschedule request changed, and Duplicated or replica-less
//! ones, run a cycle.

mod clusters;
pub mod decide;
pub mod estimates;
pub mod events;
mod object;
mod queue;
mod shared;
pub mod status;

use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use jiff::Timestamp;
use karmada_api::cluster::Cluster;
use karmada_runtime::conflict;
use karmada_runtime::events::Recorder;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{EventType, Reporter};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{PredicateConfig, WatchStreamExt, predicates, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use self::decide::{APPLIED_PLACEMENT_ANNOTATION, Decision, Trigger};
use self::estimates::Estimators;
use self::queue::Queue;
use self::shared::{Key, Shared};
use self::status::Outcome;
use crate::{Placement, Request};

pub use self::object::Binding;

/// Name the scheduler reports events and field ownership under.
pub const SCHEDULER_NAME: &str = "karmada-scheduler";
/// Bindings scheduled at once, both kinds together.
const CONCURRENCY: usize = 16;
/// Karmada's queue delays, except that a binding that fits nowhere, or lacks room, is tried
/// again after 30 s without a cluster event (capacity changes do not wake bindings).
const TIMING: queue::Timing = queue::Timing {
    backoff_first: Duration::from_secs(1),
    backoff_max: Duration::from_secs(10),
    unschedulable_timeout: Duration::from_secs(30),
};
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
}

/// Schedules ResourceBindings (all namespaces) and ClusterResourceBindings until `cancel`
/// fires, then lets in-flight cycles finish.
pub async fn run(client: Client, cancel: CancellationToken) {
    run_with_workers(client, cancel, CONCURRENCY).await;
}

/// [`run`] with `workers` cycles at once (at least one).
pub async fn run_with_workers(client: Client, cancel: CancellationToken, workers: usize) {
    let (store, writer) = reflector::store::<Cluster>();
    let (clusters_tx, clusters_rx) = mpsc::channel(1);
    let watch = clusters::watch(client.clone(), writer, vec![clusters_tx], cancel.clone());
    let ctx = Context {
        recorder: Recorder::new(client.clone(), Reporter::from(SCHEDULER_NAME)),
        clusters: store.clone(),
        estimators: Estimators::new(estimates::DEFAULT_DEADLINE),
        client,
    };
    let scheduling = async move {
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
        schedule_bindings(&ctx, clusters_rx, workers.max(1), cancel).await;
    };
    tokio::join!(watch, scheduling);
}

async fn schedule_bindings(
    ctx: &Context,
    clusters_changed: mpsc::Receiver<()>,
    workers: usize,
    cancel: CancellationToken,
) {
    let (namespaced, namespaced_writer) = reflector::store();
    let (cluster, cluster_writer) = reflector::store();
    let shared = Shared {
        queue: Mutex::new(Queue::new(TIMING)),
        changed: Notify::new(),
        namespaced,
        cluster,
    };
    let requeue = async {
        let mut changes = pin!(clusters_changed.take_until(cancel.cancelled()));
        while changes.next().await.is_some() {
            shared.requeue_all();
        }
    };
    let pool = futures::future::join_all((0..workers).map(|_| worker(ctx, &shared, &cancel)));
    tokio::join!(
        watch_bindings(
            &ctx.client,
            namespaced_writer,
            Key::Namespaced,
            &shared,
            &cancel
        ),
        watch_bindings(&ctx.client, cluster_writer, Key::Cluster, &shared, &cancel),
        requeue,
        pool,
    );
}

/// Keeps the store of one kind current and queues each binding whose spec changed (status
/// writes, ours or the status controller's, are noise; cluster changes come separately).
async fn watch_bindings<K: Binding>(
    client: &Client,
    writer: Writer<K>,
    key: fn(ObjectRef<K>) -> Key,
    shared: &Shared,
    cancel: &CancellationToken,
) {
    let bindings = watcher(Api::<K>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(predicates::generation, PredicateConfig::default())
        .take_until(cancel.cancelled());
    let mut bindings = pin!(bindings);
    while let Some(event) = bindings.next().await {
        match event {
            Ok(binding) => shared.add(key(ObjectRef::from_obj(&binding)), binding.spec()),
            Err(error) => tracing::debug!(%error, "scheduler controller event"),
        }
    }
}

/// Schedules bindings from the queue until `cancel` fires; a cycle under way then finishes.
async fn worker(ctx: &Context, shared: &Shared, cancel: &CancellationToken) {
    // Waiting for both first lists ranks the bindings that exist at start by priority before
    // any is scheduled, as Karmada waits for its informers to sync.
    tokio::select! {
        ready = futures::future::try_join(
            shared.namespaced.wait_until_ready(),
            shared.cluster.wait_until_ready(),
        ) => {
            if ready.is_err() {
                return;
            }
        }
        () = cancel.cancelled() => return,
    }
    while let Some(key) = shared.next(cancel).await {
        let result = match &key {
            Key::Namespaced(reference) => cycle(shared.namespaced.get(reference), ctx).await,
            Key::Cluster(reference) => cycle(shared.cluster.get(reference), ctx).await,
        };
        let outcome = result.as_ref().map_or(queue::Outcome::Retry, |o| *o);
        let wait = shared.done(&key, outcome);
        if let Err(error) = result {
            error_policy(&error, wait);
        }
    }
}

fn error_policy(error: &Error, retry_in: Option<Duration>) {
    tracing::warn!(%error, ?retry_in, "scheduler: cycle failed");
}

/// One cycle of the binding as last seen; one deleted since it was queued is done.
async fn cycle<K: Binding>(
    binding: Option<Arc<K>>,
    ctx: &Context,
) -> Result<queue::Outcome, Error> {
    match binding {
        Some(binding) => reconcile(&*binding, ctx).await,
        None => Ok(queue::Outcome::Done),
    }
}

async fn reconcile<K: Binding>(binding: &K, ctx: &Context) -> Result<queue::Outcome, Error> {
    let result = match decide::decide(binding.meta(), binding.spec(), binding.status()) {
        Decision::Skip(why) => {
            tracing::debug!(binding = %binding.describe(), ?why, "scheduler: not scheduling");
            Ok(queue::Outcome::Done)
        }
        Decision::UpToDate => Ok(queue::Outcome::Done),
        Decision::ObserveGeneration(generation) => {
            write_status(binding, ctx, &Outcome::Observed { generation })
                .await
                .map(|()| queue::Outcome::Done)
        }
        Decision::Schedule { trigger, fresh } => schedule(binding, ctx, trigger, fresh).await,
    };
    match result {
        Err(error) if error.binding_gone() => Ok(queue::Outcome::Done),
        other => other,
    }
}

/// Runs one cycle and records its outcome. What runs keeps running on failure: the previous
/// result stays in `spec.clusters`.
async fn schedule<K: Binding>(
    binding: &K,
    ctx: &Context,
    trigger: Trigger,
    fresh: bool,
) -> Result<queue::Outcome, Error> {
    let name = binding.describe();
    let spec = binding.spec();
    // The store's shared snapshot: the core reads it in place, nothing is copied per cycle.
    let clusters = ctx.clusters.state();
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
            Ok(queue::Outcome::Done)
        }
        Err(error) => {
            let message = error.to_string();
            let outcome = Outcome::Failed {
                generation: binding.meta().generation,
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
                    Ok(queue::Outcome::Unschedulable)
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
    let write = |current: K| {
        let (api, name) = (&api, &name);
        async move {
            let version = current.meta().resource_version.as_deref();
            let Some(patch) = status::patch(current.status(), version, outcome, Timestamp::now())
            else {
                return Ok(());
            };
            api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(drop)
        }
    };
    conflict::write_fresh(binding.clone(), STATUS_ATTEMPTS, write, || api.get(&name))
        .await
        .map_err(|e| match e {
            conflict::Error::Write(source) => Error::WriteStatus {
                binding: binding.describe(),
                source,
            },
            conflict::Error::Reread(source) => Error::Reread {
                binding: binding.describe(),
                source,
            },
            conflict::Error::Contended { attempts, .. } => Error::StatusContended {
                binding: binding.describe(),
                attempts,
            },
        })
}
