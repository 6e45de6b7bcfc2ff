//! Karmada's nginx sample (samples/karmada/nginx), read for tests as `kubectl apply` would
//! store it: in the `default` namespace.

use serde_json::{Value, json};

/// One file of the nginx sample as JSON, placed in the default namespace.
pub fn nginx(file: &str) -> Value {
    let path = format!(
        "{}/../samples/karmada/nginx/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut value: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    value["metadata"]["namespace"] = json!("default");
    value
}
