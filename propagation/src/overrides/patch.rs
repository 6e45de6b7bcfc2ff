//! JSON-patch based overriders: `plaintext` on the manifest itself, and `fieldOverrider` on a
//! JSON or YAML document held in one of the manifest's string fields.

use karmada_api::policy::overrides::{FieldOverrider, PatchOperation, PlaintextOverrider};
use serde_json::{Map, Value, json};

use super::OverriderError;

/// Applies `operations` (JSON patch operations as JSON) to `doc` all-or-nothing; `overrider`
/// names the overrider in errors.
pub(super) fn apply_patch(
    doc: &mut Value,
    overrider: &'static str,
    operations: Vec<Value>,
) -> Result<(), OverriderError> {
    if operations.is_empty() {
        return Ok(());
    }
    let patch: json_patch::Patch =
        serde_json::from_value(Value::Array(operations)).map_err(|source| {
            OverriderError::InvalidPatch {
                overrider,
                reason: source.to_string(),
            }
        })?;
    json_patch::patch(doc, &patch).map_err(|source| OverriderError::Patch { overrider, source })
}

/// A JSON patch operation from an overrider's operator, path and optional value; a missing
/// value is `null`, as Karmada sends it.
fn operation(operator: impl serde::Serialize, path: &str, value: &Option<Value>) -> Value {
    json!({
        "op": operator,
        "path": path,
        "value": value.clone().unwrap_or(Value::Null),
    })
}

/// Applies all plaintext overriders of one rule as a single patch.
pub(super) fn apply_plaintext(
    manifest: &mut Value,
    overriders: &[PlaintextOverrider],
) -> Result<(), OverriderError> {
    let operations = overriders
        .iter()
        .map(|o| operation(o.operator, &o.path, &o.value))
        .collect();
    apply_patch(manifest, "plaintext", operations)
}

/// Applies one field overrider: reads the string at `fieldPath`, patches the document it holds
/// (YAML operations win when both are set) and writes it back in the same format. With no
/// operations at all the field is emptied, as Karmada does.
pub(super) fn apply_field_overrider(
    manifest: &mut Value,
    overrider: &FieldOverrider,
) -> Result<(), OverriderError> {
    let path = &overrider.field_path;
    let field_error = |reason: &str| OverriderError::FieldPath {
        path: path.clone(),
        reason: reason.to_string(),
    };
    if !path.is_empty() && !path.starts_with('/') {
        return Err(field_error("the path must start with '/'"));
    }
    let text = match manifest.pointer(path) {
        None => return Err(field_error("no such field")),
        Some(Value::String(text)) => text.clone(),
        Some(_) => return Err(field_error("the field is not a string")),
    };
    let updated = if !overrider.yaml.is_empty() {
        patch_yaml(&text, path, &overrider.yaml)?
    } else if !overrider.json.is_empty() {
        patch_json(&text, path, &overrider.json)?
    } else {
        String::new()
    };
    if let Some(field) = manifest.pointer_mut(path) {
        *field = Value::String(updated);
    }
    Ok(())
}

fn document_error(path: &str, format: &'static str, reason: &impl ToString) -> OverriderError {
    OverriderError::FieldDocument {
        path: path.to_string(),
        format,
        reason: reason.to_string(),
    }
}

fn sub_operations(operations: &[PatchOperation]) -> Vec<Value> {
    operations
        .iter()
        .map(|o| operation(o.operator, &o.sub_path, &o.value))
        .collect()
}

/// Patches a JSON document and writes it back compactly, keeping key order.
fn patch_json(
    text: &str,
    path: &str,
    operations: &[PatchOperation],
) -> Result<String, OverriderError> {
    let mut doc: Value =
        serde_json::from_str(text).map_err(|e| document_error(path, "JSON", &e))?;
    apply_patch(&mut doc, "fieldOverrider.json", sub_operations(operations))?;
    serde_json::to_string(&doc).map_err(|e| document_error(path, "JSON", &e))
}

/// Patches a YAML document by way of JSON and writes it back as block YAML with sorted keys
/// (Karmada round-trips through JSON, which loses comments and key order the same way).
fn patch_yaml(
    text: &str,
    path: &str,
    operations: &[PatchOperation],
) -> Result<String, OverriderError> {
    let mut doc: Value = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_saphyr::from_str(text).map_err(|e| document_error(path, "YAML", &e))?
    };
    apply_patch(&mut doc, "fieldOverrider.yaml", sub_operations(operations))?;
    serde_saphyr::to_string(&sorted(doc)).map_err(|e| document_error(path, "YAML", &e))
}

/// `value` with every object's keys in ascending order.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests;
