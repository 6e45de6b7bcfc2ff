//! Component schemas of custom resources, built from their CRD's `openAPIV3Schema`.

use serde_json::{Map, Value, json};

use super::schemas::{
    OBJECT_META, api_version_property, described_reference, gvk_list, kind_property,
};
use crate::registry::catalog::{Origin, Resource};

/// The component name upstream gives a custom kind: the group reversed like a Java package,
/// then version and kind (`stable.example.com` → `com.example.stable.v1.CronTab`).
pub(super) fn schema_name(group: &str, version: &str, kind: &str) -> String {
    let mut parts: Vec<&str> = group.split('.').filter(|p| !p.is_empty()).collect();
    parts.reverse();
    parts.push(version);
    parts.push(kind);
    parts.join(".")
}

/// Whether objects of `resource` keep every field they are given: a CRD without a schema, or
/// one that opted out of pruning with `preserveUnknownFields`.
pub(super) fn preserves_everything(resource: &Resource) -> bool {
    match &resource.origin {
        Origin::Custom {
            schema,
            preserve_unknown_fields,
            ..
        } => *preserve_unknown_fields || schema.is_none(),
        Origin::Native => false,
    }
}

/// The component schema of a custom kind: the CRD's schema with `apiVersion`, `kind` and
/// `metadata` filled in as every kind has them, plus the GVK extension.
pub(super) fn kind_schema(resource: &Resource) -> Value {
    let crd_schema = match &resource.origin {
        Origin::Custom {
            schema: Some(schema),
            ..
        } => schema.clone(),
        _ => json!({ "type": "object" }),
    };
    let mut schema = match crd_schema {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if preserves_everything(resource) {
        schema.insert(
            "x-kubernetes-preserve-unknown-fields".into(),
            Value::Bool(true),
        );
    }
    schema.entry("type").or_insert_with(|| "object".into());
    let properties = schema
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(properties) = properties {
        properties.insert("apiVersion".into(), api_version_property());
        properties.insert("kind".into(), kind_property());
        // The API server owns metadata's schema; whatever the CRD says about it is ignored.
        properties.insert(
            "metadata".into(),
            described_reference(
                OBJECT_META,
                "Standard object's metadata. More info: \
                 https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
            ),
        );
    }
    schema.insert(
        "x-kubernetes-group-version-kind".into(),
        gvk_list(&[(&resource.group, &resource.version, &resource.kind)]),
    );
    Value::Object(schema)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::registry::catalog::Origin;

    pub(in crate::openapi) fn crontab(schema: Option<Value>) -> Resource {
        Resource {
            group: "stable.example.com".into(),
            version: "v1".into(),
            kind: "CronTab".into(),
            plural: "crontabs".into(),
            singular: "crontab".into(),
            namespaced: true,
            short_names: vec!["ct".into()],
            categories: vec![],
            status_subresource: false,
            scale: None,
            preferred: true,
            origin: Origin::Custom {
                crd_name: "crontabs.stable.example.com".into(),
                schema,
                printer_columns: vec![],
                preserve_unknown_fields: false,
            },
        }
    }

    #[test]
    fn names_reverse_the_group() {
        let cases = [
            (
                "stable.example.com",
                "v1",
                "CronTab",
                "com.example.stable.v1.CronTab",
            ),
            ("example", "v2beta1", "Foo", "example.v2beta1.Foo"),
            ("", "v1", "Foo", "v1.Foo"),
        ];
        for (group, version, kind, want) in cases {
            assert_eq!(schema_name(group, version, kind), want);
        }
    }

    #[test]
    fn kind_schema_adds_type_meta_and_gvk() {
        let crd = json!({
            "type": "object",
            "properties": {
                "metadata": {"type": "object"},
                "spec": {"type": "object", "properties": {"cron": {"type": "string"}}},
            },
        });
        let schema = kind_schema(&crontab(Some(crd)));
        assert_eq!(
            schema["properties"]["spec"]["properties"]["cron"]["type"],
            "string"
        );
        assert_eq!(schema["properties"]["apiVersion"]["type"], "string");
        assert_eq!(
            schema["properties"]["metadata"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert_eq!(
            schema["x-kubernetes-group-version-kind"],
            json!([{"group": "stable.example.com", "kind": "CronTab", "version": "v1"}])
        );
        assert!(schema.get("x-kubernetes-preserve-unknown-fields").is_none());
    }

    #[test]
    fn kind_without_schema_preserves_everything() {
        let resource = crontab(None);
        assert!(preserves_everything(&resource));
        let schema = kind_schema(&resource);
        assert_eq!(schema["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(schema["type"], "object");
    }
}
