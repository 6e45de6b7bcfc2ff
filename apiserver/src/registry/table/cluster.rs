//! Printers for cluster and configuration kinds: nodes, namespaces, events, leases,
//! priority classes, role bindings, quotas, config maps, secrets and service accounts.

use jiff::Timestamp;
use serde_json::Value;

use super::age::{self, since};
use super::fields::{count, flag, items, len, name, non_empty, of_type, quantity, text};
use super::{AGE, Column, NAME, NAME_DESCRIPTION, Printer, col, column, wide};

pub(super) const PRINTERS: &[Printer] = &[
    Printer {
        group: "",
        kind: "Node",
        columns: NODE,
        cells: node,
    },
    Printer {
        group: "",
        kind: "Namespace",
        columns: NAMESPACE,
        cells: namespace,
    },
    Printer {
        group: "",
        kind: "Event",
        columns: EVENT,
        cells: core_event,
    },
    Printer {
        group: "events.k8s.io",
        kind: "Event",
        columns: EVENT,
        cells: events_api_event,
    },
    Printer {
        group: "coordination.k8s.io",
        kind: "Lease",
        columns: LEASE,
        cells: lease,
    },
    Printer {
        group: "scheduling.k8s.io",
        kind: "PriorityClass",
        columns: PRIORITY_CLASS,
        cells: priority_class,
    },
    Printer {
        group: "rbac.authorization.k8s.io",
        kind: "RoleBinding",
        columns: BINDING,
        cells: binding,
    },
    Printer {
        group: "rbac.authorization.k8s.io",
        kind: "ClusterRoleBinding",
        columns: BINDING,
        cells: binding,
    },
    Printer {
        group: "",
        kind: "ResourceQuota",
        columns: RESOURCE_QUOTA,
        cells: resource_quota,
    },
    Printer {
        group: "",
        kind: "ConfigMap",
        columns: CONFIG_MAP,
        cells: config_map,
    },
    Printer {
        group: "",
        kind: "Secret",
        columns: SECRET,
        cells: secret,
    },
    Printer {
        group: "",
        kind: "ServiceAccount",
        columns: SERVICE_ACCOUNT,
        cells: service_account,
    },
];

const NODE: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE,
    col("Version", "string", "Kubelet version reported by the node."),
    wide(
        "Internal-IP",
        "string",
        "The node's first InternalIP address.",
    ),
    wide(
        "External-IP",
        "string",
        "The node's first ExternalIP address.",
    ),
    wide("OS-Image", "string", "OS image reported by the node."),
    wide(
        "Kernel-Version",
        "string",
        "Kernel version reported by the node.",
    ),
    wide(
        "Container-Runtime",
        "string",
        "Container runtime version reported by the node.",
    ),
];

const NAMESPACE: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the namespace"),
    AGE,
];

const EVENT: &[Column] = &[
    col(
        "Last Seen",
        "string",
        "The time at which the most recent occurrence of this event was recorded.",
    ),
    col("Type", "string", "Type of this event (Normal, Warning)."),
    col(
        "Reason",
        "string",
        "A short, machine understandable string that gives the reason for this event.",
    ),
    col("Object", "string", "The object this event is about."),
    wide(
        "Subobject",
        "string",
        "The part of the object this event is about (fieldPath).",
    ),
    wide("Source", "string", "The component reporting this event."),
    col(
        "Message",
        "string",
        "A human-readable description of the status of this operation.",
    ),
    wide(
        "First Seen",
        "string",
        "The time at which the event was first recorded.",
    ),
    wide(
        "Count",
        "string",
        "The number of times this event has occurred.",
    ),
    column("Name", "string", "name", 1, NAME_DESCRIPTION),
];

const LEASE: &[Column] = &[
    NAME,
    col(
        "Holder",
        "string",
        "The identity of the holder of the lease.",
    ),
    AGE,
];

const PRIORITY_CLASS: &[Column] = &[
    NAME,
    col("Value", "integer", "The priority of pods of this class."),
    col(
        "Global-Default",
        "boolean",
        "Whether this class is the default for pods without one.",
    ),
    AGE,
    col(
        "PreemptionPolicy",
        "string",
        "Whether pods of this class may preempt lower-priority pods.",
    ),
];

