//! The `applied-overrides` annotation values, encoded byte for byte as Karmada's Go JSON
//! encoder writes them (field order, omitted empties, `null` values, HTML escaping).

use karmada_api::policy::overrides::{Overriders, PatchOperation};
use serde_json::{Map, Value, json};

use super::{AppliedOverride, PolicyKind};

/// The annotation value for the applied rules of `kind`: `[{policyName, overriders}]` sorted
/// by policy name (rules of one policy keep their order), or `None` when there are none.
pub(super) fn applied_overrides_value(
    applied: &[AppliedOverride],
    kind: PolicyKind,
) -> Option<String> {
    let mut items: Vec<&AppliedOverride> = applied.iter().filter(|a| a.kind == kind).collect();
    if items.is_empty() {
        return None;
    }
    items.sort_by(|a, b| a.name.cmp(&b.name));
    let encoded: Vec<Value> = items
        .into_iter()
        .map(|item| json!({"policyName": item.name, "overriders": overriders(&item.overriders)}))
        .collect();
    Some(escape_html(&Value::Array(encoded).to_string()))
}

/// Go's encoder escapes `<`, `>`, `&`, U+2028 and U+2029; they only occur inside strings.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("\\u003c"),
            '>' => escaped.push_str("\\u003e"),
            '&' => escaped.push_str("\\u0026"),
            '\u{2028}' => escaped.push_str("\\u2028"),
            '\u{2029}' => escaped.push_str("\\u2029"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Inserts `value` under `key` unless it is an empty list (Go's `omitempty`).
fn put_list(object: &mut Map<String, Value>, key: &str, value: Vec<Value>) {
    if !value.is_empty() {
        object.insert(key.to_string(), Value::Array(value));
    }
}

fn overriders(o: &Overriders) -> Value {
    let mut object = Map::new();
    let plaintext = o
        .plaintext
        .iter()
        .map(|p| json!({"path": p.path, "operator": p.operator, "value": p.value}))
        .collect();
    put_list(&mut object, "plaintext", plaintext);
    let images = o
        .image_overrider
        .iter()
        .map(|i| {
            let mut item = Map::new();
            if let Some(predicate) = &i.predicate {
                item.insert("predicate".into(), json!({"path": predicate.path}));
            }
            item.insert("component".into(), json!(i.component));
            item.insert("operator".into(), json!(i.operator));
            if let Some(value) = i.value.as_ref().filter(|v| !v.is_empty()) {
                item.insert("value".into(), json!(value));
            }
            Value::Object(item)
        })
        .collect();
    put_list(&mut object, "imageOverrider", images);
    for (key, list) in [
        ("commandOverrider", &o.command_overrider),
        ("argsOverrider", &o.args_overrider),
    ] {
        let items = list
            .iter()
            .map(|c| {
                let mut item = Map::new();
                item.insert("containerName".into(), json!(c.container_name));
                item.insert("operator".into(), json!(c.operator));
                if !c.value.is_empty() {
                    item.insert("value".into(), json!(c.value));
                }
                Value::Object(item)
            })
            .collect();
        put_list(&mut object, key, items);
    }
    for (key, list) in [
        ("labelsOverrider", &o.labels_overrider),
        ("annotationsOverrider", &o.annotations_overrider),
    ] {
        let items = list
            .iter()
            .map(|l| json!({"operator": l.operator, "value": l.value}))
            .collect();
        put_list(&mut object, key, items);
    }
    let fields = o
        .field_overrider
        .iter()
        .map(|f| {
            let mut item = Map::new();
            item.insert("fieldPath".into(), json!(f.field_path));
            put_list(&mut item, "json", sub_operations(&f.json));
            put_list(&mut item, "yaml", sub_operations(&f.yaml));
            Value::Object(item)
        })
        .collect();
    put_list(&mut object, "fieldOverrider", fields);
    Value::Object(object)
}

fn sub_operations(operations: &[PatchOperation]) -> Vec<Value> {
    operations
        .iter()
        .map(|p| json!({"subPath": p.sub_path, "operator": p.operator, "value": p.value}))
        .collect()
}
