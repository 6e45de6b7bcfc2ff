//! Test check that a generated CRD schema is structural, as the apiserver requires of every
//! apiextensions.k8s.io/v1 CRD.

use serde_json::Value;

/// Panics with the offending path unless every node of `schema` has a `type` (or keeps unknown
/// fields or is int-or-string) and no node uses `$ref`, `anyOf`, `oneOf` or `allOf` without a
/// type.
pub(crate) fn assert_structural(schema: &Value) {
    walk(schema, "openAPIV3Schema");
}

fn walk(node: &Value, path: &str) {
    let obj = node
        .as_object()
        .unwrap_or_else(|| panic!("{path}: schema node is not an object: {node}"));
    assert!(
        !obj.contains_key("$ref"),
        "{path}: $ref is not allowed in a CRD schema"
    );
    assert!(
        !obj.contains_key("$defs") && !obj.contains_key("definitions"),
        "{path}: definitions are not allowed in a CRD schema"
    );
    let untyped_ok = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        || obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    assert!(
        obj.get("type").is_some_and(Value::is_string) || untyped_ok,
        "{path}: node has no type: {node}"
    );
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        assert_eq!(
            obj.get("type"),
            Some(&Value::from("object")),
            "{path}: properties on a non-object"
        );
        for (name, child) in props {
            walk(child, &format!("{path}.{name}"));
        }
    }
    if let Some(items) = obj.get("items") {
        walk(items, &format!("{path}[]"));
    }
    if let Some(extra) = obj.get("additionalProperties").filter(|v| v.is_object()) {
        walk(extra, &format!("{path}{{}}"));
    }
}
