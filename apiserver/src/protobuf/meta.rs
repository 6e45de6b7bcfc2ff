//! Field tables for meta/v1: ObjectMeta, label selectors, conditions, DeleteOptions.

use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_v1;

use serde_json::Value;

use super::json::messages;

messages! {
    "meta.v1" in meta_v1;

    Condition {
        r#type: "type", status, observed_generation: "observedGeneration",
        last_transition_time: "lastTransitionTime", reason, message,
    }
    DeleteOptions {
        grace_period_seconds: "gracePeriodSeconds", preconditions,
        orphan_dependents: "orphanDependents", propagation_policy: "propagationPolicy",
        dry_run: "dryRun",
        ignore_store_read_error_with_cluster_breaking_potential: "ignoreStoreReadErrorWithClusterBreakingPotential",
    }
    FieldSelectorRequirement { key, operator, values }
    LabelSelector { match_labels: "matchLabels", match_expressions: "matchExpressions" }
    LabelSelectorRequirement { key, operator, values }
    ManagedFieldsEntry {
        manager, operation, api_version: "apiVersion", time, fields_type: "fieldsType",
        fields_v1: "fieldsV1", subresource,
    }
    ObjectMeta {
        name, generate_name: "generateName", namespace, self_link: "selfLink", uid,
        resource_version: "resourceVersion", generation, creation_timestamp: "creationTimestamp",
        deletion_timestamp: "deletionTimestamp",
        deletion_grace_period_seconds: "deletionGracePeriodSeconds", labels, annotations,
        owner_references: "ownerReferences", finalizers, managed_fields: "managedFields",
    } => tidy_object_meta
    OwnerReference {
        api_version: "apiVersion", kind, name, uid, controller,
        block_owner_deletion: "blockOwnerDeletion",
    }
    Preconditions { uid, resource_version: "resourceVersion" }
}

/// Go writes every non-pointer `ObjectMeta` field, so a new object arrives with `uid: ""`,
/// `resourceVersion: ""`, `generation: 0` and an empty creation time. Its JSON encoding omits
/// those zero values (all are `omitempty`), and the registry must see the same request either way.
fn tidy_object_meta(mut meta: Value) -> Value {
    if let Value::Object(fields) = &mut meta {
        fields.retain(|name, value| match value {
            Value::Null => false,
            Value::String(s) => !s.is_empty() || !OMITTED_WHEN_EMPTY.contains(&name.as_str()),
            Value::Number(n) => name != "generation" || n.as_i64() != Some(0),
            _ => true,
        });
    }
    meta
}

const OMITTED_WHEN_EMPTY: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
];

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::protobuf::json::ToJson;

    #[test]
    fn object_meta_drops_go_zero_values_only() {
        let meta = meta_v1::ObjectMeta {
            name: Some("web".to_owned()),
            generate_name: Some(String::new()),
            namespace: Some(String::new()),
            self_link: Some(String::new()),
            uid: Some(String::new()),
            resource_version: Some(String::new()),
            generation: Some(0),
            creation_timestamp: Some(meta_v1::Time::default()),
            labels: [("app".to_owned(), String::new())].into(),
            ..Default::default()
        };
        assert_eq!(
            meta.to_json().unwrap(),
            json!({"name": "web", "labels": {"app": ""}})
        );
        let deleting = meta_v1::ObjectMeta {
            generation: Some(3),
            deletion_timestamp: Some(meta_v1::Time {
                seconds: Some(60),
                nanos: Some(0),
            }),
            deletion_grace_period_seconds: Some(0),
            ..Default::default()
        };
        assert_eq!(
            deleting.to_json().unwrap(),
            json!({"generation": 3, "deletionTimestamp": "1970-01-01T00:01:00Z", "deletionGracePeriodSeconds": 0})
        );
    }
}
