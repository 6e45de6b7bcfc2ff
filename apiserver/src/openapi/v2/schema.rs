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

    let preserves_unknown = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let nullable = map.get("nullable") == Some(&Value::Bool(true));
    let types = single_type(map);
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
        _ => match map.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
            Some([only]) => only.get("$ref")?.as_str()?,
            _ => return None,
        },
    };
    let name = target.strip_prefix(V3_PREFIX)?;
    Some(format!("{V2_PREFIX}{name}"))
}

/// The one non-null type of a schema; `None` when it has none or several.
fn single_type(map: &Map<String, Value>) -> Option<String> {
    let types: Vec<&str> = match map.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    match types.as_slice() {
        [t] if *t != "null" => Some((*t).to_string()),
        [a, "null"] | ["null", a] => Some((*a).to_string()),
        _ => None,
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
