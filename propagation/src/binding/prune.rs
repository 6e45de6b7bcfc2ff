//! The fields Karmada strips from a resource template before it goes into a Work: what the
//! Karmada apiserver filled in and what a member cluster must choose for itself.

use serde_json::{Map, Value};

/// Metadata the control plane's apiserver owns; a member cluster rejects or overwrites them.
const SERVER_METADATA: [&str; 10] = [
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "managedFields",
    "resourceVersion",
    "selfLink",
    "uid",
    "ownerReferences",
    "finalizers",
];

/// Deployment revision annotations the member's deployment controller maintains itself.
const DEPLOYMENT_REVISION_ANNOTATIONS: [&str; 2] = [
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
];
/// Selector labels the control plane's job controller generated from the Job's uid.
const JOB_SELECTOR_LABELS: [&str; 2] = ["controller-uid", "batch.kubernetes.io/controller-uid"];
/// Pod template labels the control plane's job controller generated.
const JOB_TEMPLATE_LABELS: [&str; 4] = [
    "controller-uid",
    "job-name",
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-name",
];
/// Annotation binding a token Secret to a ServiceAccount uid of the control plane.
const SERVICE_ACCOUNT_UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";
/// The node a PersistentVolumeClaim was scheduled to in the control plane's view.
const PVC_SELECTED_NODE_ANNOTATION: &str = "volume.kubernetes.io/selected-node";

/// The template as it is sent to member clusters (Karmada's `RemoveIrrelevantFields` with the
/// Job TTL hook the binding controller adds).
pub fn prune(template: &Value) -> Value {
    let mut manifest = template.clone();
    prune_in_place(&mut manifest);
    manifest
}

/// [`prune`] without the copy.
pub fn prune_in_place(manifest: &mut Value) {
    let Some(object) = manifest.as_object_mut() else {
        return;
    };
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in SERVER_METADATA {
            metadata.remove(field);
        }
    }
    object.remove("status");
    match object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "Deployment" => remove_annotations(object, &DEPLOYMENT_REVISION_ANNOTATIONS),
        "Job" => prune_job(object),
        "Secret" => prune_secret(object),
        "ServiceAccount" => prune_service_account(object),
        "Service" => prune_service(object),
        "PersistentVolumeClaim" => prune_pvc(object),
        _ => {}
    }
}

fn remove_annotations(object: &mut Map<String, Value>, keys: &[&str]) {
    if let Some(annotations) = child(object, &["metadata", "annotations"]) {
        for key in keys {
            annotations.remove(*key);
        }
    }
}

