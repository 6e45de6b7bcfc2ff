//! The agent's execution and work status controllers in one: applies the Works of its cluster's
//! execution namespace to the member cluster and reports back what the member made of them.
//!
//! Each Work is reconciled when it changes and when one of its applied member objects changes
//! or disappears (member watches per kind, in `triggers`), so status stays fresh without
//! polling. Member objects are applied with server-side apply, so fields the member sets itself
//! (a Service's clusterIP, a Deployment's replicas under an HPA) survive.

mod apply;
mod manifest;
mod record;
mod resources;
mod status;
mod triggers;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use karmada_api::work::work::Work;
use karmada_propagation::binding::EXECUTION_CONTROLLER_FINALIZER;
use karmada_runtime::{Backoff, conflict};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use self::manifest::WorkRef;
use self::record::Records;
use self::resources::Resources;
use self::status::Outcome;
pub use self::status::{
    REASON_APPLIED_FAILED, REASON_APPLIED_SUCCESSFUL, REASON_DISPATCHING,
    REASON_SUSPEND_DISPATCHING,
};
use self::triggers::Triggers;

/// The field manager the agent applies member objects as.
pub const FIELD_MANAGER: &str = "karmada-agent";
/// Works reconciled at once; bounds the load one agent puts on both apiservers.
const DEFAULT_CONCURRENCY: u16 = 16;
/// Member watch events waiting for the controller before the watches wait too.
const TRIGGER_CAPACITY: usize = 1024;
/// Status writes retried at once after a conflicting write, before backing off.
const STATUS_ATTEMPTS: usize = 3;
/// First and longest retry delay for a failing Work.
const RETRY_MIN: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// What the agent's execution controller works with.
pub struct Config {
    /// Client of the federation apiserver, where the Works live.
    pub federation: Client,
    /// Client of the member cluster the Works are applied to.
    pub member: Client,
    /// The member cluster's name in the federation.
    pub cluster: String,
    /// Works reconciled at once.
    pub concurrency: u16,
}

impl Config {
    pub fn new(federation: Client, member: Client, cluster: impl Into<String>) -> Self {
        Self {
            federation,
            member,
            cluster: cluster.into(),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cluster name {cluster:?} is invalid: {reason}; use the name the cluster was registered with"
    )]
    ClusterName { cluster: String, reason: String },
    #[error(transparent)]
    Manifest(manifest::Error),
    #[error(
        "cluster {cluster} does not serve {kind} in {api_version}: {source}; install its CRD in the member cluster or fix the manifest's apiVersion"
    )]
    Discovery {
        cluster: String,
        api_version: String,
        kind: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("cannot read {object} from cluster {cluster}: {source}")]
    Read {
        object: String,
        cluster: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error(
        "{object} already exists in cluster {cluster} and is not managed by Karmada; set `conflictResolution: Overwrite` in the PropagationPolicy to let Karmada take it over"
    )]
    Conflict { object: String, cluster: String },
    #[error("cannot apply {object} to cluster {cluster}: {message}")]
    Apply {
        object: String,
        cluster: String,
        message: String,
    },
    #[error("cannot {} {object} in cluster {cluster}: {message}", if *preserve { "release" } else { "delete" })]
    Remove {
        object: String,
        cluster: String,
        preserve: bool,
        message: String,
    },
    #[error("cannot encode a member object: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("cannot write the status of Work {work}: {source}")]
    Status {
        work: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("cannot remove finalizer {EXECUTION_CONTROLLER_FINALIZER} from Work {work}: {source}")]
    Finalizer {
        work: String,
        #[source]
        source: Box<kube::Error>,
    },
}

/// Shared by every reconcile.
struct Context {
    works: Api<Work>,
    member: Client,
    cluster: String,
    namespace: String,
    resources: Resources,
    triggers: Triggers,
    /// What was last applied for each manifest.
    applied: Records,
    /// Consecutive failures per Work, for the retry delay.
    backoff: Backoff,
}

/// Applies the Works of `config.cluster` until `cancel` fires, then waits for in-flight
/// reconciles and member watches to stop.
pub async fn run(config: Config, cancel: CancellationToken) -> Result<(), Error> {
    karmada_api::names::dns1123_label(&config.cluster).map_err(|reason| Error::ClusterName {
        cluster: config.cluster.clone(),
        reason,
    })?;
    let namespace = karmada_api::execution_namespace(&config.cluster);
    let works: Api<Work> = Api::namespaced(config.federation.clone(), &namespace);
    let (triggers, triggered) = Triggers::new(
        config.member.clone(),
        namespace.clone(),
        cancel.child_token(),
        TRIGGER_CAPACITY,
    );
    let ctx = Arc::new(Context {
        works: works.clone(),
        resources: Resources::new(config.member.clone()),
        member: config.member,
        cluster: config.cluster,
        namespace,
        triggers,
        applied: Records::default(),
        backoff: Backoff::new(RETRY_MIN, RETRY_MAX),
    });
    let shutdown = cancel.clone();
    Controller::new(works, watcher::Config::default())
        .with_config(controller::Config::default().concurrency(config.concurrency))
        .reconcile_on(triggered)
        .graceful_shutdown_on(async move { shutdown.cancelled().await })
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "work reconcile failed; retrying");
            }
        })
        .await;
    ctx.triggers.shutdown().await;
    Ok(())
}

