//! What a simulated kubelet reports for a pod: the status document for each stage of its life
//! (starting, running and ready or not, completed), and the knobs tests turn through annotations.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::Ipv4Addr;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::ResourceExt;
use serde_json::{Value, json};

use super::node::time;

/// `"true"` keeps (or turns) the pod's Ready condition False, as a failing readiness probe would.
pub const UNREADY_ANNOTATION: &str = "karmada.io/simulate-unready";
/// A duration such as `"3s"` after which the pod's containers exit 0 and it turns Succeeded.
pub const DURATION_ANNOTATION: &str = "karmada.io/simulate-duration";
/// The exit code the containers end with after their run duration (default 0). A non-zero
/// code fails a pod whose restartPolicy is Never; under OnFailure or Always the container is
/// restarted and the pod crash-loops, as a real kubelet would have it.
pub const EXIT_CODE_ANNOTATION: &str = "karmada.io/simulate-exit-code";

/// Where a pod stands in its simulated life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Containers started; the ready delay has not passed yet.
    Starting,
    /// Containers running; Ready unless the unready annotation says otherwise.
    Running,
    /// Containers exited with this code and stay down: the pod is Succeeded or Failed.
    Exited(i32),
    /// Containers exited with this non-zero code and are being restarted, in back-off.
    CrashLooping(i32),
}

impl Stage {
    /// The stage a pod's containers reach when they finish running.
    pub fn on_exit(pod: &Pod) -> Stage {
        let code = exit_code(pod);
        let restarts = match pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) {
            Some("Never") => false,
            Some("OnFailure") => code != 0,
            _ => true,
        };
        if code != 0 && restarts {
            Stage::CrashLooping(code)
        } else {
            Stage::Exited(code)
        }
    }

    /// Whether the containers are gone for good.
    pub fn is_final(self) -> bool {
        matches!(self, Stage::Exited(_))
    }
}

/// The simulated exit code of the pod's containers.
fn exit_code(pod: &Pod) -> i32 {
    let Some(text) = pod.annotations().get(EXIT_CODE_ANNOTATION) else {
        return 0;
    };
    text.trim().parse().unwrap_or_else(|_| {
        tracing::warn!(pod = %pod.name_any(), value = %text, "ignoring unparsable {EXIT_CODE_ANNOTATION}");
        0
    })
}

/// What the kubelet knows about a pod it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    pub host_ip: Ipv4Addr,
    pub pod_ip: Ipv4Addr,
    pub started: Timestamp,
    pub stage: Stage,
    pub finished: Option<Timestamp>,
}

/// The few status facts whose difference calls for a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub phase: String,
    pub pod_ip: Option<String>,
    pub ready: bool,
    pub containers: usize,
    /// Containers are restarting after a failure.
    pub crashing: bool,
}

/// Whether the pod asks to be reported unready.
pub fn wants_unready(pod: &Pod) -> bool {
    pod.annotations()
        .get(UNREADY_ANNOTATION)
        .map(String::as_str)
        == Some("true")
}

/// How long the pod's containers run before exiting 0, if they ever do: the duration
/// annotation, else `job_duration` for pods a Job owns.
pub fn run_duration(pod: &Pod, job_duration: Duration) -> Option<Duration> {
    if let Some(text) = pod.annotations().get(DURATION_ANNOTATION) {
        if let Some(duration) = parse_duration(text) {
            return Some(duration);
        }
        tracing::warn!(pod = %pod.name_any(), value = %text, "ignoring unparsable {DURATION_ANNOTATION}");
    }
    pod.owner_references()
        .iter()
        .any(|r| r.kind == "Job")
        .then_some(job_duration)
}

/// Parses Go-style durations: `"3s"`, `"1.5s"`, `"500ms"`, `"2m"`, `"1h30m"`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit..];
    }
    Some(Duration::from_secs_f64(total))
}

/// Two stable 64-bit hashes of `seed`, for ids that must not change between reports.
pub fn hash_pair(seed: &str) -> (u64, u64) {
    let hash = |salt: u8| {
        let mut h = DefaultHasher::new();
        salt.hash(&mut h);
        seed.hash(&mut h);
        h.finish()
    };
    (hash(1), hash(2))
}

