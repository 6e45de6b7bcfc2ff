//! The "attached" ResourceBinding of a dependency: how it is built for its first dependent, how
//! a dependent's entry is added or refreshed, and what is left once a dependent lets go.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use karmada_api::work::binding::{
    BindingSnapshot, ObjectReference, RESOURCE_BINDING_FINALIZER,
    RESOURCE_BINDING_PERMANENT_ID_LABEL, ResourceBinding, ResourceBindingSpec,
};

use crate::detector::binding::binding_name;

/// Prefix of the label an attached binding carries for each binding that depends on it; the
/// rest of the key is a short hash of the dependent's `namespace/name` (label keys are limited
/// to 63 characters) and the value is the dependent's permanent id.
pub const DEPENDED_BY_LABEL_PREFIX: &str = "resourcebinding.karmada.io/depended-by-";

/// The depended-by label key for the binding `namespace/name`.
///
/// The hash is 32-bit FNV-1a, written in hex: it must stay the same across releases and
/// processes because it is stored in objects, which rules out std's `DefaultHasher`.
pub fn depended_by_label(namespace: &str, name: &str) -> String {
    let hash = crate::binding::name::fnv32a(format!("{namespace}/{name}").as_bytes());
    format!("{DEPENDED_BY_LABEL_PREFIX}{hash:08x}")
}

/// Whether a policy claimed the binding itself (the detector always sets a placement); such a
/// binding is never deleted by the distributor, and its resource reference is the detector's.
pub fn claimed(spec: &ResourceBindingSpec) -> bool {
    spec.placement.is_some()
}

/// The entry `parent` keeps in its dependencies' `requiredBy`: where it is scheduled.
pub fn snapshot(parent: &ResourceBinding) -> BindingSnapshot {
    BindingSnapshot {
        namespace: parent.metadata.namespace.clone(),
        name: parent.metadata.name.clone().unwrap_or_default(),
        clusters: parent.spec.clusters.clone(),
    }
}

/// A new attached binding for `dependency` (its reference carrying uid and resourceVersion),
/// required by `parent` only. Like the detector's bindings it is owned by the object it
/// propagates, carries the binding controller's finalizer and a fresh permanent id.
pub fn attached_binding(
    parent: &ResourceBinding,
    dependency: &ObjectReference,
    permanent_id: &str,
) -> ResourceBinding {
    let labels = BTreeMap::from([
        (
            RESOURCE_BINDING_PERMANENT_ID_LABEL.to_string(),
            permanent_id.to_string(),
        ),
        depended_by(parent),
    ]);
    let metadata = ObjectMeta {
        name: Some(binding_name(&dependency.kind, &dependency.name)),
        namespace: dependency.namespace.clone(),
        labels: Some(labels),
        finalizers: Some(vec![RESOURCE_BINDING_FINALIZER.to_string()]),
        owner_references: Some(vec![OwnerReference {
            api_version: dependency.api_version.clone(),
            kind: dependency.kind.clone(),
            name: dependency.name.clone(),
            uid: dependency.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]),
        ..ObjectMeta::default()
    };
    ResourceBinding {
        metadata,
        spec: ResourceBindingSpec {
            resource: dependency.clone(),
            required_by: vec![snapshot(parent)],
            conflict_resolution: parent.spec.conflict_resolution,
            preserve_resources_on_deletion: parent.spec.preserve_resources_on_deletion,
            ..ResourceBindingSpec::default()
        },
        status: None,
    }
}

/// `existing` with `parent`'s entry and label in place, or `None` when nothing needs writing.
/// Unless a policy claimed the binding, it also takes the dependency's current reference and
/// the parent's conflictResolution and preserveResourcesOnDeletion (the dependent written last
/// wins, as in Karmada). Placement, clusters and every other dependent's entry are left alone.
pub fn require(
    existing: &ResourceBinding,
    parent: &ResourceBinding,
    dependency: &ObjectReference,
) -> Option<ResourceBinding> {
    let mut updated = existing.clone();
    let (key, value) = depended_by(parent);
    updated
        .metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(key, value);
    let entry = snapshot(parent);
    let required_by = &mut updated.spec.required_by;
    match required_by.iter_mut().find(|s| same_binding(s, &entry)) {
        Some(current) => current.clusters = entry.clusters,
        None => required_by.push(entry),
    }
    required_by.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    if !claimed(&updated.spec) {
        updated.spec.resource = dependency.clone();
        updated.spec.conflict_resolution = parent.spec.conflict_resolution;
        updated.spec.preserve_resources_on_deletion = parent.spec.preserve_resources_on_deletion;
    }
    (updated != *existing).then_some(updated)
}

/// Whether `existing` belongs to this incarnation of the dependency: a binding whose
/// controlling owner has another uid was left by a deleted namesake, and the garbage collector
/// removes it.
pub fn owned_by(existing: &ResourceBinding, dependency: &ObjectReference) -> bool {
    let owner = existing
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.controller == Some(true));
    match (owner, &dependency.uid) {
        (Some(owner), Some(uid)) => owner.uid == *uid,
        _ => true,
    }
}

