//! The DaemonSet controller: one pod on every node the daemon fits (pinned there by node
//! affinity and bound by the scheduler), none elsewhere, rolled out through ControllerRevisions
//! within `maxUnavailable`, with the status `kubectl rollout status daemonset` reads.

mod placement;

use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{PredicateConfig, WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use super::statefulset::revision;
use crate::member::pod_owner::{self, PodOwner};
use crate::member::runtime::{self, Context, controlled_by};
use placement::{Fit, REVISION_LABEL};

/// Revisions kept besides the live ones when the set does not say.
const DEFAULT_HISTORY: i32 = 10;
/// A set that is not settled is looked at again this often, in case a pod change reached the
/// controller before it reached the pod cache.
const UNSETTLED_RECHECK: Duration = Duration::from_secs(5);
/// Label recording the set's generation on its pods, as upstream still sets it.
const GENERATION_LABEL: &str = "pod-template-generation";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("daemonset {set} has an invalid selector: {reason}")]
    InvalidSelector { set: String, reason: String },
    #[error("recording the template history of daemonset {set}")]
    Revision {
        set: String,
        #[source]
        source: revision::Error,
    },
    #[error("creating the pod of daemonset {set} for node {node}")]
    CreatePod {
        set: String,
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting pod {pod} of daemonset {set}")]
    DeletePod {
        set: String,
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing status of daemonset {set}")]
    WriteStatus {
        set: String,
        #[source]
        source: kube::Error,
    },
}

/// The node facts placement reads; only a change in them sends every set back to work (not
/// each status heartbeat).
fn placement_facts(node: &Node) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    node.metadata.labels.hash(&mut hasher);
    if let Some(spec) = node.spec.as_ref() {
        spec.unschedulable.hash(&mut hasher);
        serde_json::to_string(&spec.taints)
            .unwrap_or_default()
            .hash(&mut hasher);
    }
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.clone());
    ready.hash(&mut hasher);
    Some(hasher.finish())
}

