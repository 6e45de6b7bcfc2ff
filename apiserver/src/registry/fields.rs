//! Which fields each kind can be selected by, and how their values read from a JSON object.

use serde_json::Value;

/// A field selector named a field the kind cannot be selected by (answered with a 400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("field label not supported: {field}")]
pub struct UnsupportedField {
    pub field: String,
}

/// How a selectable field is read.
enum Read {
    /// A string at a JSON path; absent reads as "".
    Text(&'static str),
    /// A boolean at a JSON path; absent reads as "false" (Go's zero value).
    Flag(&'static str),
    /// An integer at a JSON path; absent reads as "0".
    Count(&'static str),
    /// The first of several paths that holds a non-empty string.
    FirstOf(&'static [&'static str]),
}

type Table = &'static [(&'static str, Read)];

const META: Table = &[
    ("metadata.name", Read::Text("/metadata/name")),
    ("metadata.namespace", Read::Text("/metadata/namespace")),
];

const POD: Table = &[
    ("spec.nodeName", Read::Text("/spec/nodeName")),
    ("spec.restartPolicy", Read::Text("/spec/restartPolicy")),
    ("spec.schedulerName", Read::Text("/spec/schedulerName")),
    (
        "spec.serviceAccountName",
        Read::Text("/spec/serviceAccountName"),
    ),
    ("spec.hostNetwork", Read::Flag("/spec/hostNetwork")),
    ("status.phase", Read::Text("/status/phase")),
    // Upstream derives podIP from the first of podIPs; older writers set only podIP.
    (
        "status.podIP",
        Read::FirstOf(&["/status/podIPs/0/ip", "/status/podIP"]),
    ),
    (
        "status.nominatedNodeName",
        Read::Text("/status/nominatedNodeName"),
    ),
];

const CORE_EVENT: Table = &[
    ("involvedObject.kind", Read::Text("/involvedObject/kind")),
    (
        "involvedObject.namespace",
        Read::Text("/involvedObject/namespace"),
    ),
    ("involvedObject.name", Read::Text("/involvedObject/name")),
    ("involvedObject.uid", Read::Text("/involvedObject/uid")),
    (
        "involvedObject.apiVersion",
        Read::Text("/involvedObject/apiVersion"),
    ),
    (
        "involvedObject.resourceVersion",
        Read::Text("/involvedObject/resourceVersion"),
    ),
    (
        "involvedObject.fieldPath",
        Read::Text("/involvedObject/fieldPath"),
    ),
    ("reason", Read::Text("/reason")),
    ("reportingComponent", Read::Text("/reportingComponent")),
    ("source", Read::Text("/source/component")),
    ("type", Read::Text("/type")),
];

const EVENTS_EVENT: Table = &[
    ("regarding.kind", Read::Text("/regarding/kind")),
    ("regarding.namespace", Read::Text("/regarding/namespace")),
    ("regarding.name", Read::Text("/regarding/name")),
    ("regarding.uid", Read::Text("/regarding/uid")),
    ("regarding.apiVersion", Read::Text("/regarding/apiVersion")),
    (
        "regarding.resourceVersion",
        Read::Text("/regarding/resourceVersion"),
    ),
    ("regarding.fieldPath", Read::Text("/regarding/fieldPath")),
    ("reason", Read::Text("/reason")),
    ("reportingController", Read::Text("/reportingController")),
    // The events.k8s.io shape keeps the old source only as deprecatedSource.
    (
        "source",
        Read::FirstOf(&["/deprecatedSource/component", "/reportingController"]),
    ),
    ("type", Read::Text("/type")),
];

const SECRET: Table = &[("type", Read::Text("/type"))];
const NAMESPACE: Table = &[("status.phase", Read::Text("/status/phase"))];
const NODE: Table = &[("spec.unschedulable", Read::Flag("/spec/unschedulable"))];
const REPLICAS: Table = &[("status.replicas", Read::Count("/status/replicas"))];
// The selectable name differs from the field it reads, as upstream has it.
const JOB: Table = &[("status.successful", Read::Count("/status/succeeded"))];
const SERVICE: Table = &[
    ("spec.clusterIP", Read::Text("/spec/clusterIP")),
    ("spec.type", Read::Text("/spec/type")),
];
const CSR: Table = &[("spec.signerName", Read::Text("/spec/signerName"))];

