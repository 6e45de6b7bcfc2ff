//! Kubernetes strategic merge patch: JSON merge patch plus keyed list merging and `$` directives.

use serde_json::{Map, Value};

use super::Error;
use super::schema::{Schema, SmpList};
use crate::registry::catalog::Gvk;

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Applies a strategic merge patch to `target`, an object of kind `kind`.
///
/// Lists whose field has `patchStrategy: merge` merge element-wise by their merge key (lists
/// of scalars become unions); other lists are replaced; `null` deletes a key. The directives
/// `$patch` (`replace`, `merge`, `delete`), `$retainKeys`, `$setElementOrder/<list>` and
/// `$deleteFromPrimitiveList/<list>` are honoured and never stored.
pub fn strategic_merge_patch(target: &Value, patch: &Value, kind: &Gvk) -> Result<Value, Error> {
    let Value::Object(patch) = patch else {
        return Err(Error::InvalidPatch(
            "a strategic merge patch must be a JSON object".into(),
        ));
    };
    let original = match target {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let schema = Schema::for_kind(kind);
    let merged = merge_map(original, patch.clone(), &schema)?;
    Ok(Value::Object(merged.unwrap_or_default()))
}

/// Merges `patch` into `original`; `None` means the patch deletes the whole map.
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: &Schema,
) -> Result<Option<Map<String, Value>>, Error> {
    if let Some(directive) = patch.shift_remove(PATCH) {
        match directive.as_str() {
            Some("replace") => return merge_map(Map::new(), patch, schema),
            Some("delete") => return Ok(None),
            Some("merge") => {}
            _ => return Err(bad_directive(&directive)),
        }
    }
    if let Some(keys) = patch.shift_remove(RETAIN_KEYS) {
        retain_keys(&mut original, &patch, &keys)?;
    }
    let order_keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in order_keys {
        let order = patch.shift_remove(&key).unwrap_or_default();
        let field = &key[SET_ELEMENT_ORDER.len()..];
        set_element_order(&mut original, &mut patch, field, order, schema.field(field))?;
    }

    let mut deletions = Vec::new();
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            deletions.push((field.to_string(), value));
            continue;
        }
        if key.starts_with('$') {
            return Err(Error::InvalidPatch(format!(
                "unknown strategic merge patch directive {key:?}"
            )));
        }
        if value.is_null() {
            original.shift_remove(&key);
            continue;
        }
        let field = schema.field(&key);
        let current = original.get_mut(&key).map(Value::take);
        match merge_value(current, value, field)? {
            Some(merged) => {
                original.insert(key, merged);
            }
            None => {
                original.shift_remove(&key);
            }
        }
    }
    for (field, value) in deletions {
        let Value::Array(remove) = value else {
            return Err(Error::InvalidPatch(format!(
                "{DELETE_FROM_PRIMITIVE_LIST}{field} must be a list of values"
            )));
        };
        if let Some(Value::Array(list)) = original.get_mut(&field) {
            list.retain(|item| !remove.contains(item));
        }
    }
    Ok(Some(original))
}

/// Merges one field's patch value into its current value (if any).
fn merge_value(
    current: Option<Value>,
    patch: Value,
    schema: &Schema,
) -> Result<Option<Value>, Error> {
    match (current, patch) {
        (Some(Value::Object(current)), Value::Object(patch)) => {
            Ok(merge_map(current, patch, schema)?.map(Value::Object))
        }
        (Some(Value::Array(current)), Value::Array(patch)) => {
            Ok(Some(Value::Array(merge_list(current, patch, schema)?)))
        }
        // A new field, or one whose type changes: take the patch, minus its directives.
        (_, Value::Object(patch)) => Ok(merge_map(Map::new(), patch, schema)?.map(Value::Object)),
        (_, Value::Array(patch)) => Ok(Some(Value::Array(merge_list(Vec::new(), patch, schema)?))),
        (_, scalar) => Ok(Some(scalar)),
    }
}

