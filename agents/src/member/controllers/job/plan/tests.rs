//! Table tests of the Job decisions.

use super::*;
use serde_json::{Value, json};

fn job(spec: Value, status: Value) -> Job {
    let mut doc = json!({"metadata": {"name": "pi", "namespace": "default", "uid": "u1"}});
    doc["spec"] = spec;
    doc["status"] = status;
    serde_json::from_value(doc).expect("job")
}

fn pod(name: &str, phase: &str, index: Option<i32>) -> Pod {
    let mut meta = json!({"name": name});
    if let Some(i) = index {
        meta["annotations"] = json!({indexes::INDEX_KEY: i.to_string()});
    }
    let ready = phase == "Running";
    serde_json::from_value(json!({
        "metadata": meta,
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
    }))
    .expect("pod")
}

fn now() -> Timestamp {
    Timestamp::from_second(1_000_000).expect("time")
}

fn condition(d: &Decision, type_: &str) -> Option<(String, String)> {
    d.status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
}

#[test]
fn creates_within_parallelism_and_remaining_completions() {
    /// Why, spec, pods (name, phase), creates, deletes.
    type Case = (
        &'static str,
        Value,
        Vec<(&'static str, &'static str)>,
        usize,
        usize,
    );
    let cases: Vec<Case> = vec![
        (
            "fresh job",
            json!({"completions": 3, "parallelism": 2}),
            vec![],
            2,
            0,
        ),
        (
            "one left, two running",
            json!({"completions": 2, "parallelism": 2}),
            vec![("a", "Succeeded"), ("b", "Running"), ("c", "Running")],
            0,
            1,
        ),
        (
            "one done, one running",
            json!({"completions": 3, "parallelism": 2}),
            vec![("a", "Succeeded"), ("b", "Running")],
            1,
            0,
        ),
        (
            "a failure is replaced",
            json!({"completions": 2, "parallelism": 2}),
            vec![("a", "Failed"), ("b", "Running")],
            1,
            0,
        ),
        (
            "parallelism lowered",
            json!({"completions": 10, "parallelism": 1}),
            vec![("a", "Running"), ("b", "Pending")],
            0,
            1,
        ),
        (
            "work queue stops starting pods after a success",
            json!({"parallelism": 3}),
            vec![("a", "Succeeded"), ("b", "Running")],
            0,
            0,
        ),
        (
            "work queue starts parallelism",
            json!({"parallelism": 3}),
            vec![],
            3,
            0,
        ),
        (
            "suspended deletes everything",
            json!({"completions": 3, "parallelism": 2, "suspend": true}),
            vec![("a", "Running"), ("b", "Running")],
            0,
            2,
        ),
    ];
    for (why, spec, pods, creates, deletes) in cases {
        let pods: Vec<Pod> = pods.iter().map(|(n, p)| pod(n, p, None)).collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        let d = decide(&job(spec, json!({})), &refs, true, now());
        assert_eq!(
            (d.create.len(), d.delete.len()),
            (creates, deletes),
            "{why}"
        );
        assert!(d.create.iter().all(Option::is_none), "{why}");
    }
}

#[test]
fn nothing_is_resized_while_writes_are_outstanding() {
    let d = decide(
        &job(json!({"completions": 3}), json!({})),
        &[],
        false,
        now(),
    );
    assert!(d.create.is_empty() && d.delete.is_empty());
    assert!(d.status.start_time.is_some());
}

#[test]
fn the_deleted_pod_is_the_cheapest() {
    let mut running = pod("old", "Running", None);
    running.spec = Some(k8s_openapi::api::core::v1::PodSpec {
        node_name: Some("n1".into()),
        ..Default::default()
    });
    let pending = pod("new", "Pending", None);
    let d = decide(
        &job(json!({"completions": 5, "parallelism": 1}), json!({})),
        &[&running, &pending],
        true,
        now(),
    );
    assert_eq!(d.delete, ["new"]);
}

