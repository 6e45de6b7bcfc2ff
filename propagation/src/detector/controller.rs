//! The resource detector as a running controller: watches every propagatable kind the
//! federation serves, claims each resource template for its best propagation policy, and keeps
//! the template's (Cluster)ResourceBinding in step with the template and the policy.
//!
//! One kube-rs controller runs per kind (started and stopped as discovery finds kinds come and
//! go, CRDs included); they share reflector stores of the policies and bindings. A policy change
//! re-examines every template, a deleted binding re-examines its template, and policies carry a
//! finalizer so their claims are released before they go.

mod kinds;
mod policies;
mod template;

use std::sync::Arc;

use futures::StreamExt;
use karmada_api::policy::propagation::{ClusterPropagationPolicy, PropagationPolicy};
use karmada_api::work::binding::{ClusterResourceBinding, ResourceBinding};
use karmada_runtime::events::Recorder;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use self::kinds::Registry;

/// The name the detector reports events and writes under.
pub const DETECTOR: &str = "resource-detector";

/// Why handling a template or policy failed; every variant names the object involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {what}: {source}")]
    Serialize {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot update {what}: {source}")]
    Write {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot build the binding of {what}: {source}")]
    Binding {
        what: String,
        #[source]
        source: super::Error,
    },
    #[error("cannot read PriorityClass {class:?} named by policy {policy}: {source}")]
    PriorityClass {
        class: String,
        policy: String,
        #[source]
        source: kube::Error,
    },
    #[error("policy {policy}: {source}")]
    Finalizer {
        policy: String,
        #[source]
        source: Box<kube::runtime::finalizer::Error<Error>>,
    },
}

impl Error {
    /// A write lost a race with another writer: retry soon, and do not tell the user.
    fn is_conflict(&self) -> bool {
        matches!(self, Error::Write { source: kube::Error::Api(e), .. } if e.code == 409)
    }
}

/// What every per-kind controller shares.
struct Shared {
    client: Client,
    policies: Store<PropagationPolicy>,
    cluster_policies: Store<ClusterPropagationPolicy>,
    bindings: Store<ResourceBinding>,
    cluster_bindings: Store<ClusterResourceBinding>,
    recorder: Recorder,
    kinds: Registry,
    /// Fires after any policy changed in the stores: every template is examined again.
    policy_changes: broadcast::Sender<()>,
    /// Per binding, the fingerprint of the template specification it was last written from.
    specifications: template::Specifications,
}

/// Runs the detector until `cancel` fires.
pub async fn run(client: Client, cancel: CancellationToken) {
    let (policy_changes, _) = broadcast::channel(16);
    let (policies, policies_writer) = reflector::store();
    let (cluster_policies, cluster_policies_writer) = reflector::store();
    let (bindings, bindings_writer) = reflector::store();
    let (cluster_bindings, cluster_bindings_writer) = reflector::store();
    let shared = Arc::new(Shared {
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: DETECTOR.into(),
                instance: None,
            },
        ),
        client: client.clone(),
        policies,
        cluster_policies,
        bindings,
        cluster_bindings,
        kinds: Registry::default(),
        specifications: template::Specifications::default(),
        policy_changes,
    });

    let mut tasks = tokio::task::JoinSet::new();
    let reflectors = {
        let shared = shared.clone();
        async move {
            tokio::join!(
                reflect(
                    Api::<PropagationPolicy>::all(client.clone()),
                    policies_writer,
                    announce_policy_change(&shared),
                ),
                reflect(
                    Api::<ClusterPropagationPolicy>::all(client.clone()),
                    cluster_policies_writer,
                    announce_policy_change(&shared),
                ),
                reflect(
                    Api::<ResourceBinding>::all(client.clone()),
                    bindings_writer,
                    recreate_deleted(&shared),
                ),
                reflect(
                    Api::<ClusterResourceBinding>::all(client),
                    cluster_bindings_writer,
                    recreate_deleted(&shared),
                ),
            );
        }
    };
    tasks.spawn(reflectors);

    // A template examined before the policies are known would look unclaimed, or claimed by a
    // policy that seems gone, and lose its claim.
    let ready = async {
        let _ = shared.policies.wait_until_ready().await;
        let _ = shared.cluster_policies.wait_until_ready().await;
        let _ = shared.bindings.wait_until_ready().await;
        let _ = shared.cluster_bindings.wait_until_ready().await;
    };
    tokio::select! {
        _ = cancel.cancelled() => return,
        _ = ready => {}
    }
    tasks.spawn(policies::run(shared.clone(), cancel.clone()));
    kinds::supervise(shared.clone(), cancel.clone()).await;
    shared.kinds.stop_all();
    tasks.abort_all();
}

/// Mirrors one kind into its store and hands every watch event, once the store holds it, to
/// `react`.
async fn reflect<K>(
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    react: impl Fn(&watcher::Event<K>),
) where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .for_each(|event| {
            match &event {
                Ok(event) => react(event),
                Err(e) => tracing::debug!(error = %e, "watch interrupted; resuming"),
            }
            futures::future::ready(())
        })
        .await;
}

/// Any policy change sends every template back to the detector.
fn announce_policy_change<K>(shared: &Shared) -> impl Fn(&watcher::Event<K>) + '_ {
    // No receivers simply means no kind is being watched yet.
    |_| drop(shared.policy_changes.send(()))
}

/// A deleted binding sends its template back to the detector, which recreates the binding if
/// the template is still claimed.
fn recreate_deleted<K: Resource>(shared: &Shared) -> impl Fn(&watcher::Event<K>) + '_ {
    |event| {
        let watcher::Event::Delete(binding) = event else {
            return;
        };
        let meta = binding.meta();
        if let Some(owner) = meta
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
        {
            shared.kinds.trigger(
                &owner.api_version,
                &owner.kind,
                meta.namespace.as_deref(),
                &owner.name,
            );
        }
    }
}

/// The binding store's key for a template's binding.
fn binding_ref<K: Resource<DynamicType = ()>>(namespace: Option<&str>, name: &str) -> ObjectRef<K> {
    match namespace {
        Some(ns) => ObjectRef::new(name).within(ns),
        None => ObjectRef::new(name),
    }
}