/// Runs the DaemonSet controller until `ctx.cancel` fires.
pub async fn run(ctx: Arc<Context>) {
    let (nodes, node_writer) = reflector::store::<Node>();
    let node_changes = watcher(
        Api::<Node>::all(ctx.client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(node_writer)
    .touched_objects()
    .predicate_filter(placement_facts, PredicateConfig::default())
    .filter_map(|change| async move { change.ok().map(|_| ()) });
    let extend = |controller: Controller<DaemonSet>| controller.reconcile_all_on(node_changes);
    // Boxed: the node trigger stream and the reconcile future are large.
    Box::pin(pod_owner::run(
        ctx,
        extend,
        move |set: Arc<DaemonSet>, ctx, owner| {
            let nodes = nodes.clone();
            async move { Box::pin(reconcile(&set, &ctx, &owner, &nodes)).await }
        },
    ))
    .await;
}

async fn reconcile(
    set: &DaemonSet,
    ctx: &Context,
    owner: &PodOwner,
    nodes: &Store<Node>,
) -> Result<Action, Error> {
    let uid = set.uid().unwrap_or_default();
    if set.metadata.deletion_timestamp.is_some() {
        owner.expectations.forget(&uid);
        return Ok(Action::await_change());
    }
    let name = set.name_any();
    let ns = set.namespace().unwrap_or_default();
    let spec = set.spec.clone().unwrap_or_default();
    let status = set.status.clone().unwrap_or_default();
    let selector =
        Selector::try_from(spec.selector.clone()).map_err(|e| Error::InvalidSelector {
            set: name.clone(),
            reason: e.to_string(),
        })?;

    let collisions = status.collision_count.unwrap_or(0);
    let Some(history) =
        revision::sync_or_bump(&ctx.client, set, &selector, &spec.template, collisions)
            .await
            .map_err(|source| Error::Revision {
                set: name.clone(),
                source,
            })?
    else {
        return Ok(Action::requeue(Duration::from_millis(100)));
    };
    let update_hash = history
        .update
        .labels()
        .get(revision::HASH_LABEL)
        .cloned()
        .unwrap_or_default();

    let (Some(nodes), Some(related)) = (
        runtime::snapshot(ctx, nodes).await,
        owner.pods.owned_or_orphaned(ctx, &ns, &uid).await,
    ) else {
        return Ok(Action::await_change());
    };
    let template = placement::with_default_tolerations(&spec.template);
    let fits: BTreeMap<String, Fit> = placement::fits(&template, nodes.iter().map(AsRef::as_ref));
    let related: Vec<&Pod> = related.iter().map(AsRef::as_ref).collect();
    let owned: Vec<&Pod> = related
        .iter()
        .copied()
        .filter(|p| controlled_by(*p, &uid))
        .collect();

    let strategy = spec.update_strategy.as_ref();
    let rolling = strategy
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
        == "RollingUpdate";
    let desired = fits.values().filter(|f| f.run).count();
    let max_unavailable = rolling.then(|| {
        let value = strategy
            .and_then(|s| s.rolling_update.as_ref())
            .and_then(|r| r.max_unavailable.as_ref());
        placement::max_unavailable(value, desired)
    });

    let waiting = owner.expectations.waiting(&uid, related.iter().copied());
    let mut failure = None;
    let mut acted = false;
    if !waiting {
        let plan = placement::plan(&fits, &owned, &update_hash, max_unavailable);
        acted = !plan.create.is_empty() || !plan.delete.is_empty();
        let (mut created, mut deleted) = (HashSet::new(), HashSet::new());
        for node in &plan.create {
            match create(ctx, owner, set, &template, &update_hash, node).await {
                Ok(pod) => {
                    created.insert(pod);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        for pod in &plan.delete {
            match delete(ctx, owner, set, pod).await {
                Ok(()) => {
                    deleted.insert(pod.clone());
                }
                Err(e) => failure = Some(e),
            }
        }
        owner.expectations.expect(&uid, created, deleted);
    }

    let counts = placement::counts(&fits, &owned, &update_hash);
    let next = DaemonSetStatus {
        desired_number_scheduled: counts.desired,
        current_number_scheduled: counts.current,
        number_misscheduled: counts.misscheduled,
        number_ready: counts.ready,
        number_available: Some(counts.ready),
        number_unavailable: Some(counts.desired - counts.ready),
        updated_number_scheduled: Some(counts.updated),
        observed_generation: set.metadata.generation,
        collision_count: Some(collisions),
        ..status.clone()
    };
    if next != status {
        write_status(ctx, set, &serde_json::json!({"status": next})).await?;
    }

    let update_name = history.update.name_any();
    let live: HashSet<&str> = history
        .all
        .iter()
        .filter(|r| {
            let hash = r.labels().get(revision::HASH_LABEL);
            owned.iter().any(|p| p.labels().get(REVISION_LABEL) == hash)
        })
        .map(|r| r.metadata.name.as_deref().unwrap_or_default())
        .chain([update_name.as_str()])
        .collect();
    let limit = spec.revision_history_limit.unwrap_or(DEFAULT_HISTORY);
    let doomed = revision::prune(&history.all, &live, usize::try_from(limit).unwrap_or(0));
    revision::delete(&ctx.client, &doomed).await;

    if let Some(e) = failure {
        return Err(e);
    }
    // Pod changes bring the set back; the recheck only covers a pod cache that lagged.
    let settled =
        !waiting && !acted && counts.ready == counts.desired && counts.current == counts.desired;
    Ok(if settled {
        Action::await_change()
    } else {
        Action::requeue(UNSETTLED_RECHECK)
    })
}

/// Creates the daemon pod for `node`, returning its name.
async fn create(
    ctx: &Context,
    owner: &PodOwner,
    set: &DaemonSet,
    template: &k8s_openapi::api::core::v1::PodTemplateSpec,
    update_hash: &str,
    node: &str,
) -> Result<String, Error> {
    let pinned = placement::pod_for_node(template, node);
    let meta = pinned.metadata.unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.insert(REVISION_LABEL.into(), update_hash.into());
    if let Some(generation) = set.metadata.generation {
        labels.insert(GENERATION_LABEL.into(), generation.to_string());
    }
    let identity = ObjectMeta {
        generate_name: Some(format!("{}-", set.name_any())),
        labels: Some(labels),
        annotations: meta.annotations,
        finalizers: meta.finalizers,
        ..Default::default()
    };
    let pod = runtime::owned_pod(set, identity, pinned.spec);
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    match api.create(&PostParams::default(), &pod).await {
        Ok(created) => {
            let note = format!("Created pod: {}", created.name_any());
            runtime::record(
                &owner.recorder,
                set,
                EventType::Normal,
                "SuccessfulCreate",
                note,
            )
            .await;
            Ok(created.name_any())
        }
        Err(source) => {
            let note = format!("Error creating: {source}");
            runtime::record(
                &owner.recorder,
                set,
                EventType::Warning,
                "FailedCreate",
                note,
            )
            .await;
            Err(Error::CreatePod {
                set: set.name_any(),
                node: node.into(),
                source,
            })
        }
    }
}

async fn delete(ctx: &Context, owner: &PodOwner, set: &DaemonSet, pod: &str) -> Result<(), Error> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    match api.delete(pod, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(source) => {
            return Err(Error::DeletePod {
                set: set.name_any(),
                pod: pod.into(),
                source,
            });
        }
    }
    let note = format!("Deleted pod: {pod}");
    runtime::record(
        &owner.recorder,
        set,
        EventType::Normal,
        "SuccessfulDelete",
        note,
    )
    .await;
    Ok(())
}

async fn write_status(
    ctx: &Context,
    set: &DaemonSet,
    patch: &serde_json::Value,
) -> Result<(), Error> {
    Api::<DaemonSet>::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default())
        .patch_status(
            &set.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
        .map(|_| ())
        .map_err(|source| Error::WriteStatus {
            set: set.name_any(),
            source,
        })
}
