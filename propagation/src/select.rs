//! Karmada's selector matching: which resource templates a `ResourceSelector` picks (and how
//! specifically), and which member clusters a `ClusterAffinity` targets.

use std::collections::BTreeMap;

pub use karmada_api::policy::matching::{cluster_matches, label_selector_matches};
use karmada_api::policy::selectors::ResourceSelector;
use serde_json::Value;

/// How specifically a resource selector matches a template; the derived order is Karmada's
/// implicit priority (a name match beats a label match beats a match-all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ImplicitPriority {
    Mismatch,
    MatchAll,
    MatchLabelSelector,
    MatchName,
}

/// Whether `selector` picks the resource template `template`.
pub fn resource_matches(selector: &ResourceSelector, template: &Value) -> bool {
    resource_priority(selector, template) > ImplicitPriority::Mismatch
}

/// How specifically `selector` matches `template`: a set `name` is compared alone (the label
/// selector is then ignored); otherwise the label selector decides; neither set matches all.
pub fn resource_priority(selector: &ResourceSelector, template: &Value) -> ImplicitPriority {
    let field = |name: &str| template[name].as_str().unwrap_or_default();
    let metadata = |name: &str| template["metadata"][name].as_str().unwrap_or_default();
    let namespace = selector.namespace.as_deref().unwrap_or_default();
    if field("apiVersion") != selector.api_version
        || field("kind") != selector.kind
        || (!namespace.is_empty() && metadata("namespace") != namespace)
    {
        return ImplicitPriority::Mismatch;
    }
    match selector.name.as_deref() {
        Some(name) if !name.is_empty() => {
            if metadata("name") == name {
                ImplicitPriority::MatchName
            } else {
                ImplicitPriority::Mismatch
            }
        }
        _ => match &selector.label_selector {
            None => ImplicitPriority::MatchAll,
            Some(labels) if label_selector_matches(labels, &template_labels(template)) => {
                ImplicitPriority::MatchLabelSelector
            }
            Some(_) => ImplicitPriority::Mismatch,
        },
    }
}

/// The highest priority any of `selectors` matches `template` with.
pub fn selectors_priority(selectors: &[ResourceSelector], template: &Value) -> ImplicitPriority {
    selectors
        .iter()
        .map(|selector| resource_priority(selector, template))
        .max()
        .unwrap_or(ImplicitPriority::Mismatch)
}

/// The template's labels; values that are not strings are skipped, as they cannot match.
fn template_labels(template: &Value) -> BTreeMap<String, String> {
    template["metadata"]["labels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resource_selectors_and_their_priority() {
        let template = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}}});
        let selector =
            |value: Value| -> ResourceSelector { serde_json::from_value(value).unwrap() };
        use ImplicitPriority::*;
        let cases = [
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment"}),
                MatchAll,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop"}),
                MatchAll,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "other"}),
                Mismatch,
            ),
            (
                json!({"apiVersion": "apps/v1beta1", "kind": "Deployment"}),
                Mismatch,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet"}),
                Mismatch,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}),
                MatchName,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "db"}),
                Mismatch,
            ),
            // A name wins over a label selector that would not match.
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                    "labelSelector": {"matchLabels": {"app": "db"}}}),
                MatchName,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "labelSelector": {"matchLabels": {"app": "web"}}}),
                MatchLabelSelector,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "labelSelector": {"matchExpressions": [
                        {"key": "app", "operator": "In", "values": ["db"]}]}}),
                Mismatch,
            ),
        ];
        for (value, want) in cases {
            let selector = selector(value);
            assert_eq!(
                resource_priority(&selector, &template),
                want,
                "{selector:?}"
            );
            assert_eq!(resource_matches(&selector, &template), want != Mismatch);
        }
        let all = [
            selector(json!({"apiVersion": "apps/v1", "kind": "Deployment"})),
            selector(json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"})),
        ];
        assert_eq!(selectors_priority(&all, &template), MatchName);
        assert_eq!(selectors_priority(&[], &template), Mismatch);
    }
}