async fn reconcile(work: Arc<Work>, ctx: Arc<Context>) -> Result<Action, Error> {
    let result = if work.metadata.deletion_timestamp.is_some() {
        finalize(&work, &ctx).await
    } else {
        sync(&work, &ctx).await
    };
    if result.is_ok() {
        ctx.backoff.succeeded(&work.name_any());
    }
    result
}

/// Applies every manifest (or, when suspended, only observes them) and records the outcome.
async fn sync(work: &Work, ctx: &Context) -> Result<Action, Error> {
    let name = work.name_any();
    let work_ref = WorkRef {
        namespace: &ctx.namespace,
        name: &name,
    };
    let suspended = work.spec.suspend_dispatching == Some(true);
    let mut observed = Vec::new();
    let mut failures = Vec::new();
    for (ordinal, manifest) in work.spec.workload.manifests.iter().enumerate() {
        match ctx
            .sync_manifest(
                work_ref,
                work.metadata.generation,
                ordinal,
                manifest,
                suspended,
            )
            .await
        {
            Ok(status) => observed.extend(status),
            Err(error) => failures.push(error),
        }
    }
    let outcome = match (suspended, failures.is_empty()) {
        (true, _) => Outcome::Suspended,
        (false, true) => Outcome::Applied,
        (false, false) => Outcome::Failed(
            failures
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    write_status(ctx, work, &outcome, observed).await?;
    // The status carries every failure; the first one drives the retry.
    match failures.into_iter().next() {
        None => Ok(Action::await_change()),
        Some(error) => Err(error),
    }
}

/// Writes the Work's next status through `/status` when it differs from the current one. The
/// write is conditional on the resourceVersion it was computed from; on a conflict the Work is
/// read again and the status recomputed, so a transition time is never lost.
async fn write_status(
    ctx: &Context,
    work: &Work,
    outcome: &Outcome,
    observed: Vec<karmada_api::work::work::ManifestStatus>,
) -> Result<(), Error> {
    let name = work.name_any();
    let error = |source| Error::Status {
        work: format!("{}/{name}", ctx.namespace),
        source: Box::new(source),
    };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    let write = |current: Work| {
        let (name, params, now, observed) = (&name, &params, &now, observed.clone());
        async move {
            let next = status::next(
                current.status.as_ref(),
                outcome,
                observed,
                current.metadata.generation,
                now,
            );
            if current.status.as_ref() == Some(&next) {
                return Ok(());
            }
            // Empty lists are written explicitly: a merge patch leaves absent fields alone.
            let patch = json!({
                "metadata": {"resourceVersion": current.resource_version()},
                "status": {
                    "conditions": next.conditions,
                    "manifestStatuses": next.manifest_statuses,
                },
            });
            ctx.works
                .patch_status(name, params, &Patch::Merge(&patch))
                .await
                .map(drop)
        }
    };
    conflict::write_fresh(work.clone(), STATUS_ATTEMPTS, write, || {
        ctx.works.get_status(&name)
    })
    .await
    .map_err(|e| match e {
        conflict::Error::Write(source)
        | conflict::Error::Reread(source)
        | conflict::Error::Contended { last: source, .. } => error(source),
    })
}

/// Removes (or releases) the Work's member objects, then lets the Work go.
async fn finalize(work: &Work, ctx: &Context) -> Result<Action, Error> {
    let finalizers = work.finalizers();
    if !finalizers
        .iter()
        .any(|f| f == EXECUTION_CONTROLLER_FINALIZER)
    {
        return Ok(Action::await_change());
    }
    let name = work.name_any();
    let work_ref = WorkRef {
        namespace: &ctx.namespace,
        name: &name,
    };
    let preserve = work.spec.preserve_resources_on_deletion == Some(true);
    for (ordinal, manifest) in work.spec.workload.manifests.iter().enumerate() {
        ctx.remove_manifest(work_ref, ordinal, manifest, preserve)
            .await?;
    }
    ctx.applied.forget(&name);
    let remaining: Vec<&String> = finalizers
        .iter()
        .filter(|f| *f != EXECUTION_CONTROLLER_FINALIZER)
        .collect();
    // Conditional on the resourceVersion read, so another controller's finalizer added in
    // between is not dropped: a conflict retries with the fresh list.
    let patch = json!({
        "metadata": {"resourceVersion": work.resource_version(), "finalizers": remaining},
    });
    match ctx
        .works
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Action::await_change()),
        Err(source) => Err(Error::Finalizer {
            work: format!("{}/{name}", ctx.namespace),
            source: Box::new(source),
        }),
    }
}

/// Retries a failing Work with exponential backoff, per Work, capped at [`RETRY_MAX`].
// The signature is the one kube-runtime's Controller calls.
#[allow(clippy::needless_pass_by_value)]
fn error_policy(work: Arc<Work>, error: &Error, ctx: Arc<Context>) -> Action {
    let name = work.name_any();
    let delay = ctx.backoff.failed(&name);
    tracing::warn!(work = %name, cluster = %ctx.cluster, %error, retry_in = ?delay, "cannot sync Work");
    Action::requeue(delay)
}

/// The member's own explanation of a failed request (its Status message), which is what a
/// user can act on; transport errors are shown whole.
fn member_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}
