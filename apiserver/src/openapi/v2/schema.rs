//! Converts the OpenAPI v3 schemas of our documents into Swagger 2.0 schemas.
//!
//! kubectl 1.27/1.28 parse every definition of `/openapi/v2` before `create -f`/`apply -f`
//! (kube-openapi `pkg/util/proto`) and give up on the first one they reject: a `$ref` with a
//! sibling `type` or `properties`, more than one type, an unknown primitive type such as
//! `null`, or an array without exactly one `items` schema. Everything v2 cannot say (`anyOf`,
//! `oneOf`, `nullable`) is dropped, which leaves the schema looser, never stricter: kubectl's
//! client-side validation treats an untyped schema as "any value".

use serde_json::{Map, Value};

use super::proto::{
    AdditionalPropertiesItem, Any, ItemsItem, NamedAny, NamedSchema, Properties, Schema, TypeItem,
    additional_properties_item,
};
use super::yaml::to_yaml;

/// Where references point in a v3 document and in a v2 document.
const V3_PREFIX: &str = "#/components/schemas/";
const V2_PREFIX: &str = "#/definitions/";

/// The v2 form of a v3 schema.
pub(super) fn convert(value: &Value) -> Schema {
    let Value::Object(map) = value else {
        // `true` or a malformed schema: any value.
        return Schema::default();
    };
    let mut schema = Schema {
        description: string(map, "description"),
        vendor_extension: extensions(map),
        ..Schema::default()
    };
    if let Some(target) = reference(map) {
        // A v2 reference stands alone: kube-openapi rejects a type or properties beside it.
        schema.r#ref = target;
        return schema;
    }
    schema.format = string(map, "format");
    schema.title = string(map, "title");
    schema.pattern = string(map, "pattern");
    schema.default = map.get("default").map(any);
    schema.example = map.get("example").map(any);
    schema.r#enum = map
        .get("enum")
        .and_then(Value::as_array)
        .map(|values| values.iter().map(any).collect())
        .unwrap_or_default();
    schema.required = map
        .get("required")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    set_bounds(&mut schema, map);

    let preserves_unknown =
        map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let (types, null_type) = single_type(map);
    let nullable = null_type || map.get("nullable") == Some(&Value::Bool(true));
    let int_or_string = map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    match types {
        // A typed schema rejects null on the client, so a nullable one stays untyped, as
        // upstream publishes nullable CRD fields in v2.
        Some(_) if nullable => {}
        Some(t) => {
            if t == "array" {
                schema.items = Some(ItemsItem {
                    schema: vec![map.get("items").map(convert).unwrap_or_default()],
                });
            }
            schema.r#type = Some(TypeItem { value: vec![t] });
        }
        // Upstream's v2 form of IntOrString.
        None if int_or_string => {
            schema.r#type = Some(TypeItem {
                value: vec!["string".into()],
            });
            schema.format = "int-or-string".into();
        }
        None => {}
    }
    if schema.items.is_none()
        && let Some(items @ Value::Object(_)) = map.get("items")
    {
        schema.items = Some(ItemsItem {
            schema: vec![convert(items)],
        });
    }
    // With unknown fields preserved the listed properties are not the whole story, and
    // kube-openapi would report every other field as unknown.
    if !preserves_unknown {
        schema.properties = properties(map);
    }
    schema.additional_properties = match map.get("additionalProperties") {
        Some(Value::Bool(allowed)) => Some(AdditionalPropertiesItem {
            oneof: Some(additional_properties_item::Oneof::Boolean(*allowed)),
        }),
        Some(nested @ Value::Object(_)) => Some(AdditionalPropertiesItem {
            oneof: Some(additional_properties_item::Oneof::Schema(Box::new(
                convert(nested),
            ))),
        }),
        _ => None,
    };
    schema.all_of = match map.get("allOf").and_then(Value::as_array) {
        Some(parts) => parts.iter().map(convert).collect(),
        None => Vec::new(),
    };
    schema
}

/// The v2 target of a `$ref`, or of a single-element `allOf` holding one (how v3 documents
/// give a referenced property its own description).
fn reference(map: &Map<String, Value>) -> Option<String> {
    let target = match map.get("$ref") {
        Some(Value::String(target)) => target.as_str(),
        _ => match map
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            Some([only]) => only.get("$ref")?.as_str()?,
            _ => return None,
        },
    };
    let name = target.strip_prefix(V3_PREFIX)?;
    Some(format!("{V2_PREFIX}{name}"))
}

