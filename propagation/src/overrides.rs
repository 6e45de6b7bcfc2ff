//! The override engine: which (Cluster)OverridePolicy rules apply to a resource template in a
//! member cluster, in Karmada's order, and the manifest they produce.

mod annotation;
mod containers;
pub mod image;
mod metadata;
mod patch;

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use karmada_api::cluster::Cluster;
use karmada_api::policy::overrides::{
    ClusterOverridePolicy, OverridePolicy, OverrideSpec, Overriders,
};
use serde_json::Value;

use crate::select::{ImplicitPriority, cluster_matches, selectors_priority};
use containers::Target;
use metadata::MetadataMap;

/// Annotation on the member manifest listing the OverridePolicies applied to it.
pub const APPLIED_OVERRIDES_ANNOTATION: &str = "policy.karmada.io/applied-overrides";
/// Annotation on the member manifest listing the ClusterOverridePolicies applied to it.
pub const APPLIED_CLUSTER_OVERRIDES_ANNOTATION: &str =
    "policy.karmada.io/applied-cluster-overrides";

/// The two kinds of override policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyKind {
    ClusterOverridePolicy,
    OverridePolicy,
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyKind::ClusterOverridePolicy => "ClusterOverridePolicy",
            PolicyKind::OverridePolicy => "OverridePolicy",
        })
    }
}

/// Applying a policy's overriders failed; names the policy and wraps what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("{kind} {policy}: {source}")]
pub struct Error {
    pub kind: PolicyKind,
    /// `name` for a ClusterOverridePolicy, `namespace/name` for an OverridePolicy.
    pub policy: String,
    #[source]
    pub source: OverriderError,
}

/// One overrider could not be applied; every variant names the path involved.
#[derive(Debug, thiserror::Error)]
pub enum OverriderError {
    #[error("imageOverrider: cannot read the image at {path}: {reason}")]
    ImagePath { path: String, reason: String },
    #[error("imageOverrider: image {image:?} at {path} is not a valid image reference: {source}")]
    ImageReference {
        path: String,
        image: String,
        #[source]
        source: image::ReferenceError,
    },
    #[error("containers at {path}: {reason}")]
    Containers { path: String, reason: String },
    #[error("fieldOverrider: fieldPath {path}: {reason}")]
    FieldPath { path: String, reason: String },
    #[error("fieldOverrider: the field at {path} does not hold valid {format}: {reason}")]
    FieldDocument {
        path: String,
        format: &'static str,
        reason: String,
    },
    #[error("{overrider}: invalid JSON patch: {reason}")]
    InvalidPatch {
        overrider: &'static str,
        reason: String,
    },
    #[error("{overrider}: {source}")]
    Patch {
        overrider: &'static str,
        #[source]
        source: json_patch::PatchError,
    },
}

/// One rule of one policy that applies to a template in a cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct AppliedOverride {
    pub kind: PolicyKind,
    pub name: String,
    /// Set for an OverridePolicy.
    pub namespace: Option<String>,
    /// Index into `overrideRules`; `None` for the deprecated `targetCluster` + `overriders`.
    pub rule: Option<usize>,
    pub overriders: Overriders,
}

impl AppliedOverride {
    fn policy_label(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("{namespace}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A template overridden for one cluster, and the rules that were applied in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub manifest: Value,
    pub applied: Vec<AppliedOverride>,
}

impl Applied {
    /// The value of `policy.karmada.io/applied-cluster-overrides`, or `None` when no
    /// ClusterOverridePolicy applied (Karmada then sets no annotation).
    pub fn applied_cluster_overrides(&self) -> Option<String> {
        annotation::applied_overrides_value(&self.applied, PolicyKind::ClusterOverridePolicy)
    }

    /// The value of `policy.karmada.io/applied-overrides`, or `None` when no OverridePolicy
    /// applied.
    pub fn applied_overrides(&self) -> Option<String> {
        annotation::applied_overrides_value(&self.applied, PolicyKind::OverridePolicy)
    }

    /// Both annotations, keyed by name, as the binding controller records them on the Work's
    /// manifest.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        [
            (
                APPLIED_CLUSTER_OVERRIDES_ANNOTATION,
                self.applied_cluster_overrides(),
            ),
            (APPLIED_OVERRIDES_ANNOTATION, self.applied_overrides()),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key.to_string(), value?)))
        .collect()
    }
}

/// Applies every matching override rule to `template` for `cluster`: ClusterOverridePolicies
/// first, then (for a namespaced template) the OverridePolicies of its namespace.
pub fn apply_overrides(
    template: &Value,
    cluster: &Cluster,
    cluster_policies: &[ClusterOverridePolicy],
    policies: &[OverridePolicy],
) -> Result<Applied, Error> {
    let applied = select_overrides(template, cluster, cluster_policies, policies);
    let mut manifest = template.clone();
    for rule in &applied {
        apply_overriders(&mut manifest, &rule.overriders).map_err(|source| Error {
            kind: rule.kind,
            policy: rule.policy_label(),
            source,
        })?;
    }
    Ok(Applied { manifest, applied })
}