/// The kind-specific selectable fields (metadata.name and metadata.namespace come on top).
fn kind_table(group: &str, kind: &str) -> Table {
    match (group, kind) {
        ("", "Pod") => POD,
        ("", "Event") => CORE_EVENT,
        ("events.k8s.io", "Event") => EVENTS_EVENT,
        ("", "Secret") => SECRET,
        ("", "Namespace") => NAMESPACE,
        ("", "Node") => NODE,
        ("", "ReplicationController") | ("apps", "ReplicaSet") => REPLICAS,
        ("batch", "Job") => JOB,
        ("", "Service") => SERVICE,
        ("certificates.k8s.io", "CertificateSigningRequest") => CSR,
        _ => &[],
    }
}

/// Every field selector the kind accepts.
pub fn supported_fields(group: &str, kind: &str) -> Vec<&'static str> {
    META.iter()
        .chain(kind_table(group, kind))
        .map(|(name, _)| *name)
        .collect()
}

/// The value of a selectable field, or `Err` when the kind cannot be selected by it.
///
/// Strings read `Ok(None)` when absent, which a selector compares as "" (so
/// `spec.nodeName=` selects unscheduled pods); booleans and counts read their zero value.
pub fn field_value(
    group: &str,
    kind: &str,
    object: &Value,
    field: &str,
) -> Result<Option<String>, UnsupportedField> {
    let Some((_, read)) = META
        .iter()
        .chain(kind_table(group, kind))
        .find(|(name, _)| *name == field)
    else {
        return Err(UnsupportedField {
            field: field.to_owned(),
        });
    };
    Ok(match read {
        Read::Text(path) => object.pointer(path).and_then(scalar),
        Read::Flag(path) => {
            let set = object
                .pointer(path)
                .and_then(Value::as_bool)
                .unwrap_or(false);
            Some(set.to_string())
        }
        Read::Count(path) => {
            let n = object.pointer(path).and_then(Value::as_i64).unwrap_or(0);
            Some(n.to_string())
        }
        Read::FirstOf(paths) => paths
            .iter()
            .filter_map(|p| object.pointer(p).and_then(scalar))
            .find(|v| !v.is_empty()),
    })
}

