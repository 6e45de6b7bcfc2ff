//! Kubernetes validation rules (names, object metadata, native kinds' essentials) as field causes.

mod controllers;
mod core_kinds;
mod crd;
mod names;
mod pods;

use std::collections::HashSet;
use std::fmt;

use serde_json::Value;

pub use core_kinds::DATA_MAX_BYTES;
pub use names::{
    NameRule, config_map_key, dns1035_label, dns1123_label, dns1123_subdomain, label_value,
    name_rule, port_name, qualified_name,
};

/// One reason an object is invalid, shaped like a Kubernetes `StatusCause`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// Field path, e.g. `spec.containers[0].name`.
    pub field: String,
    /// What is wrong, without the field: `Invalid value: "x": must be ...`.
    pub message: String,
    /// `FieldValueInvalid`, `FieldValueRequired`, ... as Kubernetes names them.
    pub reason: &'static str,
}

impl Cause {
    fn new(field: impl Into<String>, reason: &'static str, message: String) -> Self {
        Cause {
            field: field.into(),
            message,
            reason,
        }
    }

    pub fn invalid(field: impl Into<String>, value: &Value, detail: &str) -> Self {
        let message = format!("Invalid value: {}: {detail}", show(value));
        Cause::new(field, "FieldValueInvalid", message)
    }

    pub fn invalid_str(field: impl Into<String>, value: &str, detail: &str) -> Self {
        Cause::invalid(field, &Value::String(value.to_owned()), detail)
    }

    /// `Required value`, with an optional detail.
    pub fn required(field: impl Into<String>, detail: &str) -> Self {
        Cause::new(
            field,
            "FieldValueRequired",
            with_detail("Required value", detail),
        )
    }

    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        Cause::new(
            field,
            "FieldValueForbidden",
            with_detail("Forbidden", detail),
        )
    }

    pub fn too_long(field: impl Into<String>, max_bytes: usize) -> Self {
        let message = format!("Too long: may not be more than {max_bytes} bytes");
        Cause::new(field, "FieldValueTooLong", message)
    }

    pub fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        let message = format!(
            "Unsupported value: {value:?}: supported values: {}",
            list.join(", ")
        );
        Cause::new(field, "FieldValueNotSupported", message)
    }

    pub fn duplicate(field: impl Into<String>, value: &Value) -> Self {
        let message = format!("Duplicate value: {}", show(value));
        Cause::new(field, "FieldValueDuplicate", message)
    }

    pub fn not_found(field: impl Into<String>, value: &Value) -> Self {
        let message = format!("Not found: {}", show(value));
        Cause::new(field, "FieldValueNotFound", message)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// The `Status.message` of a 422: `Deployment.apps "web" is invalid: spec.replicas: ...`,
/// several causes bracketed and comma-separated as Kubernetes aggregates them.
pub fn invalid_message(group: &str, kind: &str, name: &str, causes: &[Cause]) -> String {
    let qualified = if group.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}.{group}")
    };
    let mut seen = HashSet::new();
    let lines: Vec<String> = causes
        .iter()
        .map(ToString::to_string)
        .filter(|l| seen.insert(l.clone()))
        .collect();
    let body = match lines.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    format!("{qualified} {name:?} is invalid: {body}")
}

