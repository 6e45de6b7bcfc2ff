//! Reading printer inputs out of JSON objects, with the API's zero values for absent fields,
//! and rendering labels, selectors and container lists as `kubectl` shows them.

use serde_json::Value;

use crate::registry::quantity::Quantity;

/// The string at a JSON pointer, `""` when absent or not a string.
pub fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The string at a JSON pointer, `None` when absent or empty.
pub fn non_empty<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    Some(text(object, pointer)).filter(|s| !s.is_empty())
}

/// The integer at a JSON pointer, if present.
pub fn int(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

/// The integer at a JSON pointer, `0` when absent.
pub fn count(object: &Value, pointer: &str) -> i64 {
    int(object, pointer).unwrap_or(0)
}

/// The boolean at a JSON pointer, if present.
pub fn flag(object: &Value, pointer: &str) -> Option<bool> {
    object.pointer(pointer).and_then(Value::as_bool)
}

/// The array at a JSON pointer, empty when absent.
pub fn items<'a>(object: &'a Value, pointer: &str) -> &'a [Value] {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The number of entries of the array or map at a JSON pointer.
pub fn len(object: &Value, pointer: &str) -> i64 {
    let n = match object.pointer(pointer) {
        Some(Value::Array(a)) => a.len(),
        Some(Value::Object(m)) => m.len(),
        _ => 0,
    };
    n as i64
}

/// One entry of the string map at a JSON pointer (label and annotation keys contain `/`,
/// which JSON pointers would need escaped).
pub fn entry<'a>(object: &'a Value, pointer: &str, key: &str) -> Option<&'a str> {
    object.pointer(pointer)?.get(key)?.as_str()
}

/// A quantity in Kubernetes' canonical form (`1024Mi` prints `1Gi`, `0.5` prints `500m`), as
/// `Quantity.String()` does in kubectl's columns; text that is not a quantity prints as stored.
pub fn quantity(object: &Value, pointer: &str) -> Option<String> {
    let raw = match object.pointer(pointer)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(Quantity::parse(&raw).map_or(raw, |q| q.to_string()))
}

/// The element of `list` whose `type` is `kind` (conditions, addresses).
pub fn of_type<'a>(list: &'a [Value], kind: &str) -> Option<&'a Value> {
    list.iter()
        .find(|item| item.get("type").and_then(Value::as_str) == Some(kind))
}

/// `metadata.name`.
pub fn name(object: &Value) -> &str {
    text(object, "/metadata/name")
}

/// A label map as `a=b,c=d`, sorted by key; `<none>` when empty (`labels.FormatLabels`).
pub fn labels(map: Option<&Value>) -> String {
    let mut pairs: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    if pairs.is_empty() {
        return "<none>".into();
    }
    pairs.sort();
    pairs.join(",")
}

/// A `LabelSelector` in label-query syntax (`app=web,tier in (a,b),!legacy`), requirements
/// sorted by key; `""` when the selector is absent or empty. `None` for an operator the API
/// does not define.
pub fn selector(selector: Option<&Value>) -> Option<String> {
    let Some(selector) = selector.filter(|s| s.is_object()) else {
        return Some(String::new());
    };
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(match_labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in match_labels {
            requirements.push((
                key.clone(),
                format!("{key}={}", value.as_str().unwrap_or("")),
            ));
        }
    }
    for expression in items(selector, "/matchExpressions") {
        let key = text(expression, "/key");
        let mut values: Vec<&str> = items(expression, "/values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let values = values.join(",");
        let rendered = match text(expression, "/operator") {
            "In" => format!("{key} in ({values})"),
            "NotIn" => format!("{key} notin ({values})"),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return None,
        };
        requirements.push((key.to_string(), rendered));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Some(
        requirements
            .into_iter()
            .map(|(_, r)| r)
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// A selector as `metav1.FormatLabelSelector` shows it: `<none>` when empty, `<error>` when
/// malformed.
pub fn selector_or_none(value: Option<&Value>) -> String {
    match selector(value) {
        None => "<error>".into(),
        Some(s) if s.is_empty() => "<none>".into(),
        Some(s) => s,
    }
}

/// Container names and images of a pod spec, each comma-joined.
pub fn containers(pod_spec: &Value) -> (String, String) {
    let containers = items(pod_spec, "/containers");
    let names: Vec<&str> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(c, "/image")).collect();
    (names.join(","), images.join(","))
}

/// Up to `max` entries joined by commas, then ` + N more...`; `<unset>` when there are none.
pub fn list_with_more(list: &[String], max: usize) -> String {
    if list.is_empty() {
        return "<unset>".into();
    }
    let shown = list[..list.len().min(max)].join(",");
    if list.len() > max {
        format!("{shown} + {} more...", list.len() - max)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_render_like_label_queries() {
        let cases = [
            (json!(null), Some("")),
            (json!({}), Some("")),
            (
                json!({"matchLabels": {"tier": "web", "app": "shop"}}),
                Some("app=shop,tier=web"),
            ),
            (
                json!({"matchLabels": {"z": "1"}, "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                    {"key": "old", "operator": "DoesNotExist"},
                    {"key": "a", "operator": "Exists"},
                    {"key": "b", "operator": "NotIn", "values": ["x"]},
                ]}),
                Some("a,b notin (x),env in (dev,prod),!old,z=1"),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Near"}]}),
                None,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(selector(Some(&input)).as_deref(), want, "{input}");
        }
        assert_eq!(selector_or_none(None), "<none>");
        assert_eq!(labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
        assert_eq!(labels(None), "<none>");
    }

    #[test]
    fn long_lists_are_cut_after_max() {
        let list: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        assert_eq!(list_with_more(&list, 3), "a,b,c + 2 more...");
        assert_eq!(list_with_more(&list[..2], 3), "a,b");
        assert_eq!(list_with_more(&[], 3), "<unset>");
    }

    #[test]
    fn quantities_print_canonically() {
        let status = json!({"a": "1024Mi", "b": "0.5", "c": 2, "d": "lots"});
        let got: Vec<Option<String>> = ["/a", "/b", "/c", "/d", "/e"]
            .iter()
            .map(|p| quantity(&status, p))
            .collect();
        assert_eq!(
            got,
            [
                Some("1Gi".into()),
                Some("500m".into()),
                Some("2".into()),
                Some("lots".into()),
                None
            ]
        );
    }
}