/// The value at a custom resource's `selectableFields` path (`.spec.color`), rendered as a
/// field selector compares it; `None` when absent or not a string, integer or boolean.
pub fn selectable_field_value(object: &Value, json_path: &str) -> Option<String> {
    let pointer: String = json_path
        .trim_start_matches('.')
        .split('.')
        .map(|segment| format!("/{}", segment.replace('~', "~0").replace('/', "~1")))
        .collect();
    object.pointer(&pointer).and_then(scalar)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_pod_fields_with_kubernetes_zero_values() {
        let pod = json!({
            "metadata": {"name": "web-0", "namespace": "prod"},
            "spec": {"nodeName": "node-1", "hostNetwork": true, "restartPolicy": "Always"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.7"}], "podIP": "10.0.0.7"}
        });
        let unscheduled = json!({"metadata": {"name": "p"}, "spec": {}});
        let cases: &[(&Value, &str, Option<&str>)] = &[
            (&pod, "metadata.name", Some("web-0")),
            (&pod, "metadata.namespace", Some("prod")),
            (&pod, "spec.nodeName", Some("node-1")),
            (&pod, "spec.hostNetwork", Some("true")),
            (&pod, "status.phase", Some("Running")),
            (&pod, "status.podIP", Some("10.0.0.7")),
            (&unscheduled, "spec.nodeName", None),
            (&unscheduled, "spec.hostNetwork", Some("false")),
            (&unscheduled, "status.podIP", None),
        ];
        for (object, field, want) in cases {
            let got = field_value("", "Pod", object, field).unwrap();
            assert_eq!(got.as_deref(), *want, "{field}");
        }
    }

    #[test]
    fn reads_kind_specific_fields() {
        let cases: &[(&str, &str, Value, &str, Option<&str>)] = &[
            (
                "",
                "Event",
                json!({"involvedObject": {"kind": "Pod", "uid": "u1"}}),
                "involvedObject.kind",
                Some("Pod"),
            ),
            (
                "",
                "Event",
                json!({"involvedObject": {"uid": "u1"}}),
                "involvedObject.uid",
                Some("u1"),
            ),
            (
                "",
                "Event",
                json!({"source": {"component": "kubelet"}}),
                "source",
                Some("kubelet"),
            ),
            (
                "",
                "Event",
                json!({"reportingComponent": "kubelet"}),
                "reportingComponent",
                Some("kubelet"),
            ),
            (
                "events.k8s.io",
                "Event",
                json!({"regarding": {"name": "web"}}),
                "regarding.name",
                Some("web"),
            ),
            (
                "events.k8s.io",
                "Event",
                json!({"reportingController": "c"}),
                "source",
                Some("c"),
            ),
            (
                "",
                "Secret",
                json!({"type": "kubernetes.io/tls"}),
                "type",
                Some("kubernetes.io/tls"),
            ),
            (
                "",
                "Namespace",
                json!({"status": {"phase": "Active"}}),
                "status.phase",
                Some("Active"),
            ),
            ("", "Node", json!({}), "spec.unschedulable", Some("false")),
            (
                "",
                "Node",
                json!({"spec": {"unschedulable": true}}),
                "spec.unschedulable",
                Some("true"),
            ),
            (
                "apps",
                "ReplicaSet",
                json!({"status": {"replicas": 3}}),
                "status.replicas",
                Some("3"),
            ),
            (
                "",
                "ReplicationController",
                json!({}),
                "status.replicas",
                Some("0"),
            ),
            (
                "batch",
                "Job",
                json!({"status": {"succeeded": 2}}),
                "status.successful",
                Some("2"),
            ),
            (
                "",
                "Service",
                json!({"spec": {"type": "NodePort"}}),
                "spec.type",
                Some("NodePort"),
            ),
            (
                "example.com",
                "Widget",
                json!({"metadata": {"name": "w"}}),
                "metadata.name",
                Some("w"),
            ),
            (
                "",
                "Node",
                json!({"metadata": {"name": "n"}}),
                "metadata.namespace",
                None,
            ),
        ];
        for (group, kind, object, field, want) in cases {
            let got = field_value(group, kind, object, field).unwrap();
            assert_eq!(got.as_deref(), *want, "{kind} {field}");
        }
    }

    #[test]
    fn rejects_fields_a_kind_does_not_support() {
        let cases = [
            ("", "Pod", "spec.foo"),
            ("apps", "Deployment", "status.replicas"),
            ("events.k8s.io", "Event", "involvedObject.name"),
            ("", "Event", "regarding.name"),
            ("example.com", "Widget", "spec.color"),
        ];
        for (group, kind, field) in cases {
            let err = field_value(group, kind, &json!({}), field).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("field label not supported: {field}")
            );
        }
    }

    #[test]
    fn lists_supported_fields() {
        assert_eq!(
            supported_fields("", "ConfigMap"),
            ["metadata.name", "metadata.namespace"]
        );
        let pod = supported_fields("", "Pod");
        assert!(pod.contains(&"spec.nodeName") && pod.contains(&"metadata.name"));
        assert_eq!(pod.len(), 10);
    }

    #[test]
    fn reads_custom_resource_selectable_fields() {
        let obj = json!({"spec": {"color": "blue", "size": 3, "on": true, "ratio": 0.5}});
        assert_eq!(
            selectable_field_value(&obj, ".spec.color").as_deref(),
            Some("blue")
        );
        assert_eq!(
            selectable_field_value(&obj, ".spec.size").as_deref(),
            Some("3")
        );
        assert_eq!(
            selectable_field_value(&obj, "spec.on").as_deref(),
            Some("true")
        );
        assert_eq!(selectable_field_value(&obj, ".spec.ratio"), None);
        assert_eq!(selectable_field_value(&obj, ".spec.missing"), None);
    }
}
