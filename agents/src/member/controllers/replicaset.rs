//! The ReplicaSet controller: keeps `spec.replicas` pods matching a set's selector alive, adopting
//! orphans and releasing pods that no longer match, and reports how many are ready and available.

mod pods;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, future};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use crate::member::pod_owner::{self, PodOwner};
use crate::member::runtime::{self, Context, controller_reference, pod_active};

/// At most this many pods are created or deleted in one pass, as upstream's burst limit.
const BURST: usize = 500;
/// Concurrent deletions in one pass.
const DELETE_CONCURRENCY: usize = 16;
/// A set whose pods are not all there and available is looked at again this often, in case a
/// pod change reached the controller before it reached the pod cache.
const UNSETTLED_RECHECK: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("replicaset {rs} has an invalid selector: {reason}")]
    InvalidSelector { rs: String, reason: String },
    #[error("creating pods for replicaset {rs}")]
    CreatePod {
        rs: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting pod {pod} of replicaset {rs}")]
    DeletePod {
        rs: String,
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing status of replicaset {rs}")]
    WriteStatus {
        rs: String,
        #[source]
        source: kube::Error,
    },
}

/// Runs the ReplicaSet controller until `ctx.cancel` fires.
pub async fn run(ctx: Arc<Context>) {
    pod_owner::run(
        ctx,
        |c| c,
        |rs: Arc<ReplicaSet>, ctx, owner| async move { reconcile(&rs, &ctx, &owner).await },
    )
    .await;
}

async fn reconcile(rs: &ReplicaSet, ctx: &Context, owner: &PodOwner) -> Result<Action, Error> {
    if rs.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = rs.name_any();
    let ns = rs.namespace().unwrap_or_default();
    let uid = rs.uid().unwrap_or_default();
    let spec = rs.spec.clone().unwrap_or_default();
    let invalid = |reason: String| Error::InvalidSelector {
        rs: name.clone(),
        reason,
    };
    let selector = Selector::try_from(spec.selector.clone()).map_err(|e| invalid(e.to_string()))?;
    if selector.selects_all() {
        return Err(invalid("an empty selector would select every pod".into()));
    }
    let Some(related) = owner.pods.owned_or_orphaned(ctx, &ns, &uid).await else {
        return Ok(Action::await_change());
    };
    let related: Vec<&Pod> = related.iter().map(AsRef::as_ref).collect();
    let claim = pods::claim(related.iter().copied(), &uid, &selector);
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);

    let mut active: Vec<&Pod> = claim
        .owned
        .iter()
        .copied()
        .filter(|p| pod_active(p))
        .collect();
    for pod in claim.adopt {
        let mut refs = pod.owner_references().to_vec();
        refs.push(controller_reference(rs));
        if set_owners(&api, pod, refs).await {
            active.push(pod);
        }
    }
    for pod in claim.release {
        let refs = pod
            .owner_references()
            .iter()
            .filter(|r| r.uid != uid)
            .cloned()
            .collect();
        set_owners(&api, pod, refs).await;
    }

    let waiting = owner.expectations.waiting(&uid, related.iter().copied());

    let desired = usize::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0);
    let mut failure = None;
    if !waiting && active.len() != desired {
        let (created, deleted, err) = if active.len() < desired {
            let count = (desired - active.len()).min(BURST);
            let (names, err) = create_pods(rs, &api, owner, count).await;
            (names, HashSet::new(), err)
        } else {
            let victims = pods::to_delete(active.clone(), (active.len() - desired).min(BURST));
            let (names, err) = delete_pods(rs, &api, owner, &victims).await;
            (HashSet::new(), names, err)
        };
        failure = err;
        owner.expectations.expect(&uid, created, deleted);
    }

    let template_labels = spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let counts = pods::counts(&active, &template_labels, min_ready, jiff::Timestamp::now());
    let previous = rs.status.clone().unwrap_or_default();
    let next = ReplicaSetStatus {
        replicas: counts.replicas,
        fully_labeled_replicas: Some(counts.fully_labeled),
        ready_replicas: Some(counts.ready),
        available_replicas: Some(counts.available),
        observed_generation: rs.metadata.generation,
        ..previous.clone()
    };
    if next != previous {
        let patch = serde_json::json!({"status": next});
        Api::<ReplicaSet>::namespaced(ctx.client.clone(), &ns)
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| Error::WriteStatus {
                rs: name.clone(),
                source,
            })?;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let settled = usize::try_from(counts.replicas).ok() == Some(desired)
        && counts.available == counts.replicas;
    Ok(match counts.recheck {
        Some(after) => Action::requeue(after),
        None if waiting || !settled => Action::requeue(UNSETTLED_RECHECK),
        None => Action::await_change(),
    })
}

