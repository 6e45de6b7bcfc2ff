//! The binding controller: renders every ResourceBinding and ClusterResourceBinding into one
//! Work per target cluster, keeps the Works in step with the template, override policies and
//! clusters, deletes the Works a binding no longer needs, and removes them all with it.

mod events;
mod object;
mod triggers;
mod works;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use karmada_api::cluster::Cluster;
use karmada_api::policy::overrides::{ClusterOverridePolicy, OverridePolicy};
use karmada_api::work::binding::{ClusterResourceBinding, ResourceBinding};
use karmada_api::work::work::Work;
use karmada_runtime::Backoff;
use karmada_runtime::controller::{drain, reconciled, requeue_failed};
use karmada_runtime::events::Recorder;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{PredicateConfig, WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::binding::{self, DIRECT_PURGE_REQUEUE, awaiting_direct_purge, render, stale_works};
use crate::cluster_watch::ClusterWatch;
use crate::resources::{self, Resources};

pub(crate) use self::events::{Regarding, record};
pub use self::object::BindingObject;
pub(crate) use self::triggers::{changes, fingerprint, work_status};

/// Event reason: the binding's Works were written.
pub const SYNC_WORK_SUCCEED_REASON: &str = "SyncWorkSucceed";
/// Event reason: the binding's Works could not be written.
pub const SYNC_WORK_FAILED_REASON: &str = "SyncWorkFailed";
/// Event reason: the Works of a deleted binding could not be removed.
pub const CLEANUP_WORK_FAILED_REASON: &str = "CleanupWorkFailed";

const CONTROLLER_NAME: &str = "binding-controller";
/// What its logs call this controller.
const LOG_NAME: &str = "binding controller";
/// The action events of this controller report.
const SYNC_ACTION: &str = "SyncWork";
/// How soon a deleted binding whose Works are still terminating is looked at again (their
/// deletion also wakes it through the Work watch; this is the fallback).
const CLEANUP_RECHECK: Duration = Duration::from_secs(5);
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(60);
/// Work writes of one binding in flight at once; well under the apiserver's per-client limit
/// even with several bindings syncing.
const WORK_WRITES_IN_FLIGHT: usize = 8;

/// Why a binding could not be reconciled; every variant names the binding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{binding} has no {label} label, so its Works cannot be found; the detector stamps it when it creates the binding"
    )]
    NoPermanentId {
        binding: String,
        label: &'static str,
    },
    #[error("{binding}: {source}")]
    Works {
        binding: String,
        #[source]
        source: works::Error,
    },
    #[error("{binding}: cannot find the resource template's kind: {source}")]
    Resolve {
        binding: String,
        #[source]
        source: resources::Error,
    },
    #[error("{binding}: cannot read resource template {template}: {source}")]
    Template {
        binding: String,
        template: String,
        #[source]
        source: kube::Error,
    },
    #[error("{binding}: cannot list {what}: {source}")]
    List {
        binding: String,
        what: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("{binding}: {source}")]
    Render {
        binding: String,
        #[source]
        source: binding::Error,
    },
    #[error("{binding}: cannot remove finalizer {finalizer}: {source}")]
    RemoveFinalizer {
        binding: String,
        finalizer: &'static str,
        #[source]
        source: kube::Error,
    },
}

struct Context {
    client: Client,
    resources: Arc<Resources>,
    recorder: Recorder,
    backoff: Backoff,
    /// Kept by the watch that also wakes every binding when a cluster's labels or spec change.
    /// Override policies are listed on every sync instead: a binding synced before a new
    /// policy reached a cache would put the manifest in members without its overrides.
    clusters: Store<Cluster>,
}