const BINDING: &[Column] = &[
    NAME,
    col("Role", "string", "The role this binding grants."),
    AGE,
    wide("Users", "string", "Users in the binding"),
    wide("Groups", "string", "Groups in the binding"),
    wide(
        "ServiceAccounts",
        "string",
        "ServiceAccounts in the binding",
    ),
];

const RESOURCE_QUOTA: &[Column] = &[
    NAME,
    col(
        "Request",
        "string",
        "Request represents a minimum amount of cpu/memory that a container may consume.",
    ),
    col(
        "Limit",
        "string",
        "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
    ),
    AGE,
];

const CONFIG_MAP: &[Column] = &[
    NAME,
    col("Data", "string", "The number of data and binaryData keys."),
    AGE,
];

const SECRET: &[Column] = &[
    NAME,
    col(
        "Type",
        "string",
        "Used to facilitate programmatic handling of secret data.",
    ),
    col("Data", "string", "The number of data keys."),
    AGE,
];

const SERVICE_ACCOUNT: &[Column] = &[
    NAME,
    col(
        "Secrets",
        "string",
        "The number of secrets listed for the service account.",
    ),
    AGE,
];

fn node(node: &Value, now: Timestamp) -> Vec<Value> {
    let mut status: Vec<&str> = Vec::new();
    match of_type(items(node, "/status/conditions"), "Ready") {
        Some(ready) if text(ready, "/status") == "True" => status.push("Ready"),
        Some(_) => status.push("NotReady"),
        None => status.push("Unknown"),
    }
    if flag(node, "/spec/unschedulable") == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<&str> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(
            |(key, value)| match key.strip_prefix("node-role.kubernetes.io/") {
                Some(role) if !role.is_empty() => Some(role),
                Some(_) => None,
                None => (key == "kubernetes.io/role")
                    .then(|| value.as_str().unwrap_or(""))
                    .filter(|r| !r.is_empty()),
            },
        )
        .collect();
    roles.sort_unstable();
    roles.dedup();
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    };
    let addresses = items(node, "/status/addresses");
    let address = |kind: &str| of_type(addresses, kind).map_or("<none>", |a| text(a, "/address"));
    let info =
        |field: &str| non_empty(node, &format!("/status/nodeInfo/{field}")).unwrap_or("<unknown>");
    vec![
        name(node).into(),
        status.join(",").into(),
        roles.into(),
        age::created(node, now),
        text(node, "/status/nodeInfo/kubeletVersion").into(),
        address("InternalIP").into(),
        address("ExternalIP").into(),
        info("osImage").into(),
        info("kernelVersion").into(),
        info("containerRuntimeVersion").into(),
    ]
}

fn namespace(ns: &Value, now: Timestamp) -> Vec<Value> {
    // The server sets the phase on create; an object stored without one reads as its implied phase.
    let deleting = ns
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null());
    let phase =
        non_empty(ns, "/status/phase").unwrap_or(if deleting { "Terminating" } else { "Active" });
    vec![name(ns).into(), phase.into(), age::created(ns, now)]
}

/// The fields an event printer reads, named as in core/v1 (events.k8s.io/v1 renames them).
struct EventFields<'a> {
    first: Option<&'a str>,
    last: Option<&'a str>,
    event_time: Option<&'a str>,
    count: i64,
    series: Option<&'a Value>,
    regarding: &'a Value,
    source: &'a Value,
    message: &'a str,
}

fn core_event(event: &Value, now: Timestamp) -> Vec<Value> {
    let fields = EventFields {
        first: non_empty(event, "/firstTimestamp"),
        last: non_empty(event, "/lastTimestamp"),
        event_time: non_empty(event, "/eventTime"),
        count: count(event, "/count"),
        series: event.get("series"),
        regarding: event.get("involvedObject").unwrap_or(&Value::Null),
        source: event.get("source").unwrap_or(&Value::Null),
        message: text(event, "/message"),
    };
    event_cells(event, &fields, now)
}