/// Replaces a pod's owner references; a pod that vanished or changed meanwhile is left alone,
/// the next pass sees its new state.
async fn set_owners(api: &Api<Pod>, pod: &Pod, refs: Vec<OwnerReference>) -> bool {
    let patch = serde_json::json!({"metadata": {"ownerReferences": refs}});
    match api
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => true,
        Err(e) => {
            tracing::debug!(error = %e, pod = %pod.name_any(), "could not change pod owners");
            false
        }
    }
}

/// Creates `count` pods in slow-start batches, stopping at the first failed batch.
async fn create_pods(
    rs: &ReplicaSet,
    api: &Api<Pod>,
    owner: &PodOwner,
    count: usize,
) -> (HashSet<String>, Option<Error>) {
    let pod = pod_for(rs);
    let params = PostParams::default();
    let mut names = HashSet::new();
    for batch in pods::slow_start_batches(count) {
        let results = future::join_all((0..batch).map(|_| api.create(&params, &pod))).await;
        let mut failed = None;
        for result in results {
            match result {
                Ok(created) => {
                    let name = created.name_any();
                    let note = format!("Created pod: {name}");
                    runtime::record(
                        &owner.recorder,
                        rs,
                        EventType::Normal,
                        "SuccessfulCreate",
                        note,
                    )
                    .await;
                    names.insert(name);
                }
                Err(source) => {
                    let note = format!("Error creating: {source}");
                    runtime::record(
                        &owner.recorder,
                        rs,
                        EventType::Warning,
                        "FailedCreate",
                        note,
                    )
                    .await;
                    failed = Some(Error::CreatePod {
                        rs: rs.name_any(),
                        source,
                    });
                }
            }
        }
        if failed.is_some() {
            return (names, failed);
        }
    }
    (names, None)
}

async fn delete_pods(
    rs: &ReplicaSet,
    api: &Api<Pod>,
    owner: &PodOwner,
    victims: &[&Pod],
) -> (HashSet<String>, Option<Error>) {
    let names: Vec<String> = victims.iter().map(|p| p.name_any()).collect();
    let results: Vec<(String, Result<(), kube::Error>)> = futures::stream::iter(names)
        .map(|name| async move {
            let result = match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
                Err(e) => Err(e),
            };
            (name, result)
        })
        .buffer_unordered(DELETE_CONCURRENCY)
        .collect()
        .await;
    let mut names = HashSet::new();
    let mut failed = None;
    for (name, result) in results {
        match result {
            Ok(()) => {
                let note = format!("Deleted pod: {name}");
                runtime::record(
                    &owner.recorder,
                    rs,
                    EventType::Normal,
                    "SuccessfulDelete",
                    note,
                )
                .await;
                names.insert(name);
            }
            Err(source) => {
                failed = Some(Error::DeletePod {
                    rs: rs.name_any(),
                    pod: name,
                    source,
                });
            }
        }
    }
    (names, failed)
}

/// A pod from the set's template, named after the set and controlled by it.
fn pod_for(rs: &ReplicaSet) -> Pod {
    let template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let identity = ObjectMeta {
        generate_name: Some(format!("{}-", rs.name_any())),
        labels: meta.labels,
        annotations: meta.annotations,
        finalizers: meta.finalizers,
        ..Default::default()
    };
    runtime::owned_pod(rs, identity, template.spec)
}