fn hex64(seed: &str) -> String {
    let (a, b) = hash_pair(seed);
    let (c, d) = hash_pair(&format!("{seed}#"));
    format!("{a:016x}{b:016x}{c:016x}{d:016x}")
}

/// What the pod's status says now.
pub fn observed(pod: &Pod) -> Summary {
    let status = pod.status.as_ref();
    Summary {
        phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
        pod_ip: status.and_then(|s| s.pod_ip.clone()),
        ready: crate::member::runtime::pod_ready(pod),
        containers: status
            .and_then(|s| s.container_statuses.as_ref())
            .map_or(0, Vec::len),
        crashing: status
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.restart_count > 0)),
    }
}

/// What the status should say.
pub fn desired(pod: &Pod, runtime: &Runtime) -> Summary {
    Summary {
        phase: phase(runtime.stage).into(),
        pod_ip: Some(runtime.pod_ip.to_string()),
        ready: ready(pod, runtime),
        containers: containers(pod).len(),
        crashing: matches!(runtime.stage, Stage::CrashLooping(_)),
    }
}

fn phase(stage: Stage) -> &'static str {
    match stage {
        Stage::Exited(0) => "Succeeded",
        Stage::Exited(_) => "Failed",
        _ => "Running",
    }
}

fn ready(pod: &Pod, runtime: &Runtime) -> bool {
    runtime.stage == Stage::Running && !wants_unready(pod)
}

fn containers(pod: &Pod) -> &[Container] {
    pod.spec.as_ref().map_or(&[], |s| s.containers.as_slice())
}

/// The existing condition's transition time when its status is unchanged, else `now`.
fn transition(pod: &Pod, type_: &str, status: &str, now: Timestamp) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_ && c.status == status))
        .and_then(|c| c.last_transition_time.as_ref())
        .map_or_else(|| time(now), |t| time(t.0))
}

