//! The CronJob controller: starts Jobs from a CronJob's template at its scheduled times (in its
//! time zone, honouring suspend, startingDeadlineSeconds and the concurrency policy), keeps
//! its finished-Job history within limits, and reports active Jobs and the last run times.
//! It sleeps until the next scheduled time rather than polling.

pub mod plan;
pub mod schedule;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use karmada_runtime::events::Recorder;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use self::schedule::Schedule;
use crate::member::runtime::{self, Context, controlled_by};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("creating job {job} for cronjob {cron_job}")]
    CreateJob {
        cron_job: String,
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting job {job} of cronjob {cron_job}")]
    DeleteJob {
        cron_job: String,
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing status of cronjob {cron_job}")]
    WriteStatus {
        cron_job: String,
        #[source]
        source: kube::Error,
    },
}

struct Shared {
    jobs: Store<Job>,
    recorder: Recorder,
}

/// Runs the CronJob controller until `ctx.cancel` fires.
pub async fn run(ctx: Arc<Context>) {
    let client = ctx.client.clone();
    let (jobs, cache) = runtime::cache::<Job>(&ctx);
    let controller = Controller::new(
        Api::<CronJob>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(Api::<Job>::all(client.clone()), watcher::Config::default())
    .with_config(controller::Config::default().debounce(Duration::from_millis(50)));
    let shared = Arc::new(Shared {
        jobs,
        recorder: Recorder::new(client, ctx.reporter.clone()),
    });
    let reconcile = move |cj: Arc<CronJob>, ctx: Arc<Context>| {
        let shared = shared.clone();
        async move { reconcile(&cj, &ctx, &shared).await }
    };
    tokio::join!(
        cache,
        runtime::run(controller, ctx, reconcile, Duration::from_secs(5))
    );
}

async fn reconcile(cj: &CronJob, ctx: &Context, shared: &Shared) -> Result<Action, Error> {
    if cj.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = cj.name_any();
    let ns = cj.namespace().unwrap_or_default();
    let uid = cj.uid().unwrap_or_default();
    let spec = cj.spec.clone().unwrap_or_default();
    let warn = |reason: &'static str, note: String| {
        runtime::record(&shared.recorder, cj, EventType::Warning, reason, note)
    };
    let tz = match spec.time_zone.as_deref() {
        None => TimeZone::system(),
        Some(zone) => match TimeZone::get(zone) {
            Ok(tz) => tz,
            Err(e) => {
                warn(
                    "UnknownTimeZone",
                    format!("invalid timeZone: {zone:?}: {e}"),
                )
                .await;
                return Ok(Action::await_change());
            }
        },
    };
    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            warn("UnparseableSchedule", e.to_string()).await;
            return Ok(Action::await_change());
        }
    };
    let Some(all) = runtime::snapshot(ctx, &shared.jobs).await else {
        return Ok(Action::await_change());
    };
    let children: Vec<&Job> = all
        .iter()
        .map(AsRef::as_ref)
        .filter(|j: &&Job| j.namespace().as_deref() == Some(ns.as_str()) && controlled_by(*j, &uid))
        .collect();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let prev = cj.status.clone().unwrap_or_default();
    let was_active: HashSet<String> = prev
        .active
        .iter()
        .flatten()
        .filter_map(|r| r.uid.clone())
        .collect();

    // Finished Jobs: note the ones that were running, then trim the history.
    let (mut succeeded, mut failed, mut active) = (Vec::new(), Vec::new(), Vec::new());
    for &job in &children {
        match plan::outcome(job) {
            Some(ok) => {
                if was_active.contains(&job.uid().unwrap_or_default()) {
                    let condition = if ok { "Complete" } else { "Failed" };
                    let note = format!(
                        "Saw completed job: {}, condition: {condition}",
                        job.name_any()
                    );
                    runtime::record(
                        &shared.recorder,
                        cj,
                        EventType::Normal,
                        "SawCompletedJob",
                        note,
                    )
                    .await;
                }
                if job.metadata.deletion_timestamp.is_none() {
                    let history = if ok { &mut succeeded } else { &mut failed };
                    history.push(job);
                }
            }
            None if job.metadata.deletion_timestamp.is_none() => active.push(job),
            None => {}
        }
    }
    let mut doomed = plan::over_limit(succeeded, spec.successful_jobs_history_limit.unwrap_or(3));
    doomed.extend(plan::over_limit(
        failed,
        spec.failed_jobs_history_limit.unwrap_or(1),
    ));

    let names: BTreeSet<String> = children.iter().map(|j| j.name_any()).collect();
    let now = Timestamp::now();
    let decision = plan::decide(cj, &schedule, &tz, active.len(), &names, now);
    // Collected first: a closure held across the await would not be Send.
    let notes: Vec<_> = decision
        .notes
        .iter()
        .map(|n| (n.warning, n.reason, n.message.clone()))
        .collect();
    runtime::record_notes(&shared.recorder, cj, notes).await;
    if decision.replace_active {
        doomed.append(&mut active);
    }
    for job in doomed {
        delete_job(cj, &jobs, shared, job).await?;
    }

    let mut refs: Vec<ObjectReference> = prev
        .active
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| active.iter().any(|j| j.uid() == r.uid))
        .collect();
    for job in &active {
        if !refs.iter().any(|r| r.uid == job.uid()) {
            refs.push(job.object_ref(&()));
        }
    }
    let mut last_schedule = prev.last_schedule_time.clone();
    if let Some(scheduled) = decision.start {
        let job = plan::job_for(cj, scheduled, &tz);
        let job_name = job.name_any();
        match jobs.create(&PostParams::default(), &job).await {
            Ok(created) => {
                refs.push(created.object_ref(&()));
                let note = format!("Created job {job_name}");
                runtime::record(
                    &shared.recorder,
                    cj,
                    EventType::Normal,
                    "SuccessfulCreate",
                    note,
                )
                .await;
            }
            // Started by an earlier pass whose write the cache has not shown yet.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(source) => {
                let note = format!("Error creating job: {source}");
                warn("FailedCreate", note).await;
                return Err(Error::CreateJob {
                    cron_job: name,
                    job: job_name,
                    source,
                });
            }
        }
        last_schedule = Some(Time(scheduled));
    }
    let last_successful = prev
        .last_successful_time
        .clone()
        .map(|t| t.0)
        .into_iter()
        .chain(plan::last_successful(children.iter().copied()))
        .max()
        .map(Time);
    let refs = (!refs.is_empty()).then_some(refs);
    if refs != prev.active
        || last_schedule != prev.last_schedule_time
        || last_successful != prev.last_successful_time
    {
        let patch = json!({"status": {
            "active": refs,
            "lastScheduleTime": last_schedule,
            "lastSuccessfulTime": last_successful,
        }});
        Api::<CronJob>::namespaced(ctx.client.clone(), &ns)
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| Error::WriteStatus {
                cron_job: name.clone(),
                source,
            })?;
    }
    Ok(decision.requeue.map_or_else(Action::await_change, |d| {
        Action::requeue(d.max(Duration::from_millis(50)))
    }))
}

/// Deletes a Job the CronJob no longer keeps; its pods are collected in the background.
async fn delete_job(
    cj: &CronJob,
    jobs: &Api<Job>,
    shared: &Shared,
    job: &Job,
) -> Result<(), Error> {
    let name = job.name_any();
    match jobs.delete(&name, &DeleteParams::background()).await {
        Ok(_) => {
            let note = format!("Deleted job {name}");
            runtime::record(
                &shared.recorder,
                cj,
                EventType::Normal,
                "SuccessfulDelete",
                note,
            )
            .await;
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(source) => Err(Error::DeleteJob {
            cron_job: cj.name_any(),
            job: name,
            source,
        }),
    }
}
