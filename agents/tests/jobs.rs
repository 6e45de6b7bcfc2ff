//! The Job and CronJob controllers against the in-process apiserver, with the member scheduler
//! and simulated kubelets running the pods: completions within parallelism, Indexed Jobs,
//! the backoff limit, TTL after finishing, and CronJob history and suspend.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use karmada_agents::member::controllers::{cronjob, job};
use karmada_agents::member::kubelet::{self, EXIT_CODE_ANNOTATION};
use karmada_agents::member::runtime::{Context, controller_reference, pod_active};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio::task::JoinSet;

/// An apiserver with the Job controller, the scheduler and two simulated nodes whose Job pods
/// run for 300 ms.
struct Member {
    api: support::Apiserver,
    tasks: JoinSet<()>,
}

async fn member() -> anyhow::Result<Member> {
    let api = support::apiserver().await?;
    let ctx = |name: &str| Context::new(api.client.clone(), name, api.cancel.clone());
    let config = kubelet::Config {
        nodes: 2,
        ready_delay: Duration::from_millis(100),
        job_duration: Duration::from_millis(300),
        ..kubelet::Config::default()
    };
    let mut tasks = JoinSet::new();
    tasks.spawn(job::run(ctx("job-controller")));
    support::spawn_nodes(&mut tasks, &api.client, &api.cancel, config);
    Ok(Member { api, tasks })
}

impl Member {
    async fn stop(mut self) {
        self.api.cancel.cancel();
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        self.api.running.shutdown().await;
    }
}

fn job_doc(name: &str, spec: Value, annotations: Value) -> anyhow::Result<Job> {
    let mut doc = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox"}]},
        }},
    });
    doc["spec"]["template"]["metadata"]["annotations"] = annotations;
    if let (Some(base), Value::Object(more)) = (doc["spec"].as_object_mut(), spec) {
        base.extend(more);
    }
    Ok(serde_json::from_value(doc)?)
}

fn condition(job: &Job, type_: &str) -> Option<(String, String)> {
    job.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
}

/// Waits until the Job has a True condition of `type_`, as `kubectl wait --for=condition=...`.
async fn wait_for(jobs: &Api<Job>, name: &str, type_: &str) -> anyhow::Result<Job> {
    support::eventually(&format!("job {name} {type_}"), || async {
        let j = jobs.get(name).await?;
        Ok(match condition(&j, type_) {
            Some((status, _)) if status == "True" => Ok(j),
            _ => Err(format!("{:?}", j.status)),
        })
    })
    .await
}