fn events_api_event(event: &Value, now: Timestamp) -> Vec<Value> {
    let fields = EventFields {
        first: non_empty(event, "/deprecatedFirstTimestamp"),
        last: non_empty(event, "/deprecatedLastTimestamp"),
        event_time: non_empty(event, "/eventTime"),
        count: count(event, "/deprecatedCount"),
        series: event.get("series"),
        regarding: event.get("regarding").unwrap_or(&Value::Null),
        source: event.get("deprecatedSource").unwrap_or(&Value::Null),
        message: text(event, "/note"),
    };
    event_cells(event, &fields, now)
}

fn event_cells(event: &Value, f: &EventFields, now: Timestamp) -> Vec<Value> {
    let first_seen = match f.first {
        Some(first) => since(Some(first), now),
        None => since(f.event_time, now),
    };
    let mut last_seen = match f.last {
        Some(last) => since(Some(last), now),
        None => first_seen.clone(),
    };
    let mut occurrences = f.count;
    if let Some(series) = f.series.filter(|s| s.is_object()) {
        last_seen = since(non_empty(series, "/lastObservedTime"), now);
        occurrences = count(series, "/count");
    } else if occurrences == 0 {
        // Singleton events of the new API carry no count.
        occurrences = 1;
    }
    let kind = text(f.regarding, "/kind").to_lowercase();
    let object = match non_empty(f.regarding, "/name") {
        Some(n) => format!("{kind}/{n}"),
        None => kind,
    };
    let component =
        non_empty(f.source, "/component").unwrap_or(text(event, "/reportingController"));
    let source =
        match non_empty(f.source, "/host").or_else(|| non_empty(event, "/reportingInstance")) {
            Some(host) => format!("{component}, {host}"),
            None => component.to_string(),
        };
    vec![
        last_seen.into(),
        text(event, "/type").into(),
        text(event, "/reason").into(),
        object.into(),
        text(f.regarding, "/fieldPath").into(),
        source.into(),
        f.message.trim().into(),
        first_seen.into(),
        occurrences.into(),
        name(event).into(),
    ]
}

fn lease(lease: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(lease).into(),
        text(lease, "/spec/holderIdentity").into(),
        age::created(lease, now),
    ]
}

fn priority_class(pc: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(pc).into(),
        count(pc, "/value").into(),
        flag(pc, "/globalDefault").unwrap_or(false).into(),
        age::created(pc, now),
        text(pc, "/preemptionPolicy").into(),
    ]
}

fn binding(binding: &Value, now: Timestamp) -> Vec<Value> {
    let (mut users, mut groups, mut accounts) = (Vec::new(), Vec::new(), Vec::new());
    for subject in items(binding, "/subjects") {
        match text(subject, "/kind") {
            "User" => users.push(text(subject, "/name").to_string()),
            "Group" => groups.push(text(subject, "/name").to_string()),
            "ServiceAccount" => accounts.push(format!(
                "{}/{}",
                text(subject, "/namespace"),
                text(subject, "/name")
            )),
            _ => {}
        }
    }
    let role = format!(
        "{}/{}",
        text(binding, "/roleRef/kind"),
        text(binding, "/roleRef/name")
    );
    vec![
        name(binding).into(),
        role.into(),
        age::created(binding, now),
        users.join(", ").into(),
        groups.join(", ").into(),
        accounts.join(", ").into(),
    ]
}

fn resource_quota(quota: &Value, now: Timestamp) -> Vec<Value> {
    let mut resources: Vec<&String> = quota
        .pointer("/status/hard")
        .and_then(Value::as_object)
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    resources.sort();
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for resource in resources {
        let used = quota
            .pointer("/status/used")
            .and_then(|u| quantity(u, &format!("/{}", escape(resource))));
        let hard = quota
            .pointer("/status/hard")
            .and_then(|h| quantity(h, &format!("/{}", escape(resource))));
        let line = format!(
            "{resource}: {}/{}",
            used.unwrap_or_else(|| "0".into()),
            hard.unwrap_or_default()
        );
        if resource
            .split_once('.')
            .is_some_and(|(prefix, _)| prefix == "limits")
        {
            limits.push(line);
        } else {
            requests.push(line);
        }
    }
    vec![
        name(quota).into(),
        requests.join(", ").into(),
        limits.join(", ").into(),
        age::created(quota, now),
    ]
}

