//! Tests of the `/openapi/v2` document: decoded back with prost and read the way kubectl
//! 1.27/1.28 read it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::proto::{self, Schema, additional_properties_item, non_body_parameter, parameter};
use super::*;
use crate::openapi::custom;
use crate::registry::catalog::Origin;

fn decode(bytes: &[u8]) -> proto::Document {
    proto::Document::decode(bytes).expect("the document decodes")
}

fn yaml(any: &proto::NamedAny) -> Value {
    let text = &any.value.as_ref().expect("extension value").yaml;
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{}: {text:?}: {e}", any.name))
}

fn extension(extensions: &[proto::NamedAny], name: &str) -> Option<Value> {
    extensions.iter().find(|e| e.name == name).map(yaml)
}

fn paths(document: &proto::Document) -> BTreeMap<&str, &PathItem> {
    document
        .paths
        .iter()
        .flat_map(|p| &p.path)
        .filter_map(|p| Some((p.name.as_str(), p.value.as_ref()?)))
        .collect()
}

fn query_names(parameters: &[ParametersItem]) -> Vec<&str> {
    parameters
        .iter()
        .filter_map(|p| match &p.parameter.as_ref()?.oneof {
            Some(parameter::Oneof::NonBodyParameter(NonBodyParameter {
                oneof: Some(non_body_parameter::Oneof::QueryParameterSubSchema(q)),
            })) => Some(q.name.as_str()),
            _ => None,
        })
        .collect()
}

/// cli-runtime's `supportsQueryParam`: the first path whose PATCH operation carries the GVK
/// decides; `None` when no path does ("couldn't find GVK in openapi").
fn supports_query_param(document: &proto::Document, gvk: &Value, name: &str) -> Option<bool> {
    paths(document).values().find_map(|item| {
        let patch = item.patch.as_ref()?;
        let found = extension(&patch.vendor_extension, "x-kubernetes-group-version-kind")?;
        (found == *gvk).then(|| query_names(&patch.parameters).contains(&name))
    })
}

/// kubectl's `GetConsumes(gvk, "PATCH")`, which picks the patch type of client-side apply.
fn patch_consumes<'a>(document: &'a proto::Document, gvk: &Value) -> Option<&'a [String]> {
    paths(document).values().find_map(|item| {
        let patch = item.patch.as_ref()?;
        let found = extension(&patch.vendor_extension, "x-kubernetes-group-version-kind")?;
        (found == *gvk).then_some(patch.consumes.as_slice())
    })
}

/// The rules kube-openapi's `NewOpenAPIData` enforces on every definition; kubectl 1.27/1.28
/// refuse the whole document on the first violation.
fn check_parsable(schema: &Schema, names: &BTreeSet<&str>, path: &str, errors: &mut Vec<String>) {
    let types = schema
        .r#type
        .as_ref()
        .map(|t| t.value.as_slice())
        .unwrap_or(&[]);
    if !schema.r#ref.is_empty() {
        if schema.properties.is_some() || !types.is_empty() {
            errors.push(format!("{path}: reference with a type or properties"));
        }
        match schema.r#ref.strip_prefix("#/definitions/") {
            Some(name) if names.contains(name) => {}
            _ => errors.push(format!("{path}: dangling reference {}", schema.r#ref)),
        }
        return;
    }
    for any in schema.vendor_extension.iter() {
        yaml(any);
    }
    if let Some(default) = &schema.default {
        serde_saphyr::from_str::<Value>(&default.yaml).expect("default parses");
    }
    match types {
        [] => {}
        [t] if t == "array" => match schema.items.as_ref().map(|i| i.schema.as_slice()) {
            Some([item]) => check_parsable(item, names, &format!("{path}[]"), errors),
            _ => errors.push(format!("{path}: array without exactly one item schema")),
        },
        [t] if ["object", "string", "integer", "number", "boolean"].contains(&t.as_str()) => {}
        other => errors.push(format!("{path}: types {other:?}")),
    }
    for property in schema
        .properties
        .iter()
        .flat_map(|p| &p.additional_properties)
    {
        let nested = property.value.clone().unwrap_or_default();
        check_parsable(&nested, names, &format!("{path}.{}", property.name), errors);
    }
    if let Some(additional_properties_item::Oneof::Schema(values)) = schema
        .additional_properties
        .as_ref()
        .and_then(|a| a.oneof.as_ref())
    {
        check_parsable(values, names, &format!("{path}{{}}"), errors);
    }
}