/// A member's job controller generates its own selector unless the user chose one
/// (`manualSelector: true`); the TTL is dropped because a member deleting the finished Job
/// would make Karmada recreate it.
fn prune_job(object: &mut Map<String, Value>) {
    let manual = object
        .get("spec")
        .and_then(|spec| spec.get("manualSelector"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !manual {
        if let Some(labels) = child(object, &["spec", "selector", "matchLabels"]) {
            for key in JOB_SELECTOR_LABELS {
                labels.remove(key);
            }
        }
        if let Some(labels) = child(object, &["spec", "template", "metadata", "labels"]) {
            for key in JOB_TEMPLATE_LABELS {
                labels.remove(key);
            }
        }
    }
    if let Some(spec) = child(object, &["spec"]) {
        spec.remove("ttlSecondsAfterFinished");
    }
}

/// A service-account token is minted by each member for its own ServiceAccount.
fn prune_secret(object: &mut Map<String, Value>) {
    if object.get("type").and_then(Value::as_str) == Some("kubernetes.io/service-account-token") {
        remove_annotations(object, &[SERVICE_ACCOUNT_UID_ANNOTATION]);
        object.insert("data".to_string(), Value::Null);
    }
}

/// Token secrets the control plane generated (`<name>-token-*`) do not exist in members.
fn prune_service_account(object: &mut Map<String, Value>) {
    let prefix = format!(
        "{}-token-",
        object
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    );
    if let Some(Value::Array(secrets)) = object.get_mut("secrets") {
        secrets.retain(|secret| {
            !secret
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|name| name.starts_with(&prefix))
        });
    }
}

/// Each member allocates cluster IPs from its own range; a headless Service (`None`) keeps it.
fn prune_service(object: &mut Map<String, Value>) {
    let Some(spec) = child(object, &["spec"]) else {
        return;
    };
    let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
    if spec.contains_key("clusterIP") && !headless {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
}

/// The node chosen in the control plane's view means nothing in a member.
fn prune_pvc(object: &mut Map<String, Value>) {
    if let Some(annotations) = child(object, &["metadata", "annotations"]) {
        let chosen = annotations
            .get(PVC_SELECTED_NODE_ANNOTATION)
            .and_then(Value::as_str)
            .is_some_and(|node| !node.is_empty());
        if chosen {
            annotations.remove(PVC_SELECTED_NODE_ANNOTATION);
        }
    }
}

fn child<'a>(
    object: &'a mut Map<String, Value>,
    path: &[&str],
) -> Option<&'a mut Map<String, Value>> {
    path.iter()
        .try_fold(object, |map, key| map.get_mut(*key)?.as_object_mut())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta() -> Value {
        json!({
            "name": "web", "namespace": "default", "uid": "u-1", "resourceVersion": "7",
            "generation": 3, "creationTimestamp": "2026-01-01T00:00:00Z", "selfLink": "/x",
            "managedFields": [{"manager": "kubectl"}], "finalizers": ["f"],
            "ownerReferences": [{"kind": "X"}], "deletionTimestamp": "2026-01-02T00:00:00Z",
            "deletionGracePeriodSeconds": 30, "labels": {"app": "web"}
        })
    }

    #[test]
    fn prune_table() {
        let kept_meta = json!({"name": "web", "namespace": "default", "labels": {"app": "web"}});
        let cases = [
            (
                "server metadata and status go, for any kind",
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(),
                       "data": {"a": "b"}, "status": {"x": 1}}),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": kept_meta,
                       "data": {"a": "b"}}),
            ),
            (
                "deployment revision annotations go, others stay",
                json!({"kind": "Deployment", "metadata": {"name": "web", "annotations": {
                    "deployment.kubernetes.io/revision": "2",
                    "deployment.kubernetes.io/revision-history": "1", "keep": "me"}}}),
                json!({"kind": "Deployment", "metadata": {"name": "web",
                       "annotations": {"keep": "me"}}}),
            ),
            (
                "generated job selector labels and ttl go",
                json!({"kind": "Job", "metadata": {"name": "pi"}, "spec": {
                    "ttlSecondsAfterFinished": 100,
                    "selector": {"matchLabels": {"controller-uid": "u",
                        "batch.kubernetes.io/controller-uid": "u"}},
                    "template": {"metadata": {"labels": {"controller-uid": "u", "job-name": "pi",
                        "batch.kubernetes.io/job-name": "pi",
                        "batch.kubernetes.io/controller-uid": "u", "app": "pi"}}}}}),
                json!({"kind": "Job", "metadata": {"name": "pi"}, "spec": {
                    "selector": {"matchLabels": {}},
                    "template": {"metadata": {"labels": {"app": "pi"}}}}}),
            ),
            (
                "a manual job selector stays, the ttl still goes",
                json!({"kind": "Job", "metadata": {"name": "pi"}, "spec": {
                    "manualSelector": true, "ttlSecondsAfterFinished": 5,
                    "selector": {"matchLabels": {"controller-uid": "u"}}}}),
                json!({"kind": "Job", "metadata": {"name": "pi"}, "spec": {
                    "manualSelector": true,
                    "selector": {"matchLabels": {"controller-uid": "u"}}}}),
            ),
            (
                "service cluster IPs go",
                json!({"kind": "Service", "metadata": {"name": "web"}, "spec": {
                    "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"],
                    "ports": [{"port": 80, "nodePort": 30080}]}}),
                json!({"kind": "Service", "metadata": {"name": "web"}, "spec": {
                    "ports": [{"port": 80, "nodePort": 30080}]}}),
            ),
            (
                "a headless service keeps None",
                json!({"kind": "Service", "metadata": {"name": "web"}, "spec": {
                    "clusterIP": "None", "clusterIPs": ["None"]}}),
                json!({"kind": "Service", "metadata": {"name": "web"}, "spec": {
                    "clusterIP": "None", "clusterIPs": ["None"]}}),
            ),
            (
                "service-account token secrets lose data and the uid annotation",
                json!({"kind": "Secret", "type": "kubernetes.io/service-account-token",
                       "metadata": {"name": "t", "annotations": {
                           "kubernetes.io/service-account.uid": "u",
                           "kubernetes.io/service-account.name": "sa"}},
                       "data": {"token": "abc"}}),
                json!({"kind": "Secret", "type": "kubernetes.io/service-account-token",
                       "metadata": {"name": "t", "annotations": {
                           "kubernetes.io/service-account.name": "sa"}},
                       "data": null}),
            ),
            (
                "opaque secrets keep their data",
                json!({"kind": "Secret", "type": "Opaque", "metadata": {"name": "s"},
                       "data": {"k": "dg=="}}),
                json!({"kind": "Secret", "type": "Opaque", "metadata": {"name": "s"},
                       "data": {"k": "dg=="}}),
            ),
            (
                "generated service-account token secrets go",
                json!({"kind": "ServiceAccount", "metadata": {"name": "sa"},
                       "secrets": [{"name": "sa-token-x1"}, {"name": "mine"}]}),
                json!({"kind": "ServiceAccount", "metadata": {"name": "sa"},
                       "secrets": [{"name": "mine"}]}),
            ),
            (
                "a pvc's selected node goes, its volumeName stays",
                json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "d", "annotations":
                       {"volume.kubernetes.io/selected-node": "n1"}},
                       "spec": {"volumeName": "pv-1"}}),
                json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "d",
                       "annotations": {}}, "spec": {"volumeName": "pv-1"}}),
            ),
        ];
        for (case, template, want) in cases {
            assert_eq!(prune(&template), want, "{case}");
        }
    }
}
