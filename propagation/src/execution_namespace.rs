//! Gives every member cluster its execution namespace `karmada-es-<cluster>`, where the Works
//! for that cluster live, and when the Cluster is deleted removes the namespace (and with it
//! every Work) before letting the Cluster go, as Karmada's cluster controller does.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use karmada_api::cluster::Cluster;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{self, Event};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

/// Holds a Cluster until its execution namespace is gone.
pub const FINALIZER: &str = "karmada.io/cluster-controller";
/// How soon a deleted Cluster whose namespace is still terminating is looked at again.
const TERMINATING_RECHECK: Duration = Duration::from_secs(1);
/// How soon a failed pass is retried.
const RETRY: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create execution namespace {namespace}: {source}")]
    Create {
        namespace: String,
        source: kube::Error,
    },
    #[error("cannot remove execution namespace {namespace}: {source}")]
    Remove {
        namespace: String,
        source: kube::Error,
    },
    #[error("execution namespace {namespace} is still terminating")]
    Terminating { namespace: String },
    #[error("cluster {cluster}: {source}")]
    Finalizer {
        cluster: String,
        source: Box<finalizer::Error<Error>>,
    },
}

/// Runs until `cancel` fires.
pub async fn run(client: Client, cancel: CancellationToken) {
    let clusters: Api<Cluster> = Api::all(client.clone());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    Controller::new(clusters, watcher::Config::default())
        // A deleted namespace brings its cluster back to recreate it.
        .watches(namespaces, watcher::Config::default(), |ns: Namespace| {
            let cluster = ns
                .name_any()
                .strip_prefix(karmada_api::EXECUTION_NAMESPACE_PREFIX)?
                .to_owned();
            Some(kube::runtime::reflector::ObjectRef::new(&cluster))
        })
        .graceful_shutdown_on(async move { cancel.cancelled().await })
        .run(
            reconcile,
            |_, error, _| Action::requeue(retry_after(error)),
            Arc::new(client),
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "execution namespace reconcile failed; retrying");
            }
        })
        .await;
}

async fn reconcile(cluster: Arc<Cluster>, client: Arc<Client>) -> Result<Action, Error> {
    let api: Api<Cluster> = Api::all(client.as_ref().clone());
    let name = cluster.name_any();
    finalizer::finalizer(&api, FINALIZER, cluster, |event| async {
        match event {
            Event::Apply(cluster) => ensure(&client, &cluster.name_any()).await,
            Event::Cleanup(cluster) => remove(&client, &cluster.name_any()).await,
        }
    })
    .await
    .map_err(|source| Error::Finalizer {
        cluster: name,
        source: Box::new(source),
    })
}

/// Creates the cluster's execution namespace when it is missing.
async fn ensure(client: &Client, cluster: &str) -> Result<Action, Error> {
    let namespace = karmada_api::execution_namespace(cluster);
    let api: Api<Namespace> = Api::all(client.clone());
    let object = Namespace {
        metadata: ObjectMeta {
            name: Some(namespace.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &object).await {
        Ok(_) => Ok(Action::await_change()),
        // Already there (or still terminating from an earlier cluster of the same name, in
        // which case the namespace watch brings the cluster back once it is gone).
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(Action::await_change()),
        Err(source) => Err(Error::Create { namespace, source }),
    }
}

/// Deletes the cluster's execution namespace; done once it no longer exists.
async fn remove(client: &Client, cluster: &str) -> Result<Action, Error> {
    let namespace = karmada_api::execution_namespace(cluster);
    let api: Api<Namespace> = Api::all(client.clone());
    let error = |source| Error::Remove {
        namespace: namespace.clone(),
        source,
    };
    match api.get_opt(&namespace).await.map_err(error)? {
        None => Ok(Action::await_change()),
        Some(existing) => {
            if existing.metadata.deletion_timestamp.is_none() {
                match api.delete(&namespace, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(source) => return Err(error(source)),
                }
            }
            // The finalizer stays until the namespace (and every Work in it) is gone: an
            // error keeps the finalizer helper from removing it, and the retry looks again.
            Err(Error::Terminating { namespace })
        }
    }
}

/// How soon a failed pass is retried: soon while a namespace is terminating, else later.
fn retry_after(error: &Error) -> Duration {
    match error {
        Error::Finalizer { source, .. }
            if matches!(
                source.as_ref(),
                finalizer::Error::CleanupFailed(Error::Terminating { .. })
            ) =>
        {
            TERMINATING_RECHECK
        }
        _ => RETRY,
    }
}
