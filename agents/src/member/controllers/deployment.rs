//! The Deployment controller: rolls a Deployment's pod template out through ReplicaSets (one per
//! template, named by its hash), honouring the strategy, and reports rollout status.

mod hash;
mod rollout;
mod status;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use karmada_runtime::events::Recorder;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use crate::member::runtime::{self, Context, controlled_by, controller_reference};
use hash::{POD_TEMPLATE_HASH, template_hash, templates_equal_ignoring_hash};
use rollout::{RecreateStep, RsView};
use status::{Observed, Progress, RsCounts};

const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// Deployment annotations that describe the Deployment itself and are not copied to its sets.
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("deployment {deployment} has an invalid selector: {reason}")]
    InvalidSelector { deployment: String, reason: String },
    #[error("deployment {deployment}: {source}")]
    InvalidStrategy {
        deployment: String,
        #[source]
        source: rollout::Error,
    },
    #[error("listing the ReplicaSets of deployment {deployment}")]
    ListReplicaSets {
        deployment: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing ReplicaSet {name}")]
    WriteReplicaSet {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing deployment {deployment}")]
    WriteDeployment {
        deployment: String,
        #[source]
        source: kube::Error,
    },
}

/// Runs the Deployment controller until `ctx.cancel` fires.
pub async fn run(ctx: Arc<Context>) {
    let client = ctx.client.clone();
    let controller = Controller::new(
        Api::<Deployment>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(
        Api::<ReplicaSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let recorder = Recorder::new(client, ctx.reporter.clone());
    let reconcile = move |d: Arc<Deployment>, ctx: Arc<Context>| {
        let recorder = recorder.clone();
        async move { reconcile(&d, &ctx, &recorder).await }
    };
    runtime::run(controller, ctx, reconcile, Duration::from_secs(2)).await;
}

/// One pass: find the sets, create or reuse the set for the current template, take one rollout
/// step, trim history, then report status. ReplicaSets are listed from the apiserver rather than
/// a cache so a step never acts on sizes it has already changed.
async fn reconcile(d: &Deployment, ctx: &Context, recorder: &Recorder) -> Result<Action, Error> {
    if d.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = d.name_any();
    let ns = d.namespace().unwrap_or_default();
    let spec = d.spec.clone().unwrap_or_default();
    let invalid_selector = |reason: String| Error::InvalidSelector {
        deployment: name.clone(),
        reason,
    };
    let selector =
        Selector::try_from(spec.selector.clone()).map_err(|e| invalid_selector(e.to_string()))?;
    if selector.selects_all() {
        return Err(invalid_selector(
            "an empty selector would select every pod".into(),
        ));
    }
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
    let uid = d.uid().unwrap_or_default();
    let mut sets: Vec<ReplicaSet> = api
        .list(&ListParams::default().labels(&selector.to_string()))
        .await
        .map_err(|source| Error::ListReplicaSets {
            deployment: name.clone(),
            source,
        })?
        .items
        .into_iter()
        .filter(|rs| controlled_by(rs, &uid) && rs.metadata.deletion_timestamp.is_none())
        .collect();
    sets.sort_by(|a, b| {
        (
            a.metadata.creation_timestamp.as_ref().map(|t| t.0),
            a.name_any(),
        )
            .cmp(&(
                b.metadata.creation_timestamp.as_ref().map(|t| t.0),
                b.name_any(),
            ))
    });

    let replicas = spec.replicas.unwrap_or(1);
    let rolling = spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) != Some("Recreate");
    let (surge, unavailable) = if rolling {
        let ru = spec
            .strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref());
        rollout::fenceposts(
            ru.and_then(|r| r.max_surge.as_ref()),
            ru.and_then(|r| r.max_unavailable.as_ref()),
            replicas,
        )
        .map_err(|source| Error::InvalidStrategy {
            deployment: name.clone(),
            source,
        })?
    } else {
        (0, 0)
    };
    let previous = d.status.clone().unwrap_or_default();
    let paused = spec.paused == Some(true);
    let mut new_name = sets
        .iter()
        .find(|rs| {
            rs.spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| templates_equal_ignoring_hash(t, &spec.template))
        })
        .map(ResourceExt::name_any);
    let mut progress = None;
    let write = |name: &str| {
        let name = name.to_owned();
        move |source| Error::WriteReplicaSet { name, source }
    };

    if !paused {
        let max_old_revision = sets
            .iter()
            .filter(|rs| Some(rs.name_any()) != new_name)
            .map(revision)
            .max()
            .unwrap_or(0);
        if let Some(rs) = sets.iter_mut().find(|rs| Some(rs.name_any()) == new_name) {
            // A set made for this template earlier (a rollback) becomes the newest revision.
            if revision(rs) <= max_old_revision {
                rs.annotations_mut()
                    .insert(REVISION.into(), (max_old_revision + 1).to_string());
                let rs_name = rs.name_any();
                *rs = api
                    .replace(&rs_name, &PostParams::default(), rs)
                    .await
                    .map_err(write(&rs_name))?;
                progress = Some(Progress::Updated(rs_name));
            } else {
                progress = Some(Progress::Found(rs.name_any()));
            }
        } else {
            let olds_gone = sets.iter().all(|rs| desired(rs) == 0 && current(rs) == 0);
            if rolling || olds_gone {
                let hash = template_hash(&spec.template, previous.collision_count);
                let rs = new_replica_set(d, &hash, max_old_revision + 1);
                let rs_name = rs.name_any();
                match api.create(&PostParams::default(), &rs).await {
                    Ok(created) => {
                        progress = Some(Progress::Created(rs_name.clone()));
                        sets.push(created);
                        new_name = Some(rs_name);
                    }
                    Err(kube::Error::Api(e)) if e.code == 409 => {
                        // Either our own earlier create, or a hash collision with a foreign
                        // template: then a new collision count gives a new name next time.
                        let existing = api.get(&rs_name).await.map_err(write(&rs_name))?;
                        let same = existing
                            .spec
                            .as_ref()
                            .and_then(|s| s.template.as_ref())
                            .is_some_and(|t| templates_equal_ignoring_hash(t, &spec.template));
                        if !same || !controlled_by(&existing, &uid) {
                            let status = DeploymentStatus {
                                collision_count: Some(previous.collision_count.unwrap_or(0) + 1),
                                ..previous.clone()
                            };
                            write_status(ctx, d, &status).await?;
                        }
                        return Ok(Action::requeue(Duration::from_millis(200)));
                    }
                    Err(source) => return Err(write(&rs_name)(source)),
                }
            }
        }

        let view = |rs: &ReplicaSet| RsView {
            name: rs.name_any(),
            desired: desired(rs),
            current: current(rs),
            available: available(rs),
        };
        let new_view = sets
            .iter()
            .find(|rs| Some(rs.name_any()) == new_name)
            .map(view);
        let olds: Vec<RsView> = sets
            .iter()
            .filter(|rs| Some(rs.name_any()) != new_name)
            .map(view)
            .collect();
        let changes = if rolling {
            new_view
                .as_ref()
                .map(|new| rollout::rolling_step(replicas, surge, unavailable, new, &olds))
                .unwrap_or_default()
        } else {
            match rollout::recreate_step(replicas, new_view.as_ref(), &olds) {
                RecreateStep::ScaleDownOld(names) => names.into_iter().map(|n| (n, 0)).collect(),
                RecreateStep::ScaleNew(n) => new_view.iter().map(|v| (v.name.clone(), n)).collect(),
                RecreateStep::WaitForOldPods | RecreateStep::Done => Vec::new(),
            }
        };
        for (rs_name, target) in changes {
            let Some(rs) = sets.iter_mut().find(|rs| rs.name_any() == rs_name) else {
                continue;
            };
            let from = desired(rs);
            rs.spec.get_or_insert_with(Default::default).replicas = Some(target);
            let annotations = rs.annotations_mut();
            annotations.insert(DESIRED_REPLICAS.into(), replicas.to_string());
            annotations.insert(MAX_REPLICAS.into(), (replicas + surge).to_string());
            *rs = api
                .replace(&rs_name, &PostParams::default(), rs)
                .await
                .map_err(write(&rs_name))?;
            let direction = if target > from { "up" } else { "down" };
            let note = format!("Scaled {direction} replica set {rs_name} from {from} to {target}");
            runtime::record(recorder, d, EventType::Normal, "ScalingReplicaSet", note).await;
        }

        let limit = spec.revision_history_limit.unwrap_or(10);
        let history: Vec<(String, i64, i32, i32)> = sets
            .iter()
            .filter(|rs| Some(rs.name_any()) != new_name)
            .map(|rs| (rs.name_any(), revision(rs), desired(rs), current(rs)))
            .collect();
        for old in rollout::history_to_delete(&history, limit) {
            match api.delete(&old, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(source) => return Err(write(&old)(source)),
            }
            sets.retain(|rs| rs.name_any() != old);
        }

        if let Some(rs) = sets.iter().find(|rs| Some(rs.name_any()) == new_name) {
            let rev = revision(rs).to_string();
            if d.annotations().get(REVISION) != Some(&rev) {
                let patch = serde_json::json!({"metadata": {"annotations": {REVISION: rev}}});
                Api::<Deployment>::namespaced(ctx.client.clone(), &ns)
                    .patch_metadata(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(|source| Error::WriteDeployment {
                        deployment: name.clone(),
                        source,
                    })?;
            }
        }
    }

    let counts: Vec<RsCounts> = sets.iter().map(counts).collect();
    let observed = Observed {
        generation: d.metadata.generation.unwrap_or(0),
        replicas,
        max_unavailable: unavailable,
        paused,
        progress_deadline_seconds: spec.progress_deadline_seconds,
        previous: &previous,
        new_rs: new_name.as_deref(),
        all: &counts,
        progress,
        now: jiff::Timestamp::now(),
    };
    let next = status::status(&observed);
    if next != previous {
        write_status(ctx, d, &next).await?;
    }
    Ok(status::deadline_recheck(&observed, &next)
        .map_or_else(Action::await_change, Action::requeue))
}

/// The ReplicaSet for the Deployment's current template, sized 0: the rollout step sizes it.
fn new_replica_set(d: &Deployment, hash: &str, revision: i64) -> ReplicaSet {
    let spec = d.spec.clone().unwrap_or_default();
    let mut template = spec.template;
    let meta = template.metadata.get_or_insert_with(Default::default);
    meta.labels
        .get_or_insert_with(Default::default)
        .insert(POD_TEMPLATE_HASH.into(), hash.into());
    let labels = meta.labels.clone();
    let mut selector = spec.selector;
    selector
        .match_labels
        .get_or_insert_with(Default::default)
        .insert(POD_TEMPLATE_HASH.into(), hash.into());
    let mut annotations: BTreeMap<String, String> = d
        .annotations()
        .iter()
        .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    annotations.insert(REVISION.into(), revision.to_string());
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("{}-{hash}", d.name_any())),
            namespace: d.namespace(),
            labels,
            annotations: Some(annotations),
            owner_references: Some(vec![controller_reference(d)]),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(0),
            min_ready_seconds: spec.min_ready_seconds,
            selector,
            template: Some(template),
        }),
        status: None,
    }
}

async fn write_status(
    ctx: &Context,
    d: &Deployment,
    status: &DeploymentStatus,
) -> Result<(), Error> {
    let api: Api<Deployment> =
        Api::namespaced(ctx.client.clone(), &d.namespace().unwrap_or_default());
    let patch = serde_json::json!({"status": status});
    api.patch_status(
        &d.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map(drop)
    .map_err(|source| Error::WriteDeployment {
        deployment: d.name_any(),
        source,
    })
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.annotations()
        .get(REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn desired(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn current(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

fn available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

fn counts(rs: &ReplicaSet) -> RsCounts {
    RsCounts {
        name: rs.name_any(),
        desired: desired(rs),
        replicas: current(rs),
        ready: rs
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0),
        available: available(rs),
    }
}