/// What becomes of an attached binding once a dependent lets go of it.
#[derive(Clone, Debug, PartialEq)]
pub enum Release {
    /// The dependent was not recorded on it.
    Unchanged,
    /// Other dependents or a policy still need it: write it without the dependent.
    Update(Box<ResourceBinding>),
    /// Nothing needs it any more.
    Delete,
}

/// `existing` without the entry and label of the binding `namespace/name`.
pub fn release(existing: &ResourceBinding, namespace: &str, name: &str) -> Release {
    let mut updated = existing.clone();
    if let Some(labels) = updated.metadata.labels.as_mut() {
        labels.remove(&depended_by_label(namespace, name));
    }
    updated
        .spec
        .required_by
        .retain(|s| !(s.namespace.as_deref().unwrap_or_default() == namespace && s.name == name));
    if updated == *existing {
        Release::Unchanged
    } else if updated.spec.required_by.is_empty() && !claimed(&updated.spec) {
        Release::Delete
    } else {
        Release::Update(Box::new(updated))
    }
}

/// Whether `binding` records the binding `namespace/name` as a dependent, by label or entry.
pub fn required_by(binding: &ResourceBinding, namespace: &str, name: &str) -> bool {
    let labelled = binding
        .metadata
        .labels
        .as_ref()
        .is_some_and(|labels| labels.contains_key(&depended_by_label(namespace, name)));
    labelled
        || binding
            .spec
            .required_by
            .iter()
            .any(|s| s.namespace.as_deref().unwrap_or_default() == namespace && s.name == name)
}

fn depended_by(parent: &ResourceBinding) -> (String, String) {
    let meta = &parent.metadata;
    let id = meta
        .labels
        .as_ref()
        .and_then(|labels| labels.get(RESOURCE_BINDING_PERMANENT_ID_LABEL))
        .cloned()
        .unwrap_or_default();
    (
        depended_by_label(
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default(),
        ),
        id,
    )
}

fn same_binding(a: &BindingSnapshot, b: &BindingSnapshot) -> bool {
    a.namespace == b.namespace && a.name == b.name
}

#[cfg(test)]
mod tests {
    use super::*;
    use karmada_api::policy::propagation::ConflictResolution;
    use karmada_api::work::binding::TargetCluster;
    use serde_json::json;

