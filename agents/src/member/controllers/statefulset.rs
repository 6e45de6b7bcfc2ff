//! The StatefulSet controller: pods with stable names `<set>-<ordinal>` and claims, started and
//! stopped in order (or in parallel), rolled from the highest ordinal through ControllerRevisions,
//! with the status `kubectl rollout status statefulset` reads.

mod identity;
mod plan;
pub mod revision;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, PodTemplateSpec};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use crate::member::pod_owner::{self, PodOwner};
use crate::member::runtime::{self, Context, controlled_by};
use plan::{Policy, Step};

/// Revisions kept besides the live ones when the set does not say.
const DEFAULT_HISTORY: i32 = 10;
/// A set that is not settled is looked at again this often, in case a pod change reached the
/// controller before it reached the pod cache.
const UNSETTLED_RECHECK: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("statefulset {set} has an invalid selector: {reason}")]
    InvalidSelector { set: String, reason: String },
    #[error("recording the template history of statefulset {set}")]
    Revision {
        set: String,
        #[source]
        source: revision::Error,
    },
    #[error("creating {what} for statefulset {set}")]
    Create {
        set: String,
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting {what} of statefulset {set}")]
    Delete {
        set: String,
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing status of statefulset {set}")]
    WriteStatus {
        set: String,
        #[source]
        source: kube::Error,
    },
}

/// Runs the StatefulSet controller until `ctx.cancel` fires.
pub async fn run(ctx: Arc<Context>) {
    pod_owner::run(ctx, |c| c, |set: Arc<StatefulSet>, ctx, owner| async move {
        Box::pin(reconcile(&set, &ctx, &owner)).await
    })
    .await;
}

async fn reconcile(set: &StatefulSet, ctx: &Context, owner: &PodOwner) -> Result<Action, Error> {
    if set.metadata.deletion_timestamp.is_some() {
        owner.expectations.forget(&set.uid().unwrap_or_default());
        return Ok(Action::await_change());
    }
    let name = set.name_any();
    let ns = set.namespace().unwrap_or_default();
    let uid = set.uid().unwrap_or_default();
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
    let update_revision = history.update.name_any();
    let current_revision = status
        .current_revision
        .clone()
        .filter(|r| history.find(r).is_some())
        .unwrap_or_else(|| update_revision.clone());

    let Some(related) = owner.pods.owned_or_orphaned(ctx, &ns, &uid).await else {
        return Ok(Action::await_change());
    };
    let related: Vec<&Pod> = related.iter().map(AsRef::as_ref).collect();
    let owned: BTreeMap<i32, &Pod> = related
        .iter()
        .filter(|p| controlled_by(**p, &uid))
        .filter_map(|p| Some((plan::ordinal(&name, &p.name_any())?, *p)))
        .collect();

    let replicas = spec.replicas.unwrap_or(1);
    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
        == "RollingUpdate";
    let partition = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    let policy = Policy {
        replicas,
        start: spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0),
        parallel: spec.pod_management_policy.as_deref() == Some("Parallel"),
        rolling_partition: rolling.then_some(partition),
        update_revision: update_revision.clone(),
    };

    let waiting = owner.expectations.waiting(&uid, related.iter().copied());
    let mut failure = None;
    let mut acted = false;
    if !waiting {
        let steps = plan::plan(&policy, &owned);
        acted = !steps.is_empty();
        let current_template = history
            .find(&current_revision)
            .and_then(revision::template)
            .unwrap_or_else(|| spec.template.clone());
        let (mut created, mut deleted) = (HashSet::new(), HashSet::new());
        for step in steps {
            let result = match step {
                Step::Create { ordinal, update } => {
                    let (template, revision) = if update {
                        (&spec.template, &update_revision)
                    } else {
                        (&current_template, &current_revision)
                    };
                    let result = create(ctx, owner, set, template, ordinal, revision).await;
                    if result.is_ok() {
                        created.insert(identity::pod_name(set, ordinal));
                    }
                    result
                }
                Step::Delete {
                    name: pod,
                    ordinal,
                    condemned,
                } => {
                    let result = delete(ctx, owner, set, &pod, ordinal, condemned).await;
                    if result.is_ok() {
                        deleted.insert(pod);
                    }
                    result
                }
            };
            if let Err(e) = result {
                failure = Some(e);
                break;
            }
        }
        owner.expectations.expect(&uid, created, deleted);
    }

    let counts = plan::counts(owned.values().copied(), &current_revision, &update_revision);
    let complete = counts.updated == counts.replicas && counts.ready == counts.replicas;
    let (current_revision, current_replicas) = if complete {
        (update_revision.clone(), counts.updated)
    } else {
        (current_revision, counts.current)
    };
    let next = StatefulSetStatus {
        replicas: counts.replicas,
        ready_replicas: Some(counts.ready),
        available_replicas: Some(counts.ready),
        current_replicas: Some(current_replicas),
        updated_replicas: Some(counts.updated),
        current_revision: Some(current_revision.clone()),
        update_revision: Some(update_revision.clone()),
        observed_generation: set.metadata.generation,
        collision_count: Some(collisions),
        ..status.clone()
    };
    if next != status {
        write_status(ctx, set, &serde_json::json!({"status": next})).await?;
    }

    let live: HashSet<&str> = owned
        .values()
        .filter_map(|p| plan::revision_of(p))
        .chain([current_revision.as_str(), update_revision.as_str()])
        .collect();
    let limit = spec.revision_history_limit.unwrap_or(DEFAULT_HISTORY);
    let doomed = revision::prune(&history.all, &live, usize::try_from(limit).unwrap_or(0));
    revision::delete(&ctx.client, &doomed).await;

    if let Some(e) = failure {
        return Err(e);
    }
    // Pod changes bring the set back; the recheck only covers a pod cache that lagged. A
    // partitioned or OnDelete update may stay incomplete for good, which needs no polling.
    let settled = !waiting && !acted && counts.replicas == replicas && counts.ready == replicas;
    Ok(if settled {
        Action::await_change()
    } else {
        Action::requeue(UNSETTLED_RECHECK)
    })
}