/// The Kubernetes QoS class from the containers' requests and limits.
pub fn qos_class(pod: &Pod) -> &'static str {
    let all: Vec<&Container> = pod
        .spec
        .iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
        })
        .collect();
    let resources = |c: &Container| c.resources.clone().unwrap_or_default();
    let empty = all.iter().all(|c| {
        let r = resources(c);
        r.requests.is_none_or(|m| m.is_empty()) && r.limits.is_none_or(|m| m.is_empty())
    });
    if empty {
        return "BestEffort";
    }
    let guaranteed = all.iter().all(|c| {
        let r = resources(c);
        let limits = r.limits.unwrap_or_default();
        let requests = r.requests.unwrap_or_default();
        ["cpu", "memory"].iter().all(|k| {
            limits.contains_key(*k) && requests.get(*k).is_none_or(|q| Some(q) == limits.get(*k))
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// The status subresource merge patch for the pod at its current stage.
pub fn status_patch(pod: &Pod, runtime: &Runtime, now: Timestamp) -> Value {
    let uid = pod.uid().unwrap_or_default();
    let started = time(runtime.started);
    let done = runtime.stage.is_final();
    let code = match runtime.stage {
        Stage::Exited(code) | Stage::CrashLooping(code) => code,
        _ => 0,
    };
    let crashing = matches!(runtime.stage, Stage::CrashLooping(_));
    let is_ready = ready(pod, runtime);
    let finished = time(runtime.finished.unwrap_or(now));
    let container_status = |c: &Container, init: bool| {
        let image_repo = c.image.as_deref().unwrap_or_default();
        let repo = match image_repo.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => repo,
            _ => image_repo,
        };
        let container_id = format!("containerd://{}", hex64(&format!("{uid}/{}", c.name)));
        let terminated = |code: i32, finished_at: &str| {
            let reason = if code == 0 { "Completed" } else { "Error" };
            json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": finished_at, "containerID": container_id}})
        };
        let (state, last_state) = if init {
            (terminated(0, &started), json!({}))
        } else if crashing {
            let message = format!("back-off 10s restarting failed container={}", c.name);
            let waiting = json!({"waiting": {"reason": "CrashLoopBackOff", "message": message}});
            (waiting, terminated(code, &finished))
        } else if done {
            (terminated(code, &finished), json!({}))
        } else {
            (json!({"running": {"startedAt": started}}), json!({}))
        };
        json!({
            "name": c.name,
            "image": c.image,
            "imageID": format!("{repo}@sha256:{}", hex64(image_repo)),
            "containerID": container_id,
            "started": !done && !init && !crashing,
            "ready": if init { true } else { is_ready },
            "restartCount": i32::from(crashing && !init),
            "state": state,
            "lastState": last_state,
        })
    };
    let statuses: Vec<Value> = containers(pod)
        .iter()
        .map(|c| container_status(c, false))
        .collect();
    let init_statuses: Vec<Value> = pod
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .map(|c| container_status(c, true))
        .collect();
    let unready: Vec<&str> = containers(pod).iter().map(|c| c.name.as_str()).collect();
    let condition = |type_: &str, value: bool, reason: Option<&str>, message: Option<String>| {
        let status = if value { "True" } else { "False" };
        let mut c = json!({
            "type": type_,
            "status": status,
            "lastProbeTime": null,
            "lastTransitionTime": transition(pod, type_, status, now),
        });
        if let Some(reason) = reason {
            c["reason"] = reason.into();
        }
        if let Some(message) = message {
            c["message"] = message.into();
        }
        c
    };
    let (ready_reason, ready_message) = match (done, is_ready) {
        (true, _) if code == 0 => (Some("PodCompleted"), None),
        (true, _) => (Some("PodFailed"), None),
        (false, true) => (None, None),
        (false, false) => (
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        ),
    };
    let conditions = vec![
        condition("PodReadyToStartContainers", !done, None, None),
        condition(
            "Initialized",
            true,
            (done && code == 0).then_some("PodCompleted"),
            None,
        ),
        condition("Ready", is_ready, ready_reason, ready_message.clone()),
        condition("ContainersReady", is_ready, ready_reason, ready_message),
        condition("PodScheduled", true, None, None),
    ];
    let mut status = json!({
        "phase": phase(runtime.stage),
        "conditions": conditions,
        "hostIP": runtime.host_ip.to_string(),
        "hostIPs": [{"ip": runtime.host_ip.to_string()}],
        "podIP": runtime.pod_ip.to_string(),
        "podIPs": [{"ip": runtime.pod_ip.to_string()}],
        "startTime": started,
        "qosClass": qos_class(pod),
        "containerStatuses": statuses,
    });
    if !init_statuses.is_empty() {
        status["initContainerStatuses"] = init_statuses.into();
    }
    json!({ "status": status })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(value: Value) -> Pod {
        serde_json::from_value(value).expect("pod")
    }

    fn web(annotations: &Value) -> Pod {
        pod(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1", "annotations": annotations},
            "spec": {"nodeName": "n1", "containers": [
                {"name": "app", "image": "nginx:1.27", "resources": {"requests": {"cpu": "1"}}},
                {"name": "side", "image": "registry.local:5000/side"},
            ]},
        }))
    }

    fn runtime(stage: Stage) -> Runtime {
        Runtime {
            host_ip: "172.20.0.2".parse().unwrap(),
            pod_ip: "10.7.0.2".parse().unwrap(),
            started: "2026-01-01T00:00:00Z".parse().unwrap(),
            stage,
            finished: stage
                .is_final()
                .then(|| "2026-01-01T00:00:05Z".parse().unwrap()),
        }
    }

    fn with_status(p: &Pod, patch: &Value) -> Pod {
        let mut v = serde_json::to_value(p).unwrap();
        v["status"] = patch["status"].clone();
        pod(v)
    }

    #[test]
    fn durations() {
        let table = [
            ("3s", Some(3000)),
            ("1.5s", Some(1500)),
            ("500ms", Some(500)),
            ("2m", Some(120_000)),
            ("1h30m", Some(5_400_000)),
            ("", None),
            ("5", None),
            ("5 days", None),
        ];
        for (text, millis) in table {
            assert_eq!(
                parse_duration(text).map(|d| d.as_millis() as u64),
                millis,
                "{text:?}"
            );
        }
    }

    #[test]
    fn who_finishes_and_when() {
        let job = Duration::from_secs(5);
        let owned = pod(json!({"metadata": {"name": "j", "ownerReferences": [
            {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "j1", "controller": true}]}}));
        assert_eq!(run_duration(&owned, job), Some(job));
        assert_eq!(
            run_duration(&web(&json!({DURATION_ANNOTATION: "3s"})), job),
            Some(Duration::from_secs(3))
        );
        assert_eq!(run_duration(&web(&json!({})), job), None);
    }

    #[test]
    fn summaries_by_stage_and_annotation() {
        let table = [
            (Stage::Starting, json!({}), "Running", false),
            (Stage::Running, json!({}), "Running", true),
            (
                Stage::Running,
                json!({UNREADY_ANNOTATION: "true"}),
                "Running",
                false,
            ),
            (
                Stage::Running,
                json!({UNREADY_ANNOTATION: "false"}),
                "Running",
                true,
            ),
            (Stage::Exited(0), json!({}), "Succeeded", false),
            (Stage::Exited(2), json!({}), "Failed", false),
            (Stage::CrashLooping(1), json!({}), "Running", false),
        ];
        let now: Timestamp = "2026-01-01T00:00:07Z".parse().unwrap();
        for (stage, annotations, phase, ready) in table {
            let p = web(&annotations);
            let rt = runtime(stage);
            let want = desired(&p, &rt);
            assert_eq!(
                (want.phase.as_str(), want.ready),
                (phase, ready),
                "{stage:?}"
            );
            // Writing the patch makes the observed status match, so no second write follows.
            let written = with_status(&p, &status_patch(&p, &rt, now));
            assert_eq!(observed(&written), want, "{stage:?}");
            assert_ne!(observed(&p), want, "a fresh pod needs a write");
        }
    }

    #[test]
    fn exits_follow_the_restart_policy() {
        let table = [
            (None, None, Stage::Exited(0)),
            (Some("1"), Some("Never"), Stage::Exited(1)),
            (Some("1"), Some("OnFailure"), Stage::CrashLooping(1)),
            (Some("0"), Some("OnFailure"), Stage::Exited(0)),
            (Some("3"), None, Stage::CrashLooping(3)),
            (Some("x"), Some("Never"), Stage::Exited(0)),
        ];
        for (code, policy, stage) in table {
            let mut p = web(&json!({}));
            if let Some(code) = code {
                p.annotations_mut()
                    .insert(EXIT_CODE_ANNOTATION.into(), code.into());
            }
            p.spec.as_mut().unwrap().restart_policy = policy.map(Into::into);
            assert_eq!(Stage::on_exit(&p), stage, "{code:?} {policy:?}");
        }
    }

    #[test]
    fn failed_and_crash_looping_documents() {
        let now: Timestamp = "2026-01-01T00:00:09Z".parse().unwrap();
        let p = web(&json!({}));
        let failed = status_patch(&p, &runtime(Stage::Exited(2)), now);
        let c = &failed["status"]["containerStatuses"][0];
        assert_eq!(failed["status"]["phase"], "Failed");
        assert_eq!(c["state"]["terminated"]["exitCode"], 2);
        assert_eq!(c["state"]["terminated"]["reason"], "Error");
        let crashing = status_patch(&p, &runtime(Stage::CrashLooping(1)), now);
        let c = &crashing["status"]["containerStatuses"][0];
        assert_eq!(crashing["status"]["phase"], "Running");
        assert_eq!(c["state"]["waiting"]["reason"], "CrashLoopBackOff");
        assert_eq!(c["lastState"]["terminated"]["exitCode"], 1);
        assert_eq!(
            (c["restartCount"].as_i64(), c["ready"].as_bool()),
            (Some(1), Some(false))
        );
        let written = with_status(&p, &crashing);
        assert_eq!(
            observed(&written),
            desired(&p, &runtime(Stage::CrashLooping(1)))
        );
    }

    #[test]
    fn running_status_document() {
        let p = web(&json!({}));
        let now: Timestamp = "2026-01-01T00:00:01Z".parse().unwrap();
        let doc = status_patch(&p, &runtime(Stage::Running), now);
        let s = &doc["status"];
        assert_eq!(s["podIP"], "10.7.0.2");
        assert_eq!(s["hostIPs"][0]["ip"], "172.20.0.2");
        assert_eq!(s["startTime"], "2026-01-01T00:00:00Z");
        assert_eq!(s["qosClass"], "Burstable");
        let c = &s["containerStatuses"][0];
        assert_eq!(c["state"]["running"]["startedAt"], "2026-01-01T00:00:00Z");
        assert_eq!(
            (c["ready"].as_bool(), c["started"].as_bool()),
            (Some(true), Some(true))
        );
        assert!(
            c["containerID"]
                .as_str()
                .unwrap()
                .starts_with("containerd://")
        );
        assert_eq!(
            c["containerID"].as_str().unwrap().len(),
            "containerd://".len() + 64
        );
        assert!(c["imageID"].as_str().unwrap().starts_with("nginx@sha256:"));
        assert!(
            s["containerStatuses"][1]["imageID"]
                .as_str()
                .unwrap()
                .starts_with("registry.local:5000/side@sha256:")
        );
        let types: Vec<&str> = s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled"
            ]
        );
        assert!(
            s["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["status"] == "True")
        );
    }

    #[test]
    fn unready_and_completed_documents() {
        let now: Timestamp = "2026-01-01T00:00:09Z".parse().unwrap();
        let p = web(&json!({UNREADY_ANNOTATION: "true"}));
        let doc = status_patch(&p, &runtime(Stage::Running), now);
        let ready = &doc["status"]["conditions"][2];
        assert_eq!(
            (ready["status"].as_str(), ready["reason"].as_str()),
            (Some("False"), Some("ContainersNotReady"))
        );
        assert_eq!(
            ready["message"],
            "containers with unready status: [app side]"
        );
        assert_eq!(ready["lastTransitionTime"], "2026-01-01T00:00:09Z");

        let doc = status_patch(&web(&json!({})), &runtime(Stage::Exited(0)), now);
        let s = &doc["status"];
        assert_eq!(s["phase"], "Succeeded");
        let t = &s["containerStatuses"][0]["state"]["terminated"];
        assert_eq!(
            (t["exitCode"].as_i64(), t["reason"].as_str()),
            (Some(0), Some("Completed"))
        );
        assert_eq!(t["finishedAt"], "2026-01-01T00:00:05Z");
        assert_eq!(s["conditions"][2]["reason"], "PodCompleted");
    }

    #[test]
    fn transition_times_survive_unchanged_status() {
        let p = web(&json!({}));
        let rt = runtime(Stage::Running);
        let first: Timestamp = "2026-01-01T00:00:01Z".parse().unwrap();
        let later: Timestamp = "2026-01-01T00:09:00Z".parse().unwrap();
        let written = with_status(&p, &status_patch(&p, &rt, first));
        let again = status_patch(&written, &rt, later);
        assert_eq!(
            again["status"]["conditions"][2]["lastTransitionTime"],
            "2026-01-01T00:00:01Z"
        );
    }

    #[test]
    fn qos_classes() {
        let table = [
            (json!([{"name": "a"}]), "BestEffort"),
            (
                json!([{"name": "a", "resources": {"requests": {"cpu": "1"}}}]),
                "Burstable",
            ),
            (
                json!([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]),
                "Guaranteed",
            ),
            (
                json!([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}}]),
                "Burstable",
            ),
        ];
        for (containers, want) in table {
            let p = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": containers}}));
            assert_eq!(qos_class(&p), want, "{containers}");
        }
    }
}