/// The types kube-openapi accepts; anything else leaves a schema untyped.
const TYPES: &[&str] = &["object", "array", "string", "integer", "number", "boolean"];

/// The one non-null type of a schema (`None` when it has none or several), and whether it
/// also allows null.
fn single_type(map: &Map<String, Value>) -> (Option<String>, bool) {
    let types: Vec<&str> = match map.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let null = types.contains(&"null");
    let others: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
    match others.as_slice() {
        [t] if TYPES.contains(t) => (Some((*t).to_string()), null),
        _ => (None, null),
    }
}

fn properties(map: &Map<String, Value>) -> Option<Properties> {
    let properties = map.get("properties")?.as_object()?;
    if properties.is_empty() {
        // An empty `properties` would make kube-openapi treat the object as having no fields.
        return None;
    }
    Some(Properties {
        additional_properties: properties
            .iter()
            .map(|(name, value)| NamedSchema {
                name: name.clone(),
                value: Some(convert(value)),
            })
            .collect(),
    })
}

/// Numeric and size limits. OpenAPI 3.0 writes exclusive bounds as booleans beside
/// `maximum`/`minimum`; 3.1 writes the bound itself, which v2 spells the 3.0 way.
fn set_bounds(schema: &mut Schema, map: &Map<String, Value>) {
    let number = |key: &str| map.get(key).and_then(Value::as_f64);
    let count = |key: &str| {
        map.get(key)
            .and_then(Value::as_u64)
            .map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX))
    };
    let flag = |key: &str| map.get(key) == Some(&Value::Bool(true));
    schema.multiple_of = number("multipleOf").unwrap_or_default();
    schema.maximum = number("maximum").unwrap_or_default();
    schema.minimum = number("minimum").unwrap_or_default();
    schema.exclusive_maximum = flag("exclusiveMaximum");
    schema.exclusive_minimum = flag("exclusiveMinimum");
    if let Some(bound) = number("exclusiveMaximum") {
        schema.maximum = bound;
        schema.exclusive_maximum = true;
    }
    if let Some(bound) = number("exclusiveMinimum") {
        schema.minimum = bound;
        schema.exclusive_minimum = true;
    }
    schema.max_length = count("maxLength");
    schema.min_length = count("minLength");
    schema.max_items = count("maxItems");
    schema.min_items = count("minItems");
    schema.max_properties = count("maxProperties");
    schema.min_properties = count("minProperties");
    schema.unique_items = flag("uniqueItems");
    schema.read_only = flag("readOnly");
}

