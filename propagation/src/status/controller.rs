//! The binding status controller: aggregates each (Cluster)ResourceBinding's Works into the
//! binding's `aggregatedStatus` and `FullyApplied` condition, then the members' statuses into
//! the resource template's own `.status`, as Karmada's binding status controllers do.

mod template;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use karmada_api::EXECUTION_NAMESPACE_PREFIX;
use karmada_api::work::binding::{ClusterResourceBinding, ResourceBinding, ResourceHealth};
use karmada_api::work::work::Work;
use karmada_runtime::Backoff;
use karmada_runtime::conflict;
use karmada_runtime::controller::{drain, reconciled, requeue_failed};
use karmada_runtime::events::Recorder;
use kube::api::PostParams;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Reporter};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use self::template::WithoutStatus;
use crate::binding::controller::{BindingObject, Regarding, changes, record, work_status};
use crate::cluster_watch::{self, ClusterWatch};
use crate::resources::Resources;
use crate::status::{MemberWork, aggregated_status, binding_conditions, existing_clusters};

/// Event reason: the template's status was aggregated from its members.
pub const AGGREGATE_STATUS_SUCCEED_REASON: &str = "AggregateStatusSucceed";
/// Event reason: the template's status could not be aggregated or written.
pub const AGGREGATE_STATUS_FAILED_REASON: &str = "AggregateStatusFailed";

const CONTROLLER_NAME: &str = "binding-status-controller";
/// What its logs call this controller.
const LOG_NAME: &str = "binding status controller";
/// The action events of this controller report.
const AGGREGATE_ACTION: &str = "AggregateStatus";
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(60);
/// Status writes retried at once after losing to another writer, before backing off.
const STATUS_ATTEMPTS: usize = 3;
/// A binding whose members do not all report Healthy is aggregated again after this long even
/// without a Work change. Every change should wake it sooner; this bounds how long a status can
/// stay behind if a wake-up is ever missed (seen once in 10,000 Deployments under overload,
/// cause not yet found).
const UNSETTLED_RECHECK: Duration = Duration::from_secs(30);

/// Why a binding's status could not be brought up to date; every variant names the binding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{binding}: cannot list its Works: {source}")]
    ListWorks {
        binding: String,
        #[source]
        source: kube::Error,
    },
    #[error("{binding}: cannot write its status: {source}")]
    WriteStatus {
        binding: String,
        #[source]
        source: kube::Error,
    },
    #[error("{binding}: {source}")]
    Template {
        binding: String,
        #[source]
        source: template::Error,
    },
}

struct Context {
    client: Client,
    resources: Resources,
    recorder: Recorder,
    backoff: Backoff,
    without_status: WithoutStatus,
    /// Clusters not Ready are left out of the template's status.
    clusters: ClusterWatch,
}