#[test]
fn indexed_jobs_fill_the_lowest_missing_indexes() {
    let spec = json!({"completions": 5, "parallelism": 3, "completionMode": "Indexed"});
    let pods = [
        pod("p0", "Succeeded", Some(0)),
        pod("p1", "Running", Some(1)),
        pod("p1b", "Pending", Some(1)),
        pod("p9", "Running", Some(9)),
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    let d = decide(
        &job(spec, json!({"completedIndexes": "3"})),
        &refs,
        true,
        now(),
    );
    assert_eq!(d.create, [Some(2), Some(4)]);
    let mut deleted = d.delete.clone();
    deleted.sort();
    assert_eq!(deleted, ["p1b", "p9"]);
    assert_eq!(d.status.completed_indexes.as_deref(), Some("0,3"));
    assert_eq!(d.status.succeeded, Some(2));
}

#[test]
fn completion_sets_success_criteria_then_complete() {
    let spec = json!({"completions": 2, "parallelism": 2});
    let done = [pod("a", "Succeeded", None), pod("b", "Succeeded", None)];
    let d = decide(
        &job(spec.clone(), json!({})),
        &[&done[0], &done[1]],
        true,
        now(),
    );
    assert_eq!(
        condition(&d, "Complete"),
        Some(("True".into(), "CompletionsReached".into()))
    );
    assert_eq!(
        condition(&d, "SuccessCriteriaMet").map(|c| c.0),
        Some("True".into())
    );
    assert_eq!(d.status.completion_time, Some(Time(now())));
    assert_eq!((d.status.succeeded, d.status.active), (Some(2), Some(0)));
    assert_eq!(d.notes[0].reason, "Completed");

    // Still terminating pods hold the Complete condition back.
    let mut going = pod("c", "Running", None);
    going.metadata.deletion_timestamp = Some(Time(now()));
    let d = decide(
        &job(spec, json!({})),
        &[&done[0], &done[1], &going],
        true,
        now(),
    );
    assert_eq!(condition(&d, "Complete"), None);
    assert_eq!(
        condition(&d, "SuccessCriteriaMet").map(|c| c.0),
        Some("True".into())
    );
    assert_eq!(d.status.completion_time, None);
}

#[test]
fn failures_past_the_backoff_limit_fail_the_job() {
    let spec = json!({"completions": 3, "parallelism": 2, "backoffLimit": 1});
    let pods = [
        pod("a", "Failed", None),
        pod("b", "Failed", None),
        pod("c", "Running", None),
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    let d = decide(&job(spec.clone(), json!({})), &refs, true, now());
    let target = Some(("True".into(), "BackoffLimitExceeded".into()));
    assert_eq!(condition(&d, "FailureTarget"), target);
    assert_eq!(condition(&d, "Failed"), None, "pod c must terminate first");
    assert_eq!(
        (d.delete.clone(), d.create.len()),
        (vec!["c".to_owned()], 0)
    );
    assert!(d.notes[0].warning);

    // Once the pods are gone, Failed follows with the FailureTarget's reason.
    let status = serde_json::to_value(&d.status).expect("status");
    let d = decide(&job(spec, status), &refs[..2], true, now());
    assert_eq!(condition(&d, "Failed"), target);
    assert_eq!(d.status.failed, Some(2));
    assert!(d.notes.is_empty());
    assert_eq!(d.status.completion_time, None);
}

fn ended(name: &str, phase: &str, at: i64) -> Pod {
    let finished = Timestamp::from_second(at).expect("time").to_string();
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "status": {"phase": phase, "containerStatuses": [{"name": "c", "image": "i", "imageID": "",
            "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "finishedAt": finished}}}]},
    }))
    .expect("pod")
}

#[test]
fn failed_pods_are_replaced_after_a_growing_back_off() {
    let t0 = 1_000_000;
    // (why, pods, back-off left in seconds)
    let cases = [
        ("no failures", vec![ended("a", "Succeeded", t0 - 1)], None),
        (
            "one failure 4 s ago",
            vec![ended("a", "Failed", t0 - 4)],
            Some(6),
        ),
        (
            "one failure 10 s ago",
            vec![ended("a", "Failed", t0 - 10)],
            None,
        ),
        (
            "two failures: 20 s",
            vec![ended("a", "Failed", t0 - 30), ended("b", "Failed", t0 - 5)],
            Some(15),
        ),
        (
            "a success resets the count",
            vec![
                ended("a", "Failed", t0 - 30),
                ended("s", "Succeeded", t0 - 20),
                ended("b", "Failed", t0 - 5),
            ],
            Some(5),
        ),
    ];
    for (why, pods, left) in cases {
        let refs: Vec<&Pod> = pods.iter().collect();
        assert_eq!(
            backoff_left(&refs, now()),
            left.map(Duration::from_secs),
            "{why}"
        );
    }
    // While backing off, nothing is created and the pass is repeated when it ends.
    let failed = ended("a", "Failed", t0 - 4);
    let d = decide(
        &job(json!({"completions": 1}), json!({})),
        &[&failed],
        true,
        now(),
    );
    assert!(d.create.is_empty());
    assert_eq!(d.recheck, Some(Duration::from_secs(6)));
}

#[test]
fn restarts_count_as_failures_under_on_failure() {
    let mut crashing = pod("a", "Running", None);
    crashing.status.as_mut().expect("status").container_statuses = Some(vec![
        serde_json::from_value(
            json!({"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 3}),
        )
        .expect("container status"),
    ]);
    let on_failure = json!({"completions": 1, "backoffLimit": 2,
        "template": {"spec": {"restartPolicy": "OnFailure", "containers": []}}});
    let d = decide(&job(on_failure, json!({})), &[&crashing], true, now());
    assert_eq!(
        condition(&d, "FailureTarget").map(|c| c.1).as_deref(),
        Some("BackoffLimitExceeded")
    );
    let never = json!({"completions": 1, "backoffLimit": 2,
        "template": {"spec": {"restartPolicy": "Never", "containers": []}}});
    let d = decide(&job(never, json!({})), &[&crashing], true, now());
    assert_eq!(condition(&d, "FailureTarget"), None);
}

#[test]
fn the_active_deadline_fails_the_job_and_is_waited_for() {
    let spec = json!({"completions": 1, "activeDeadlineSeconds": 30});
    let started = |s: i64| json!({"startTime": Timestamp::from_second(1_000_000 - s).expect("t").to_string()});
    let d = decide(&job(spec.clone(), started(10)), &[], true, now());
    assert_eq!(d.recheck, Some(Duration::from_secs(20)));
    assert_eq!(condition(&d, "FailureTarget"), None);
    let d = decide(&job(spec, started(30)), &[], true, now());
    assert_eq!(
        condition(&d, "Failed"),
        Some(("True".into(), "DeadlineExceeded".into()))
    );
}

#[test]
fn suspend_and_resume() {
    let spec = json!({"completions": 1, "suspend": true});
    let d = decide(&job(spec, json!({})), &[], true, now());
    assert_eq!(
        condition(&d, "Suspended"),
        Some(("True".into(), "JobSuspended".into()))
    );
    assert_eq!(d.status.start_time, None);
    let status = serde_json::to_value(&d.status).expect("status");
    let d = decide(&job(json!({"completions": 1}), status), &[], true, now());
    assert_eq!(
        condition(&d, "Suspended"),
        Some(("False".into(), "JobResumed".into()))
    );
    assert_eq!(d.create, [None]);
    assert_eq!(d.status.start_time, Some(Time(now())));
}

#[test]
fn finished_jobs_only_lose_stragglers_and_expire_after_their_ttl() {
    let finished = json!({"completionTime": "1970-01-12T13:46:30Z",
        "conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1});
    let straggler = pod("s", "Running", None);
    let j = job(
        json!({"completions": 1, "ttlSecondsAfterFinished": 60}),
        finished,
    );
    let d = decide(&j, &[&straggler], true, now());
    assert_eq!((d.delete, d.create.len()), (vec!["s".to_owned()], 0));
    assert_eq!(d.status.succeeded, Some(1));
    // completionTime is 10 s before `now`.
    assert_eq!(ttl_left(&j, now()), Some(Duration::from_secs(50)));
    let later = now() + Duration::from_secs(120);
    assert_eq!(ttl_left(&j, later), Some(Duration::ZERO));
    assert_eq!(ttl_left(&job(json!({}), json!({})), now()), None);
}