/// Counts the most active pods with `label` ever seen at once.
async fn active_high_water(client: Client, label: String, max: Arc<AtomicUsize>) {
    let api: Api<Pod> = Api::default_namespaced(client);
    let (store, writer) = reflector::store();
    let events = watcher(api, watcher::Config::default().labels(&label))
        .default_backoff()
        .reflect(writer);
    futures::pin_mut!(events);
    while events.next().await.is_some() {
        let active = store.state().iter().filter(|p| pod_active(p)).count();
        max.fetch_max(active, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn completions_run_within_parallelism_and_finished_jobs_expire() -> anyhow::Result<()> {
    let mut m = member().await?;
    let client = m.api.client.clone();
    let peak = Arc::new(AtomicUsize::new(0));
    m.tasks.spawn(active_high_water(
        client.clone(),
        "app=pi".into(),
        peak.clone(),
    ));
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let spec = json!({"completions": 3, "parallelism": 2});
    jobs.create(&PostParams::default(), &job_doc("pi", spec, json!({}))?)
        .await?;

    let done = wait_for(&jobs, "pi", "Complete").await?;
    let status = done.status.clone().context("status")?;
    assert_eq!(
        (status.succeeded, status.active, status.failed),
        (Some(3), Some(0), Some(0))
    );
    assert!(status.start_time.is_some() && status.completion_time.is_some());
    assert_eq!(
        condition(&done, "Complete").map(|c| c.1).as_deref(),
        Some("CompletionsReached")
    );
    assert!(condition(&done, "SuccessCriteriaMet").is_some());
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= 2, "{peak} pods active at once; parallelism is 2");

    // The generated selector, and the labels that tie the pods to the Job.
    let uid = done.uid().context("uid")?;
    let selector = done.spec.as_ref().and_then(|s| s.selector.clone());
    let match_labels = selector.and_then(|s| s.match_labels).unwrap_or_default();
    assert_eq!(
        match_labels.get("batch.kubernetes.io/controller-uid"),
        Some(&uid)
    );
    let owned = pods
        .list(&ListParams::default().labels("batch.kubernetes.io/job-name=pi"))
        .await?
        .items;
    assert_eq!(owned.len(), 3, "exactly one pod per completion");
    for pod in &owned {
        assert!(pod.name_any().starts_with("pi-"), "{}", pod.name_any());
        assert_eq!(pod.labels().get("controller-uid"), Some(&uid));
        assert_eq!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded")
        );
    }

    // A finished Job with a TTL is deleted once it runs out.
    let ttl = json!({"completions": 1, "ttlSecondsAfterFinished": 1});
    jobs.create(&PostParams::default(), &job_doc("short", ttl, json!({}))?)
        .await?;
    wait_for(&jobs, "short", "Complete").await?;
    support::eventually("job short deleted after its TTL", || async {
        Ok(match jobs.get_opt("short").await? {
            None => Ok(()),
            Some(j) => Err(format!("still there: {:?}", j.status)),
        })
    })
    .await?;

    m.stop().await;
    Ok(())
}

#[tokio::test]
async fn indexed_jobs_complete_every_index_once() -> anyhow::Result<()> {
    let m = member().await?;
    let client = m.api.client.clone();
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let spec = json!({"completions": 4, "parallelism": 2, "completionMode": "Indexed"});
    jobs.create(&PostParams::default(), &job_doc("idx", spec, json!({}))?)
        .await?;
    let done = wait_for(&jobs, "idx", "Complete").await?;
    let status = done.status.context("status")?;
    assert_eq!(status.completed_indexes.as_deref(), Some("0-3"));
    assert_eq!(status.succeeded, Some(4));

    let mut indexes: Vec<String> = pods
        .list(&ListParams::default().labels("app=idx"))
        .await?
        .items
        .iter()
        .map(|p| {
            let index = p
                .annotations()
                .get("batch.kubernetes.io/job-completion-index")
                .cloned()
                .unwrap_or_default();
            assert!(p.name_any().starts_with(&format!("idx-{index}-")));
            index
        })
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2", "3"]);
    m.stop().await;
    Ok(())
}

#[tokio::test]
async fn failing_pods_exhaust_the_backoff_limit() -> anyhow::Result<()> {
    let m = member().await?;
    let client = m.api.client.clone();
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let spec = json!({"completions": 2, "parallelism": 1, "backoffLimit": 1});
    let failing = json!({EXIT_CODE_ANNOTATION: "1"});
    jobs.create(&PostParams::default(), &job_doc("fail", spec, failing)?)
        .await?;
    let failed = wait_for(&jobs, "fail", "Failed").await?;
    assert_eq!(
        condition(&failed, "Failed").map(|c| c.1).as_deref(),
        Some("BackoffLimitExceeded")
    );
    assert_eq!(
        condition(&failed, "FailureTarget").map(|c| c.1).as_deref(),
        Some("BackoffLimitExceeded")
    );
    let status = failed.status.context("status")?;
    assert_eq!((status.failed, status.active), (Some(2), Some(0)));
    assert_eq!(status.completion_time, None);
    let mut all = pods
        .list(&ListParams::default().labels("app=fail"))
        .await?
        .items;
    assert_eq!(all.iter().filter(|p| pod_active(p)).count(), 0);
    // The replacement waited out the 10 s back-off after the first failure.
    all.sort_by_key(|p| p.metadata.creation_timestamp.clone().map(|t| t.0));
    let created = |p: &Pod| p.metadata.creation_timestamp.clone().map(|t| t.0);
    let (first, second) = (created(&all[0]), created(&all[1]));
    let gap = second.zip(first).map(|(b, a)| (b - a).get_seconds());
    assert!(gap.is_some_and(|g| g >= 10), "replacement after {gap:?} s");
    m.stop().await;
    Ok(())
}

#[tokio::test]
async fn suspended_jobs_run_nothing_until_resumed() -> anyhow::Result<()> {
    let m = member().await?;
    let client = m.api.client.clone();
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let spec = json!({"completions": 2, "parallelism": 2, "suspend": true});
    jobs.create(&PostParams::default(), &job_doc("later", spec, json!({}))?)
        .await?;
    let suspended = wait_for(&jobs, "later", "Suspended").await?;
    let status = suspended.status.context("status")?;
    assert_eq!((status.active, status.start_time), (Some(0), None));
    let created = pods
        .list(&ListParams::default().labels("app=later"))
        .await?;
    assert!(created.items.is_empty(), "a suspended job started pods");

    let resume = json!({"spec": {"suspend": false}});
    jobs.patch("later", &PatchParams::default(), &Patch::Merge(&resume))
        .await?;
    let done = wait_for(&jobs, "later", "Complete").await?;
    assert_eq!(
        condition(&done, "Suspended").map(|c| c.1).as_deref(),
        Some("JobResumed")
    );
    assert_eq!(done.status.and_then(|s| s.succeeded), Some(2));

    // `kubectl describe job` shows what happened.
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::default_namespaced(client);
    let reasons: Vec<String> = events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("later"))
        .filter_map(|e| e.reason)
        .collect();
    for reason in ["Suspended", "Resumed", "SuccessfulCreate", "Completed"] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "{reason} missing from {reasons:?}"
        );
    }
    m.stop().await;
    Ok(())
}

