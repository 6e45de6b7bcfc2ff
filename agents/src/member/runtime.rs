//! What every member controller shares: the context it runs with, ownership references, pod
//! readiness, and running a kube-runtime controller until shutdown.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, future};
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use karmada_runtime::events::Recorder;
use karmada_runtime::events::{self, Report};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::pod_cache::PodCache;

/// A kind the member's caches and controllers can watch: statically typed, cloneable,
/// printable, decodable and shareable across tasks.
pub trait Kind:
    Resource<DynamicType = ()> + Clone + Debug + serde::de::DeserializeOwned + Send + Sync + 'static
{
}

impl<K> Kind for K where
    K: Resource<DynamicType = ()>
        + Clone
        + Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

/// Shared state of the member's controllers.
#[derive(Clone)]
pub struct Context {
    pub client: Client,
    /// Identifies the component in Events (`reportingController`).
    pub reporter: Reporter,
    pub cancel: CancellationToken,
    /// A pod cache kept filled by the member for all its components, so 10,000 pods are held
    /// once rather than once per controller; without it each controller fills its own.
    pods: Option<PodCache>,
}

impl Context {
    pub fn new(client: Client, component: &str, cancel: CancellationToken) -> Arc<Self> {
        Arc::new(Context {
            client,
            reporter: Reporter {
                controller: component.into(),
                instance: None,
            },
            cancel,
            pods: None,
        })
    }

    /// A context whose [`pod_cache`] is `pods`, a cache the caller keeps filled.
    pub fn with_pods(
        client: Client,
        component: &str,
        cancel: CancellationToken,
        pods: PodCache,
    ) -> Arc<Self> {
        let mut ctx = Arc::unwrap_or_clone(Context::new(client, component, cancel));
        ctx.pods = Some(pods);
        Arc::new(ctx)
    }
}

/// A controller ownerReference to `owner`, as Kubernetes' controllers set them.
pub fn controller_reference<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.name_any(),
        uid: owner.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A pod controlled by `owner`, in the owner's namespace, with the identity `meta` gives it
/// (name or generateName, labels, annotations, finalizers) and `spec`.
pub fn owned_pod<K: Resource<DynamicType = ()>>(
    owner: &K,
    meta: ObjectMeta,
    spec: Option<PodSpec>,
) -> Pod {
    Pod {
        metadata: ObjectMeta {
            namespace: owner.namespace(),
            owner_references: Some(vec![controller_reference(owner)]),
            ..meta
        },
        spec,
        status: None,
    }
}

/// The controlling owner of an object, from its owner references.
pub fn controller_of(owners: Option<&[OwnerReference]>) -> Option<&OwnerReference> {
    owners?.iter().find(|o| o.controller == Some(true))
}

/// Whether `object` is controlled by the object with `owner_uid`.
pub fn controlled_by(object: &impl ResourceExt, owner_uid: &str) -> bool {
    controller_of(Some(object.owner_references())).is_some_and(|r| r.uid == owner_uid)
}

/// Whether a pod's `Ready` condition is true.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Whether a pod still counts toward its controller's replicas (not finished, not deleted).
pub fn pod_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// The pod cache, and the future that keeps it filled until the context is cancelled (the
/// caller runs it beside its controller). When the context shares the member's cache, that is
/// returned and the future has nothing to do.
pub fn pod_cache(
    ctx: &Context,
) -> (
    PodCache,
    impl std::future::Future<Output = ()> + Send + use<>,
) {
    match &ctx.pods {
        Some(shared) => (shared.clone(), future::Either::Left(future::ready(()))),
        None => {
            let (cache, fill) = PodCache::start(ctx);
            (cache, future::Either::Right(fill))
        }
    }
}

/// A cache of every object of kind `K`, and the future that keeps it filled until the context
/// is cancelled (the caller runs it beside its controller).
pub fn cache<K>(
    ctx: &Context,
) -> (
    Store<K>,
    impl std::future::Future<Output = ()> + Send + use<K>,
)
where
    K: Kind,
{
    cache_observed(ctx, |_: &watcher::Event<K>| {})
}

