//! Field sets of JSON objects: which paths a value sets, how two values differ, and removing a
//! path, following the list types of the kind's schema.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::fieldset::{self, Element, FieldSet, Parsed};
use super::schema::{Schema, SsaType};

/// Maps (as opposed to structs) that an `Update` entry owns as a whole when it creates them,
/// written as `".": {}` in `fieldsV1` the way Kubernetes does.
const MAP_FIELDS: &[&str] = &[
    "f:labels",
    "f:annotations",
    "f:data",
    "f:binaryData",
    "f:stringData",
    "f:limits",
    "f:requests",
    "f:capacity",
    "f:allocatable",
    "f:hard",
    "f:used",
];

/// The identifiers of a list's elements when the list is associative or a set; `None` when it
/// is atomic, including when an element lacks a key or two elements share one (such a list
/// can only be owned as a whole).
pub(crate) fn element_ids(list: &[Value], schema: &Schema) -> Option<Vec<Element>> {
    let ids: Vec<Element> = match schema.rule().ssa {
        SsaType::Map(keys) => list
            .iter()
            .map(|item| {
                let fields = item.as_object()?;
                let mut id = BTreeMap::new();
                for key in keys {
                    let value = match (fields.get(key.name), key.default) {
                        (Some(v), _) if !v.is_null() => v.clone(),
                        (_, Some(default)) => Value::String(default.into()),
                        _ => return None,
                    };
                    id.insert(key.name, value);
                }
                Some(fieldset::key(&id))
            })
            .collect::<Option<_>>()?,
        SsaType::Set => list
            .iter()
            .map(|item| (!item.is_object() && !item.is_array()).then(|| fieldset::value(item)))
            .collect::<Option<_>>()?,
        SsaType::Granular | SsaType::Atomic => return None,
    };
    let unique: BTreeSet<&Element> = ids.iter().collect();
    (unique.len() == ids.len()).then_some(ids)
}

fn is_atomic(schema: &Schema) -> bool {
    schema.rule().ssa == SsaType::Atomic
}

/// The set of every field `value` sets. With `own_maps`, a known map is itself a member too,
/// as in the set of an `Update` that created it.
pub(crate) fn field_set(value: &Value, schema: &Schema, own_maps: bool) -> FieldSet {
    let mut out = FieldSet::default();
    collect(value, schema, &mut Vec::new(), &mut out, own_maps);
    out
}

fn collect(
    value: &Value,
    schema: &Schema,
    path: &mut Vec<Element>,
    out: &mut FieldSet,
    own_maps: bool,
) {
    match value {
        Value::Object(map) if !map.is_empty() && !is_atomic(schema) => {
            if own_maps
                && path
                    .last()
                    .is_some_and(|last| MAP_FIELDS.contains(&last.as_str()))
            {
                out.insert(path);
            }
            for (name, child) in map {
                path.push(fieldset::field(name));
                collect(child, schema.field(name), path, out, own_maps);
                path.pop();
            }
        }
        Value::Array(list) if !list.is_empty() => match element_ids(list, schema) {
            Some(ids) => {
                for (id, item) in ids.into_iter().zip(list) {
                    path.push(id);
                    collect_element(item, schema, path, out, own_maps);
                    path.pop();
                }
            }
            None => out.insert(path),
        },
        _ => out.insert(path),
    }
}

/// An element of an associative list or set: the element itself and, for objects, its fields.
fn collect_element(
    item: &Value,
    schema: &Schema,
    path: &mut Vec<Element>,
    out: &mut FieldSet,
    own_maps: bool,
) {
    out.insert(path);
    if let Value::Object(fields) = item {
        for (name, child) in fields {
            path.push(fieldset::field(name));
            collect(child, schema.field(name), path, out, own_maps);
            path.pop();
        }
    }
}

/// How a new value differs from an old one, as sets of paths.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Comparison {
    pub(crate) fn is_empty(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }
}

/// Compares two objects field by field.
pub(crate) fn compare(old: &Value, new: &Value, schema: &Schema) -> Comparison {
    let mut out = Comparison::default();
    diff(old, new, schema, &mut Vec::new(), &mut out);
    out
}