fn definitions(document: &proto::Document) -> BTreeMap<&str, &Schema> {
    document
        .definitions
        .iter()
        .flat_map(|d| &d.additional_properties)
        .filter_map(|d| Some((d.name.as_str(), d.value.as_ref()?)))
        .collect()
}

fn crontab_schema() -> Value {
    json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "cronSpec": {"type": "string"},
        "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
    }}}})
}

#[test]
fn deployment_paths_carry_gvk_action_and_patch_parameters() {
    let catalog = Catalog::with_native();
    let document = decode(&OpenApi::new().v2_protobuf(&catalog));
    assert_eq!(document.swagger, "2.0");
    let paths = paths(&document);
    let item = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
    let gvk = json!({"group": "apps", "kind": "Deployment", "version": "v1"});
    for (op, action) in [
        (&item.get, "get"),
        (&item.put, "put"),
        (&item.patch, "patch"),
        (&item.delete, "delete"),
    ] {
        let op = op.as_ref().expect(action);
        assert_eq!(
            extension(&op.vendor_extension, "x-kubernetes-group-version-kind"),
            Some(gvk.clone())
        );
        assert_eq!(
            extension(&op.vendor_extension, "x-kubernetes-action"),
            Some(json!(action))
        );
    }
    let patch = item.patch.as_ref().expect("patch");
    assert_eq!(patch.operation_id, "patchAppsV1NamespacedDeployment");
    assert_eq!(
        query_names(&patch.parameters),
        ["dryRun", "fieldManager", "fieldValidation", "force"]
    );
    let body = patch
        .parameters
        .iter()
        .find_map(|p| match &p.parameter.as_ref()?.oneof {
            Some(parameter::Oneof::BodyParameter(body)) => Some(body),
            _ => None,
        });
    let body = body.expect("body parameter");
    assert!(body.required);
    assert_eq!(
        body.schema.as_ref().map(|s| s.r#ref.as_str()),
        Some("#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch")
    );
    let shared: Vec<(&str, &str)> = item
        .parameters
        .iter()
        .filter_map(|p| match &p.parameter.as_ref()?.oneof {
            Some(parameter::Oneof::NonBodyParameter(NonBodyParameter {
                oneof: Some(non_body_parameter::Oneof::PathParameterSubSchema(p)),
            })) => Some((p.name.as_str(), p.r#in.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(shared, [("name", "path"), ("namespace", "path")]);
    let post = paths["/apis/apps/v1/namespaces/{namespace}/deployments"]
        .post
        .as_ref();
    assert_eq!(
        extension(&post.expect("post").vendor_extension, "x-kubernetes-action"),
        Some(json!("post"))
    );
    let ok = patch
        .responses
        .as_ref()
        .expect("responses")
        .response_code
        .iter();
    let ok = ok
        .clone()
        .find(|r| r.name == "200")
        .and_then(|r| r.value.clone());
    let schema = ok
        .and_then(|v| v.response)
        .and_then(|r| r.schema)
        .and_then(|s| s.schema);
    assert_eq!(
        schema.map(|s| s.r#ref),
        Some("#/definitions/io.k8s.api.apps.v1.Deployment".into())
    );
    assert_eq!(patch.produces, ["application/json"]);
}

#[test]
fn every_served_kind_supports_field_validation_and_merge_patching() {
    let catalog = Catalog::with_native();
    catalog.insert(custom::tests::crontab(Some(crontab_schema())));
    let document = decode(&OpenApi::new().v2_protobuf(&catalog));
    for resource in catalog.all() {
        let gvk =
            json!({"group": resource.group, "kind": resource.kind, "version": resource.version});
        assert_eq!(
            supports_query_param(&document, &gvk, "fieldValidation"),
            Some(true),
            "{gvk}"
        );
        // Without strategic-merge-patch in `consumes`, client-side apply builds its patch from
        // kubectl's compiled-in types (built-in kinds) or as a JSON merge patch (CRDs).
        let consumes = patch_consumes(&document, &gvk).expect("patch operation");
        assert!(consumes.contains(&"application/merge-patch+json".to_string()));
        assert!(!consumes.contains(&"application/strategic-merge-patch+json".to_string()));
    }
    let unknown = json!({"group": "example.com", "kind": "Nothing", "version": "v1"});
    assert_eq!(
        supports_query_param(&document, &unknown, "fieldValidation"),
        None
    );
}

#[test]
fn definitions_parse_the_way_kube_openapi_requires() {
    let catalog = Catalog::with_native();
    catalog.insert(custom::tests::crontab(Some(crontab_schema())));
    // A CRD without a schema keeps every field: its kind becomes a map of anything.
    let mut schemaless = custom::tests::crontab(None);
    schemaless.group = "open.example.com".into();
    if let Origin::Custom { crd_name, .. } = &mut schemaless.origin {
        *crd_name = "crontabs.open.example.com".into();
    }
    catalog.insert(schemaless);
    let document = decode(&OpenApi::new().v2_protobuf(&catalog));
    let definitions = definitions(&document);
    let names: BTreeSet<&str> = definitions.keys().copied().collect();
    let mut errors = Vec::new();
    for (name, schema) in &definitions {
        check_parsable(schema, &names, name, &mut errors);
    }
    assert!(errors.is_empty(), "{errors:#?}");

    let mut operations_refs = Vec::new();
    for item in paths(&document).values() {
        for op in [&item.get, &item.put, &item.post, &item.delete, &item.patch]
            .into_iter()
            .flatten()
        {
            for response in op.responses.iter().flat_map(|r| &r.response_code) {
                let schema = response.value.as_ref().and_then(|v| v.response.as_ref());
                if let Some(s) = schema
                    .and_then(|r| r.schema.as_ref())
                    .and_then(|s| s.schema.as_ref())
                {
                    operations_refs.push(s.r#ref.clone());
                }
            }
        }
    }
    for target in operations_refs {
        let name = target
            .strip_prefix("#/definitions/")
            .expect("definition reference");
        assert!(names.contains(name), "{name} is not defined");
    }
}

#[test]
fn kinds_are_found_by_their_gvk_extension() {
    let catalog = Catalog::with_native();
    catalog.insert(custom::tests::crontab(Some(crontab_schema())));
    let document = decode(&OpenApi::new().v2_protobuf(&catalog));
    let definitions = definitions(&document);
    // kubectl's LookupResource indexes definitions by every GVK in this list extension.
    let mut by_gvk: BTreeMap<String, &str> = BTreeMap::new();
    for (name, schema) in &definitions {
        if let Some(Value::Array(gvks)) =
            extension(&schema.vendor_extension, "x-kubernetes-group-version-kind")
        {
            for gvk in gvks {
                by_gvk.insert(gvk.to_string(), name);
            }
        }
    }
    for resource in catalog.all() {
        let gvk =
            json!({"group": resource.group, "kind": resource.kind, "version": resource.version});
        let name = by_gvk
            .get(&gvk.to_string())
            .unwrap_or_else(|| panic!("no definition for {gvk}"));
        assert!(
            definitions[name].properties.is_some(),
            "{name} has no properties"
        );
    }
    let deployment = definitions["io.k8s.api.apps.v1.Deployment"];
    let spec = deployment
        .properties
        .iter()
        .flat_map(|p| &p.additional_properties)
        .find(|p| p.name == "spec")
        .and_then(|p| p.value.as_ref())
        .expect("spec");
    assert_eq!(
        spec.r#ref,
        "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
    );
    let port = definitions["com.example.stable.v1.CronTab"];
    assert!(port.properties.is_some());
}

#[test]
fn the_document_is_cached_until_the_catalog_changes() {
    let openapi = OpenApi::new();
    let catalog = Catalog::with_native();
    let first = openapi.v2_protobuf(&catalog);
    let again = openapi.v2_protobuf(&catalog);
    assert_eq!(first.as_ptr(), again.as_ptr(), "served from the cache");
    assert!(
        !paths(&decode(&first))
            .contains_key("/apis/stable.example.com/v1/namespaces/{namespace}/crontabs")
    );

    catalog.insert(custom::tests::crontab(Some(crontab_schema())));
    let changed = openapi.v2_protobuf(&catalog);
    let document = decode(&changed);
    let paths = paths(&document);
    let item = paths["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"];
    assert_eq!(
        extension(
            &item.patch.as_ref().expect("patch").vendor_extension,
            "x-kubernetes-group-version-kind"
        ),
        Some(json!({"group": "stable.example.com", "kind": "CronTab", "version": "v1"}))
    );
}