/// Clears the fields of `original` not named by a `$retainKeys` directive.
fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    keys: &Value,
) -> Result<(), Error> {
    let bad = || Error::InvalidPatch(format!("{RETAIN_KEYS} must be a list of field names"));
    let Value::Array(keys) = keys else {
        return Err(bad());
    };
    let keys: Vec<&str> = keys
        .iter()
        .map(|k| k.as_str().ok_or_else(bad))
        .collect::<Result<_, _>>()?;
    for (key, value) in patch {
        if !value.is_null() && !key.starts_with('$') && !keys.contains(&key.as_str()) {
            return Err(Error::InvalidPatch(format!(
                "field {key:?} is set by the patch but missing from its {RETAIN_KEYS} list"
            )));
        }
    }
    original.retain(|k, _| keys.contains(&k.as_str()));
    Ok(())
}

/// Merges the list `field` (if the patch has it) and orders the result by the directive:
/// listed elements in the given order, elements only the server has kept at their places.
fn set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    field: &str,
    order: Value,
    schema: &Schema,
) -> Result<(), Error> {
    let Value::Array(order) = order else {
        return Err(Error::InvalidPatch(format!(
            "{SET_ELEMENT_ORDER}{field} must be a list"
        )));
    };
    let current = match original.get(field) {
        Some(Value::Array(list)) => Some(list.clone()),
        _ => None,
    };
    let patch_list = match patch.shift_remove(field) {
        None => None,
        Some(Value::Array(list)) => Some(list),
        Some(Value::Null) => {
            original.shift_remove(field);
            return Ok(());
        }
        Some(other) => {
            // Not a list: an ordinary replacement, the order directive has nothing to order.
            patch.insert(field.to_string(), other);
            return Ok(());
        }
    };
    let live_order = current.clone().unwrap_or_default();
    let merged = match (current, patch_list) {
        (Some(current), None) => current,
        (current, Some(patch_list)) => merge_list(current.unwrap_or_default(), patch_list, schema)?,
        (None, None) => return Ok(()),
    };
    let key = merge_key(schema);
    let (listed, server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|item| index_of(&order, item, key).is_some());
    let ordered = normalize_order(listed, server_only, &order, &live_order, key);
    original.insert(field.to_string(), Value::Array(ordered));
    Ok(())
}

fn merge_key(schema: &Schema) -> Option<&'static str> {
    match schema.rule().smp {
        SmpList::MergeByKey(key) => Some(key),
        _ => None,
    }
}

/// Merges a patch list into a live list according to the field's patch strategy.
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: &Schema,
) -> Result<Vec<Value>, Error> {
    let strategy = schema.rule().smp;
    if strategy == SmpList::Replace {
        return Ok(patch);
    }
    let objects = patch
        .iter()
        .chain(&original)
        .filter(|v| v.is_object())
        .count();
    if objects == 0 {
        let mut merged = original.clone();
        for item in &patch {
            if !merged.contains(item) {
                merged.push(item.clone());
            }
        }
        let (listed, server_only) = merged.into_iter().partition(|item| patch.contains(item));
        return Ok(normalize_order(
            listed,
            server_only,
            &patch,
            &original,
            None,
        ));
    }
    if objects != patch.len() + original.len() {
        return Err(Error::Unprocessable(
            "list elements must all be objects or all be scalars".into(),
        ));
    }
    let SmpList::MergeByKey(key) = strategy else {
        return Err(Error::Unprocessable(
            "cannot merge a list of objects without a merge key".into(),
        ));
    };
    merge_keyed_list(original, patch, schema, key)
}

fn merge_keyed_list(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    schema: &Schema,
    key: &str,
) -> Result<Vec<Value>, Error> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(PATCH) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let Some(id) = item.get(key) else {
                    return Err(missing_key(&item, key));
                };
                original.retain(|live| live.get(key) != Some(id));
            }
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(Error::InvalidPatch(
                    "$patch: merge is not supported as a list element".into(),
                ));
            }
            _ => return Err(bad_directive(directive)),
        }
    }
    if replace {
        original = Vec::new();
    }
    let mut merged = original.clone();
    for item in &plain {
        let Some(id) = item.get(key) else {
            return Err(missing_key(item, key));
        };
        let Value::Object(fields) = item.clone() else {
            unreachable!("checked to be objects")
        };
        match merged.iter_mut().find(|live| live.get(key) == Some(id)) {
            Some(live) => {
                let Value::Object(current) = live.take() else {
                    unreachable!("checked to be objects")
                };
                *live = Value::Object(merge_map(current, fields, schema)?.unwrap_or_default());
            }
            None => merged.push(Value::Object(
                merge_map(Map::new(), fields, schema)?.unwrap_or_default(),
            )),
        }
    }
    let (listed, server_only) = merged
        .into_iter()
        .partition(|item| index_of(&plain, item, Some(key)).is_some());
    Ok(normalize_order(
        listed,
        server_only,
        &plain,
        &original,
        Some(key),
    ))
}

