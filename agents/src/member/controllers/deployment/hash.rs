//! The pod-template-hash: a stable short name for a Deployment's pod template, and template
//! comparison that ignores it.

use k8s_openapi::api::core::v1::PodTemplateSpec;

use crate::member::hash::short_hash;

/// Label carrying the template hash on ReplicaSets, their selectors and their pods.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// A short lowercase alphanumeric hash of `template` and the collision count. Stable across
/// processes because the template serializes deterministically (maps are ordered).
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    short_hash(
        &serde_json::to_vec(template).unwrap_or_default(),
        collision_count,
    )
}

/// Whether two pod templates are equal once the pod-template-hash label is removed: a
/// ReplicaSet made for a template carries the label, the Deployment's template does not.
pub fn templates_equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    normalized(a) == normalized(b)
}

fn normalized(template: &PodTemplateSpec) -> serde_json::Value {
    let mut value = serde_json::to_value(template).unwrap_or_default();
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        if let Some(labels) = meta.get_mut("labels").and_then(|l| l.as_object_mut()) {
            labels.remove(POD_TEMPLATE_HASH);
            if labels.is_empty() {
                meta.remove("labels");
            }
        }
        if meta.is_empty() {
            value.as_object_mut().map(|v| v.remove("metadata"));
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(image: &str, extra_label: Option<(&str, &str)>) -> PodTemplateSpec {
        let mut labels = serde_json::Map::new();
        labels.insert("app".into(), json!("web"));
        if let Some((k, v)) = extra_label {
            labels.insert(k.into(), json!(v));
        }
        serde_json::from_value(json!({
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "c", "image": image}]}
        }))
        .expect("template")
    }

    #[test]
    fn template_changes_change_the_hash() {
        let (one, two) = (template("nginx:1", None), template("nginx:2", None));
        assert_eq!(template_hash(&one, None), template_hash(&one, None));
        assert_ne!(template_hash(&one, None), template_hash(&two, None));
        assert_ne!(template_hash(&one, None), template_hash(&one, Some(1)));
    }

    #[test]
    fn comparison_ignores_only_the_hash_label() {
        let plain = template("nginx:1", None);
        let cases = [
            (template("nginx:1", Some((POD_TEMPLATE_HASH, "abc"))), true),
            (template("nginx:1", None), true),
            (template("nginx:2", Some((POD_TEMPLATE_HASH, "abc"))), false),
            (template("nginx:1", Some(("tier", "front"))), false),
        ];
        for (other, equal) in cases {
            assert_eq!(
                templates_equal_ignoring_hash(&plain, &other),
                equal,
                "{other:?}"
            );
        }
    }
}