fn diff(old: &Value, new: &Value, schema: &Schema, path: &mut Vec<Element>, out: &mut Comparison) {
    match (old, new) {
        _ if old == new => {}
        _ if is_atomic(schema) => out.modified.insert(path),
        (Value::Object(a), Value::Object(b)) if !a.is_empty() && !b.is_empty() => {
            diff_fields(a, b, schema, path, out);
        }
        (Value::Array(a), Value::Array(b)) => {
            match (element_ids(a, schema), element_ids(b, schema)) {
                (Some(ids_a), Some(ids_b)) if !a.is_empty() && !b.is_empty() => {
                    diff_elements(a, &ids_a, b, &ids_b, schema, path, out);
                }
                (Some(_), Some(_)) => replace(old, new, schema, path, out),
                _ => out.modified.insert(path),
            }
        }
        // An empty object (itself a field) gained or lost its fields.
        (Value::Object(_), Value::Object(_)) => replace(old, new, schema, path, out),
        _ if old.is_object() || old.is_array() || new.is_object() || new.is_array() => {
            replace(old, new, schema, path, out);
            out.modified.insert(path);
        }
        _ => out.modified.insert(path),
    }
}

/// The old value's fields are gone and the new value's fields are new.
fn replace(
    old: &Value,
    new: &Value,
    schema: &Schema,
    path: &mut Vec<Element>,
    out: &mut Comparison,
) {
    collect(old, schema, path, &mut out.removed, false);
    collect(new, schema, path, &mut out.added, true);
}

fn diff_fields(
    a: &serde_json::Map<String, Value>,
    b: &serde_json::Map<String, Value>,
    schema: &Schema,
    path: &mut Vec<Element>,
    out: &mut Comparison,
) {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for name in names {
        path.push(fieldset::field(name));
        let child = schema.field(name);
        match (a.get(name), b.get(name)) {
            (Some(x), Some(y)) => diff(x, y, child, path, out),
            (Some(x), None) => collect(x, child, path, &mut out.removed, false),
            (None, Some(y)) => collect(y, child, path, &mut out.added, true),
            (None, None) => {}
        }
        path.pop();
    }
}

fn diff_elements(
    a: &[Value],
    ids_a: &[Element],
    b: &[Value],
    ids_b: &[Element],
    schema: &Schema,
    path: &mut Vec<Element>,
    out: &mut Comparison,
) {
    for (id, item) in ids_a.iter().zip(a) {
        path.push(id.clone());
        match ids_b.iter().position(|other| other == id) {
            Some(i) => diff_element(item, &b[i], schema, path, out),
            None => collect_element(item, schema, path, &mut out.removed, false),
        }
        path.pop();
    }
    for (id, item) in ids_b.iter().zip(b) {
        if !ids_a.contains(id) {
            path.push(id.clone());
            collect_element(item, schema, path, &mut out.added, true);
            path.pop();
        }
    }
}

fn diff_element(
    old: &Value,
    new: &Value,
    schema: &Schema,
    path: &mut Vec<Element>,
    out: &mut Comparison,
) {
    if let (Value::Object(a), Value::Object(b)) = (old, new) {
        diff_fields(a, b, schema, path, out);
    }
}

/// Removes the value at `path` from `root`; returns whether something was removed.
pub(crate) fn remove(root: &mut Value, schema: &Schema, path: &[Element]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let Some((parent, parent_schema)) = locate(root, schema, parents) else {
        return false;
    };
    match (parent, fieldset::parse(last)) {
        (Value::Object(map), Ok(Parsed::Field(name))) => map.shift_remove(&name).is_some(),
        (Value::Array(list), Ok(Parsed::Key(_) | Parsed::Value(_))) => {
            match element_ids(list, parent_schema)
                .and_then(|ids| ids.iter().position(|id| id == last))
            {
                Some(i) => {
                    list.remove(i);
                    true
                }
                None => false,
            }
        }
        _ => false,
    }
}

