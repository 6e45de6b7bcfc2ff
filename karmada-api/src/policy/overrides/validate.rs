//! Admission of override policies: Karmada's webhook defaults and validation rules.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    ClusterOverridePolicy, OverridePolicy, OverrideSpec, OverriderOperator, Overriders,
    PatchOperation,
};
use crate::names;
use crate::policy::selectors::{ClusterAffinity, FIELD_SELECTOR_KEYS, ResourceSelector};
use crate::validation::{Admit, FieldError};

/// Largest total size of the annotations one overrider sets, as Kubernetes limits annotations.
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

impl Admit for OverridePolicy {
    /// A selector without a namespace selects templates in the policy's own namespace.
    fn default_fields(&mut self) {
        let Some(namespace) = self.metadata.namespace.clone().filter(|ns| !ns.is_empty()) else {
            return;
        };
        for selector in &mut self.spec.resource_selectors {
            if selector.namespace.as_deref().is_none_or(str::is_empty) {
                selector.namespace = Some(namespace.clone());
            }
        }
    }

    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        validate_override_spec(&self.spec, self.metadata.namespace.as_deref())
    }
}

impl Admit for ClusterOverridePolicy {
    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        validate_override_spec(&self.spec, None)
    }
}

/// Every wrong field of an override spec; `policy_namespace` is set for a namespaced policy,
/// whose selectors may only name its own namespace.
pub fn validate_override_spec(
    spec: &OverrideSpec,
    policy_namespace: Option<&str>,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, selector) in spec.resource_selectors.iter().enumerate() {
        resource_selector(
            selector,
            policy_namespace,
            &format!("spec.resourceSelectors[{i}]"),
            &mut errs,
        );
    }
    if !spec.override_rules.is_empty() {
        if spec.target_cluster.is_some() {
            errs.push(FieldError::invalid(
                "spec.targetCluster",
                "overrideRules and the deprecated targetCluster can't co-exist; move the target into overrideRules[].targetCluster",
            ));
        }
        if !spec.overriders.is_empty() {
            errs.push(FieldError::invalid(
                "spec.overriders",
                "overrideRules and the deprecated overriders can't co-exist; move the overriders into overrideRules[].overriders",
            ));
        }
    }
    if let Some(target) = &spec.target_cluster {
        cluster_affinity(target, "spec.targetCluster", &mut errs);
    }
    overriders(&spec.overriders, "spec.overriders", &mut errs);
    for (i, rule) in spec.override_rules.iter().enumerate() {
        let path = format!("spec.overrideRules[{i}]");
        if let Some(target) = &rule.target_cluster {
            cluster_affinity(target, &format!("{path}.targetCluster"), &mut errs);
        }
        overriders(&rule.overriders, &format!("{path}.overriders"), &mut errs);
    }
    errs
}

fn resource_selector(
    selector: &ResourceSelector,
    policy_namespace: Option<&str>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    if selector.api_version.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.apiVersion"),
            "apiVersion of the selected resources is required, e.g. apps/v1",
        ));
    }
    if selector.kind.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.kind"),
            "kind of the selected resources is required, e.g. Deployment",
        ));
    }
    if let (Some(policy_ns), Some(ns)) = (policy_namespace, selector.namespace.as_deref())
        && !ns.is_empty()
        && ns != policy_ns
    {
        errs.push(FieldError::invalid(
            format!("{path}.namespace"),
            format!("namespace {ns:?} of the resource selector must be the policy's namespace {policy_ns:?} (or empty)"),
        ));
    }
}

/// Karmada's rules for a cluster affinity: field selectors name only provider, region or zone
/// with In or NotIn.
pub(crate) fn cluster_affinity(affinity: &ClusterAffinity, path: &str, errs: &mut Vec<FieldError>) {
    let Some(selector) = &affinity.field_selector else {
        return;
    };
    for (i, req) in selector.match_expressions.iter().enumerate() {
        let req_path = format!("{path}.fieldSelector.matchExpressions[{i}]");
        if !FIELD_SELECTOR_KEYS.contains(&req.key.as_str()) {
            errs.push(FieldError::invalid(
                format!("{req_path}.key"),
                format!(
                    "unsupported key {:?}, must be provider, region, or zone",
                    req.key
                ),
            ));
        }
        if !matches!(req.operator.as_str(), "In" | "NotIn") {
            errs.push(FieldError::invalid(
                format!("{req_path}.operator"),
                format!(
                    "unsupported operator {:?}, must be In or NotIn",
                    req.operator
                ),
            ));
        }
    }
}

