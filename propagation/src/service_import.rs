//! The ServiceImport controller: for every ServiceExport of the federation whose Service
//! exists, a same-named ServiceImport with the Service's ports and the clusters whose agents
//! report its endpoints; the export's `Valid` condition says whether the Service exists.
//!
//! From each import it also derives the Service `derived-<name>` and the imported slices a
//! PropagationPolicy selecting the import carries to consumer clusters (`derived`).
//!
//! Reported slices (in the `karmada-es-*` namespaces) of clusters that no longer exist are
//! deleted here too (`stale_reports`), since their agents cannot withdraw them.

pub mod derived;
pub mod desired;
pub mod stale_reports;
mod sync;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use karmada_api::cluster::Cluster;
use karmada_api::mcs::{
    IMPORTER, LABEL_SERVICE_NAME, LABEL_SERVICE_NAMESPACE, REPORTER, ServiceExport, ServiceImport,
    derived_service_name,
};
use karmada_runtime::Backoff;
use karmada_runtime::controller::{Backed, run_with_backoff};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use self::desired::{desired_import, reporting_clusters, valid_conditions};
use self::sync::{delete_if_present, remove_derived, write_derived, write_import};

/// The label naming the controller that manages an EndpointSlice; reported slices carry
/// [`REPORTER`] in it.
const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
const NAME: &str = "service-import-controller";
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read ServiceImport {namespace}/{name}: {source}")]
    ReadImport {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot write ServiceImport {namespace}/{name}: {source}")]
    WriteImport {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot write the status of ServiceImport {namespace}/{name}: {source}")]
    ImportStatus {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot delete ServiceImport {namespace}/{name}: {source}")]
    DeleteImport {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot write the derived {kind} {namespace}/{name}: {source}")]
    WriteDerived {
        kind: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot write the status of ServiceExport {namespace}/{name}: {source}")]
    ExportStatus {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

struct Context {
    client: Client,
    services: Store<Service>,
    /// Reported slices (managed by [`REPORTER`]).
    slices: Store<EndpointSlice>,
    /// Imported slices (managed by [`IMPORTER`]).
    imported: Store<EndpointSlice>,
    clusters: Store<Cluster>,
    backoff: Backoff,
}

impl Backed for Context {
    fn backoff(&self) -> &Backoff {
        &self.backoff
    }
}

/// The export a Service or reported slice concerns.
fn export_of(namespace: Option<&str>, name: Option<&str>) -> Option<ObjectRef<ServiceExport>> {
    Some(ObjectRef::new(name?).within(namespace?))
}

/// The export a Service concerns: its own name's, or for a derived Service its import's.
fn export_of_service(service: &Service) -> Option<ObjectRef<ServiceExport>> {
    let name = service.metadata.name.as_deref()?;
    let name = match service.labels().get(LABEL_SERVICE_NAME) {
        Some(import) if derived_service_name(import) == name => import.as_str(),
        _ => name,
    };
    export_of(service.metadata.namespace.as_deref(), Some(name))
}

/// The export a reported or imported slice concerns (its service-name label; a reported
/// slice names the namespace in a label, an imported one lives in it).
fn export_of_slice(slice: &EndpointSlice) -> Option<ObjectRef<ServiceExport>> {
    let labels = slice.labels();
    let namespace = labels
        .get(LABEL_SERVICE_NAMESPACE)
        .map(String::as_str)
        .or(slice.metadata.namespace.as_deref());
    export_of(
        namespace,
        labels.get(LABEL_SERVICE_NAME).map(String::as_str),
    )
}

/// Slices managed by `manager`, watched into a store.
fn slice_watch(
    client: &Client,
    manager: &str,
) -> (
    Store<EndpointSlice>,
    impl futures::Stream<Item = Result<EndpointSlice, watcher::Error>> + use<>,
) {
    let (store, writer) = reflector::store();
    let changes = watcher(
        Api::<EndpointSlice>::all(client.clone()),
        watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={manager}")),
    )
    .default_backoff()
    .reflect(writer)
    .touched_objects();
    (store, changes)
}

/// What a watch stream calls to wake the sweeper on every event.
fn waker<T>(notify: &Arc<Notify>) -> impl Fn(&T) + use<T> {
    let notify = Arc::clone(notify);
    move |_| notify.notify_one()
}

/// Runs the controller and the stale report sweeper until `cancel` fires.
pub async fn run(client: Client, cancel: CancellationToken) {
    let sweep = Arc::new(Notify::new());
    let (services, services_writer) = reflector::store();
    let service_changes = watcher(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(services_writer)
    .touched_objects();
    let (slices, slice_changes) = slice_watch(&client, REPORTER);
    let slice_changes = slice_changes.inspect(waker(&sweep));
    let (imported, imported_changes) = slice_watch(&client, IMPORTER);
    let (clusters, clusters_writer) = reflector::store();
    // The clusters an import lists are those that exist, and imported endpoints follow their
    // cluster's readiness, so every export is looked at again when the set of clusters or one's
    // readiness changes (not on each of their frequent status updates).
    let cluster_set_changes = {
        let store = clusters.clone();
        let mut last: BTreeSet<(String, bool)> = BTreeSet::new();
        watcher(
            Api::<Cluster>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff()
        .reflect(clusters_writer)
        .inspect(waker(&sweep))
        .filter_map(move |_| {
            let names: BTreeSet<(String, bool)> = store
                .state()
                .iter()
                .map(|c| (c.name_any(), c.is_ready()))
                .collect();
            let changed = names != last;
            last = names;
            futures::future::ready(changed.then_some(()))
        })
    };
    let sweeper = stale_reports::run(client.clone(), clusters.clone(), slices.clone(), sweep);
    let context = Arc::new(Context {
        client: client.clone(),
        services,
        slices,
        imported,
        clusters,
        backoff: Backoff::new(RETRY_MIN, RETRY_MAX),
    });
    let controller = Controller::new(
        Api::<ServiceExport>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(
        Api::<ServiceImport>::all(client),
        watcher::Config::default(),
    )
    .watches_stream(service_changes, |service: Service| {
        export_of_service(&service)
    })
    .watches_stream(slice_changes, |slice: EndpointSlice| {
        export_of_slice(&slice)
    })
    .watches_stream(imported_changes, |slice: EndpointSlice| {
        export_of_slice(&slice)
    })
    .reconcile_all_on(cluster_set_changes)
    .graceful_shutdown_on({
        let cancel = cancel.clone();
        async move { cancel.cancelled().await }
    });
    tokio::select! {
        () = run_with_backoff(controller, NAME, context, reconcile) => {}
        // The sweeper only ends if a cache never fills, which ends with the controller.
        () = sweeper => cancel.cancelled().await,
    }
}

async fn reconcile(export: Arc<ServiceExport>, ctx: Arc<Context>) -> Result<Action, Error> {
    // Deciding before the caches fill would take a Service not yet listed for a missing one.
    for ready in [
        ctx.services.wait_until_ready().await,
        ctx.slices.wait_until_ready().await,
        ctx.imported.wait_until_ready().await,
        ctx.clusters.wait_until_ready().await,
    ] {
        if ready.is_err() {
            return Ok(Action::await_change());
        }
    }
    // A deleted export's import goes with it: the import is owned by the export.
    if export.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = export.namespace().unwrap_or_default();
    let name = export.name_any();
    let service = ctx
        .services
        .get(&ObjectRef::new(&name).within(&namespace))
        .filter(|s| s.metadata.deletion_timestamp.is_none());
    let imports: Api<ServiceImport> = Api::namespaced(ctx.client.clone(), &namespace);
    match &service {
        Some(service) => {
            let known: BTreeSet<String> =
                ctx.clusters.state().iter().map(|c| c.name_any()).collect();
            let slices = ctx.slices.state();
            let clusters =
                reporting_clusters(&namespace, &name, slices.iter().map(Arc::as_ref), &known);
            let import = desired_import(&export, service, clusters);
            write_import(&imports, import.clone()).await?;
            write_derived(&ctx, &export, &import).await?;
        }
        None => {
            remove_derived(&ctx, &namespace, &name).await?;
            match delete_if_present(&imports, &name).await {
                Ok(true) => {
                    tracing::info!(%namespace, %name, "deleted the ServiceImport of a Service that is gone");
                }
                Ok(false) => {}
                Err(source) => {
                    return Err(Error::DeleteImport {
                        namespace,
                        name,
                        source,
                    });
                }
            }
        }
    }
    if let Some(conditions) = valid_conditions(&export, service.is_some(), Time(Timestamp::now())) {
        let exports: Api<ServiceExport> = Api::namespaced(ctx.client.clone(), &namespace);
        let patch = json!({"status": {"conditions": conditions}});
        exports
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| Error::ExportStatus {
                namespace,
                name,
                source,
            })?;
    }
    Ok(Action::await_change())
}