/// [`cache`], with `observe` seeing each watch event once the store has taken it (to keep an
/// index beside the store).
pub fn cache_observed<K, O>(
    ctx: &Context,
    mut observe: O,
) -> (
    Store<K>,
    impl std::future::Future<Output = ()> + Send + use<K, O>,
)
where
    K: Kind,
    O: FnMut(&watcher::Event<K>) + Send + 'static,
{
    let (store, writer) = reflector::store();
    let cancel = ctx.cancel.clone();
    let fill = reflector::reflector(
        writer,
        watcher(
            Api::<K>::all(ctx.client.clone()),
            watcher::Config::default(),
        )
        .default_backoff(),
    )
    .take_until(async move { cancel.cancelled().await })
    .for_each(move |event| {
        match event {
            Ok(event) => observe(&event),
            Err(e) => tracing::debug!(error = %e, kind = %K::kind(&()), "watch failed; retrying"),
        }
        future::ready(())
    });
    (store, fill)
}

/// Every object in `store` once it has been filled, or `None` when the member is shutting
/// down first (a cache only closes then).
pub async fn snapshot<K>(ctx: &Context, store: &Store<K>) -> Option<Vec<Arc<K>>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    ready(ctx, store).await.map(|()| store.state())
}

/// Waits until `store` has been filled; `None` when the member is shutting down first.
pub async fn ready<K>(ctx: &Context, store: &Store<K>) -> Option<()>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    tokio::select! {
        ready = store.wait_until_ready() => ready.ok(),
        () = ctx.cancel.cancelled() => None,
    }
}

/// Records an Event about `object`, as `kubectl describe` shows them. A failure to record is
/// logged and otherwise ignored: events are advisory and must never fail a reconcile.
pub async fn record<K: Resource<DynamicType = ()>>(
    recorder: &Recorder,
    object: &K,
    type_: EventType,
    reason: &str,
    note: String,
) {
    // Member controllers report the reason as the action too.
    let report = Report {
        type_,
        action: reason,
        reason,
        note: &note,
    };
    events::record(recorder, [&object.object_ref(&())], report).await;
}

/// Records one Event per note of a pass: (whether it warns, reason, message).
pub async fn record_notes<K: Resource<DynamicType = ()>>(
    recorder: &Recorder,
    object: &K,
    notes: impl IntoIterator<Item = (bool, &'static str, String)>,
) {
    for (warning, reason, message) in notes {
        let type_ = if warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        record(recorder, object, type_, reason, message).await;
    }
}

/// Runs a kube-runtime controller until the context is cancelled, logging each failed pass.
/// Errors are retried with `retry` by the error policy the caller gives.
pub async fn run<K, E, F, Fut>(
    controller: Controller<K>,
    ctx: Arc<Context>,
    reconcile: F,
    retry: Duration,
) where
    K: Kind,
    E: std::error::Error + Send + Sync + 'static,
    F: FnMut(Arc<K>, Arc<Context>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Action, E>> + Send + 'static,
{
    let cancel = ctx.cancel.clone();
    controller
        .graceful_shutdown_on(async move { cancel.cancelled().await })
        .run(reconcile, move |_, _, _| Action::requeue(retry), ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile failed; retrying");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).expect("pod")
    }

    #[test]
    fn readiness_and_activity() {
        let ready = pod(
            json!({"metadata": {"name": "a"}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        assert!(pod_ready(&ready) && pod_active(&ready));
        let done = pod(json!({"metadata": {"name": "b"}, "status": {"phase": "Succeeded"}}));
        assert!(!pod_ready(&done) && !pod_active(&done));
    }

    #[test]
    fn controller_references_point_at_the_owner() {
        let owner: k8s_openapi::api::apps::v1::ReplicaSet =
            serde_json::from_value(json!({"metadata": {"name": "web-1", "uid": "u1"}}))
                .expect("rs");
        let r = controller_reference(&owner);
        assert_eq!(
            (r.kind.as_str(), r.api_version.as_str(), r.uid.as_str()),
            ("ReplicaSet", "apps/v1", "u1")
        );
        let child = pod(json!({"metadata": {"name": "p", "ownerReferences": [r]}}));
        assert!(controlled_by(&child, "u1") && !controlled_by(&child, "u2"));
    }
}