/// Creates the claims of `ordinal` (keeping any that exist) and then its pod.
async fn create(
    ctx: &Context,
    owner: &PodOwner,
    set: &StatefulSet,
    template: &PodTemplateSpec,
    ordinal: i32,
    revision: &str,
) -> Result<(), Error> {
    let ns = set.namespace().unwrap_or_default();
    let pod = identity::pod(set, template, ordinal, revision);
    let pod_name = pod.name_any();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    for claim in identity::claims(set, ordinal) {
        let claim_name = claim.name_any();
        match claims.create(&PostParams::default(), &claim).await {
            Ok(_) => {
                let note = format!(
                    "create Claim {claim_name} Pod {pod_name} in StatefulSet {} success",
                    set.name_any()
                );
                runtime::record(
                    &owner.recorder,
                    set,
                    EventType::Normal,
                    "SuccessfulCreate",
                    note,
                )
                .await;
            }
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(source) => {
                return Err(failed_create(owner, set, format!("claim {claim_name}"), source).await);
            }
        }
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    match pods.create(&PostParams::default(), &pod).await {
        Ok(_) => {
            let note = format!(
                "create Pod {pod_name} in StatefulSet {} successful",
                set.name_any()
            );
            runtime::record(
                &owner.recorder,
                set,
                EventType::Normal,
                "SuccessfulCreate",
                note,
            )
            .await;
            Ok(())
        }
        // A pod the cache has not shown yet; the next pass sees it.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(source) => Err(failed_create(owner, set, format!("pod {pod_name}"), source).await),
    }
}

async fn failed_create(
    owner: &PodOwner,
    set: &StatefulSet,
    what: String,
    source: kube::Error,
) -> Error {
    let note = format!(
        "create {what} in StatefulSet {} failed: {source}",
        set.name_any()
    );
    runtime::record(
        &owner.recorder,
        set,
        EventType::Warning,
        "FailedCreate",
        note,
    )
    .await;
    Error::Create {
        set: set.name_any(),
        what,
        source,
    }
}

/// Deletes a pod; a condemned pod's claims go with it when the set's policy says so.
async fn delete(
    ctx: &Context,
    owner: &PodOwner,
    set: &StatefulSet,
    pod: &str,
    ordinal: i32,
    condemned: bool,
) -> Result<(), Error> {
    let ns = set.namespace().unwrap_or_default();
    let failed = |what: String| {
        move |source: kube::Error| Error::Delete {
            set: set.name_any(),
            what,
            source,
        }
    };
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    ignore_missing(pods.delete(pod, &DeleteParams::default()).await)
        .map_err(failed(format!("pod {pod}")))?;
    let note = format!(
        "delete Pod {pod} in StatefulSet {} successful",
        set.name_any()
    );
    runtime::record(
        &owner.recorder,
        set,
        EventType::Normal,
        "SuccessfulDelete",
        note,
    )
    .await;
    if condemned && identity::deletes_claims(set, "whenScaled") {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
        for claim in identity::claims(set, ordinal) {
            let claim = claim.name_any();
            ignore_missing(claims.delete(&claim, &DeleteParams::default()).await)
                .map_err(failed(format!("claim {claim}")))?;
        }
    }
    Ok(())
}

fn ignore_missing<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn write_status(
    ctx: &Context,
    set: &StatefulSet,
    patch: &serde_json::Value,
) -> Result<(), Error> {
    Api::<StatefulSet>::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default())
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