    fn parent(name: &str, clusters: &[&str]) -> ResourceBinding {
        serde_json::from_value(json!({
            "apiVersion": "work.karmada.io/v1alpha2", "kind": "ResourceBinding",
            "metadata": {"name": name, "namespace": "shop",
                         "labels": {RESOURCE_BINDING_PERMANENT_ID_LABEL: format!("{name}-id")}},
            "spec": {
                "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": name},
                "propagateDeps": true,
                "clusters": clusters.iter().map(|c| json!({"name": c, "replicas": 1})).collect::<Vec<_>>(),
            }
        }))
        .unwrap()
    }

    fn config_map(resource_version: &str) -> ObjectReference {
        ObjectReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("shop".into()),
            name: "cfg".into(),
            uid: Some("cm-uid".into()),
            resource_version: Some(resource_version.into()),
        }
    }

    fn clusters(entry: &BindingSnapshot) -> Vec<&str> {
        entry.clusters.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn depended_by_labels_are_stable_short_and_distinct() {
        let key = depended_by_label("shop", "web-deployment");
        assert_eq!(key, depended_by_label("shop", "web-deployment"));
        assert_eq!(key.len(), DEPENDED_BY_LABEL_PREFIX.len() + 8);
        assert_ne!(key, depended_by_label("shop", "api-deployment"));
        // FNV-1a of "a/b", so a change of hash function (which would orphan labels) is noticed.
        assert_eq!(
            depended_by_label("a", "b"),
            format!("{DEPENDED_BY_LABEL_PREFIX}3a8e75c1")
        );
    }

    #[test]
    fn a_new_attached_binding_is_owned_by_its_dependency_and_required_by_the_parent() {
        let web = parent("web-deployment", &["member1"]);
        let built = attached_binding(&web, &config_map("7"), "rb-id");
        assert_eq!(built.metadata.name.as_deref(), Some("cfg-configmap"));
        assert_eq!(built.metadata.namespace.as_deref(), Some("shop"));
        let labels = built.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[RESOURCE_BINDING_PERMANENT_ID_LABEL], "rb-id");
        assert_eq!(
            labels[&depended_by_label("shop", "web-deployment")],
            "web-deployment-id"
        );
        let owner = &built.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("ConfigMap", "cfg", "cm-uid")
        );
        assert_eq!(owner.controller, Some(true));
        assert_eq!(
            built.metadata.finalizers,
            Some(vec![RESOURCE_BINDING_FINALIZER.to_string()])
        );
        assert_eq!(built.spec.resource, config_map("7"));
        assert!(!claimed(&built.spec));
        assert!(
            built.spec.clusters.is_empty(),
            "it goes where its dependents are"
        );
        assert_eq!(built.spec.required_by.len(), 1);
        assert_eq!(clusters(&built.spec.required_by[0]), ["member1"]);
        assert!(required_by(&built, "shop", "web-deployment"));
    }

    #[test]
    fn requiring_adds_or_refreshes_one_entry_per_parent() {
        let web = parent("web-deployment", &["member1"]);
        let existing = attached_binding(&web, &config_map("7"), "rb-id");
        assert_eq!(
            require(&existing, &web, &config_map("7")),
            None,
            "already up to date"
        );

        let moved = parent("web-deployment", &["member2"]);
        let updated = require(&existing, &moved, &config_map("8")).unwrap();
        assert_eq!(updated.spec.required_by.len(), 1);
        assert_eq!(clusters(&updated.spec.required_by[0]), ["member2"]);
        assert_eq!(updated.spec.resource.resource_version.as_deref(), Some("8"));

        let api = parent("api-deployment", &["member3"]);
        let shared = require(&updated, &api, &config_map("8")).unwrap();
        let names: Vec<&str> = shared
            .spec
            .required_by
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["api-deployment", "web-deployment"], "sorted");
        assert!(required_by(&shared, "shop", "api-deployment"));
    }

    #[test]
    fn a_policy_claimed_dependency_keeps_its_placement_schedule_and_reference() {
        let web = parent("web-deployment", &["member1"]);
        let mut claimed_binding = attached_binding(&web, &config_map("7"), "rb-id");
        claimed_binding.spec.required_by.clear();
        claimed_binding.spec.placement = Some(Default::default());
        claimed_binding.spec.clusters = vec![TargetCluster {
            name: "member9".into(),
            ..TargetCluster::default()
        }];
        let updated = require(&claimed_binding, &web, &config_map("8")).unwrap();
        assert_eq!(updated.spec.clusters, claimed_binding.spec.clusters);
        assert_eq!(updated.spec.placement, claimed_binding.spec.placement);
        assert_eq!(updated.spec.resource.resource_version.as_deref(), Some("7"));
        assert_eq!(updated.spec.required_by.len(), 1);

        let Release::Update(released) = release(&updated, "shop", "web-deployment") else {
            panic!("a claimed binding outlives its dependents");
        };
        assert!(released.spec.required_by.is_empty());
        assert_eq!(released.spec.clusters, claimed_binding.spec.clusters);
        assert!(!required_by(&released, "shop", "web-deployment"));
    }

    #[test]
    fn unclaimed_bindings_take_the_latest_dependents_settings_and_check_their_owner() {
        let mut web = parent("web-deployment", &["member1"]);
        web.spec.conflict_resolution = Some(ConflictResolution::Overwrite);
        web.spec.preserve_resources_on_deletion = Some(true);
        let built = attached_binding(&web, &config_map("7"), "rb-id");
        assert_eq!(
            built.spec.conflict_resolution,
            Some(ConflictResolution::Overwrite)
        );
        assert_eq!(built.spec.preserve_resources_on_deletion, Some(true));

        let api = parent("api-deployment", &["member2"]);
        let updated = require(&built, &api, &config_map("7")).unwrap();
        assert_eq!(updated.spec.conflict_resolution, None);
        assert_eq!(updated.spec.preserve_resources_on_deletion, None);

        assert!(owned_by(&built, &config_map("7")));
        let mut recreated = config_map("9");
        recreated.uid = Some("new-uid".into());
        assert!(!owned_by(&built, &recreated));
    }

    #[test]
    fn releasing_drops_the_entry_and_deletes_an_unneeded_binding() {
        let web = parent("web-deployment", &["member1"]);
        let api = parent("api-deployment", &["member2"]);
        let one = attached_binding(&web, &config_map("7"), "rb-id");
        let both = require(&one, &api, &config_map("7")).unwrap();

        let Release::Update(left) = release(&both, "shop", "api-deployment") else {
            panic!("web still needs it");
        };
        assert_eq!(*left, one);
        assert_eq!(release(&left, "shop", "web-deployment"), Release::Delete);
        assert_eq!(release(&left, "shop", "other"), Release::Unchanged);
        assert_eq!(
            release(&left, "elsewhere", "web-deployment"),
            Release::Unchanged
        );
    }
}