/// Runs the status controllers of ResourceBindings and ClusterResourceBindings until `cancel`
/// fires.
pub async fn run(client: Client, cancel: CancellationToken) {
    let (clusters, watching) = ClusterWatch::start(client.clone(), cluster_watch::counted);
    let ctx = Arc::new(Context {
        resources: Resources::new(client.clone()),
        recorder: Recorder::new(client.clone(), Reporter::from(CONTROLLER_NAME)),
        backoff: Backoff::new(RETRY_FIRST, RETRY_MAX),
        without_status: WithoutStatus::default(),
        clusters,
        client,
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

async fn controller<K: BindingObject>(ctx: Arc<Context>, cancel: CancellationToken) {
    let client = ctx.client.clone();
    drain(
        Controller::new(Api::<K>::all(client.clone()), watcher::Config::default())
            .watches_stream(changes(Api::<Work>::all(client), work_status), |work| {
                K::owner_of(&work)
            })
            .reconcile_all_on(ctx.clusters.changes())
            .graceful_shutdown_on(async move { cancel.cancelled().await })
            .run(
                reconcile::<K>,
                |binding, error, ctx| requeue_failed(&ctx.backoff, LOG_NAME, &*binding, error),
                ctx,
            ),
        LOG_NAME,
    )
    .await;
}

async fn reconcile<K: BindingObject>(binding: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    // A binding being deleted takes its Works along; its status no longer matters.
    if binding.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = binding.describe();
    let works = match binding.permanent_id() {
        Some(id) => {
            Api::<Work>::all(ctx.client.clone())
                .list(
                    &kube::api::ListParams::default()
                        .labels(&format!("{}={id}", K::PERMANENT_ID_LABEL)),
                )
                .await
                .map_err(|source| Error::ListWorks {
                    binding: name.clone(),
                    source,
                })?
                .items
        }
        None => Vec::new(),
    };
    let members: Vec<MemberWork<'_>> = works
        .iter()
        .filter_map(|work| {
            let cluster = work
                .metadata
                .namespace
                .as_deref()?
                .strip_prefix(EXECUTION_NAMESPACE_PREFIX)?;
            Some(MemberWork { cluster, work })
        })
        .collect();
    let spec = binding.spec();
    let clusters = existing_clusters(spec);
    let items = aggregated_status(&spec.resource, &clusters, &members);
    // The binding from the cache may predate our own last write or the scheduler's: on a
    // conflict, read it afresh and write again at once rather than back off, which under load
    // would delay the template's status by seconds.
    let api = binding.api_for(ctx.client.clone());
    let binding_name = binding.name_any();
    let moved = AtomicBool::new(false);
    let write = |current: K| {
        let (api, items, clusters, moved) = (&api, &items, &clusters, &moved);
        async move {
            if current.spec() != spec {
                // The placement moved meanwhile: the next pass aggregates for the new one.
                moved.store(true, Ordering::Relaxed);
                return Ok(());
            }
            write_status(api, current, items, clusters).await
        }
    };
    conflict::write_fresh((*binding).clone(), STATUS_ATTEMPTS, write, || {
        api.get(&binding_name)
    })
    .await
    .map_err(|e| Error::WriteStatus {
        binding: name.clone(),
        source: match e {
            conflict::Error::Write(source)
            | conflict::Error::Reread(source)
            | conflict::Error::Contended { last: source, .. } => source,
        },
    })?;
    if moved.load(Ordering::Relaxed) {
        return Ok(Action::requeue(Duration::ZERO));
    }

    // A cluster that is not Ready stops counting at once: what it last reported may be gone.
    let counted: Vec<_> = items
        .iter()
        .filter(|item| ctx.clusters.counts(&item.cluster_name))
        .cloned()
        .collect();
    match template::sync(
        &ctx.resources,
        &ctx.without_status,
        &spec.resource,
        &counted,
    )
    .await
    {
        Ok(template::Outcome::Updated) => {
            let note = format!("Update {name} with AggregatedStatus successfully.");
            record(
                &ctx.recorder,
                &*binding,
                Regarding::BindingAndTemplate,
                EventType::Normal,
                AGGREGATE_ACTION,
                AGGREGATE_STATUS_SUCCEED_REASON,
                &note,
            )
            .await;
        }
        Ok(template::Outcome::Unchanged) => {}
        Err(source) => {
            let error = Error::Template {
                binding: name,
                source,
            };
            let note = error.to_string();
            record(
                &ctx.recorder,
                &*binding,
                Regarding::BindingAndTemplate,
                EventType::Warning,
                AGGREGATE_ACTION,
                AGGREGATE_STATUS_FAILED_REASON,
                &note,
            )
            .await;
            return Err(error);
        }
    }
    reconciled(&ctx.backoff, &*binding);
    let settled = items
        .iter()
        .all(|item| item.health == Some(ResourceHealth::Healthy));
    Ok(if settled {
        Action::await_change()
    } else {
        Action::requeue(UNSETTLED_RECHECK)
    })
}

/// Replaces the binding's `aggregatedStatus` and conditions through /status, unless they are
/// already what the members report. The write carries the resourceVersion read, so a
/// concurrent status writer (the scheduler's Scheduled condition) makes it fail with a
/// conflict and the retry starts from the newer binding rather than erasing that write.
async fn write_status<K: BindingObject>(
    api: &Api<K>,
    mut binding: K,
    items: &[karmada_api::work::binding::AggregatedStatusItem],
    clusters: &[String],
) -> Result<(), kube::Error> {
    let current = binding.status().cloned().unwrap_or_default();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let conditions = binding_conditions(&current.conditions, clusters, items, now);
    if items == current.aggregated_status.as_slice() && conditions == current.conditions {
        return Ok(());
    }
    let status = binding.status_mut();
    status.aggregated_status = items.to_vec();
    status.conditions = conditions;
    api.replace_status(&binding.name_any(), &PostParams::default(), &binding)
        .await
        .map(drop)
}