fn with_detail(kind: &str, detail: &str) -> String {
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

/// A bad value as Kubernetes prints it: strings quoted, scalars bare, structures as JSON.
fn show(value: &Value) -> String {
    value.to_string()
}

// ----- object metadata -------------------------------------------------------------------

/// Total bytes of annotation keys and values an object may carry.
pub const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

/// Checks `metadata`: name or generateName, namespace presence, labels, annotations,
/// finalizers and owner references.
pub fn validate_object_meta(meta: &Value, namespaced: bool, name_rule: NameRule) -> Vec<Cause> {
    let mut out = Vec::new();
    let name = str_at(meta, "name");
    let generate_name = str_at(meta, "generateName");
    if !generate_name.is_empty() {
        for msg in name_rule.check(generate_name, true) {
            out.push(Cause::invalid_str(
                "metadata.generateName",
                generate_name,
                &msg,
            ));
        }
    }
    if name.is_empty() {
        if generate_name.is_empty() {
            out.push(Cause::required(
                "metadata.name",
                "name or generateName is required",
            ));
        }
    } else {
        for msg in name_rule.check(name, false) {
            out.push(Cause::invalid_str("metadata.name", name, &msg));
        }
    }
    let namespace = str_at(meta, "namespace");
    match (namespaced, namespace.is_empty()) {
        (true, true) => out.push(Cause::required("metadata.namespace", "")),
        (true, false) => {
            for msg in dns1123_label(namespace) {
                out.push(Cause::invalid_str("metadata.namespace", namespace, &msg));
            }
        }
        (false, false) => out.push(Cause::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        )),
        (false, true) => {}
    }
    validate_labels(meta.get("labels"), "metadata.labels", &mut out);
    validate_annotations(meta.get("annotations"), &mut out);
    validate_finalizers(meta.get("finalizers"), &mut out);
    validate_owner_references(meta.get("ownerReferences"), &mut out);
    out
}

fn validate_labels(labels: Option<&Value>, path: &str, out: &mut Vec<Cause>) {
    let Some(labels) = labels.and_then(Value::as_object) else {
        return;
    };
    for (key, value) in labels {
        for msg in qualified_name(key) {
            out.push(Cause::invalid_str(path, key, &msg));
        }
        match value.as_str() {
            Some(v) => out.extend(
                label_value(v)
                    .iter()
                    .map(|m| Cause::invalid_str(path, v, m)),
            ),
            None => out.push(Cause::invalid(path, value, "label values must be strings")),
        }
    }
}

fn validate_annotations(annotations: Option<&Value>, out: &mut Vec<Cause>) {
    let Some(annotations) = annotations.and_then(Value::as_object) else {
        return;
    };
    let mut total = 0;
    for (key, value) in annotations {
        for msg in qualified_name(&key.to_ascii_lowercase()) {
            out.push(Cause::invalid_str("metadata.annotations", key, &msg));
        }
        total += key.len() + value.as_str().map_or(0, str::len);
    }
    if total > ANNOTATIONS_MAX_BYTES {
        out.push(Cause::too_long(
            "metadata.annotations",
            ANNOTATIONS_MAX_BYTES,
        ));
    }
}