/// The value at `path` with the schema of the field it belongs to.
pub(crate) fn locate<'a, 's>(
    root: &'a mut Value,
    schema: &'s Schema,
    path: &[Element],
) -> Option<(&'a mut Value, &'s Schema)> {
    let Some((first, rest)) = path.split_first() else {
        return Some((root, schema));
    };
    let (child, child_schema) = match (root, fieldset::parse(first).ok()?) {
        (Value::Object(map), Parsed::Field(name)) => {
            let child_schema = schema.field(&name);
            (map.get_mut(&name)?, child_schema)
        }
        (Value::Array(list), Parsed::Key(_) | Parsed::Value(_)) => {
            let i = element_ids(list, schema)?
                .iter()
                .position(|id| id == first)?;
            (&mut list[i], schema)
        }
        _ => return None,
    };
    locate(child, child_schema, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::catalog::Gvk;
    use serde_json::json;

    fn deployment_schema() -> Schema {
        Schema::for_kind(&Gvk::new("apps", "v1", "Deployment"))
    }

    fn pod_schema() -> Schema {
        Schema::for_kind(&Gvk::new("", "v1", "Pod"))
    }

    #[test]
    fn field_set_follows_list_types() {
        let obj = json!({
            "metadata": {"labels": {"app": "web"}, "finalizers": ["a"]},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {
                    "containers": [{"name": "nginx", "image": "nginx", "args": ["-x"],
                                    "ports": [{"containerPort": 80}]}],
                    "tolerations": [{"key": "k"}]
                }}
            }
        });
        let set = field_set(&obj, &deployment_schema(), false);
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:finalizers": {"v:\"a\"": {}}, "f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {"f:spec": {
                        "f:containers": {"k:{\"name\":\"nginx\"}": {
                            ".": {}, "f:args": {}, "f:image": {}, "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                        }},
                        "f:tolerations": {}
                    }}
                }
            })
        );
        let owned = field_set(&obj, &deployment_schema(), true);
        assert!(owned.contains(&["f:metadata".into(), "f:labels".into()]));
    }

    #[test]
    fn lists_with_missing_or_duplicate_keys_are_atomic() {
        let schema = pod_schema();
        let dup = json!({"spec": {"containers": [{"name": "a"}, {"name": "a"}]}});
        assert_eq!(
            field_set(&dup, &schema, false).to_fields_v1(),
            json!({"f:spec": {"f:containers": {}}})
        );
        let keyless = json!({"spec": {"containers": [{"image": "x"}]}});
        assert_eq!(
            field_set(&keyless, &schema, false).to_fields_v1(),
            json!({"f:spec": {"f:containers": {}}})
        );
    }

    #[test]
    fn compare_reports_added_modified_and_removed_paths() {
        let schema = pod_schema();
        let old = json!({
            "metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"containers": [{"name": "x", "image": "1"}, {"name": "y", "image": "1"}]}
        });
        let new = json!({
            "metadata": {"labels": {"a": "1", "c": "3"}, "annotations": {"n": "v"}},
            "spec": {"containers": [{"name": "x", "image": "2"}, {"name": "z", "image": "1"}]}
        });
        let cmp = compare(&old, &new, &schema);
        assert_eq!(
            cmp.added.to_fields_v1(),
            json!({"f:metadata": {"f:annotations": {".": {}, "f:n": {}}, "f:labels": {"f:c": {}}},
                   "f:spec": {"f:containers": {"k:{\"name\":\"z\"}": {".": {}, "f:image": {}, "f:name": {}}}}})
        );
        assert_eq!(
            cmp.modified.to_fields_v1(),
            json!({"f:spec": {"f:containers": {"k:{\"name\":\"x\"}": {"f:image": {}}}}})
        );
        assert_eq!(
            cmp.removed.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:b": {}}},
                   "f:spec": {"f:containers": {"k:{\"name\":\"y\"}": {".": {}, "f:image": {}, "f:name": {}}}}})
        );
        assert!(compare(&old, &old, &schema).is_empty());
    }

    #[test]
    fn compare_treats_atomic_values_as_one_field() {
        let schema = pod_schema();
        let old = json!({"spec": {"tolerations": [{"key": "a"}], "nodeSelector": {"zone": "a"}}});
        let new = json!({"spec": {"tolerations": [{"key": "b"}], "nodeSelector": {"zone": "b"}}});
        let cmp = compare(&old, &new, &schema);
        assert_eq!(
            cmp.modified.to_fields_v1(),
            json!({"f:spec": {"f:nodeSelector": {}, "f:tolerations": {}}})
        );
        assert!(cmp.added.is_empty() && cmp.removed.is_empty());
    }

    #[test]
    fn remove_addresses_fields_and_list_elements() {
        let schema = pod_schema();
        let mut obj = json!({"metadata": {"finalizers": ["a", "b"]},
            "spec": {"containers": [{"name": "x", "ports": [{"containerPort": 80}, {"containerPort": 81}]}]}});
        let port: Vec<Element> = [
            "f:spec",
            "f:containers",
            "k:{\"name\":\"x\"}",
            "f:ports",
            "k:{\"containerPort\":81,\"protocol\":\"TCP\"}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert!(remove(&mut obj, &schema, &port));
        assert!(remove(
            &mut obj,
            &schema,
            &["f:metadata".into(), "f:finalizers".into(), "v:\"a\"".into()]
        ));
        assert!(!remove(
            &mut obj,
            &schema,
            &["f:metadata".into(), "f:missing".into()]
        ));
        assert_eq!(
            obj,
            json!({"metadata": {"finalizers": ["b"]},
                   "spec": {"containers": [{"name": "x", "ports": [{"containerPort": 80}]}]}})
        );
    }
}