fn overriders(o: &Overriders, path: &str, errs: &mut Vec<FieldError>) {
    for (i, p) in o.plaintext.iter().enumerate() {
        let item = format!("{path}.plaintext[{i}]");
        if let Err(e) = json_pointer(&p.path, false) {
            errs.push(FieldError::invalid(format!("{item}.path"), e));
        }
        operator_value(p.operator, p.value.as_ref(), &format!("{item}.value"), errs);
    }
    for (i, image) in o.image_overrider.iter().enumerate() {
        if let Some(predicate) = &image.predicate
            && let Err(e) = json_pointer(&predicate.path, true)
        {
            errs.push(FieldError::invalid(
                format!("{path}.imageOverrider[{i}].predicate.path"),
                e,
            ));
        }
    }
    for (name, list) in [
        ("commandOverrider", &o.command_overrider),
        ("argsOverrider", &o.args_overrider),
    ] {
        for (i, c) in list.iter().enumerate() {
            if c.container_name.is_empty() {
                errs.push(FieldError::required(
                    format!("{path}.{name}[{i}].containerName"),
                    "name of the container whose list to change is required",
                ));
            }
        }
    }
    for (i, labels) in o.labels_overrider.iter().enumerate() {
        label_map(
            &labels.value,
            &format!("{path}.labelsOverrider[{i}].value"),
            errs,
        );
    }
    for (i, annotations) in o.annotations_overrider.iter().enumerate() {
        annotation_map(
            &annotations.value,
            &format!("{path}.annotationsOverrider[{i}].value"),
            errs,
        );
    }
    for (i, f) in o.field_overrider.iter().enumerate() {
        let item = format!("{path}.fieldOverrider[{i}]");
        match (f.json.is_empty(), f.yaml.is_empty()) {
            (false, false) => errs.push(FieldError::invalid(
                &item,
                "json and yaml are both set; set only the one matching the field's format",
            )),
            (true, true) => errs.push(FieldError::required(
                &item,
                "either json or yaml operations must be set",
            )),
            _ => {}
        }
        if let Err(e) = json_pointer(&f.field_path, false) {
            errs.push(FieldError::invalid(format!("{item}.fieldPath"), e));
        }
        patch_operations(&f.json, &format!("{item}.json"), errs);
        patch_operations(&f.yaml, &format!("{item}.yaml"), errs);
    }
}

fn patch_operations(ops: &[PatchOperation], path: &str, errs: &mut Vec<FieldError>) {
    for (i, op) in ops.iter().enumerate() {
        if let Err(e) = json_pointer(&op.sub_path, true) {
            errs.push(FieldError::invalid(format!("{path}[{i}].subPath"), e));
        }
        operator_value(
            op.operator,
            op.value.as_ref(),
            &format!("{path}[{i}].value"),
            errs,
        );
    }
}

/// `add` and `replace` need a value to write; `remove` must not carry one.
fn operator_value(
    operator: OverriderOperator,
    value: Option<&Value>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    match (operator, value) {
        (OverriderOperator::Add | OverriderOperator::Replace, None) => {
            errs.push(FieldError::required(
                path,
                "value is required for add or replace operation",
            ));
        }
        (OverriderOperator::Remove, Some(_)) => {
            errs.push(FieldError::forbidden(
                path,
                "value is not allowed for remove operation",
            ));
        }
        _ => {}
    }
}

fn label_map(labels: &BTreeMap<String, String>, path: &str, errs: &mut Vec<FieldError>) {
    for (key, value) in labels {
        if let Err(e) = names::qualified_name(key) {
            errs.push(FieldError::invalid(path, format!("label key {key:?}: {e}")));
        }
        if let Err(e) = names::label_value(value) {
            errs.push(FieldError::invalid(
                path,
                format!("label value {value:?} of key {key:?}: {e}"),
            ));
        }
    }
}

fn annotation_map(annotations: &BTreeMap<String, String>, path: &str, errs: &mut Vec<FieldError>) {
    let mut total = 0;
    for (key, value) in annotations {
        // Kubernetes checks annotation keys case-insensitively.
        if let Err(e) = names::qualified_name(&key.to_lowercase()) {
            errs.push(FieldError::invalid(
                path,
                format!("annotation key {key:?}: {e}"),
            ));
        }
        total += key.len() + value.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::invalid(
            path,
            format!("annotations total {total} bytes, must be no more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"),
        ));
    }
}

/// Whether `s` is an RFC 6901 JSON pointer; `allow_empty` admits the empty pointer (the whole
/// document).
fn json_pointer(s: &str, allow_empty: bool) -> Result<(), String> {
    if s.is_empty() {
        return if allow_empty {
            Ok(())
        } else {
            Err("a JSON pointer starting with '/' is required, e.g. /spec/replicas".to_string())
        };
    }
    if !s.starts_with('/') {
        return Err(format!(
            "{s:?} is not a JSON pointer: it must start with '/', e.g. /spec/replicas"
        ));
    }
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(format!(
                "{s:?} is not a JSON pointer: '~' must be escaped as '~0' and '/' inside a key as '~1'"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