fn validate_finalizers(finalizers: Option<&Value>, out: &mut Vec<Cause>) {
    let Some(list) = finalizers.and_then(Value::as_array) else {
        return;
    };
    for finalizer in list {
        let f = finalizer.as_str().unwrap_or_default();
        for msg in qualified_name(f) {
            out.push(Cause::invalid_str("metadata.finalizers", f, &msg));
        }
    }
    let has = |f: &str| list.iter().any(|v| v.as_str() == Some(f));
    if has("orphan") && has("foregroundDeletion") {
        out.push(Cause::invalid(
            "metadata.finalizers",
            &Value::Array(list.clone()),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
}

fn validate_owner_references(refs: Option<&Value>, out: &mut Vec<Cause>) {
    let Some(refs) = refs.and_then(Value::as_array) else {
        return;
    };
    const PATH: &str = "metadata.ownerReferences";
    let mut controllers = Vec::new();
    for r in refs {
        let api_version = str_at(r, "apiVersion");
        let version = api_version.rsplit('/').next().unwrap_or_default();
        if version.is_empty() {
            out.push(Cause::invalid_str(
                format!("{PATH}.apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        for field in ["kind", "name", "uid"] {
            if str_at(r, field).is_empty() {
                out.push(Cause::invalid_str(
                    format!("{PATH}.{field}"),
                    str_at(r, field),
                    "must not be empty",
                ));
            }
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            controllers.push(format!("{}/{}", str_at(r, "kind"), str_at(r, "name")));
        }
    }
    if controllers.len() > 1 {
        out.push(Cause::invalid(
            PATH,
            &Value::Array(refs.clone()),
            &format!(
                "Only one reference can have Controller set to true. Found \"true\" in references for {} and {}",
                controllers[0], controllers[1]
            ),
        ));
    }
}

// ----- native kinds ----------------------------------------------------------------------

/// The essential per-kind checks a user hits when writing native objects. Kinds without
/// rules here pass; metadata is checked separately by [`validate_object_meta`].
pub fn validate_native(group: &str, kind: &str, object: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    let spec = object.get("spec").unwrap_or(&Value::Null);
    match (group, kind) {
        ("", "Pod") => pods::pod_spec(spec, "spec", &mut out),
        ("", "PodTemplate") => {
            pods::pod_template(
                object.get("template").unwrap_or(&Value::Null),
                "template",
                &mut out,
            );
        }
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            controllers::workload(kind, spec, &mut out);
        }
        ("", "ReplicationController") => controllers::replication_controller(spec, &mut out),
        ("batch", "Job") => controllers::job_spec(spec, "spec", &mut out),
        ("batch", "CronJob") => controllers::cron_job(spec, &mut out),
        ("", "Service") => core_kinds::service(spec, &mut out),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            crd::custom_resource_definition(object, &mut out);
        }
        ("", "ConfigMap") => core_kinds::config_map(object, &mut out),
        ("", "Secret") => core_kinds::secret(object, &mut out),
        ("", "PersistentVolumeClaim") => core_kinds::pvc(spec, &mut out),
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            if let Err(reason) = crate::auth::csr::request_pem(object) {
                let request = spec.get("request").unwrap_or(&Value::Null);
                out.push(Cause::invalid("spec.request", request, &reason));
            }
            if str_at(spec, "signerName").is_empty() {
                out.push(Cause::required(
                    "spec.signerName",
                    "the signer must be named",
                ));
            }
            if spec["usages"].as_array().is_none_or(Vec::is_empty) {
                out.push(Cause::required(
                    "spec.usages",
                    "at least one usage is required",
                ));
            }
        }
        ("coordination.k8s.io", "Lease") => {
            positive(spec, "leaseDurationSeconds", "spec", &mut out);
            non_negative(spec, "leaseTransitions", "spec", &mut out);
        }
        ("autoscaling", "HorizontalPodAutoscaler") => controllers::hpa(spec, &mut out),
        ("policy", "PodDisruptionBudget") => {
            if spec.get("minAvailable").is_some() && spec.get("maxUnavailable").is_some() {
                out.push(Cause::invalid(
                    "spec",
                    spec,
                    "minAvailable and maxUnavailable cannot be both set",
                ));
            }
            if let Some(sel) = spec.get("selector") {
                label_selector(sel, "spec.selector", &mut out);
            }
        }
        _ => {}
    }
    out
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn non_negative(v: &Value, key: &str, path: &str, out: &mut Vec<Cause>) {
    if let Some(n) = v.get(key).and_then(Value::as_i64).filter(|n| *n < 0) {
        out.push(Cause::invalid(
            format!("{path}.{key}"),
            &n.into(),
            "must be greater than or equal to 0",
        ));
    }
}

fn positive(v: &Value, key: &str, path: &str, out: &mut Vec<Cause>) {
    if let Some(n) = v.get(key).and_then(Value::as_i64).filter(|n| *n <= 0) {
        out.push(Cause::invalid(
            format!("{path}.{key}"),
            &n.into(),
            "must be greater than 0",
        ));
    }
}

fn one_of(v: &Value, key: &str, path: &str, supported: &[&str], out: &mut Vec<Cause>) {
    let value = str_at(v, key);
    if v.get(key).is_some() && !supported.contains(&value) {
        out.push(Cause::not_supported(
            format!("{path}.{key}"),
            value,
            supported,
        ));
    }
}

/// A quantity field's text: Kubernetes accepts strings and bare numbers.
fn quantity_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// metav1.LabelSelector rules.
fn label_selector(sel: &Value, path: &str, out: &mut Vec<Cause>) {
    validate_labels(sel.get("matchLabels"), &format!("{path}.matchLabels"), out);
    for (i, expr) in items(sel, "matchExpressions").iter().enumerate() {
        let p = format!("{path}.matchExpressions[{i}]");
        let key = str_at(expr, "key");
        for msg in qualified_name(key) {
            out.push(Cause::invalid_str(format!("{p}.key"), key, &msg));
        }
        let has_values = !items(expr, "values").is_empty();
        match str_at(expr, "operator") {
            "In" | "NotIn" if !has_values => out.push(Cause::required(
                format!("{p}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if has_values => out.push(Cause::forbidden(
                format!("{p}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => out.push(Cause::invalid_str(
                format!("{p}.operator"),
                other,
                "not a valid selector operator",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(causes: &[Cause]) -> Vec<String> {
        causes.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn object_meta_name_and_namespace() {
        let cases: &[(Value, bool, NameRule, &[&str])] = &[
            (
                json!({"name": "web", "namespace": "default"}),
                true,
                NameRule::Subdomain,
                &[],
            ),
            (
                json!({"generateName": "web-", "namespace": "default"}),
                true,
                NameRule::Subdomain,
                &[],
            ),
            (
                json!({"namespace": "default"}),
                true,
                NameRule::Subdomain,
                &["metadata.name: Required value: name or generateName is required"],
            ),
            (
                json!({"name": "web"}),
                true,
                NameRule::Subdomain,
                &["metadata.namespace: Required value"],
            ),
            (
                json!({"name": "web", "namespace": "x"}),
                false,
                NameRule::Subdomain,
                &["metadata.namespace: Forbidden: not allowed on this type"],
            ),
            (
                json!({"name": "a.b"}),
                false,
                NameRule::Label,
                &[
                    "metadata.name: Invalid value: \"a.b\": a lowercase RFC 1123 label must consist of",
                ],
            ),
            (
                json!({"name": "web", "namespace": "Bad_NS"}),
                true,
                NameRule::Subdomain,
                &["metadata.namespace: Invalid value: \"Bad_NS\": a lowercase RFC 1123 label"],
            ),
            (
                json!({"generateName": "Web-"}),
                false,
                NameRule::Subdomain,
                &["metadata.generateName: Invalid value: \"Web-\": a lowercase RFC 1123 subdomain"],
            ),
            (
                Value::Null,
                false,
                NameRule::Subdomain,
                &["metadata.name: Required value: name or generateName is required"],
            ),
        ];
        for (meta, namespaced, rule, want) in cases {
            let got = lines(&validate_object_meta(meta, *namespaced, *rule));
            assert_eq!(got.len(), want.len(), "{meta}: {got:?}");
            for (g, w) in got.iter().zip(want.iter()) {
                assert!(g.starts_with(w), "{meta}: {g}");
            }
        }
        let causes = validate_object_meta(&json!({"name": "Web_App"}), false, NameRule::Subdomain);
        assert_eq!(
            causes[0].to_string(),
            "metadata.name: Invalid value: \"Web_App\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
        assert_eq!(causes[0].reason, "FieldValueInvalid");
    }

    #[test]
    fn object_meta_labels_annotations_finalizers_owners() {
        let base = |extra: Value| {
            let mut meta = json!({"name": "web"});
            meta.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            lines(&validate_object_meta(&meta, false, NameRule::Subdomain))
        };
        let big = "x".repeat(ANNOTATIONS_MAX_BYTES);
        let uid_only = json!({"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u"});
        let cases: &[(Value, &[&str])] = &[
            (
                json!({"labels": {"app": "web", "example.com/tier": ""}}),
                &[],
            ),
            (
                json!({"labels": {"bad key": "v"}}),
                &["metadata.labels: Invalid value: \"bad key\": name part must consist of"],
            ),
            (
                json!({"labels": {"app": "-v"}}),
                &["metadata.labels: Invalid value: \"-v\": a valid label must be an empty string"],
            ),
            (json!({"annotations": {"Example.com/Note": "ok"}}), &[]),
            (
                json!({"annotations": {"a": big}}),
                &["metadata.annotations: Too long: may not be more than 262144 bytes"],
            ),
            (
                json!({"finalizers": ["kubernetes", "example.com/cleanup"]}),
                &[],
            ),
            (
                json!({"finalizers": ["bad/finalizer/name"]}),
                &["metadata.finalizers: Invalid value: \"bad/finalizer/name\": a qualified name"],
            ),
            (
                json!({"finalizers": ["orphan", "foregroundDeletion"]}),
                &[
                    "metadata.finalizers: Invalid value: [\"orphan\",\"foregroundDeletion\"]: finalizer orphan and foregroundDeletion cannot be both set",
                ],
            ),
            (json!({"ownerReferences": [uid_only]}), &[]),
            (
                json!({"ownerReferences": [{"apiVersion": "apps/", "kind": "ReplicaSet", "name": "rs"}]}),
                &[
                    "metadata.ownerReferences.apiVersion: Invalid value: \"apps/\": version must not be empty",
                    "metadata.ownerReferences.uid: Invalid value: \"\": must not be empty",
                ],
            ),
            (
                json!({"ownerReferences": [
                    {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1", "controller": true},
                    {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "2", "controller": true}
                ]}),
                &["metadata.ownerReferences: Invalid value: "],
            ),
        ];
        for (extra, want) in cases {
            let got = base(extra.clone());
            assert_eq!(got.len(), want.len(), "{extra}: {got:?}");
            for (g, w) in got.iter().zip(want.iter()) {
                assert!(g.starts_with(w), "{g}");
            }
        }
        let two = base(json!({"ownerReferences": [
            {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1", "controller": true},
            {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "2", "controller": true}
        ]}));
        assert!(two[0].ends_with("Only one reference can have Controller set to true. Found \"true\" in references for A/a and B/b"));
    }

    #[test]
    fn cause_constructors_word_messages_like_kubernetes() {
        let cases = [
            (
                Cause::required("spec.x", ""),
                "spec.x: Required value",
                "FieldValueRequired",
            ),
            (
                Cause::invalid(
                    "spec.replicas",
                    &json!(-1),
                    "must be greater than or equal to 0",
                ),
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "FieldValueInvalid",
            ),
            (
                Cause::not_supported("spec.type", "Foo", &["A", "B"]),
                "spec.type: Unsupported value: \"Foo\": supported values: \"A\", \"B\"",
                "FieldValueNotSupported",
            ),
            (
                Cause::duplicate("spec.ports[1].name", &json!("http")),
                "spec.ports[1].name: Duplicate value: \"http\"",
                "FieldValueDuplicate",
            ),
            (
                Cause::forbidden("spec.x", "not allowed"),
                "spec.x: Forbidden: not allowed",
                "FieldValueForbidden",
            ),
            (
                Cause::not_found("v[0].name", &json!("data")),
                "v[0].name: Not found: \"data\"",
                "FieldValueNotFound",
            ),
            (
                Cause::too_long("data", 10),
                "data: Too long: may not be more than 10 bytes",
                "FieldValueTooLong",
            ),
        ];
        for (cause, text, reason) in cases {
            assert_eq!(cause.to_string(), text);
            assert_eq!(cause.reason, reason);
        }
    }

    #[test]
    fn invalid_message_aggregates_like_kubernetes() {
        let one = [Cause::required("spec.selector", "")];
        assert_eq!(
            invalid_message("apps", "Deployment", "web", &one),
            "Deployment.apps \"web\" is invalid: spec.selector: Required value"
        );
        let two = [
            Cause::required("a", ""),
            Cause::required("b", ""),
            Cause::required("a", ""),
        ];
        assert_eq!(
            invalid_message("", "Pod", "p", &two),
            "Pod \"p\" is invalid: [a: Required value, b: Required value]"
        );
    }

    #[test]
    fn lease_and_disruption_budget_rules() {
        let lease = json!({"spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}});
        assert_eq!(
            lines(&validate_native("coordination.k8s.io", "Lease", &lease)),
            [
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"
            ]
        );
        let pdb = json!({"spec": {"minAvailable": 1, "maxUnavailable": 1,
            "selector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}});
        assert_eq!(
            lines(&validate_native("policy", "PodDisruptionBudget", &pdb)),
            [
                "spec: Invalid value: {\"minAvailable\":1,\"maxUnavailable\":1,\"selector\":{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\"}]}}: minAvailable and maxUnavailable cannot be both set",
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
            ]
        );
        assert!(validate_native("", "Namespace", &json!({})).is_empty());
        assert!(validate_native("example.com", "Widget", &json!({"spec": 1})).is_empty());
    }
}
