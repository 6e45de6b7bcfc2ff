//! The ServiceImport controller: for every ServiceExport of the federation whose Service
//! exists, a same-named ServiceImport with the Service's ports and the clusters whose agents
//! report its endpoints; the export's `Valid` condition says whether the Service exists.
//!
//! Reported slices (in the `karmada-es-*` namespaces) of clusters that no longer exist are
//! deleted here too (`stale_reports`), since their agents cannot withdraw them.

pub mod desired;
pub mod stale_reports;

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
    LABEL_SERVICE_NAME, LABEL_SERVICE_NAMESPACE, REPORTER, ServiceExport, ServiceImport,
};
use karmada_runtime::Backoff;
use karmada_runtime::controller::{Backed, run_with_backoff};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use self::desired::{desired_import, reporting_clusters, updated_import, valid_conditions};

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
    slices: Store<EndpointSlice>,
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
    let (slices, slices_writer) = reflector::store();
    let slice_changes = watcher(
        Api::<EndpointSlice>::all(client.clone()),
        watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={REPORTER}")),
    )
    .default_backoff()
    .reflect(slices_writer)
    .touched_objects()
    .inspect(waker(&sweep));
    let (clusters, clusters_writer) = reflector::store();
    // The clusters an import lists are those that exist, so every export is looked at again
    // when the set of clusters changes (not on each of their frequent status updates).
    let cluster_set_changes = {
        let store = clusters.clone();
        let mut last: BTreeSet<String> = BTreeSet::new();
        watcher(
            Api::<Cluster>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff()
        .reflect(clusters_writer)
        .inspect(waker(&sweep))
        .filter_map(move |_| {
            let names: BTreeSet<String> = store.state().iter().map(|c| c.name_any()).collect();
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
        export_of(
            service.metadata.namespace.as_deref(),
            service.metadata.name.as_deref(),
        )
    })
    .watches_stream(slice_changes, |slice: EndpointSlice| {
        export_of(
            slice
                .labels()
                .get(LABEL_SERVICE_NAMESPACE)
                .map(String::as_str),
            slice.labels().get(LABEL_SERVICE_NAME).map(String::as_str),
        )
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
            write_import(&imports, desired_import(&export, service, clusters)).await?;
        }
        None => match imports.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {
                tracing::info!(%namespace, %name, "deleted the ServiceImport of a Service that is gone");
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(source) => {
                return Err(Error::DeleteImport {
                    namespace,
                    name,
                    source,
                });
            }
        },
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

/// Creates the import or brings what this controller owns of it to `want`, then its status.
async fn write_import(imports: &Api<ServiceImport>, want: ServiceImport) -> Result<(), Error> {
    let name = want.name_any();
    let namespace = want.namespace().unwrap_or_default();
    let write_err = |source| Error::WriteImport {
        namespace: namespace.clone(),
        name: name.clone(),
        source,
    };
    let have = imports
        .get_opt(&name)
        .await
        .map_err(|source| Error::ReadImport {
            namespace: namespace.clone(),
            name: name.clone(),
            source,
        })?;
    let have = match have {
        None => imports
            .create(&PostParams::default(), &want)
            .await
            .map_err(write_err)?,
        Some(have) => match updated_import(&have, &want) {
            None => have,
            Some(updated) => imports
                .replace(&name, &PostParams::default(), &updated)
                .await
                .map_err(write_err)?,
        },
    };
    let clusters = want.status.map(|s| s.clusters).unwrap_or_default();
    if have.status.clone().unwrap_or_default().clusters == clusters {
        return Ok(());
    }
    // A merge patch replaces the list whole, so an empty list clears it.
    let patch = json!({"status": {"clusters": clusters}});
    imports
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| Error::ImportStatus {
            namespace,
            name,
            source,
        })?;
    Ok(())
}