/// Position of `item` in `list`: by merge key for objects, by equality for scalars.
fn index_of(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    match (key, item) {
        (Some(key), Value::Object(fields)) => {
            let id = fields.get(key)?;
            list.iter().position(|v| v.get(key) == Some(id))
        }
        _ => list.iter().position(|v| v == item),
    }
}

/// Orders the patch's elements by `patch_order` and the server-only ones by `live_order`, then
/// interleaves them: a server-only element goes before a patch element only when both appear
/// in the live list in that order. New patch elements therefore come first, as upstream.
fn normalize_order(
    mut listed: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    live_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    listed.sort_by_key(|item| index_of(patch_order, item, key).unwrap_or(usize::MAX));
    server_only.sort_by_key(|item| index_of(live_order, item, key).unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(listed.len() + server_only.len());
    let mut listed = listed.into_iter().peekable();
    let mut server_only = server_only.into_iter().peekable();
    loop {
        let take_server = match (server_only.peek(), listed.peek()) {
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
            (Some(server), Some(patched)) => {
                match (
                    index_of(live_order, server, key),
                    index_of(live_order, patched, key),
                ) {
                    (Some(s), Some(p)) => s < p,
                    _ => false,
                }
            }
        };
        let next = if take_server {
            server_only.next()
        } else {
            listed.next()
        };
        out.extend(next);
    }
    out
}

fn bad_directive(directive: &Value) -> Error {
    Error::InvalidPatch(format!("unknown $patch directive {directive}"))
}

fn missing_key(item: &Value, key: &str) -> Error {
    Error::InvalidPatch(format!(
        "list element {item} does not contain its merge key {key:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Gvk {
        Gvk::new("apps", "v1", "Deployment")
    }

    #[allow(clippy::needless_pass_by_value)]
    fn pod_spec(spec: Value) -> Value {
        json!({"spec": {"template": {"spec": spec}}})
    }

    #[allow(clippy::needless_pass_by_value)]
    fn smp(target: Value, patch: Value) -> Value {
        strategic_merge_patch(&target, &patch, &deployment()).unwrap()
    }

    #[test]
    fn behaves_like_merge_patch_outside_merge_lists() {
        let target = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 1}});
        let patch = json!({"metadata": {"labels": {"a": null, "c": "3"}}, "spec": {"replicas": 3}});
        assert_eq!(
            smp(target, patch),
            json!({"metadata": {"labels": {"b": "2", "c": "3"}}, "spec": {"replicas": 3}})
        );
    }

    #[test]
    fn containers_merge_by_name_and_env_by_name() {
        let target = pod_spec(json!({"containers": [
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "sidecar", "image": "side:1"}
        ]}));
        let patch = pod_spec(json!({"containers": [
            {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "two"}]}
        ]}));
        assert_eq!(
            smp(target, patch),
            pod_spec(json!({"containers": [
                {"name": "app", "image": "app:2", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "two"}]},
                {"name": "sidecar", "image": "side:1"}
            ]}))
        );
    }

    #[test]
    fn new_elements_of_a_merge_list_come_first_as_upstream() {
        let target = pod_spec(json!({"containers": [{"name": "a"}, {"name": "b"}]}));
        let patch = pod_spec(json!({"containers": [{"name": "c"}]}));
        assert_eq!(
            smp(target, patch),
            pod_spec(json!({"containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}))
        );
    }

    #[test]
    fn lists_without_strategy_are_replaced() {
        let target = pod_spec(json!({
            "tolerations": [{"key": "a"}, {"key": "b"}],
            "containers": [{"name": "app", "args": ["x", "y"]}]
        }));
        let patch = pod_spec(json!({
            "tolerations": [{"key": "c"}],
            "containers": [{"name": "app", "args": ["z"]}]
        }));
        assert_eq!(
            smp(target, patch),
            pod_spec(
                json!({"tolerations": [{"key": "c"}], "containers": [{"name": "app", "args": ["z"]}]})
            )
        );
    }

    #[test]
    fn patch_directives_in_list_elements() {
        let target = pod_spec(json!({"containers": [{"name": "a"}, {"name": "b", "image": "b"}]}));
        let delete = pod_spec(json!({"containers": [{"name": "a", "$patch": "delete"}]}));
        assert_eq!(
            smp(target.clone(), delete),
            pod_spec(json!({"containers": [{"name": "b", "image": "b"}]}))
        );

        let replace = pod_spec(json!({"containers": [{"name": "c"}, {"$patch": "replace"}]}));
        assert_eq!(
            smp(target.clone(), replace),
            pod_spec(json!({"containers": [{"name": "c"}]}))
        );

        let merge = pod_spec(json!({"containers": [{"$patch": "merge"}]}));
        let err = strategic_merge_patch(&target, &merge, &deployment()).unwrap_err();
        assert!(matches!(err, Error::InvalidPatch(_)));

        let keyless = pod_spec(json!({"containers": [{"image": "x"}]}));
        let err = strategic_merge_patch(&target, &keyless, &deployment()).unwrap_err();
        assert!(err.to_string().contains("merge key \"name\""), "{err}");
    }

    #[test]
    fn patch_directives_in_maps() {
        let target =
            json!({"metadata": {"labels": {"a": "1", "b": "2"}, "annotations": {"x": "y"}}});
        let replace = json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}});
        assert_eq!(
            smp(target.clone(), replace),
            json!({"metadata": {"labels": {"c": "3"}, "annotations": {"x": "y"}}})
        );
        let delete = json!({"metadata": {"annotations": {"$patch": "delete"}}});
        assert_eq!(
            smp(target.clone(), delete),
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}})
        );
        let merge = json!({"metadata": {"labels": {"$patch": "merge", "c": "3"}}});
        assert_eq!(
            smp(target.clone(), merge)["metadata"]["labels"],
            json!({"a": "1", "b": "2", "c": "3"})
        );
        let unknown = json!({"metadata": {"$patch": "explode"}});
        assert!(strategic_merge_patch(&target, &unknown, &deployment()).is_err());
    }

    #[test]
    fn primitive_merge_lists_are_unions_with_deletion_lists() {
        let target = json!({"metadata": {"finalizers": ["a", "b"]}});
        assert_eq!(
            smp(
                target.clone(),
                json!({"metadata": {"finalizers": ["b", "c"]}})
            ),
            json!({"metadata": {"finalizers": ["a", "b", "c"]}})
        );
        assert_eq!(
            smp(
                target.clone(),
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
            ),
            json!({"metadata": {"finalizers": ["b"]}})
        );
        let both = json!({"metadata": {
            "$setElementOrder/finalizers": ["c", "b"],
            "$deleteFromPrimitiveList/finalizers": ["a"],
            "finalizers": ["c"]
        }});
        assert_eq!(
            smp(target, both),
            json!({"metadata": {"finalizers": ["c", "b"]}})
        );
    }

    #[test]
    fn set_element_order_orders_merged_lists() {
        let target = pod_spec(json!({"containers": [{"name": "a", "image": "a"}, {"name": "b"}]}));
        let patch = pod_spec(json!({
            "$setElementOrder/containers": [{"name": "b"}, {"name": "c"}, {"name": "a"}],
            "containers": [{"name": "c", "image": "c"}]
        }));
        assert_eq!(
            smp(target.clone(), patch),
            pod_spec(
                json!({"containers": [{"name": "b"}, {"name": "c", "image": "c"}, {"name": "a", "image": "a"}]})
            )
        );
        // Only reordering: the directive works without its list in the patch.
        let reorder =
            pod_spec(json!({"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}));
        assert_eq!(
            smp(target, reorder),
            pod_spec(json!({"containers": [{"name": "b"}, {"name": "a", "image": "a"}]}))
        );
        // Elements only the server has are kept, interleaved by their live position: here
        // `injected` sat before `b`, the first listed element, so it stays in front.
        let server =
            pod_spec(json!({"containers": [{"name": "a"}, {"name": "injected"}, {"name": "b"}]}));
        let partial =
            pod_spec(json!({"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}));
        assert_eq!(
            smp(server, partial),
            pod_spec(json!({"containers": [{"name": "injected"}, {"name": "b"}, {"name": "a"}]}))
        );
    }

    #[test]
    fn retain_keys_clears_unlisted_fields() {
        let target = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}});
        assert_eq!(
            smp(target, patch),
            json!({"spec": {"strategy": {"type": "Recreate"}}})
        );

        let volumes = pod_spec(json!({"volumes": [{"name": "v", "emptyDir": {}}]}));
        let patch = pod_spec(json!({"volumes": [
            {"name": "v", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}
        ]}));
        assert_eq!(
            smp(volumes.clone(), patch),
            pod_spec(json!({"volumes": [{"name": "v", "configMap": {"name": "cm"}}]}))
        );

        let inconsistent =
            pod_spec(json!({"volumes": [{"name": "v", "$retainKeys": ["name"], "secret": {}}]}));
        assert!(matches!(
            strategic_merge_patch(&volumes, &inconsistent, &deployment()),
            Err(Error::InvalidPatch(_))
        ));
    }

    #[test]
    fn kubectl_client_side_apply_patch() {
        // What kubectl apply sends after a container port is removed and the image bumped.
        let live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{
                "name": "nginx", "image": "nginx:1.24",
                "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 8080, "protocol": "TCP"}],
                "terminationMessagePath": "/dev/termination-log"
            }]}}}
        });
        let patch = json!({
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"new\":1}"}},
            "spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [{
                    "$setElementOrder/ports": [{"containerPort": 80}],
                    "image": "nginx:1.25", "name": "nginx",
                    "ports": [{"$patch": "delete", "containerPort": 8080}]
                }]
            }}}
        });
        let out = smp(live, patch);
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{
                "name": "nginx", "image": "nginx:1.25",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "terminationMessagePath": "/dev/termination-log"
            }])
        );
        assert_eq!(out["spec"]["replicas"], json!(2));
        assert_eq!(
            out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            json!("{\"new\":1}")
        );
    }

    #[test]
    fn new_fields_are_stored_without_directives() {
        let patch = pod_spec(json!({"containers": [
            {"name": "a", "$setElementOrder/env": [{"name": "X"}], "env": [{"name": "X", "value": "1"}, {"name": "Y", "$patch": "delete"}]}
        ]}));
        assert_eq!(
            smp(json!({}), patch),
            pod_spec(json!({"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}]}))
        );
    }

    #[test]
    fn kind_specific_lists() {
        let cron = Gvk::new("batch", "v1", "CronJob");
        let target = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b"}]}}}}}});
        let patch = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "2"}]}}}}}});
        let out = strategic_merge_patch(&target, &patch, &cron).unwrap();
        assert_eq!(
            out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "2"}, {"name": "b"}])
        );

        let svc = Gvk::new("", "v1", "Service");
        let target = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}});
        let patch = json!({"spec": {"ports": [{"port": 443, "targetPort": 8443}]}});
        let out = strategic_merge_patch(&target, &patch, &svc).unwrap();
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 80, "name": "http"}, {"port": 443, "name": "https", "targetPort": 8443}])
        );

        let pod = Gvk::new("", "v1", "Pod");
        let target = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}});
        let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let out = strategic_merge_patch(&target, &patch, &pod).unwrap();
        assert_eq!(
            out["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}])
        );
    }

    #[test]
    fn rejects_patches_that_are_not_objects_or_have_unknown_directives() {
        let target = json!({});
        assert!(matches!(
            strategic_merge_patch(&target, &json!([1]), &deployment()),
            Err(Error::InvalidPatch(_))
        ));
        let unknown = json!({"$frobnicate/x": [1]});
        assert!(matches!(
            strategic_merge_patch(&target, &unknown, &deployment()),
            Err(Error::InvalidPatch(_))
        ));
        let mixed = pod_spec(json!({"containers": [{"name": "a"}, "b"]}));
        assert!(matches!(
            strategic_merge_patch(&target, &mixed, &deployment()),
            Err(Error::Unprocessable(_))
        ));
    }
}