/// The rules that apply to `template` in `cluster`, in the order Karmada applies them. Within
/// each kind, policies whose selectors match the template are ordered by the implicit priority
/// of their best-matching selector (no selectors counts as match-all), lowest first so the
/// most specific applies last, then by name; each policy's rules keep their order.
pub fn select_overrides(
    template: &Value,
    cluster: &Cluster,
    cluster_policies: &[ClusterOverridePolicy],
    policies: &[OverridePolicy],
) -> Vec<AppliedOverride> {
    let cluster_candidates = cluster_policies.iter().map(|policy| Candidate {
        kind: PolicyKind::ClusterOverridePolicy,
        name: policy.metadata.name.as_deref().unwrap_or_default(),
        namespace: None,
        spec: &policy.spec,
    });
    let mut selected = matching_rules(cluster_candidates, template, cluster);
    let namespace = template["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    if !namespace.is_empty() {
        let candidates = policies
            .iter()
            .filter(|policy| policy.metadata.namespace.as_deref() == Some(namespace))
            .map(|policy| Candidate {
                kind: PolicyKind::OverridePolicy,
                name: policy.metadata.name.as_deref().unwrap_or_default(),
                namespace: Some(namespace),
                spec: &policy.spec,
            });
        selected.extend(matching_rules(candidates, template, cluster));
    }
    selected
}

struct Candidate<'a> {
    kind: PolicyKind,
    name: &'a str,
    namespace: Option<&'a str>,
    spec: &'a OverrideSpec,
}

fn matching_rules<'a>(
    candidates: impl Iterator<Item = Candidate<'a>>,
    template: &Value,
    cluster: &Cluster,
) -> Vec<AppliedOverride> {
    let mut matching: Vec<(ImplicitPriority, Candidate<'a>)> = candidates
        .filter_map(|candidate| {
            let selectors = &candidate.spec.resource_selectors;
            let priority = if selectors.is_empty() {
                ImplicitPriority::MatchAll
            } else {
                selectors_priority(selectors, template)
            };
            (priority > ImplicitPriority::Mismatch).then_some((priority, candidate))
        })
        .collect();
    matching.sort_by(|(pa, a), (pb, b)| match pa.cmp(pb) {
        Ordering::Equal => a.name.cmp(b.name),
        other => other,
    });
    let mut rules = Vec::new();
    for (_, candidate) in matching {
        let spec = candidate.spec;
        // Validation keeps `overrideRules` and the deprecated pair apart; without rules the
        // pair stands in as a single rule.
        let policy_rules: Vec<_> = if spec.override_rules.is_empty() {
            vec![(None, spec.target_cluster.as_ref(), &spec.overriders)]
        } else {
            spec.override_rules
                .iter()
                .enumerate()
                .map(|(i, rule)| (Some(i), rule.target_cluster.as_ref(), &rule.overriders))
                .collect()
        };
        for (rule, target, overriders) in policy_rules {
            if target.is_none_or(|affinity| cluster_matches(affinity, cluster)) {
                rules.push(AppliedOverride {
                    kind: candidate.kind,
                    name: candidate.name.to_string(),
                    namespace: candidate.namespace.map(str::to_string),
                    rule,
                    overriders: overriders.clone(),
                });
            }
        }
    }
    rules
}

/// Applies one rule's overriders in Karmada's fixed order: images, command, args, labels,
/// annotations, fields, then plaintext. The manifest is left partly changed on error (the
/// caller discards it).
pub fn apply_overriders(
    manifest: &mut Value,
    overriders: &Overriders,
) -> Result<(), OverriderError> {
    for overrider in &overriders.image_overrider {
        image::apply_image_overrider(manifest, overrider)?;
    }
    for overrider in &overriders.command_overrider {
        containers::apply_command_args_overrider(manifest, Target::Command, overrider)?;
    }
    for overrider in &overriders.args_overrider {
        containers::apply_command_args_overrider(manifest, Target::Args, overrider)?;
    }
    for overrider in &overriders.labels_overrider {
        metadata::apply_metadata_overrider(manifest, MetadataMap::Labels, overrider);
    }
    for overrider in &overriders.annotations_overrider {
        metadata::apply_metadata_overrider(manifest, MetadataMap::Annotations, overrider);
    }
    for overrider in &overriders.field_overrider {
        patch::apply_field_overrider(manifest, overrider)?;
    }
    patch::apply_plaintext(manifest, &overriders.plaintext)
}

#[cfg(test)]
mod tests;