fn cron_doc(name: &str, suspend: bool) -> anyhow::Result<CronJob> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "schedule": "* * * * *",
            "suspend": suspend,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure",
                "containers": [{"name": "tick", "image": "busybox"}],
            }}}},
        },
    }))?)
}

/// Pretends the CronJob last ran three minutes ago, so a start is due right away.
async fn backdate(api: &Api<CronJob>, name: &str) -> anyhow::Result<()> {
    let minutes = jiff::Timestamp::now().as_second().div_euclid(60) - 3;
    let then = jiff::Timestamp::from_second(minutes * 60)?.to_string();
    let patch = json!({"status": {"lastScheduleTime": then}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Creates a Job by hand as if `owner` had started it, finished with `condition`.
async fn finished_job(
    jobs: &Api<Job>,
    owner: &CronJob,
    name: &str,
    started: i64,
    condition: &str,
) -> anyhow::Result<()> {
    let mut doc = job_doc(name, json!({"suspend": true}), json!({}))?;
    doc.metadata.owner_references = Some(vec![controller_reference(owner)]);
    jobs.create(&PostParams::default(), &doc).await?;
    let at = jiff::Timestamp::from_second(1_700_000_000 + started)?.to_string();
    let status = json!({"status": {"startTime": at, "conditions": [
        {"type": condition, "status": "True", "lastTransitionTime": at}]}});
    jobs.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

async fn job_names(jobs: &Api<Job>, owner_uid: &str) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = jobs
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|j| j.owner_references().iter().any(|r| r.uid == owner_uid))
        .filter(|j| j.metadata.deletion_timestamp.is_none())
        .map(|j| j.name_any())
        .collect();
    names.sort();
    Ok(names)
}

#[tokio::test]
async fn cronjobs_start_due_jobs_prune_history_and_respect_suspend() -> anyhow::Result<()> {
    let support::Apiserver {
        running,
        client,
        cancel,
    } = support::apiserver().await?;
    let ctx = Context::new(client.clone(), "cronjob-controller", cancel.clone());
    let controller = tokio::spawn(cronjob::run(ctx));
    let cron_jobs: Api<CronJob> = Api::default_namespaced(client.clone());
    let jobs: Api<Job> = Api::default_namespaced(client.clone());

    // A suspended CronJob with more finished Jobs than its history keeps.
    let paused = cron_jobs
        .create(&PostParams::default(), &cron_doc("paused", true)?)
        .await?;
    for (name, started, condition) in [
        ("paused-ok-1", 1, "Complete"),
        ("paused-ok-2", 2, "Complete"),
        ("paused-ok-3", 3, "Complete"),
        ("paused-bad-1", 4, "Failed"),
        ("paused-bad-2", 5, "Failed"),
    ] {
        finished_job(&jobs, &paused, name, started, condition).await?;
    }
    backdate(&cron_jobs, "paused").await?;
    let paused_uid = paused.uid().context("uid")?;
    support::eventually("history trimmed to 1 + 1", || async {
        let names = job_names(&jobs, &paused_uid).await?;
        Ok(if names == ["paused-bad-2", "paused-ok-3"] {
            Ok(())
        } else {
            Err(format!("{names:?}"))
        })
    })
    .await?;

    // A CronJob whose start is due runs now, named after the scheduled minute.
    let tick = cron_jobs
        .create(&PostParams::default(), &cron_doc("tick", false)?)
        .await?;
    backdate(&cron_jobs, "tick").await?;
    let tick_uid = tick.uid().context("uid")?;
    let started = support::eventually("a job started by tick", || async {
        let names = job_names(&jobs, &tick_uid).await?;
        Ok(match names.as_slice() {
            [one] => Ok(one.clone()),
            other => Err(format!("{other:?}")),
        })
    })
    .await?;
    let job = jobs.get(&started).await?;
    let stamp = job
        .annotations()
        .get("batch.kubernetes.io/cronjob-scheduled-timestamp")
        .context("scheduled timestamp annotation")?;
    let scheduled: jiff::Timestamp = stamp.parse()?;
    assert_eq!(started, format!("tick-{}", scheduled.as_second() / 60));
    let status = support::eventually("tick's status", || async {
        let cj = cron_jobs.get("tick").await?;
        let s = cj.status.unwrap_or_default();
        let active: Vec<String> = s
            .active
            .iter()
            .flatten()
            .filter_map(|r| r.name.clone())
            .collect();
        Ok(if active == [started.clone()] {
            Ok(s)
        } else {
            Err(format!("{s:?}"))
        })
    })
    .await?;
    assert_eq!(status.last_schedule_time.map(|t| t.0), Some(scheduled));

    // The suspended one, though just as overdue, started nothing.
    assert_eq!(
        job_names(&jobs, &paused_uid).await?,
        ["paused-bad-2", "paused-ok-3"]
    );
    let paused_status = cron_jobs.get("paused").await?.status.unwrap_or_default();
    assert_eq!(paused_status.active, None);

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), controller).await??;
    running.shutdown().await;
    Ok(())
}
