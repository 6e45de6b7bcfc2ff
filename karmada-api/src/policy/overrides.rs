//! OverridePolicy and ClusterOverridePolicy (`policy.karmada.io/v1alpha1`): how a resource
//! template is changed for the member clusters it lands on.

mod validate;

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::selectors::{ClusterAffinity, ResourceSelector};

pub(crate) use validate::cluster_affinity;
pub use validate::validate_override_spec;

/// What an override policy changes, where, and for which resource templates.
///
/// `OverridePolicy` applies to templates in its own namespace; `ClusterOverridePolicy` to any.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "policy.karmada.io",
    version = "v1alpha1",
    kind = "OverridePolicy",
    plural = "overridepolicies",
    shortname = "op",
    category = "karmada-io",
    namespaced
)]
#[kube(derive = "PartialEq")]
#[serde(rename_all = "camelCase")]
pub struct OverrideSpec {
    /// The resource templates this policy overrides; empty means every template.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_selectors: Vec<ResourceSelector>,
    /// Overriders per cluster set, applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub override_rules: Vec<RuleWithCluster>,
    /// Deprecated: the clusters `overriders` applies to; use `overrideRules`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cluster: Option<ClusterAffinity>,
    /// Deprecated: the overriders applied to `targetCluster`; use `overrideRules`.
    #[serde(default, skip_serializing_if = "Overriders::is_empty")]
    pub overriders: Overriders,
}

/// The cluster-scoped twin of [`OverridePolicy`], built from the same spec.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "policy.karmada.io",
    version = "v1alpha1",
    kind = "ClusterOverridePolicy",
    plural = "clusteroverridepolicies",
    shortname = "cop",
    category = "karmada-io"
)]
#[kube(derive = "PartialEq")]
#[serde(transparent)]
pub struct ClusterOverrideSpec(pub OverrideSpec);

twin_spec!(ClusterOverrideSpec, OverrideSpec);

/// Overriders applied to the clusters a target selects.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleWithCluster {
    /// The clusters this rule applies to; unset means every cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cluster: Option<ClusterAffinity>,
    pub overriders: Overriders,
}

/// Every way a template can be changed; applied in the order the fields are listed here
/// (plaintext last, as Karmada does).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overriders {
    /// JSON-patch style operations on arbitrary paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plaintext: Vec<PlaintextOverrider>,
    /// Changes to container images (registry, repository or tag).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_overrider: Vec<ImageOverrider>,
    /// Changes to a container's `command`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command_overrider: Vec<CommandArgsOverrider>,
    /// Changes to a container's `args`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args_overrider: Vec<CommandArgsOverrider>,
    /// Changes to `metadata.labels`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels_overrider: Vec<LabelAnnotationOverrider>,
    /// Changes to `metadata.annotations`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations_overrider: Vec<LabelAnnotationOverrider>,
    /// Patches inside a string field holding JSON or YAML (e.g. a ConfigMap key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub field_overrider: Vec<FieldOverrider>,
}

impl Overriders {
    /// Whether no overrider of any kind is set.
    pub fn is_empty(&self) -> bool {
        self.plaintext.is_empty()
            && self.image_overrider.is_empty()
            && self.command_overrider.is_empty()
            && self.args_overrider.is_empty()
            && self.labels_overrider.is_empty()
            && self.annotations_overrider.is_empty()
            && self.field_overrider.is_empty()
    }
}

/// How an overrider changes its target.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OverriderOperator {
    Add,
    Remove,
    Replace,
}

/// How a command or args overrider changes the list (no `replace`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommandArgsOperator {
    Add,
    Remove,
}

/// One JSON-patch style operation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaintextOverrider {
    /// JSON pointer to the target field, e.g. `/spec/replicas`.
    pub path: String,
    pub operator: OverriderOperator,
    /// The new value (any JSON); required for `add`/`replace`, forbidden for `remove`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_json")]
    pub value: Option<Value>,
}

/// The part of an image reference an [`ImageOverrider`] changes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ImageComponent {
    Registry,
    Repository,
    Tag,
}

/// Changes one component of the images of a workload (or of the image at `predicate.path`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageOverrider {
    /// Which image to change; unset means every container image of a known workload kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<ImagePredicate>,
    pub component: ImageComponent,
    pub operator: OverriderOperator,
    /// The new component value; ignored for `remove`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Where the image to change lives.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImagePredicate {
    /// JSON pointer to the image field, e.g. `/spec/template/spec/containers/0/image`.
    pub path: String,
}

/// Adds or removes entries of one container's `command` or `args`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandArgsOverrider {
    pub container_name: String,
    pub operator: CommandArgsOperator,
    /// Entries appended (`add`) or deleted (`remove`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value: Vec<String>,
}

/// Adds, replaces or removes labels or annotations.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelAnnotationOverrider {
    pub operator: OverriderOperator,
    /// Keys and values; for `remove` only the keys matter.
    pub value: BTreeMap<String, String>,
}

/// Patches the JSON or YAML document held in the string field at `fieldPath`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldOverrider {
    /// JSON pointer to the string field, e.g. `/data/config.yaml`.
    pub field_path: String,
    /// Operations when the field holds JSON; exclusive with `yaml`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json: Vec<PatchOperation>,
    /// Operations when the field holds YAML; exclusive with `json`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub yaml: Vec<PatchOperation>,
}

