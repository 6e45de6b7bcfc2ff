//! Work (`work.karmada.io/v1alpha1`): the manifests one member cluster applies, and what
//! became of each of them there.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::validation::{Admit, FieldError};

/// Label carrying a Work's permanent id, stamped on the Work and on every manifest it holds so
/// a member-cluster object can be traced back to its Work across renames.
pub const WORK_PERMANENT_ID_LABEL: &str = "work.karmada.io/permanent-id";
/// Annotation on an applied object naming the namespace of the Work that applied it.
pub const WORK_NAMESPACE_ANNOTATION: &str = "work.karmada.io/namespace";
/// Annotation on an applied object naming the Work that applied it.
pub const WORK_NAME_ANNOTATION: &str = "work.karmada.io/name";

/// Condition type: the manifests were applied to the member cluster.
pub const CONDITION_APPLIED: &str = "Applied";
/// Condition type: the manifests are being applied.
pub const CONDITION_PROGRESSING: &str = "Progressing";
/// Condition type: the applied objects exist in the member cluster.
pub const CONDITION_AVAILABLE: &str = "Available";
/// Condition type: the applied objects do not match the desired state.
pub const CONDITION_DEGRADED: &str = "Degraded";
/// Condition type: whether dispatching to the member cluster is suspended.
pub const CONDITION_DISPATCHING: &str = "Dispatching";

/// The manifests to apply to the member cluster whose execution namespace holds this Work.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "work.karmada.io",
    version = "v1alpha1",
    kind = "Work",
    plural = "works",
    shortname = "wk",
    category = "karmada-io",
    namespaced,
    status = "WorkStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"WORKLOAD-KIND","type":"string","jsonPath":".spec.workload.manifests[*].kind"}"#,
    printcolumn = r#"{"name":"APPLIED","type":"string","jsonPath":".status.conditions[?(@.type==\"Applied\")].status"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct WorkSpec {
    /// The objects to apply. Always serialized, as Karmada does.
    #[serde(default)]
    pub workload: WorkloadTemplate,
    /// Stops (true) or resumes dispatching to the member cluster; status is still collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend_dispatching: Option<bool>,
    /// Keeps the applied objects in the member cluster when this Work is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_resources_on_deletion: Option<bool>,
}

/// The manifests of a [`Work`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadTemplate {
    /// Complete Kubernetes objects, kept as raw JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "manifest_list")]
    pub manifests: Vec<Map<String, Value>>,
}

/// What the member cluster reports for a [`Work`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkStatus {
    /// `Applied`, `Progressing`, `Available`, `Degraded`, `Dispatching`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The observed state of each manifest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifest_statuses: Vec<ManifestStatus>,
}

/// The status of one applied manifest.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManifestStatus {
    pub identifier: ResourceIdentifier,
    /// The object's `.status` as the member cluster reports it (or as the resource
    /// interpreter reflects it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "raw_object")]
    pub status: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<ResourceHealth>,
}

/// Which manifest a [`ManifestStatus`] describes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceIdentifier {
    /// Index in `spec.workload.manifests`, so a status links to a manifest even when the
    /// manifest cannot be parsed.
    pub ordinal: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Plural resource name, e.g. `deployments`.
    pub resource: String,
    /// Empty for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
}

/// Health of an applied object as the resource interpreter judges it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ResourceHealth {
    Healthy,
    Unhealthy,
    Unknown,
}

/// Schema of the manifest list: objects whose fields the apiserver keeps as given.
fn manifest_list(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
    })
}

/// Schema of a raw object field (unknown fields kept).
fn raw_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

impl Work {
    /// Gives the Work a permanent id (from `new_id`) unless it has one, and stamps the id on
    /// every manifest's labels, as Karmada's mutating webhook does. Ids are injected so this
    /// stays pure.
    pub fn ensure_permanent_id(&mut self, new_id: impl FnOnce() -> String) {
        let labels = self.metadata.labels.get_or_insert_with(BTreeMap::new);
        let id = match labels
            .get(WORK_PERMANENT_ID_LABEL)
            .filter(|id| !id.is_empty())
        {
            Some(id) => id.clone(),
            None => {
                let id = new_id();
                labels.insert(WORK_PERMANENT_ID_LABEL.to_string(), id.clone());
                id
            }
        };
        for manifest in &mut self.spec.workload.manifests {
            let metadata = manifest
                .entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()));
            let Some(metadata) = metadata.as_object_mut() else {
                continue;
            };
            let labels = metadata
                .entry("labels")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(labels) = labels.as_object_mut() {
                labels.insert(
                    WORK_PERMANENT_ID_LABEL.to_string(),
                    Value::String(id.clone()),
                );
            }
        }
    }
}

