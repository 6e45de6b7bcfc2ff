//! The labels and annotations overriders: add, replace or remove keys of `metadata.labels` or
//! `metadata.annotations`.

use karmada_api::policy::overrides::{LabelAnnotationOverrider, OverriderOperator};
use serde_json::{Map, Value};

/// Which metadata map an overrider edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MetadataMap {
    Labels,
    Annotations,
}

impl MetadataMap {
    fn field(self) -> &'static str {
        match self {
            MetadataMap::Labels => "labels",
            MetadataMap::Annotations => "annotations",
        }
    }
}

/// Applies one labels or annotations overrider. `add` sets keys (creating the map, and
/// replacing one that is not a map of strings); `replace` and `remove` touch only keys already
/// present. A manifest whose `metadata` is not an object is left alone, as Karmada skips it.
pub(super) fn apply_metadata_overrider(
    manifest: &mut Value,
    target: MetadataMap,
    overrider: &LabelAnnotationOverrider,
) {
    if overrider.value.is_empty() {
        return;
    }
    let field = target.field();
    let metadata = match manifest.get_mut("metadata") {
        Some(Value::Object(metadata)) => metadata,
        None if overrider.operator == OverriderOperator::Add => {
            let Some(object) = manifest.as_object_mut() else {
                return;
            };
            object
                .entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("metadata was just made an object")
        }
        _ => return,
    };
    let is_string_map = |value: &Value| {
        value
            .as_object()
            .is_some_and(|map| map.values().all(Value::is_string))
    };
    if !metadata.get(field).is_some_and(is_string_map) {
        // A map holding non-strings reads as absent to Karmada: `add` starts it afresh and
        // `replace`/`remove` find no key.
        if overrider.operator != OverriderOperator::Add {
            return;
        }
        metadata.insert(field.to_string(), Value::Object(Map::new()));
    }
    let Some(map) = metadata.get_mut(field).and_then(Value::as_object_mut) else {
        return;
    };
    for (key, value) in &overrider.value {
        match overrider.operator {
            OverriderOperator::Add => {
                map.insert(key.clone(), Value::String(value.clone()));
            }
            OverriderOperator::Replace => {
                if let Some(existing) = map.get_mut(key) {
                    *existing = Value::String(value.clone());
                }
            }
            OverriderOperator::Remove => {
                map.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn overrider(operator: OverriderOperator, pairs: &[(&str, &str)]) -> LabelAnnotationOverrider {
        LabelAnnotationOverrider {
            operator,
            value: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn every_operator_on_labels_and_annotations() {
        use OverriderOperator::*;
        let manifest = json!({"metadata": {
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"example.com/owner": "a"}
        }});
        let cases = [
            (
                MetadataMap::Labels,
                overrider(Add, &[("env", "prod"), ("app", "api")]),
                json!({"app": "api", "tier": "front", "env": "prod"}),
            ),
            (
                MetadataMap::Labels,
                overrider(Replace, &[("tier", "back"), ("absent", "x")]),
                json!({"app": "web", "tier": "back"}),
            ),
            (
                MetadataMap::Labels,
                overrider(Remove, &[("app", ""), ("absent", "")]),
                json!({"tier": "front"}),
            ),
            (
                MetadataMap::Annotations,
                overrider(Add, &[("example.com/new", "b")]),
                json!({"example.com/owner": "a", "example.com/new": "b"}),
            ),
            (
                MetadataMap::Annotations,
                overrider(Replace, &[("example.com/owner", "z")]),
                json!({"example.com/owner": "z"}),
            ),
            (
                MetadataMap::Annotations,
                overrider(Remove, &[("example.com/owner", "")]),
                json!({}),
            ),
        ];
        for (target, overrider, want) in cases {
            let mut patched = manifest.clone();
            apply_metadata_overrider(&mut patched, target, &overrider);
            assert_eq!(patched["metadata"][target.field()], want, "{overrider:?}");
        }
    }

    #[test]
    fn add_creates_the_map_and_other_operators_do_not() {
        let mut manifest = json!({"metadata": {"name": "x"}});
        apply_metadata_overrider(
            &mut manifest,
            MetadataMap::Labels,
            &overrider(OverriderOperator::Replace, &[("a", "b")]),
        );
        apply_metadata_overrider(
            &mut manifest,
            MetadataMap::Labels,
            &overrider(OverriderOperator::Remove, &[("a", "b")]),
        );
        assert_eq!(manifest, json!({"metadata": {"name": "x"}}));
        apply_metadata_overrider(
            &mut manifest,
            MetadataMap::Annotations,
            &overrider(OverriderOperator::Add, &[("a", "b")]),
        );
        assert_eq!(manifest["metadata"]["annotations"], json!({"a": "b"}));
    }

    #[test]
    fn add_restarts_a_map_that_is_not_all_strings() {
        let mut manifest = json!({"metadata": {"labels": {"n": 1, "keep": "x"}}});
        apply_metadata_overrider(
            &mut manifest,
            MetadataMap::Labels,
            &overrider(OverriderOperator::Add, &[("a", "b")]),
        );
        assert_eq!(manifest["metadata"]["labels"], json!({"a": "b"}));
    }
}
