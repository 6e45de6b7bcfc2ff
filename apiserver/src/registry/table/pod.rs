//! The Pod printer: READY `1/2`, the STATUS kubectl derives from container states, RESTARTS.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::age::{parse, since};
use super::fields::{count, flag, int, items, name, non_empty, of_type, text};
use super::{AGE, Column, NAME, Printer, col, wide};

pub(super) const PRINTERS: &[Printer] = &[Printer {
    group: "",
    kind: "Pod",
    columns: COLUMNS,
    cells,
}];

const COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        "string",
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    col(
        "Status",
        "string",
        "The aggregate status of the containers in this pod.",
    ),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    wide(
        "IP",
        "string",
        "The pod's IP address (the first of status.podIPs).",
    ),
    wide("Node", "string", "The node the pod is bound to."),
    wide(
        "Nominated Node",
        "string",
        "The node the scheduler nominated for preemption.",
    ),
    wide(
        "Readiness Gates",
        "string",
        "Readiness gates whose conditions are true, of all gates.",
    ),
];

/// Row conditions kubectl uses to tell finished pods apart.
pub(super) fn conditions(pod: &Value) -> Option<Value> {
    let (reason, message) = match text(pod, "/status/phase") {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

/// Tracks restart counts and the latest container termination.
#[derive(Default, Clone, Copy)]
struct Restarts {
    count: i64,
    last: Option<Timestamp>,
}

impl Restarts {
    fn add(&mut self, status: &Value) {
        self.count += count(status, "/restartCount");
        let finished = non_empty(status, "/lastState/terminated/finishedAt").and_then(parse);
        if finished > self.last {
            self.last = finished;
        }
    }
}

fn cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let phase = text(pod, "/status/phase");
    let mut reason = non_empty(pod, "/status/reason")
        .unwrap_or(phase)
        .to_string();
    let conditions = items(pod, "/status/conditions");
    if conditions
        .iter()
        .any(|c| text(c, "/type") == "PodScheduled" && text(c, "/reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }

    let init_specs = items(pod, "/spec/initContainers");
    // Sidecars (init containers that restart always) count as regular containers.
    let is_sidecar = |name: &str| {
        init_specs
            .iter()
            .any(|c| text(c, "/name") == name && text(c, "/restartPolicy") == "Always")
    };
    let sidecars = init_specs
        .iter()
        .filter(|c| text(c, "/restartPolicy") == "Always")
        .count();
    let total = items(pod, "/spec/containers").len() + sidecars;
    let mut ready = 0;
    let mut restarts = Restarts::default();
    let mut sidecar_restarts = Restarts::default();

    let mut initializing = false;
    for (i, status) in items(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        let sidecar = is_sidecar(text(status, "/name"));
        restarts.add(status);
        if sidecar {
            sidecar_restarts.add(status);
        }
        let terminated = status
            .pointer("/state/terminated")
            .filter(|t| t.is_object());
        if terminated.is_some_and(|t| count(t, "/exitCode") == 0) {
            continue;
        }
        if sidecar && flag(status, "/started") == Some(true) {
            if flag(status, "/ready") == Some(true) {
                ready += 1;
            }
            continue;
        }
        let waiting_reason = non_empty(status, "/state/waiting/reason");
        reason = match (terminated, waiting_reason) {
            (Some(t), _) => match non_empty(t, "/reason") {
                Some(r) => format!("Init:{r}"),
                None => match int(t, "/signal").filter(|s| *s != 0) {
                    Some(signal) => format!("Init:Signal:{signal}"),
                    None => format!("Init:ExitCode:{}", count(t, "/exitCode")),
                },
            },
            (None, Some(r)) if r != "PodInitializing" => format!("Init:{r}"),
            _ => format!("Init:{i}/{}", init_specs.len()),
        };
        initializing = true;
        break;
    }

    let initialized =
        of_type(conditions, "Initialized").is_some_and(|c| text(c, "/status") == "True");
    if !initializing || initialized {
        restarts = sidecar_restarts;
        let mut has_running = false;
        for status in items(pod, "/status/containerStatuses").iter().rev() {
            restarts.add(status);
            let terminated = status
                .pointer("/state/terminated")
                .filter(|t| t.is_object());
            if let Some(r) = non_empty(status, "/state/waiting/reason") {
                reason = r.to_string();
            } else if let Some(t) = terminated {
                reason = match (
                    non_empty(t, "/reason"),
                    int(t, "/signal").filter(|s| *s != 0),
                ) {
                    (Some(r), _) => r.to_string(),
                    (None, Some(signal)) => format!("Signal:{signal}"),
                    (None, None) => format!("ExitCode:{}", count(t, "/exitCode")),
                };
            } else if flag(status, "/ready") == Some(true)
                && status
                    .pointer("/state/running")
                    .is_some_and(Value::is_object)
            {
                has_running = true;
                ready += 1;
            }
        }
        // A pod whose last container completed while another still runs is not "Completed".
        if reason == "Completed" && has_running {
            let pod_ready =
                of_type(conditions, "Ready").is_some_and(|c| text(c, "/status") == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.into();
        }
    }

    if pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        if text(pod, "/status/reason") == "NodeLost" {
            reason = "Unknown".into();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".into();
        }
    }

    let restarts_text = match restarts.last {
        Some(last) if restarts.count != 0 => {
            format!(
                "{} ({} ago)",
                restarts.count,
                super::age::human_duration(now.duration_since(last))
            )
        }
        _ => restarts.count.to_string(),
    };

    let ip = items(pod, "/status/podIPs")
        .first()
        .and_then(|ip| non_empty(ip, "/ip"))
        .or_else(|| non_empty(pod, "/status/podIP"))
        .unwrap_or("<none>");
    let gates = items(pod, "/spec/readinessGates");
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let passing = gates
            .iter()
            .filter(|g| {
                of_type(conditions, text(g, "/conditionType"))
                    .is_some_and(|c| text(c, "/status") == "True")
            })
            .count();
        format!("{passing}/{}", gates.len())
    };

    vec![
        name(pod).into(),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts_text.into(),
        since(non_empty(pod, "/metadata/creationTimestamp"), now).into(),
        ip.into(),
        non_empty(pod, "/spec/nodeName").unwrap_or("<none>").into(),
        non_empty(pod, "/status/nominatedNodeName")
            .unwrap_or("<none>")
            .into(),
        readiness_gates.into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn pod(spec: Value, status: Value) -> Value {
        let mut pod =
            json!({"metadata": {"name": "web-0", "creationTimestamp": "2024-05-01T11:55:00Z"}});
        pod["spec"] = spec;
        pod["status"] = status;
        pod
    }

    fn two_containers() -> Value {
        json!({"containers": [{"name": "app", "image": "nginx"}, {"name": "log", "image": "busybox"}]})
    }

    #[test]
    fn status_column_follows_kubectl() {
        let running = json!({"running": {"startedAt": "2024-05-01T11:56:00Z"}});
        let cases = [
            (
                "fresh pod",
                pod(two_containers(), json!({"phase": "Pending"})),
                "0/2",
                "Pending",
            ),
            (
                "creating",
                pod(
                    two_containers(),
                    json!({"phase": "Pending", "containerStatuses": [
                        {"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}},
                        {"name": "log", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}},
                    ]}),
                ),
                "0/2",
                "ContainerCreating",
            ),
            (
                "running",
                pod(
                    two_containers(),
                    json!({"phase": "Running", "containerStatuses": [
                        {"name": "app", "ready": true, "restartCount": 0, "state": running},
                        {"name": "log", "ready": true, "restartCount": 0, "state": running},
                    ]}),
                ),
                "2/2",
                "Running",
            ),
            (
                "crash looping",
                pod(
                    two_containers(),
                    json!({"phase": "Running", "containerStatuses": [
                        {"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                        {"name": "log", "ready": true, "restartCount": 0, "state": running},
                    ]}),
                ),
                "1/2",
                "CrashLoopBackOff",
            ),
            (
                "killed without reason",
                pod(
                    two_containers(),
                    json!({"phase": "Failed", "containerStatuses": [
                        {"name": "app", "ready": false, "state": {"terminated": {"exitCode": 137, "signal": 9}}},
                    ]}),
                ),
                "0/2",
                "Signal:9",
            ),
            (
                "waiting for an init container",
                pod(
                    json!({"initContainers": [{"name": "a"}, {"name": "b"}], "containers": [{"name": "app"}]}),
                    json!({"phase": "Pending", "initContainerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        {"name": "b", "state": {"running": {}}},
                    ]}),
                ),
                "0/1",
                "Init:1/2",
            ),
            (
                "init container crash",
                pod(
                    json!({"initContainers": [{"name": "a"}], "containers": [{"name": "app"}]}),
                    json!({"phase": "Pending", "initContainerStatuses": [
                        {"name": "a", "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                    ]}),
                ),
                "0/1",
                "Init:CrashLoopBackOff",
            ),
            (
                "sidecar counts as a container",
                pod(
                    json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]}),
                    json!({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
                        "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "state": {"running": {}}}],
                        "containerStatuses": [{"name": "app", "ready": true, "state": {"running": {}}}]}),
                ),
                "2/2",
                "Running",
            ),
            (
                "scheduling gated",
                pod(
                    two_containers(),
                    json!({"phase": "Pending", "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
                ),
                "0/2",
                "SchedulingGated",
            ),
            (
                "evicted",
                pod(
                    two_containers(),
                    json!({"phase": "Failed", "reason": "Evicted"}),
                ),
                "0/2",
                "Evicted",
            ),
        ];
        for (what, pod, ready, status) in cases {
            let cells = cells(&pod, now());
            assert_eq!(cells.len(), COLUMNS.len(), "{what}");
            assert_eq!(
                (cells[1].as_str().unwrap(), cells[2].as_str().unwrap()),
                (ready, status),
                "{what}"
            );
        }
    }

    #[test]
    fn deleting_pods_show_terminating_unless_finished() {
        let mut p = pod(two_containers(), json!({"phase": "Running"}));
        p["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:00Z");
        assert_eq!(cells(&p, now())[2], "Terminating");
        p["status"]["phase"] = json!("Succeeded");
        assert_eq!(cells(&p, now())[2], "Succeeded");
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(cells(&p, now())[2], "Unknown");
    }

    #[test]
    fn restarts_age_and_wide_cells() {
        let p = pod(
            json!({"containers": [{"name": "app"}], "nodeName": "node-1", "readinessGates": [
                {"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]}),
            json!({"phase": "Running", "podIPs": [{"ip": "10.0.0.7"}], "conditions": [
                {"type": "example.com/lb", "status": "True"}, {"type": "example.com/dns", "status": "False"}],
                "containerStatuses": [{"name": "app", "ready": true, "restartCount": 3, "state": {"running": {}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:58:00Z"}}}]}),
        );
        let row = cells(&p, now());
        assert_eq!(
            row,
            vec![
                json!("web-0"),
                json!("1/1"),
                json!("Running"),
                json!("3 (2m ago)"),
                json!("5m"),
                json!("10.0.0.7"),
                json!("node-1"),
                json!("<none>"),
                json!("1/2"),
            ]
        );
        assert_eq!(conditions(&p), None);
        let done = conditions(&pod(json!({}), json!({"phase": "Succeeded"})))
            .expect("finished pods carry a condition");
        assert_eq!(done[0]["reason"], "Succeeded");
    }
}
