//! Every namespace created in the federation exists in every member cluster: one Work per
//! namespace and cluster, with ClusterOverridePolicies applied, owned by the namespace so the
//! Works (and the member copies) go when it goes, as Karmada's namespace sync controller does.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use karmada_api::cluster::Cluster;
use karmada_api::policy::overrides::ClusterOverridePolicy;
use karmada_api::policy::propagation::ConflictResolution;
use karmada_api::work::work::Work;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::binding::{NotAnObject, Origin, build_work};
use crate::overrides;

/// Label that keeps a namespace in the federation only.
pub const SKIP_AUTO_PROPAGATION_LABEL: &str = "namespace.karmada.io/skip-auto-propagation";
/// How soon a failed pass is retried (e.g. a new cluster's execution namespace not there yet).
const RETRY: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("namespace {namespace}: cannot apply overrides for cluster {cluster}: {source}")]
    Override {
        namespace: String,
        cluster: String,
        #[source]
        source: Box<overrides::Error>,
    },
    #[error("namespace {namespace}: {source}")]
    Serialize {
        namespace: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("namespace {namespace}: {source}")]
    Manifest {
        namespace: String,
        #[source]
        source: NotAnObject,
    },
    #[error("namespace {namespace}: cannot write its Work for cluster {cluster}: {source}")]
    Write {
        namespace: String,
        cluster: String,
        #[source]
        source: kube::Error,
    },
}

/// Whether a namespace stays in the federation: system namespaces every cluster has or must
/// not share (`default`, `kube-*`), the federation's own, and those labelled to skip.
pub fn stays_home(namespace: &Namespace) -> bool {
    let name = namespace.name_any();
    name == "default"
        || name.starts_with("kube-")
        || name.starts_with("karmada-")
        || namespace
            .labels()
            .get(SKIP_AUTO_PROPAGATION_LABEL)
            .is_some_and(|v| v == "true")
}

/// The Work that creates `namespace` in `cluster`. A namespace has nothing a member could
/// have set that must be protected, so an existing one of the same name is taken over.
pub fn namespace_work(
    namespace: &Namespace,
    cluster: &Cluster,
    cluster_overrides: &[ClusterOverridePolicy],
) -> Result<Work, Error> {
    let name = namespace.name_any();
    let cluster_name = cluster.name_any();
    let mut manifest = serde_json::to_value(namespace).map_err(|source| Error::Serialize {
        namespace: name.clone(),
        source,
    })?;
    manifest["apiVersion"] = Value::from("v1");
    manifest["kind"] = Value::from("Namespace");
    let applied = overrides::apply_overrides(&manifest, cluster, cluster_overrides, &[]).map_err(
        |source| Error::Override {
            namespace: name.clone(),
            cluster: cluster_name,
            source: Box::new(source),
        },
    )?;
    let origin = Origin {
        conflict_resolution: Some(ConflictResolution::Overwrite),
        work_annotations: applied.annotations(),
        ..Origin::default()
    };
    let mut work = build_work(&cluster.name_any(), applied.manifest, origin).map_err(|source| {
        Error::Manifest {
            namespace: name.clone(),
            source,
        }
    })?;
    work.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        name,
        uid: namespace.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    Ok(work)
}

struct Context {
    client: Client,
    clusters: Store<Cluster>,
    cluster_overrides: Store<ClusterOverridePolicy>,
}

