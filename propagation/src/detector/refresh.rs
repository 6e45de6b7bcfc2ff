//! How an existing ResourceBinding is brought up to date with the one the detector would build
//! now, without losing what the scheduler and other controllers wrote into it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use karmada_api::policy::propagation::{
    CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL, PROPAGATION_POLICY_PERMANENT_ID_LABEL,
};
use karmada_api::work::binding::{
    ClusterResourceBinding, ClusterResourceBindingSpec, ResourceBinding, Suspension,
};

use super::Error;
use super::binding::Binding;
use super::claim::CLUSTER_PROPAGATION_POLICY_ANNOTATION;

/// The update of an `existing` binding to the `desired` one built by [`binding_for`], as
/// Karmada's detector applies it: only the fields the policy and template own are replaced, so
/// the schedule result, eviction tasks and dependents survive; labels and annotations are merged
/// (a PropagationPolicy claim drops a ClusterPropagationPolicy one), finalizers united, and the
/// binding suspension keeps its own `scheduling` switch. A binding whose controller is another
/// object (a deleted and recreated template) is left for garbage collection.
pub fn refresh(existing: &Binding, desired: &Binding) -> Result<Binding, Error> {
    let owner = |metadata: &ObjectMeta| {
        metadata
            .owner_references
            .iter()
            .flatten()
            .find(|reference| reference.controller == Some(true))
            .map(|reference| reference.uid.clone())
    };
    if let (Some(current), Some(wanted)) = (owner(existing.metadata()), owner(desired.metadata()))
        && current != wanted
    {
        return Err(Error::OwnerChanged {
            binding: existing.metadata().name.clone().unwrap_or_default(),
        });
    }
    let cluster_scoped = matches!(existing, Binding::Cluster(_));
    let mut metadata = existing.metadata().clone();
    let mut spec = existing.spec().clone();
    let wanted = desired.metadata();
    let mut labels = metadata.labels.take().unwrap_or_default();
    labels.extend(wanted.labels.clone().unwrap_or_default());
    let mut annotations = metadata.annotations.take().unwrap_or_default();
    annotations.extend(wanted.annotations.clone().unwrap_or_default());
    if !cluster_scoped && labels.contains_key(PROPAGATION_POLICY_PERMANENT_ID_LABEL) {
        labels.remove(CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL);
        annotations.remove(CLUSTER_PROPAGATION_POLICY_ANNOTATION);
    }
    metadata.labels = Some(labels);
    metadata.annotations = Some(annotations);
    let mut finalizers = metadata.finalizers.take().unwrap_or_default();
    for finalizer in wanted.finalizers.iter().flatten() {
        if !finalizers.contains(finalizer) {
            finalizers.push(finalizer.clone());
        }
    }
    metadata.finalizers = Some(finalizers);
    metadata.owner_references = wanted.owner_references.clone();

    let new = desired.spec();
    spec.resource = new.resource.clone();
    spec.replica_requirements = new.replica_requirements.clone();
    spec.replicas = new.replicas;
    spec.components = new.components.clone();
    spec.scheduler_name = new.scheduler_name.clone();
    spec.placement = new.placement.clone();
    spec.failover = new.failover.clone();
    spec.conflict_resolution = new.conflict_resolution;
    spec.preserve_resources_on_deletion = new.preserve_resources_on_deletion;
    spec.suspension = merge_suspension(spec.suspension.take(), new.suspension.as_ref());
    // Karmada's ClusterResourceBinding update leaves these three alone.
    if !cluster_scoped {
        spec.propagate_deps = new.propagate_deps;
        spec.schedule_priority = new.schedule_priority.clone();
        spec.workload_affinity_groups = new.workload_affinity_groups.clone();
    }
    Ok(match existing {
        Binding::Namespaced(binding) => Binding::Namespaced(ResourceBinding {
            metadata,
            spec,
            status: binding.status.clone(),
        }),
        Binding::Cluster(binding) => Binding::Cluster(ClusterResourceBinding {
            metadata,
            spec: ClusterResourceBindingSpec(spec),
            status: binding.status.clone(),
        }),
    })
}