/// One operation inside a [`FieldOverrider`]'s document.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatchOperation {
    /// JSON pointer inside the parsed document, e.g. `/db/port`.
    pub sub_path: String,
    pub operator: OverriderOperator,
    /// The new value (any JSON); required for `add`/`replace`, forbidden for `remove`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_json")]
    pub value: Option<Value>,
}

/// Schema of a field holding any JSON value: no type, unknown fields kept, as Karmada's CRD
/// declares `apiextensionsv1.JSON`.
fn any_json(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::structural::assert_structural;
    use kube::{CustomResourceExt, Resource};
    use serde_json::json;

    fn sample(path: &str) -> Value {
        let text = std::fs::read_to_string(format!(
            "{}/../samples/karmada/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        serde_saphyr::from_str(&text).unwrap()
    }

    #[test]
    fn karmada_samples_round_trip() {
        for path in [
            "nginx/overridepolicy.yaml",
            "guestbook/guestbooks-overridepolicy.yaml",
        ] {
            let value = sample(path);
            let policy: OverridePolicy = serde_json::from_value(value.clone()).unwrap();
            assert_eq!(serde_json::to_value(&policy).unwrap(), value, "{path}");
        }
    }

    #[test]
    fn samples_parse_into_typed_overriders() {
        let nginx: OverridePolicy =
            serde_json::from_value(sample("nginx/overridepolicy.yaml")).unwrap();
        let rule = &nginx.spec.override_rules[0];
        assert_eq!(
            rule.target_cluster.as_ref().unwrap().cluster_names,
            ["member2"]
        );
        assert_eq!(
            rule.overriders.labels_overrider[2].operator,
            OverriderOperator::Remove
        );
        let guestbook: OverridePolicy =
            serde_json::from_value(sample("guestbook/guestbooks-overridepolicy.yaml")).unwrap();
        let plaintext = &guestbook.spec.override_rules[0].overriders.plaintext;
        assert_eq!(plaintext[0].value, Some(json!(4)));
        assert_eq!(plaintext[1].value, Some(json!({"OverridePolicy": "test"})));
    }

    #[test]
    fn cluster_override_policy_shares_the_spec() {
        let value = json!({
            "apiVersion": "policy.karmada.io/v1alpha1",
            "kind": "ClusterOverridePolicy",
            "metadata": {"name": "images"},
            "spec": {
                "resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment"}],
                "overrideRules": [{"overriders": {
                    "imageOverrider": [{"component": "Registry", "operator": "replace",
                                        "value": "mirror.example.com"}],
                    "argsOverrider": [{"containerName": "app", "operator": "add", "value": ["-v"]}],
                    "fieldOverrider": [{"fieldPath": "/data/config.yaml",
                                        "yaml": [{"subPath": "/db/port", "operator": "replace",
                                                  "value": 5432}]}]
                }}]
            }
        });
        let policy: ClusterOverridePolicy = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(
            policy.spec.override_rules[0].overriders.image_overrider[0].component,
            ImageComponent::Registry
        );
        assert_eq!(serde_json::to_value(&policy).unwrap(), value);
    }

    #[test]
    fn unknown_enum_values_are_rejected() {
        for overriders in [
            json!({"plaintext": [{"path": "/a", "operator": "patch"}]}),
            json!({"imageOverrider": [{"component": "Digest", "operator": "replace"}]}),
            json!({"imageOverrider": [{"component": "Tag", "operator": "Replace"}]}),
            json!({"commandOverrider": [{"containerName": "c", "operator": "replace"}]}),
        ] {
            assert!(
                serde_json::from_value::<Overriders>(overriders.clone()).is_err(),
                "{overriders}"
            );
        }
    }

    #[test]
    fn crds_match_karmada() {
        for (crd, plural, short, scope) in [
            (
                OverridePolicy::crd(),
                "overridepolicies",
                "op",
                "Namespaced",
            ),
            (
                ClusterOverridePolicy::crd(),
                "clusteroverridepolicies",
                "cop",
                "Cluster",
            ),
        ] {
            assert_eq!(crd.spec.group, "policy.karmada.io");
            assert_eq!(crd.spec.names.plural, plural);
            assert_eq!(
                crd.spec.names.short_names.as_deref(),
                Some(&[short.to_string()][..])
            );
            assert_eq!(
                crd.spec.names.categories.as_deref(),
                Some(&["karmada-io".to_string()][..])
            );
            assert_eq!(crd.spec.scope, scope);
            let version = &crd.spec.versions[0];
            assert_eq!(version.name, "v1alpha1");
            assert!(version.subresources.is_none());
            assert!(version.additional_printer_columns.is_none());
            let schema = serde_json::to_value(version.schema.as_ref().unwrap()).unwrap();
            assert_structural(&schema["openAPIV3Schema"]);
            let spec = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"];
            let plaintext = &spec["overrideRules"]["items"]["properties"]["overriders"]["properties"]
                ["plaintext"];
            assert_eq!(plaintext["items"]["required"], json!(["operator", "path"]));
            assert_eq!(
                plaintext["items"]["properties"]["value"]["x-kubernetes-preserve-unknown-fields"],
                json!(true)
            );
            assert!(
                plaintext["items"]["properties"]["value"]
                    .get("type")
                    .is_none()
            );
        }
        assert_eq!(OverridePolicy::kind(&()), "OverridePolicy");
    }
}
