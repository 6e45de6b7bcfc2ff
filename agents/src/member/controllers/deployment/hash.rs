//! The pod-template-hash: a stable short name for a Deployment's pod template, and template
//! comparison that ignores it.

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// Label carrying the template hash on ReplicaSets, their selectors and their pods.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// Characters that cannot spell words or be confused with each other, as Kubernetes uses for
/// generated names.
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A short lowercase alphanumeric hash of `template` and the collision count. Stable across
/// processes because the template serializes deterministically (maps are ordered).
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut hash = fnv32a(
        0x811c_9dc5,
        &serde_json::to_vec(template).unwrap_or_default(),
    );
    if let Some(count) = collision_count {
        hash = fnv32a(hash, count.to_string().as_bytes());
    }
    // Render the decimal digits through the safe alphabet, so a hash never reads as a number or
    // a word; digit `d` maps to a fixed character.
    hash.to_string()
        .bytes()
        .map(|digit| ALPHABET[usize::from(digit - b'0')] as char)
        .collect()
}

fn fnv32a(mut hash: u32, bytes: &[u8]) -> u32 {
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
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
    fn hashes_are_stable_short_and_safe() {
        let cases = [
            (template("nginx:1", None), None),
            (template("nginx:2", None), None),
            (template("nginx:1", None), Some(1)),
        ];
        let hashes: Vec<String> = cases.iter().map(|(t, c)| template_hash(t, *c)).collect();
        for (hash, (t, c)) in hashes.iter().zip(&cases) {
            assert_eq!(hash, &template_hash(t, *c), "stable");
            assert!(!hash.is_empty() && hash.len() <= 10, "{hash}");
            assert!(hash.bytes().all(|b| ALPHABET.contains(&b)), "{hash}");
        }
        assert_ne!(hashes[0], hashes[1], "image changes the hash");
        assert_ne!(hashes[0], hashes[2], "collision count changes the hash");
    }

    #[test]
    fn fnv_matches_reference_vectors() {
        assert_eq!(fnv32a(0x811c_9dc5, b""), 0x811c_9dc5);
        assert_eq!(fnv32a(0x811c_9dc5, b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(0x811c_9dc5, b"foobar"), 0xbf9c_f968);
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