/// The policy's suspension replaces the binding's, whose `scheduling` switch belongs to
/// third-party queues and is kept; without either, the binding has none.
fn merge_suspension(
    existing: Option<Suspension>,
    desired: Option<&Suspension>,
) -> Option<Suspension> {
    let scheduling = existing.and_then(|suspension| suspension.scheduling);
    match desired {
        Some(desired) => Some(Suspension {
            policy: desired.policy.clone(),
            scheduling,
        }),
        None => scheduling.map(|scheduling| Suspension {
            policy: Default::default(),
            scheduling: Some(scheduling),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use karmada_api::policy::propagation::{ClusterPropagationPolicy, PropagationPolicy};
    use karmada_api::work::binding::TargetCluster;
    use serde_json::{Value, json};

    use crate::detector::{BindingInputs, Match, binding_for};

    fn cpp(extra: Value) -> ClusterPropagationPolicy {
        let mut policy = json!({
            "metadata": {"name": "everything", "labels": {CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL: "cpp-id"}},
            "spec": {"resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment"},
                                           {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole"}]},
        });
        if let Value::Object(extra) = extra {
            for (key, value) in extra {
                policy["spec"][key] = value;
            }
        }
        serde_json::from_value(policy).unwrap()
    }

    #[test]
    fn refresh_keeps_the_schedule_and_takes_the_policys_intent() {
        let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                          "metadata": {"name": "reader", "uid": "u"}});
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                "metadata": {"name": "web", "namespace": "default", "uid": "u"},
                                "spec": {"replicas": 5}});
        let before = cpp(json!({"propagateDeps": false}));
        let after = cpp(
            json!({"propagateDeps": true, "placement": {"clusterAffinity": {"clusterNames": ["member2"]}}}),
        );
        let inputs = BindingInputs::default();
        for template in [&role, &deployment] {
            let mut existing = binding_for(template, Match::Cluster(&before), &inputs).unwrap();
            let (metadata, spec) = match &mut existing {
                Binding::Namespaced(b) => (&mut b.metadata, &mut b.spec),
                Binding::Cluster(b) => (&mut b.metadata, &mut b.spec.0),
            };
            spec.clusters = vec![TargetCluster {
                name: "member1".into(),
                replicas: Some(5),
                components: vec![],
            }];
            spec.suspension = Some(Suspension {
                policy: Default::default(),
                scheduling: Some(true),
            });
            metadata
                .labels
                .as_mut()
                .unwrap()
                .insert("mine".into(), "kept".into());
            metadata
                .finalizers
                .as_mut()
                .unwrap()
                .push("other/finalizer".into());

            let desired = binding_for(template, Match::Cluster(&after), &inputs).unwrap();
            let refreshed = refresh(&existing, &desired).unwrap();
            let spec = refreshed.spec();
            assert_eq!(
                spec.clusters[0].name, "member1",
                "the schedule result survives"
            );
            assert_eq!(spec.placement, after.spec.placement);
            assert_eq!(spec.suspension.as_ref().unwrap().scheduling, Some(true));
            let cluster_scoped = matches!(refreshed, Binding::Cluster(_));
            assert_eq!(
                spec.propagate_deps,
                Some(!cluster_scoped),
                "Karmada leaves a CRB's propagateDeps alone"
            );
            assert_eq!(
                refreshed.metadata().labels.as_ref().unwrap()["mine"],
                "kept"
            );
            assert_eq!(refreshed.metadata().finalizers.as_ref().unwrap().len(), 2);
        }
    }

    #[test]
    fn refresh_drops_a_cluster_claim_for_a_namespaced_one_and_refuses_foreign_owners() {
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                "metadata": {"name": "web", "namespace": "default", "uid": "u"}});
        let cluster_policy = cpp(json!({}));
        let policy: PropagationPolicy = serde_json::from_value(json!({
            "metadata": {"name": "pp", "namespace": "default",
                         "labels": {PROPAGATION_POLICY_PERMANENT_ID_LABEL: "pp-id"}},
            "spec": {"resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment"}]},
        }))
        .unwrap();
        let inputs = BindingInputs::default();
        let existing = binding_for(&deployment, Match::Cluster(&cluster_policy), &inputs).unwrap();
        let desired = binding_for(&deployment, Match::Namespaced(&policy), &inputs).unwrap();
        let refreshed = refresh(&existing, &desired).unwrap();
        let labels = refreshed.metadata().labels.clone().unwrap();
        assert_eq!(
            labels.keys().collect::<Vec<_>>(),
            [PROPAGATION_POLICY_PERMANENT_ID_LABEL]
        );
        assert!(
            !refreshed
                .metadata()
                .annotations
                .as_ref()
                .unwrap()
                .contains_key(CLUSTER_PROPAGATION_POLICY_ANNOTATION)
        );

        let mut recreated = deployment;
        recreated["metadata"]["uid"] = json!("new-uid");
        let desired = binding_for(&recreated, Match::Namespaced(&policy), &inputs).unwrap();
        let err = refresh(&existing, &desired).unwrap_err();
        assert!(matches!(err, Error::OwnerChanged { ref binding } if binding == "web-deployment"));
    }
}
