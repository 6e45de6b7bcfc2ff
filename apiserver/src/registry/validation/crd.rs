//! Validation of CustomResourceDefinitions: what kube-apiserver refuses before serving a CRD.

use serde_json::Value;

use super::{Cause, dns1035_label, dns1123_subdomain};

/// Checks names, scope and versions of a CRD.
pub(super) fn custom_resource_definition(object: &Value, out: &mut Vec<Cause>) {
    let spec = object.get("spec").unwrap_or(&Value::Null);
    let text = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let group = text(spec, "group");
    let names = spec.get("names").unwrap_or(&Value::Null);
    let plural = text(names, "plural");
    let kind = text(names, "kind");
    if group.is_empty() {
        out.push(Cause::required("spec.group", ""));
    } else if !group.contains('.') {
        out.push(Cause::invalid_str(
            "spec.group",
            &group,
            "should be a domain with at least one dot",
        ));
    } else if crate::registry::native::is_native_group(&group) {
        out.push(Cause::invalid_str(
            "spec.group",
            &group,
            "is reserved for the built-in API",
        ));
    } else {
        for message in dns1123_subdomain(&group) {
            out.push(Cause::invalid_str("spec.group", &group, &message));
        }
    }
    if plural.is_empty() {
        out.push(Cause::required("spec.names.plural", ""));
    } else {
        for message in dns1035_label(&plural) {
            out.push(Cause::invalid_str("spec.names.plural", &plural, &message));
        }
    }
    if kind.is_empty() {
        out.push(Cause::required("spec.names.kind", ""));
    }
    let singular = text(names, "singular");
    if !singular.is_empty() {
        for message in dns1035_label(&singular) {
            out.push(Cause::invalid_str(
                "spec.names.singular",
                &singular,
                &message,
            ));
        }
    }
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        out.push(Cause::invalid_str(
            "metadata.name",
            name,
            &format!("must be spec.names.plural+\".\"+spec.group: {plural}.{group}"),
        ));
    }
    let scope = text(spec, "scope");
    if scope != "Namespaced" && scope != "Cluster" {
        out.push(Cause::not_supported(
            "spec.scope",
            &scope,
            &["Cluster", "Namespaced"],
        ));
    }
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        out.push(Cause::required(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
        return;
    }
    let storage = versions
        .iter()
        .filter(|v| v.get("storage") == Some(&Value::Bool(true)))
        .count();
    if storage != 1 {
        out.push(Cause::invalid(
            "spec.versions",
            &Value::from(storage),
            "must have exactly one version marked as storage version",
        ));
    }
    let mut seen = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let version = text(v, "name");
        let field = format!("spec.versions[{i}].name");
        if version.is_empty() {
            out.push(Cause::required(field, ""));
        } else if seen.contains(&version) {
            out.push(Cause::invalid_str(field, &version, "must be unique"));
        } else {
            for message in dns1035_label(&version) {
                out.push(Cause::invalid_str(field.clone(), &version, &message));
            }
            seen.push(version);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(name: &str, group: &str, versions: &Value) -> Value {
        json!({"metadata": {"name": name}, "spec": {"group": group, "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"}, "versions": versions}})
    }

    #[test]
    fn accepts_a_well_formed_crd() {
        let mut out = Vec::new();
        custom_resource_definition(
            &crd(
                "widgets.example.com",
                "example.com",
                &json!([{"name": "v1", "served": true, "storage": true}]),
            ),
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn refuses_mismatched_names_and_storage_versions() {
        let mut out = Vec::new();
        custom_resource_definition(
            &crd(
                "gadgets.example.com",
                "example.com",
                &json!([{"name": "v1", "storage": false}]),
            ),
            &mut out,
        );
        let fields: Vec<&str> = out.iter().map(|c| c.field.as_str()).collect();
        assert!(
            fields.contains(&"metadata.name") && fields.contains(&"spec.versions"),
            "{fields:?}"
        );
    }

    #[test]
    fn refuses_built_in_groups() {
        let mut out = Vec::new();
        custom_resource_definition(
            &crd(
                "widgets.apps",
                "apps",
                &json!([{"name": "v1", "storage": true}]),
            ),
            &mut out,
        );
        assert!(out.iter().any(|c| c.field == "spec.group"), "{out:?}");
    }
}