/// Runs until `cancel` fires.
pub async fn run(client: Client, cancel: CancellationToken) {
    let (clusters, clusters_writer) = kube::runtime::reflector::store();
    let (cluster_overrides, overrides_writer) = kube::runtime::reflector::store();
    // Any change of clusters or cluster overrides can change every namespace's Works.
    let cluster_changes = watcher(
        Api::<Cluster>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(clusters_writer)
    .touched_objects()
    .filter_map(|r| futures::future::ready(r.ok().map(|_| ())));
    let override_changes = watcher(
        Api::<ClusterOverridePolicy>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(overrides_writer)
    .touched_objects()
    .filter_map(|r| futures::future::ready(r.ok().map(|_| ())));
    let context = Arc::new(Context {
        client: client.clone(),
        clusters,
        cluster_overrides,
    });
    Controller::new(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(Api::<Work>::all(client), watcher::Config::default())
    .reconcile_all_on(futures::stream::select(cluster_changes, override_changes))
    .graceful_shutdown_on(async move { cancel.cancelled().await })
    .run(reconcile, |_, _, _| Action::requeue(RETRY), context)
    .for_each(|result| async move {
        if let Err(e) = result {
            tracing::debug!(error = %e, "namespace sync failed; retrying");
        }
    })
    .await;
}

async fn reconcile(namespace: Arc<Namespace>, context: Arc<Context>) -> Result<Action, Error> {
    // A deleted namespace's Works go through garbage collection (they are owned by it).
    if stays_home(&namespace) || namespace.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let cluster_overrides: Vec<ClusterOverridePolicy> = context
        .cluster_overrides
        .state()
        .iter()
        .map(|p| (**p).clone())
        .collect();
    for cluster in context.clusters.state() {
        if cluster.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let desired = namespace_work(&namespace, &cluster, &cluster_overrides)?;
        write(
            &context.client,
            &namespace.name_any(),
            &cluster.name_any(),
            desired,
        )
        .await?;
    }
    Ok(Action::await_change())
}

/// Creates the Work, or updates it when what this controller owns differs.
async fn write(
    client: &Client,
    namespace: &str,
    cluster: &str,
    desired: Work,
) -> Result<(), Error> {
    let error = |source| Error::Write {
        namespace: namespace.to_string(),
        cluster: cluster.to_string(),
        source,
    };
    let api: Api<Work> = Api::namespaced(
        client.clone(),
        desired.metadata.namespace.as_deref().unwrap_or_default(),
    );
    let name = desired.name_any();
    match api.get_opt(&name).await.map_err(error)? {
        None => match api.create(&PostParams::default(), &desired).await {
            Ok(_) => Ok(()),
            // Created meanwhile: the watch brings the namespace back to compare.
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
            Err(source) => Err(error(source)),
        },
        Some(mut current) => {
            let same = current.spec == desired.spec
                && current.metadata.annotations == desired.metadata.annotations
                && current.metadata.owner_references == desired.metadata.owner_references;
            if same {
                return Ok(());
            }
            current.spec = desired.spec;
            current.metadata.annotations = desired.metadata.annotations;
            current.metadata.owner_references = desired.metadata.owner_references;
            api.replace(&name, &PostParams::default(), &current)
                .await
                .map(drop)
                .map_err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn namespace(name: &str, labels: &Value) -> Namespace {
        serde_json::from_value(
            json!({"metadata": {"name": name, "uid": "ns-uid", "labels": labels}}),
        )
        .unwrap()
    }

    #[test]
    fn system_and_opted_out_namespaces_stay_home() {
        for (name, labels, want) in [
            ("default", json!({}), true),
            ("kube-system", json!({}), true),
            ("karmada-system", json!({}), true),
            ("karmada-es-member1", json!({}), true),
            ("team-a", json!({SKIP_AUTO_PROPAGATION_LABEL: "true"}), true),
            (
                "team-a",
                json!({SKIP_AUTO_PROPAGATION_LABEL: "false"}),
                false,
            ),
            ("team-a", json!({}), false),
        ] {
            assert_eq!(
                stays_home(&namespace(name, &labels)),
                want,
                "{name} {labels}"
            );
        }
    }

    #[test]
    fn a_namespace_work_carries_the_overridden_namespace_and_its_owner() {
        let cluster: Cluster = serde_json::from_value(json!({
            "metadata": {"name": "member1", "labels": {"env": "prod"}},
            "spec": {"syncMode": "Pull"},
        }))
        .unwrap();
        let policy: ClusterOverridePolicy = serde_json::from_value(json!({
            "metadata": {"name": "tag-namespaces"},
            "spec": {
                "resourceSelectors": [{"apiVersion": "v1", "kind": "Namespace"}],
                "overrideRules": [{
                    "targetCluster": {"clusterNames": ["member1"]},
                    "overriders": {"labelsOverrider": [{"operator": "add", "value": {"cluster": "member1"}}]},
                }],
            },
        }))
        .unwrap();
        let work = namespace_work(
            &namespace("team-a", &json!({"team": "a"})),
            &cluster,
            &[policy],
        )
        .unwrap();
        assert_eq!(
            work.metadata.namespace.as_deref(),
            Some("karmada-es-member1")
        );
        let manifest = &work.spec.workload.manifests[0];
        assert_eq!(manifest["kind"], "Namespace");
        assert_eq!(manifest["metadata"]["labels"]["cluster"], "member1");
        assert_eq!(manifest["metadata"]["labels"]["team"], "a");
        assert_eq!(
            manifest["metadata"]["annotations"][crate::binding::CONFLICT_RESOLUTION_ANNOTATION],
            "overwrite"
        );
        let owner = &work.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("Namespace", "ns-uid")
        );
    }
}