/// Escapes a map key for use in a JSON pointer (quota keys such as `count/deployments.apps`).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn config_map(cm: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(cm).into(),
        (len(cm, "/data") + len(cm, "/binaryData")).into(),
        age::created(cm, now),
    ]
}

fn secret(secret: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(secret).into(),
        text(secret, "/type").into(),
        len(secret, "/data").into(),
        age::created(secret, now),
    ]
}

fn service_account(sa: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(sa).into(),
        len(sa, "/secrets").into(),
        age::created(sa, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn node_status_roles_and_addresses() {
        let n = json!({
            "metadata": {"name": "cp-1", "creationTimestamp": "2024-04-29T09:00:00Z", "labels": {
                "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/": "x", "kubernetes.io/role": "master"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "False"}],
                "addresses": [{"type": "Hostname", "address": "cp-1"}, {"type": "InternalIP", "address": "10.0.0.5"}],
                "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian"}},
        });
        assert_eq!(
            node(&n, now()),
            vec![
                json!("cp-1"),
                json!("NotReady,SchedulingDisabled"),
                json!("control-plane,master"),
                json!("2d3h"),
                json!("v1.33.1"),
                json!("10.0.0.5"),
                json!("<none>"),
                json!("Debian"),
                json!("<unknown>"),
                json!("<unknown>"),
            ]
        );
        assert_eq!(
            node(&json!({}), now())[1..3],
            [json!("Unknown"), json!("<none>")]
        );
    }

    #[test]
    fn events_of_both_apis_print_alike() {
        let core = json!({"metadata": {"name": "web.17a"}, "type": "Warning", "reason": "BackOff", "count": 4,
            "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{app}"},
            "source": {"component": "kubelet", "host": "node-1"}, "message": "Back-off restarting\n",
            "firstTimestamp": "2024-05-01T11:00:00Z", "lastTimestamp": "2024-05-01T11:59:30Z"});
        let row = core_event(&core, now());
        assert_eq!(
            row,
            vec![
                json!("30s"),
                json!("Warning"),
                json!("BackOff"),
                json!("pod/web-0"),
                json!("spec.containers{app}"),
                json!("kubelet, node-1"),
                json!("Back-off restarting"),
                json!("60m"),
                json!(4),
                json!("web.17a"),
            ]
        );
        let new = json!({"metadata": {"name": "web.17a"}, "type": "Warning", "reason": "BackOff",
            "regarding": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{app}"},
            "reportingController": "kubelet", "reportingInstance": "node-1", "note": "Back-off restarting",
            "eventTime": "2024-05-01T11:00:00.000000Z",
            "series": {"count": 4, "lastObservedTime": "2024-05-01T11:59:30.000000Z"}});
        assert_eq!(events_api_event(&new, now()), row);
    }

    #[test]
    fn quotas_bindings_and_data_counts() {
        let quota = json!({"metadata": {"name": "q"}, "status": {
            "hard": {"requests.cpu": "1", "limits.memory": "2Gi", "pods": "10", "count/deployments.apps": "5"},
            "used": {"requests.cpu": "500m", "pods": "3"}}});
        assert_eq!(
            resource_quota(&quota, now())[1..3],
            [
                json!("count/deployments.apps: 0/5, pods: 3/10, requests.cpu: 500m/1"),
                json!("limits.memory: 0/2Gi")
            ]
        );
        let rb = json!({"metadata": {"name": "view"}, "roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [
            {"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"},
            {"kind": "Group", "name": "devs"}, {"kind": "User", "name": "joe"}]});
        assert_eq!(binding(&rb, now())[1], "ClusterRole/view");
        assert_eq!(
            binding(&rb, now())[3..6],
            [json!("jane, joe"), json!("devs"), json!("tools/ci")]
        );
        let cm = json!({"data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(config_map(&cm, now())[1], 3);
        for printer in PRINTERS {
            assert_eq!(
                (printer.cells)(&json!({}), now()).len(),
                printer.columns.len(),
                "{}",
                printer.kind
            );
        }
    }
}
