//! Which kinds the detector watches, found through discovery and refreshed when CRDs change,
//! with one template controller running per kind.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::discovery::{ApiCapabilities, Discovery, Scope, verbs};
use kube::runtime::controller::{Config, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::template::{self, KindContext};

/// How often discovery runs even without CRD changes (aggregated APIs have no CRD to watch).
const REDISCOVER: Duration = Duration::from_secs(30);
/// How long CRD changes are gathered before one discovery run answers them all.
const SETTLE: Duration = Duration::from_millis(200);
/// Templates of one kind examined at the same time.
const CONCURRENCY: u16 = 8;

/// Groups whose objects are never resource templates: the federation's own API, and
/// per-cluster bookkeeping (events, leases, access reviews).
const SKIPPED_GROUPS: &[&str] = &[
    "events.k8s.io",
    "coordination.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "apiregistration.k8s.io",
    "metrics.k8s.io",
];

/// Core kinds that describe one cluster, not a workload to propagate.
const SKIPPED_CORE_KINDS: &[&str] = &["Event", "Node", "ComponentStatus", "Binding"];

/// Whether objects of a kind are resource templates the detector should watch.
pub fn propagatable(group: &str, kind: &str, capabilities: &ApiCapabilities) -> bool {
    let own = group == "karmada.io" || group.ends_with(".karmada.io");
    let skipped = own
        || SKIPPED_GROUPS.contains(&group)
        || (group.is_empty() && SKIPPED_CORE_KINDS.contains(&kind));
    !skipped
        && capabilities.supports_operation(verbs::LIST)
        && capabilities.supports_operation(verbs::WATCH)
}

/// Whether objects in (or, for Namespaces, named) `namespace` are left alone: the system's own
/// namespaces (`kube-*`, as Karmada's default `--skipped-propagating-namespaces`) and the
/// federation's reserved ones.
pub fn skipped_namespace(namespace: &str) -> bool {
    namespace.starts_with("kube-")
        || namespace == "karmada-system"
        || namespace == "karmada-cluster"
        || namespace.starts_with(karmada_api::EXECUTION_NAMESPACE_PREFIX)
}

/// A running template controller.
struct Kind {
    resource: ApiResource,
    store: Store<DynamicObject>,
    trigger: mpsc::UnboundedSender<ObjectRef<DynamicObject>>,
    cancel: CancellationToken,
}

/// The running template controllers, by apiVersion and kind.
#[derive(Default)]
pub(super) struct Registry {
    kinds: Mutex<HashMap<(String, String), Kind>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Kind>> {
        self.kinds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Asks the controller of `kind` to examine one template again.
    pub(super) fn trigger(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) {
        let kinds = self.lock();
        let Some(found) = kinds.get(&(api_version.to_string(), kind.to_string())) else {
            return;
        };
        let mut reference = ObjectRef::new_with(name, found.resource.clone());
        if let Some(ns) = namespace {
            reference = reference.within(ns);
        }
        let _ = found.trigger.send(reference);
    }

    /// Every template known to the running controllers, with its kind's resource.
    pub(super) fn templates(&self) -> Vec<(ApiResource, Arc<DynamicObject>)> {
        self.lock()
            .values()
            .flat_map(|kind| {
                kind.store
                    .state()
                    .into_iter()
                    .map(|object| (kind.resource.clone(), object))
            })
            .collect()
    }

    pub(super) fn stop_all(&self) {
        for (_, kind) in self.lock().drain() {
            kind.cancel.cancel();
        }
    }
}

/// Keeps one template controller per propagatable kind until `cancel` fires.
pub(super) async fn supervise(shared: Arc<Shared>, cancel: CancellationToken) {
    let crd_changed = Arc::new(Notify::new());
    let crds = tokio::spawn(watch_crds(shared.client.clone(), crd_changed.clone()));
    loop {
        match discover(&shared.client).await {
            Ok(found) => converge(&shared, found, &cancel),
            Err(e) => {
                tracing::warn!(error = %e, "discovery failed; the detector keeps the kinds it has");
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = crd_changed.notified() => tokio::time::sleep(SETTLE).await,
            _ = tokio::time::sleep(REDISCOVER) => {}
        }
    }
    crds.abort();
}

/// Wakes the supervisor whenever a CRD is created, changed or deleted.
async fn watch_crds(client: kube::Client, changed: Arc<Notify>) {
    let api: Api<CustomResourceDefinition> = Api::all(client);
    watcher(api, watcher::Config::default())
        .default_backoff()
        .touched_objects()
        .for_each(|_| {
            changed.notify_one();
            futures::future::ready(())
        })
        .await;
}

/// Every propagatable kind served now, at its preferred version.
async fn discover(client: &kube::Client) -> Result<Vec<(ApiResource, bool)>, kube::Error> {
    let discovery = Discovery::new(client.clone()).run().await?;
    Ok(discovery
        .groups()
        .flat_map(|group| group.recommended_resources())
        .filter(|(resource, capabilities)| {
            propagatable(&resource.group, &resource.kind, capabilities)
        })
        .map(|(resource, capabilities)| (resource, capabilities.scope == Scope::Namespaced))
        .collect())
}

/// Starts controllers for new kinds and stops those of kinds no longer served.
fn converge(shared: &Arc<Shared>, found: Vec<(ApiResource, bool)>, cancel: &CancellationToken) {
    let wanted: BTreeSet<(String, String)> = found
        .iter()
        .map(|(r, _)| (r.api_version.clone(), r.kind.clone()))
        .collect();
    let mut kinds = shared.kinds.lock();
    kinds.retain(|key, kind| {
        let keep = wanted.contains(key);
        if !keep {
            tracing::info!(api_version = %key.0, kind = %key.1, "kind no longer served; detector stops watching it");
            kind.cancel.cancel();
        }
        keep
    });
    for (resource, namespaced) in found {
        let key = (resource.api_version.clone(), resource.kind.clone());
        if kinds.contains_key(&key) {
            continue;
        }
        tracing::debug!(api_version = %key.0, kind = %key.1, "detector watches kind");
        kinds.insert(
            key,
            start(shared, resource, namespaced, cancel.child_token()),
        );
    }
}

/// Starts the template controller of one kind.
fn start(
    shared: &Arc<Shared>,
    resource: ApiResource,
    namespaced: bool,
    cancel: CancellationToken,
) -> Kind {
    let api = Api::<DynamicObject>::all_with(shared.client.clone(), &resource);
    let controller = Controller::new_with(api, watcher::Config::default(), resource.clone())
        .with_config(Config::default().concurrency(CONCURRENCY));
    let store = controller.store();
    let (trigger, triggered) = mpsc::unbounded_channel();
    let triggered = futures::stream::unfold(triggered, |mut rx| async move {
        rx.recv().await.map(|reference| (reference, rx))
    });
    let policy_changes =
        futures::stream::unfold(shared.policy_changes.subscribe(), |mut rx| async move {
            use tokio::sync::broadcast::error::RecvError;
            match rx.recv().await {
                // Missing some announcements still means "look at everything again".
                Ok(()) | Err(RecvError::Lagged(_)) => Some(((), rx)),
                Err(RecvError::Closed) => None,
            }
        });
    let context = Arc::new(KindContext {
        shared: shared.clone(),
        resource: resource.clone(),
        namespaced,
    });
    let stop = cancel.clone();
    tokio::spawn(
        controller
            .reconcile_all_on(policy_changes)
            .reconcile_on(triggered)
            .graceful_shutdown_on(async move { stop.cancelled().await })
            .run(template::reconcile, template::error_policy, context)
            .for_each(|result| {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "template reconcile failed; retrying");
                }
                futures::future::ready(())
            }),
    );
    Kind {
        resource,
        store,
        trigger,
        cancel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capabilities(verbs: &[&str]) -> ApiCapabilities {
        ApiCapabilities {
            scope: Scope::Namespaced,
            subresources: vec![],
            operations: verbs.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn kinds_worth_watching() {
        let full = capabilities(&["create", "get", "list", "watch", "delete"]);
        let cases = [
            ("apps", "Deployment", &full, true),
            ("", "ConfigMap", &full, true),
            ("", "Namespace", &full, true),
            (
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                &full,
                true,
            ),
            ("multicluster.x-k8s.io", "ServiceExport", &full, true),
            ("example.com", "Widget", &full, true),
            ("policy.karmada.io", "PropagationPolicy", &full, false),
            ("work.karmada.io", "Work", &full, false),
            ("karmada.io", "Anything", &full, false),
            ("", "Event", &full, false),
            ("events.k8s.io", "Event", &full, false),
            ("coordination.k8s.io", "Lease", &full, false),
            ("", "Node", &full, false),
            (
                "authorization.k8s.io",
                "SubjectAccessReview",
                &capabilities(&["create"]),
                false,
            ),
            (
                "example.com",
                "CreateOnly",
                &capabilities(&["create", "get"]),
                false,
            ),
        ];
        for (group, kind, caps, want) in cases {
            assert_eq!(propagatable(group, kind, caps), want, "{group}/{kind}");
        }
    }

    #[test]
    fn system_namespaces_are_skipped() {
        for (namespace, want) in [
            ("kube-system", true),
            ("kube-public", true),
            ("kube-node-lease", true),
            ("karmada-system", true),
            ("karmada-cluster", true),
            ("karmada-es-member1", true),
            ("default", false),
            ("kubeflow", false),
            ("team-a", false),
        ] {
            assert_eq!(skipped_namespace(namespace), want, "{namespace}");
        }
    }
}
