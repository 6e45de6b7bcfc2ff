//! The Job controller: runs a Job's pods to the requested number of completions (NonIndexed or
//! Indexed) within its parallelism, fails it past its backoff limit or active deadline, honours
//! suspend, reports counts and conditions, and deletes finished Jobs whose TTL ran out.

pub mod indexes;
pub mod plan;
pub mod template;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use crate::member::pod_owner::{self, PodOwner};
use crate::member::runtime::{self, Context, controlled_by};

/// Pod creates and deletes in flight at once for one Job.
const CONCURRENCY: usize = 16;
/// A Job whose last writes have not reached the pod cache is looked at again this soon.
const UNSETTLED_RECHECK: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("generating the selector of job {job}")]
    DefaultSelector {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("creating pods for job {job}")]
    CreatePod {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting pod {pod} of job {job}")]
    DeletePod {
        job: String,
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing status of job {job}")]
    WriteStatus {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting job {job} after its ttlSecondsAfterFinished")]
    Expire {
        job: String,
        #[source]
        source: kube::Error,
    },
}

/// Runs the Job controller until `ctx.cancel` fires.
pub async fn run(ctx: Arc<Context>) {
    pod_owner::run(
        ctx,
        |c| c,
        |job: Arc<Job>, ctx, owner| async move { reconcile(&job, &ctx, &owner).await },
    )
    .await;
}

async fn reconcile(job: &Job, ctx: &Context, owner: &PodOwner) -> Result<Action, Error> {
    let name = job.name_any();
    let ns = job.namespace().unwrap_or_default();
    let uid = job.uid().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    if job.metadata.deletion_timestamp.is_some() {
        owner.expectations.forget(&uid);
        return Ok(Action::await_change());
    }
    if let Some(patch) = template::selector_patch(job) {
        // The changed Job comes back through the watch and is reconciled then.
        jobs.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| Error::DefaultSelector {
                job: name.clone(),
                source,
            })?;
        return Ok(Action::await_change());
    }
    if plan::ttl_left(job, Timestamp::now()) == Some(Duration::ZERO) {
        return expire(job, &jobs).await;
    }
    let Some(related) = owner.pods.owned_or_orphaned(ctx, &ns, &uid).await else {
        return Ok(Action::await_change());
    };
    let owned: Vec<&Pod> = related
        .iter()
        .map(AsRef::as_ref)
        .filter(|p: &&Pod| controlled_by(*p, &uid))
        .collect();
    let waiting = owner.expectations.waiting(&uid, owned.iter().copied());
    let decision = plan::decide(job, &owned, !waiting, Timestamp::now());

    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let (created, create_failure) = create_pods(job, &pods, owner, &decision.create).await;
    let (deleted, delete_failure) = delete_pods(job, &pods, owner, &decision.delete).await;
    owner.expectations.expect(&uid, created, deleted);
    // Collected first: a closure held across the await would not be Send.
    let notes: Vec<_> = decision
        .notes
        .iter()
        .map(|n| (n.warning, n.reason, n.message.to_owned()))
        .collect();
    runtime::record_notes(&owner.recorder, job, notes).await;
    if job.status.as_ref() != Some(&decision.status) {
        let patch = serde_json::json!({"status": decision.status});
        jobs.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| Error::WriteStatus {
                job: name.clone(),
                source,
            })?;
    }
    if let Some(e) = create_failure.or(delete_failure) {
        return Err(e);
    }
    let finished = Job {
        status: Some(decision.status),
        ..job.clone()
    };
    let next = [
        plan::ttl_left(&finished, Timestamp::now()),
        decision.recheck,
        waiting.then_some(UNSETTLED_RECHECK),
    ]
    .into_iter()
    .flatten()
    .min();
    // A deadline or TTL that is due now is looked at again at once, after the write settles.
    Ok(next.map_or_else(Action::await_change, |d| {
        Action::requeue(d.max(Duration::from_millis(100)))
    }))
}

/// Deletes a Job whose TTL after finishing ran out, with its pods collected in the background.
async fn expire(job: &Job, jobs: &Api<Job>) -> Result<Action, Error> {
    match jobs
        .delete(&job.name_any(), &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(Action::await_change()),
        Err(source) => Err(Error::Expire {
            job: job.name_any(),
            source,
        }),
    }
}

/// Creates one pod per entry (its completion index, for Indexed Jobs).
async fn create_pods(
    job: &Job,
    api: &Api<Pod>,
    owner: &PodOwner,
    indexes: &[Option<i32>],
) -> (HashSet<String>, Option<Error>) {
    // Pods are built up front so the in-flight requests borrow nothing but the client.
    let docs: Vec<Pod> = indexes.iter().map(|i| template::pod_for(job, *i)).collect();
    let results: Vec<Result<Pod, kube::Error>> = futures::stream::iter(docs)
        .map(|pod| {
            let api = api.clone();
            async move { api.create(&PostParams::default(), &pod).await }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut names = HashSet::new();
    let mut failure = None;
    for result in results {
        let (type_, reason, note) = match result {
            Ok(pod) => {
                let name = pod.name_any();
                let note = format!("Created pod: {name}");
                names.insert(name);
                (EventType::Normal, "SuccessfulCreate", note)
            }
            Err(source) => {
                let note = format!("Error creating: {source}");
                failure = Some(Error::CreatePod {
                    job: job.name_any(),
                    source,
                });
                (EventType::Warning, "FailedCreate", note)
            }
        };
        runtime::record(&owner.recorder, job, type_, reason, note).await;
    }
    (names, failure)
}

async fn delete_pods(
    job: &Job,
    api: &Api<Pod>,
    owner: &PodOwner,
    victims: &[String],
) -> (HashSet<String>, Option<Error>) {
    let results: Vec<(String, Result<(), kube::Error>)> = futures::stream::iter(victims.to_vec())
        .map(|name| {
            let api = api.clone();
            async move {
                let result = match api.delete(&name, &DeleteParams::background()).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
                    Err(e) => Err(e),
                };
                (name, result)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut names = HashSet::new();
    let mut failure = None;
    for (name, result) in results {
        if let Err(source) = result {
            failure = Some(Error::DeletePod {
                job: job.name_any(),
                pod: name,
                source,
            });
            continue;
        }
        let note = format!("Deleted pod: {name}");
        runtime::record(
            &owner.recorder,
            job,
            EventType::Normal,
            "SuccessfulDelete",
            note,
        )
        .await;
        names.insert(name);
    }
    (names, failure)
}