fn string(map: &Map<String, Value>, key: &str) -> String {
    map.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A value carried as YAML text.
pub(super) fn any(value: &Value) -> Any {
    Any {
        yaml: to_yaml(value),
    }
}

/// Every `x-` key of an object, as gnostic vendor extensions.
pub(super) fn extensions(map: &Map<String, Value>) -> Vec<NamedAny> {
    map.iter()
        .filter(|(key, _)| key.starts_with("x-"))
        .map(|(key, value)| NamedAny {
            name: key.clone(),
            value: Some(any(value)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn types(schema: &Schema) -> Vec<&str> {
        schema
            .r#type
            .iter()
            .flat_map(|t| t.value.iter().map(String::as_str))
            .collect()
    }

    fn property<'a>(schema: &'a Schema, name: &str) -> &'a Schema {
        schema
            .properties
            .iter()
            .flat_map(|p| &p.additional_properties)
            .find(|p| p.name == name)
            .and_then(|p| p.value.as_ref())
            .unwrap_or_else(|| panic!("no property {name}"))
    }

    #[test]
    fn references_point_at_definitions_and_stand_alone() {
        let direct = convert(&json!({"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}));
        assert_eq!(direct.r#ref, "#/definitions/io.k8s.api.core.v1.PodSpec");
        let described = convert(&json!({
            "description": "Standard object's metadata.",
            "allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}],
        }));
        assert_eq!(
            (described.r#ref.as_str(), described.description.as_str()),
            (
                "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "Standard object's metadata."
            )
        );
        assert!(described.all_of.is_empty() && described.r#type.is_none());
        let typed = convert(&json!({"type": "object", "$ref": "#/components/schemas/X"}));
        assert!(typed.r#type.is_none(), "a reference may not carry a type");
        let elsewhere = convert(&json!({"$ref": "https://example.com/schema.json"}));
        assert_eq!(elsewhere.r#ref, "");
    }

    #[test]
    fn types_are_reduced_to_one_that_kube_openapi_accepts() {
        let cases = [
            (json!({"type": "string"}), vec!["string"]),
            (json!({"type": ["integer"]}), vec!["integer"]),
            (json!({"type": ["string", "integer"]}), vec![]),
            (json!({"type": "null"}), vec![]),
            (json!({"type": "file"}), vec![]),
            // Nullable fields stay untyped so that an explicit null passes validation.
            (json!({"type": ["string", "null"]}), vec![]),
            (json!({"type": "string", "nullable": true}), vec![]),
            (
                json!({"anyOf": [{"type": "integer"}, {"type": "string"}]}),
                vec![],
            ),
            (
                json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}),
                vec!["string"],
            ),
        ];
        for (v3, expected) in cases {
            assert_eq!(types(&convert(&v3)), expected, "{v3}");
        }
        let int_or_string = convert(&json!({"x-kubernetes-int-or-string": true}));
        assert_eq!(int_or_string.format, "int-or-string");
        assert_eq!(
            int_or_string.vendor_extension[0].name,
            "x-kubernetes-int-or-string"
        );
    }

    #[test]
    fn arrays_always_have_exactly_one_item_schema() {
        let typed = convert(&json!({"type": "array", "items": {"type": "string"}}));
        let items = &typed.items.as_ref().expect("items").schema;
        assert_eq!(items.len(), 1);
        assert_eq!(types(&items[0]), ["string"]);
        for v3 in [
            json!({"type": "array"}),
            json!({"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}),
        ] {
            let items = convert(&v3).items.expect("items").schema;
            assert_eq!(items, [Schema::default()], "{v3}");
        }
    }

    #[test]
    fn objects_keep_properties_unless_unknown_fields_are_preserved() {
        let v3 = json!({
            "type": "object",
            "required": ["spec"],
            "properties": {
                "spec": {"type": "object", "properties": {"cron": {"type": "string", "default": "* * * * *"}}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                          "properties": {"known": {"type": "string"}}},
                "empty": {"type": "object", "properties": {}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "open": {"type": "object", "additionalProperties": true},
            },
        });
        let schema = convert(&v3);
        assert_eq!(schema.required, ["spec"]);
        let cron = property(property(&schema, "spec"), "cron");
        assert_eq!(
            cron.default.as_ref().map(|d| d.yaml.as_str()),
            Some(r#""* * * * *""#)
        );
        assert!(property(&schema, "extra").properties.is_none());
        assert!(property(&schema, "empty").properties.is_none());
        let labels = property(&schema, "labels").additional_properties.clone();
        match labels.and_then(|a| a.oneof) {
            Some(additional_properties_item::Oneof::Schema(values)) => {
                assert_eq!(types(&values), ["string"]);
            }
            other => panic!("labels: {other:?}"),
        }
        assert_eq!(
            property(&schema, "open").additional_properties,
            Some(AdditionalPropertiesItem {
                oneof: Some(additional_properties_item::Oneof::Boolean(true))
            })
        );
    }

    #[test]
    fn bounds_enums_and_extensions_carry_over() {
        let schema = convert(&json!({
            "type": "integer", "format": "int32", "minimum": 1, "exclusiveMaximum": 10,
            "enum": [1, 2], "x-kubernetes-list-type": "set", "nullable": false,
        }));
        assert_eq!(types(&schema), ["integer"]);
        assert_eq!(
            (schema.minimum, schema.maximum, schema.exclusive_maximum),
            (1.0, 10.0, true)
        );
        let enums: Vec<&str> = schema.r#enum.iter().map(|e| e.yaml.as_str()).collect();
        assert_eq!(enums, ["1", "2"]);
        assert_eq!(schema.vendor_extension.len(), 1);
        assert_eq!(
            schema.vendor_extension[0]
                .value
                .as_ref()
                .map(|v| v.yaml.as_str()),
            Some(r#""set""#)
        );
        let strings = convert(&json!({"type": "string", "maxLength": 63, "pattern": "^[a-z]+$"}));
        assert_eq!(
            (strings.max_length, strings.pattern.as_str()),
            (63, "^[a-z]+$")
        );
    }
}
