//! An index of the cached objects by label, so a list that asks for `key=value` (or
//! `key in (...)`) reads only the objects carrying that label instead of every object of the
//! kind. Controllers list the objects they own this way on every sync; without the index each
//! such list costs time in proportion to all objects of the kind.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::registry::object::Meta;

/// The keys of the objects carrying each label value, sorted so a list stays in key order.
#[derive(Default)]
pub(super) struct LabelIndex {
    by_label: HashMap<String, HashMap<String, BTreeSet<Arc<str>>>>,
}

/// An object's labels with string values (the only kind a label selector can match).
fn string_labels(object: &Value) -> impl Iterator<Item = (&String, &str)> {
    object
        .labels()
        .into_iter()
        .flat_map(Map::iter)
        .filter_map(|(k, v)| v.as_str().map(|v| (k, v)))
}

impl LabelIndex {
    /// Records `object`, stored under `key`.
    pub(super) fn insert(&mut self, key: &str, object: &Value) {
        let mut shared: Option<Arc<str>> = None;
        for (label, value) in string_labels(object) {
            let key = shared.get_or_insert_with(|| Arc::from(key)).clone();
            self.by_label
                .entry(label.clone())
                .or_default()
                .entry(value.to_owned())
                .or_default()
                .insert(key);
        }
    }

    /// Forgets `object`, stored under `key`; empty entries go so the index shrinks with the
    /// cache.
    pub(super) fn remove(&mut self, key: &str, object: &Value) {
        for (label, value) in string_labels(object) {
            let Some(values) = self.by_label.get_mut(label.as_str()) else {
                continue;
            };
            if let Some(keys) = values.get_mut(value) {
                keys.remove(key);
                if keys.is_empty() {
                    values.remove(value);
                }
            }
            if values.is_empty() {
                self.by_label.remove(label.as_str());
            }
        }
    }

    /// Moves `key` from the labels of `before` to those of `after`; nothing to do when the
    /// labels did not change, which is the common case (status writes).
    pub(super) fn replace(&mut self, key: &str, before: &Value, after: &Value) {
        if before.labels() != after.labels() {
            self.remove(key, before);
            self.insert(key, after);
        }
    }

    /// How many objects carry `label` with one of `values`, in any namespace or kind.
    pub(super) fn count(&self, label: &str, values: &[String]) -> usize {
        let Some(by_value) = self.by_label.get(label) else {
            return 0;
        };
        values
            .iter()
            .filter_map(|v| by_value.get(v.as_str()))
            .map(BTreeSet::len)
            .sum()
    }

    /// The keys under `prefix` of the objects carrying `label` with one of `values`, sorted.
    pub(super) fn keys(&self, prefix: &str, label: &str, values: &[String]) -> Vec<Arc<str>> {
        let Some(by_value) = self.by_label.get(label) else {
            return Vec::new();
        };
        let mut keys: Vec<Arc<str>> = values
            .iter()
            .filter_map(|v| by_value.get(v.as_str()))
            .flat_map(|keys| {
                keys.range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
                    .take_while(|k| k.starts_with(prefix))
                    .cloned()
            })
            .collect();
        // One label has one value per object, so the sets are disjoint; only the order of
        // several values' keys needs restoring.
        if values.len() > 1 {
            keys.sort();
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labelled(labels: Value) -> Value {
        let mut object = json!({"metadata": {}});
        object["metadata"]["labels"] = labels;
        object
    }

    fn keys(index: &LabelIndex, prefix: &str, label: &str, values: &[&str]) -> Vec<String> {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        index
            .keys(prefix, label, &values)
            .iter()
            .map(|k| k.to_string())
            .collect()
    }

    #[test]
    fn finds_objects_by_value_under_a_prefix_in_key_order() {
        let mut index = LabelIndex::default();
        index.insert(
            "/r/works/b/w2",
            &labelled(json!({"id": "x", "tier": "web"})),
        );
        index.insert("/r/works/a/w1", &labelled(json!({"id": "x"})));
        index.insert("/r/works/a/w3", &labelled(json!({"id": "y"})));
        index.insert("/r/pods/a/p1", &labelled(json!({"id": "x"})));
        assert_eq!(
            keys(&index, "/r/works/", "id", &["x"]),
            ["/r/works/a/w1", "/r/works/b/w2"]
        );
        assert_eq!(
            keys(&index, "/r/works/", "id", &["y", "x"]),
            ["/r/works/a/w1", "/r/works/a/w3", "/r/works/b/w2"]
        );
        assert_eq!(
            keys(&index, "/r/works/a/", "tier", &["web"]),
            Vec::<String>::new()
        );
        assert_eq!(index.count("id", &["x".into()]), 3);
        assert_eq!(index.count("missing", &["x".into()]), 0);
    }

    #[test]
    fn relabelling_and_removal_keep_the_index_exact() {
        let mut index = LabelIndex::default();
        let before = labelled(json!({"id": "x", "n": 1}));
        let after = labelled(json!({"id": "y"}));
        index.insert("/k", &before);
        // A label with a non-string value is not indexed (no selector can match it).
        assert_eq!(index.count("n", &["1".into()]), 0);
        index.replace("/k", &before, &after);
        assert_eq!(keys(&index, "/", "id", &["x"]), Vec::<String>::new());
        assert_eq!(keys(&index, "/", "id", &["y"]), ["/k"]);
        index.remove("/k", &after);
        assert!(index.by_label.is_empty());
    }
}