/// Runs the ResourceBinding and ClusterResourceBinding controllers until `cancel` fires.
pub async fn run(client: Client, cancel: CancellationToken) {
    let resources = Arc::new(Resources::new(client.clone()));
    let recorder = Recorder::new(client.clone(), Reporter::from(CONTROLLER_NAME));
    let (clusters, watching) = ClusterWatch::start(client.clone(), triggers::cluster_selection);
    // Boxed: each half's controller is a large future, and the two would otherwise be laid out
    // inline in whatever awaits this one.
    let namespaced = Box::pin(controller::<ResourceBinding>(
        client.clone(),
        resources.clone(),
        recorder.clone(),
        &clusters,
        cancel.clone(),
    ));
    let cluster_scoped = Box::pin(controller::<ClusterResourceBinding>(
        client, resources, recorder, &clusters, cancel,
    ));
    let halves = async { tokio::join!(namespaced, cluster_scoped) };
    tokio::select! {
        _ = halves => {}
        () = watching => {}
    }
}

async fn controller<K: BindingObject>(
    client: Client,
    resources: Arc<Resources>,
    recorder: Recorder,
    clusters: &ClusterWatch,
    cancel: CancellationToken,
) {
    let (reader, writer) = reflector::store::<K>();
    // Status writes (the scheduler's, the status controller's) do not change the Works.
    let bindings = watcher::watcher(Api::<K>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .touched_objects()
        .predicate_filter(rendered_from::<K>, PredicateConfig::default());
    let ctx = Arc::new(Context {
        client: client.clone(),
        resources,
        recorder,
        backoff: Backoff::new(RETRY_FIRST, RETRY_MAX),
        clusters: clusters.store.clone(),
    });
    let controller = Controller::for_stream(bindings, reader);
    let (same_namespace, every) = (controller.store(), controller.store());
    drain(
        controller
            .watches_stream(
                changes(Api::<Work>::all(client.clone()), triggers::work_content),
                |work| K::owner_of(&work),
            )
            .watches(
                Api::<OverridePolicy>::all(client.clone()),
                watcher::Config::default(),
                move |policy| in_namespace(&same_namespace, policy.namespace().as_deref()),
            )
            .watches(
                Api::<ClusterOverridePolicy>::all(client),
                watcher::Config::default(),
                move |_| all(&every),
            )
            // The store is filled before the change is announced (see `ClusterWatch`).
            .reconcile_all_on(clusters.changes())
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

/// What the Works are rendered from, on the binding itself: spec (generation), labels, and
/// whether it is being deleted.
fn rendered_from<K: BindingObject>(binding: &K) -> Option<u64> {
    let meta = binding.meta();
    Some(fingerprint(&(
        meta.generation,
        &meta.labels,
        meta.deletion_timestamp.is_some(),
    )))
}

fn all<K: BindingObject>(store: &Store<K>) -> Vec<ObjectRef<K>> {
    store
        .state()
        .iter()
        .map(|b| ObjectRef::from_obj(&**b))
        .collect()
}

fn in_namespace<K: BindingObject>(store: &Store<K>, namespace: Option<&str>) -> Vec<ObjectRef<K>> {
    store
        .state()
        .iter()
        .filter(|b| b.meta().namespace.as_deref() == namespace)
        .map(|b| ObjectRef::from_obj(&**b))
        .collect()
}

async fn reconcile<K: BindingObject>(binding: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    let action = if binding.meta().deletion_timestamp.is_some() {
        cleanup(&*binding, &ctx).await?
    } else {
        sync(&*binding, &ctx).await?
    };
    reconciled(&ctx.backoff, &*binding);
    Ok(action)
}

/// Renders the binding and writes the difference: stale Works out, missing or drifted in.
async fn sync<K: BindingObject>(binding: &K, ctx: &Context) -> Result<Action, Error> {
    let name = binding.describe();
    let Some(id) = binding.permanent_id() else {
        return Err(Error::NoPermanentId {
            binding: name,
            label: K::PERMANENT_ID_LABEL,
        });
    };
    let works_error = |source| Error::Works {
        binding: name.clone(),
        source,
    };
    let spec = binding.spec();
    let existing = works::list(&ctx.client, K::PERMANENT_ID_LABEL, id)
        .await
        .map_err(works_error)?;
    // Stale Works go first, so a cluster purged Directly empties before its replacement.
    let stale = stale_works(spec, &existing).map_err(|source| Error::Render {
        binding: name.clone(),
        source,
    })?;
    let stale_empty = stale.is_empty();
    for work in stale {
        works::delete(&ctx.client, work)
            .await
            .map_err(works_error)?;
    }
    if awaiting_direct_purge(spec, &existing) {
        tracing::info!(binding = %name, "waiting for Works on directly purged clusters to go");
        return Ok(Action::requeue(DIRECT_PURGE_REQUEUE));
    }

    let Some(template) = template(binding, ctx).await? else {
        // The detector deletes the binding of a deleted template; nothing to write meanwhile.
        return Ok(Action::await_change());
    };
    let result = write(binding, &template, &existing, ctx).await;
    match &result {
        Ok(wrote) => {
            if *wrote || !stale_empty {
                let note = format!("Sync work of {name} successful.");
                record(
                    &ctx.recorder,
                    binding,
                    Regarding::BindingAndTemplate,
                    EventType::Normal,
                    SYNC_ACTION,
                    SYNC_WORK_SUCCEED_REASON,
                    &note,
                )
                .await;
            }
        }
        Err(error) => {
            let note = error.to_string();
            record(
                &ctx.recorder,
                binding,
                Regarding::BindingAndTemplate,
                EventType::Warning,
                SYNC_ACTION,
                SYNC_WORK_FAILED_REASON,
                &note,
            )
            .await;
        }
    }
    result.map(|_| Action::await_change())
}

/// The binding's resource template, or `None` when it no longer exists.
async fn template<K: BindingObject>(
    binding: &K,
    ctx: &Context,
) -> Result<Option<DynamicObject>, Error> {
    let r = &binding.spec().resource;
    let api = ctx
        .resources
        .api(&r.api_version, &r.kind, r.namespace.as_deref())
        .await
        .map_err(|source| Error::Resolve {
            binding: binding.describe(),
            source,
        })?;
    match api.get_opt(&r.name).await {
        Ok(found) => Ok(found),
        Err(source) => {
            // The kind itself may be gone (its CRD deleted): ask discovery again next time.
            if matches!(&source, kube::Error::Api(e) if e.code == 404) {
                ctx.resources.forget(&r.api_version, &r.kind);
            }
            Err(Error::Template {
                binding: binding.describe(),
                template: binding.spec().resource.to_string(),
                source,
            })
        }
    }
}

/// Renders and writes every Work; `true` when any was created or updated.
async fn write<K: BindingObject>(
    binding: &K,
    template: &DynamicObject,
    existing: &[Work],
    ctx: &Context,
) -> Result<bool, Error> {
    let name = binding.describe();
    let _ = ctx.clusters.wait_until_ready().await;
    // Only the target clusters: one missing from the store fails the render as not found.
    let clusters: Vec<Cluster> = binding::target_clusters(binding.spec())
        .iter()
        .filter_map(|target| ctx.clusters.get(&ObjectRef::new(&target.name)))
        .map(|cluster| (*cluster).clone())
        .collect();
    let list_error = |what| {
        let name = name.clone();
        move |source| Error::List {
            binding: name,
            what,
            source,
        }
    };
    let all = ListParams::default();
    let cluster_overrides = Api::<ClusterOverridePolicy>::all(ctx.client.clone())
        .list(&all)
        .await
        .map_err(list_error("ClusterOverridePolicies"))?
        .items;
    let overrides = match binding.spec().resource.namespace.as_deref() {
        Some(namespace) => {
            Api::<OverridePolicy>::namespaced(ctx.client.clone(), namespace)
                .list(&all)
                .await
                .map_err(list_error("OverridePolicies"))?
                .items
        }
        None => Vec::new(),
    };
    let template = serde_json::to_value(template).unwrap_or_default();
    let desired = render(
        binding.binding_ref(),
        &template,
        &clusters,
        &cluster_overrides,
        &overrides,
    )
    .map_err(|source| Error::Render {
        binding: name.clone(),
        source,
    })?;
    // One Work per target cluster: at 100 clusters, writing them one after another would put
    // a hundred round trips between the first cluster and the last.
    let outcomes: Vec<Result<works::Outcome, works::Error>> = futures::stream::iter(desired)
        .map(|work| {
            let current = existing.iter().find(|w| {
                w.metadata.namespace == work.metadata.namespace
                    && w.metadata.name == work.metadata.name
            });
            works::apply(&ctx.client, work, current)
        })
        .buffer_unordered(WORK_WRITES_IN_FLIGHT)
        .collect()
        .await;
    let mut wrote = false;
    for outcome in outcomes {
        let outcome = outcome.map_err(|source| Error::Works {
            binding: name.clone(),
            source,
        })?;
        wrote |= outcome != works::Outcome::Unchanged;
    }
    Ok(wrote)
}

/// A deleted binding: deletes its Works, and once none is left releases the binding.
async fn cleanup<K: BindingObject>(binding: &K, ctx: &Context) -> Result<Action, Error> {
    if !binding.finalizers().iter().any(|f| f == K::FINALIZER) {
        return Ok(Action::await_change());
    }
    let name = binding.describe();
    if let Some(id) = binding.permanent_id() {
        let works_error = |source| Error::Works {
            binding: name.clone(),
            source,
        };
        let existing = works::list(&ctx.client, K::PERMANENT_ID_LABEL, id)
            .await
            .map_err(works_error)?;
        for work in &existing {
            if let Err(source) = works::delete(&ctx.client, work).await {
                let error = works_error(source);
                let note = error.to_string();
                record(
                    &ctx.recorder,
                    binding,
                    Regarding::Binding,
                    EventType::Warning,
                    SYNC_ACTION,
                    CLEANUP_WORK_FAILED_REASON,
                    &note,
                )
                .await;
                return Err(error);
            }
        }
        let left = works::list(&ctx.client, K::PERMANENT_ID_LABEL, id)
            .await
            .map_err(works_error)?;
        if !left.is_empty() {
            // Each Work's own finalizer holds it until its member copy is gone.
            tracing::debug!(binding = %name, works = left.len(), "waiting for Works to be removed");
            return Ok(Action::requeue(CLEANUP_RECHECK));
        }
    }
    remove_finalizer(binding, ctx).await?;
    Ok(Action::await_change())
}

/// Removes `K::FINALIZER`, failing if the finalizers changed since they were read.
async fn remove_finalizer<K: BindingObject>(binding: &K, ctx: &Context) -> Result<(), Error> {
    let current = binding.finalizers();
    let kept: Vec<&String> = current.iter().filter(|f| *f != K::FINALIZER).collect();
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers", "value": current},
        {"op": "replace", "path": "/metadata/finalizers", "value": kept},
    ]))
    .expect("a well-formed JSON patch");
    let result = binding
        .api_for(ctx.client.clone())
        .patch(
            &binding.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(patch),
        )
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(source) => Err(Error::RemoveFinalizer {
            binding: binding.describe(),
            finalizer: K::FINALIZER,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn bindings_rerender_on_spec_label_or_deletion_changes_only() {
        let mut binding = ResourceBinding::new("b", Default::default());
        binding.metadata.generation = Some(1);
        let base = rendered_from(&binding);
        binding.status = Some(Default::default());
        binding.metadata.resource_version = Some("9".into());
        assert_eq!(rendered_from(&binding), base, "status writes are ignored");
        binding.metadata.generation = Some(2);
        let respecced = rendered_from(&binding);
        assert_ne!(respecced, base);
        binding.metadata.labels = Some(BTreeMap::from([("k".into(), "v".into())]));
        assert_ne!(rendered_from(&binding), respecced);
    }
}
