//! Accessors for the `metadata` of objects held as JSON values.

use serde_json::{Map, Value};

/// Read access to an object's metadata.
pub trait Meta {
    fn meta(&self) -> Option<&Map<String, Value>>;
    fn meta_str(&self, field: &str) -> Option<&str> {
        self.meta()
            .and_then(|m| m.get(field))
            .and_then(Value::as_str)
    }
    fn name(&self) -> Option<&str> {
        self.meta_str("name").filter(|s| !s.is_empty())
    }
    fn namespace(&self) -> Option<&str> {
        self.meta_str("namespace").filter(|s| !s.is_empty())
    }
    fn uid(&self) -> Option<&str> {
        self.meta_str("uid")
    }
    fn resource_version(&self) -> Option<&str> {
        self.meta_str("resourceVersion").filter(|s| !s.is_empty())
    }
    fn labels(&self) -> Option<&Map<String, Value>> {
        self.meta()
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
    }
    fn finalizers(&self) -> Vec<String> {
        self.meta()
            .and_then(|m| m.get("finalizers"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
    fn is_deleting(&self) -> bool {
        self.meta()
            .and_then(|m| m.get("deletionTimestamp"))
            .is_some_and(|v| !v.is_null())
    }
    fn owner_references(&self) -> Vec<&Map<String, Value>> {
        self.meta()
            .and_then(|m| m.get("ownerReferences"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default()
    }
}

impl Meta for Value {
    fn meta(&self) -> Option<&Map<String, Value>> {
        self.get("metadata").and_then(Value::as_object)
    }
}

/// The metadata map of an object, created if missing. Objects that are not JSON objects are
/// refused before they get here.
pub fn meta_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    let map = object.as_object_mut().expect("object");
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut().expect("metadata object")
}

/// Sets the finalizer list, removing the field when empty.
pub fn set_finalizers(object: &mut Value, finalizers: &[String]) {
    let meta = meta_mut(object);
    if finalizers.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert(
            "finalizers".into(),
            finalizers
                .iter()
                .map(|f| Value::String(f.clone()))
                .collect(),
        );
    }
}

/// Current time as Kubernetes writes timestamps (RFC 3339, seconds, UTC).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A name from `generateName`: the prefix plus five random characters, as Kubernetes does.
pub fn generate_name(prefix: &str) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    // Kubernetes trims the prefix so the result fits 63 characters.
    let max_prefix = 63 - suffix.len();
    let prefix = if prefix.len() > max_prefix {
        &prefix[..max_prefix]
    } else {
        prefix
    };
    format!("{prefix}{suffix}")
}

/// The object without `metadata` and `status`: what a spec change is measured on.
pub fn spec_part(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_metadata() {
        let o = json!({"metadata": {"name": "a", "namespace": "ns", "finalizers": ["x"], "deletionTimestamp": "t"}});
        assert_eq!(o.name(), Some("a"));
        assert_eq!(o.namespace(), Some("ns"));
        assert_eq!(o.finalizers(), ["x"]);
        assert!(o.is_deleting());
    }

    #[test]
    fn generated_names_keep_prefix_and_fit() {
        let n = generate_name("web-");
        assert!(n.starts_with("web-") && n.len() == 9);
        assert_eq!(generate_name(&"x".repeat(80)).len(), 63);
    }
}