impl Admit for Work {
    /// Karmada's webhook rejects a manifest it cannot read as a Kubernetes object; each needs
    /// `apiVersion`, `kind` and `metadata.name` for the member cluster to apply it.
    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        for (i, manifest) in self.spec.workload.manifests.iter().enumerate() {
            let path = format!("spec.workload.manifests[{i}]");
            for key in ["apiVersion", "kind"] {
                if manifest
                    .get(key)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    errs.push(FieldError::required(
                        format!("{path}.{key}"),
                        format!("every manifest must be a Kubernetes object with a {key}"),
                    ));
                }
            }
            let name = manifest
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str);
            if name.is_none_or(str::is_empty) {
                errs.push(FieldError::required(
                    format!("{path}.metadata.name"),
                    "every manifest must name the object it creates",
                ));
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::structural::assert_structural;
    use crate::validation::Reason;
    use kube::CustomResourceExt;
    use serde_json::json;

    fn work_json() -> Value {
        json!({
            "apiVersion": "work.karmada.io/v1alpha1",
            "kind": "Work",
            "metadata": {"name": "nginx-687f7fb96f", "namespace": "karmada-es-member1"},
            "spec": {
                "workload": {"manifests": [{
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "nginx", "namespace": "default"},
                    "spec": {"replicas": 1, "unknownField": {"kept": true}}
                }]},
                "suspendDispatching": false,
                "preserveResourcesOnDeletion": true
            },
            "status": {
                "conditions": [{"type": "Applied", "status": "True", "reason": "AppliedSuccessful",
                                "message": "Manifest has been successfully applied",
                                "lastTransitionTime": "2026-01-02T03:04:05Z"}],
                "manifestStatuses": [{
                    "identifier": {"ordinal": 0, "group": "apps", "version": "v1", "kind": "Deployment",
                                   "resource": "deployments", "namespace": "default", "name": "nginx"},
                    "status": {"readyReplicas": 1, "replicas": 1},
                    "health": "Healthy"
                }]
            }
        })
    }

    #[test]
    fn work_round_trips_with_raw_manifests_and_status() {
        let value = work_json();
        let work: Work = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(
            work.status.as_ref().unwrap().manifest_statuses[0].health,
            Some(ResourceHealth::Healthy)
        );
        assert_eq!(
            work.spec.workload.manifests[0]["spec"]["unknownField"],
            json!({"kept": true})
        );
        assert_eq!(serde_json::to_value(&work).unwrap(), value);
    }

    #[test]
    fn unknown_health_is_rejected() {
        let mut value = work_json();
        value["status"]["manifestStatuses"][0]["health"] = json!("Sick");
        assert!(serde_json::from_value::<Work>(value).is_err());
    }

    #[test]
    fn permanent_id_is_kept_or_created_and_stamped_on_manifests() {
        let mut work: Work = serde_json::from_value(work_json()).unwrap();
        work.ensure_permanent_id(|| "id-1".to_string());
        work.ensure_permanent_id(|| "id-2".to_string());
        assert_eq!(
            work.metadata.labels.as_ref().unwrap()[WORK_PERMANENT_ID_LABEL],
            "id-1"
        );
        assert_eq!(
            work.spec.workload.manifests[0]["metadata"]["labels"][WORK_PERMANENT_ID_LABEL],
            json!("id-1")
        );
    }

    #[test]
    fn validation_table() {
        let cases = [
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
                vec![],
            ),
            (
                json!({"kind": "ConfigMap", "metadata": {"name": "c"}}),
                vec!["spec.workload.manifests[0].apiVersion"],
            ),
            (
                json!({"apiVersion": "v1", "kind": "", "metadata": {"name": "c"}}),
                vec!["spec.workload.manifests[0].kind"],
            ),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap"}),
                vec!["spec.workload.manifests[0].metadata.name"],
            ),
        ];
        for (manifest, want) in cases {
            let mut work = Work::new("w", WorkSpec::default());
            work.spec.workload.manifests = vec![manifest.as_object().unwrap().clone()];
            let errs = work.validate(None);
            assert!(errs.iter().all(|e| e.reason == Reason::Required));
            let got: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(got, want, "{manifest}");
        }
    }

    #[test]
    fn crd_matches_karmada() {
        let crd = Work::crd();
        assert_eq!(crd.spec.group, "work.karmada.io");
        assert_eq!(crd.spec.names.plural, "works");
        assert_eq!(crd.spec.names.short_names, Some(vec!["wk".to_string()]));
        assert_eq!(
            crd.spec.names.categories,
            Some(vec!["karmada-io".to_string()])
        );
        assert_eq!(crd.spec.scope, "Namespaced");
        let version = &crd.spec.versions[0];
        assert!(version.subresources.as_ref().unwrap().status.is_some());
        let columns: Vec<_> = version
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| (c.name.as_str(), c.type_.as_str(), c.json_path.as_str()))
            .collect();
        assert_eq!(
            columns,
            [
                (
                    "WORKLOAD-KIND",
                    "string",
                    ".spec.workload.manifests[*].kind"
                ),
                (
                    "APPLIED",
                    "string",
                    ".status.conditions[?(@.type==\"Applied\")].status"
                ),
                ("AGE", "date", ".metadata.creationTimestamp"),
            ]
        );
        let schema = serde_json::to_value(version.schema.as_ref().unwrap()).unwrap();
        assert_structural(&schema["openAPIV3Schema"]);
        let manifests = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["workload"]
            ["properties"]["manifests"];
        assert_eq!(
            manifests["items"]["x-kubernetes-preserve-unknown-fields"],
            json!(true)
        );
    }
}
