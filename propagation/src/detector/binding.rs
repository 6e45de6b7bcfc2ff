//! The ResourceBinding (or ClusterResourceBinding) the detector builds for a template claimed
//! by a policy: its name, owner, claim metadata, interpreted replicas and the policy's intent.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use karmada_api::work::binding::{
    CLUSTER_RESOURCE_BINDING_FINALIZER, CLUSTER_RESOURCE_BINDING_PERMANENT_ID_LABEL,
    ClusterResourceBinding, ClusterResourceBindingSpec, ObjectReference,
    RESOURCE_BINDING_FINALIZER, RESOURCE_BINDING_PERMANENT_ID_LABEL, ResourceBinding,
    ResourceBindingSpec, SchedulePriority, Suspension,
};
use serde_json::Value;

use super::Error;
use super::claim::Claim;
use super::policy::Match;
use super::replicas::interpret_replicas;

/// A built binding: namespaced templates get a ResourceBinding in their namespace,
/// cluster-scoped ones a ClusterResourceBinding.
#[derive(Clone, Debug, PartialEq)]
pub enum Binding {
    Namespaced(ResourceBinding),
    Cluster(ClusterResourceBinding),
}

impl Binding {
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Binding::Namespaced(binding) => &binding.metadata,
            Binding::Cluster(binding) => &binding.metadata,
        }
    }

    pub fn spec(&self) -> &ResourceBindingSpec {
        match self {
            Binding::Namespaced(binding) => &binding.spec,
            Binding::Cluster(binding) => &binding.spec,
        }
    }

    pub fn spec_mut(&mut self) -> &mut ResourceBindingSpec {
        match self {
            Binding::Namespaced(binding) => &mut binding.spec,
            Binding::Cluster(binding) => &mut binding.spec,
        }
    }
}

/// What the caller looked up for [`binding_for`], keeping it free of IO.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BindingInputs<'a> {
    /// The binding's own permanent id (Karmada's webhook stamps one on creation); `None` leaves
    /// the label off, e.g. when updating a binding that already has it.
    pub permanent_id: Option<&'a str>,
    /// The value of the PriorityClass the policy's `schedulePriority` names.
    pub schedule_priority: Option<i32>,
}

/// Karmada's binding name for a template: `<name>-<kind>` in lower case, with the `:` that
/// RBAC object names may hold replaced by `.` so the result is a valid object name.
pub fn binding_name(kind: &str, name: &str) -> String {
    format!("{}-{kind}", name.replace(':', ".")).to_lowercase()
}

/// The binding Karmada's detector builds for `template` claimed by `policy`.
///
/// The binding is owned by the template (controller reference, blocking deletion), carries the
/// policy's claim labels and annotations and the binding controller's finalizer, and copies the
/// policy's placement, propagateDeps, schedulerName, failover, conflictResolution,
/// preserveResourcesOnDeletion and suspension; replicas and replica requirements come from the
/// built-in interpreter. The scheduling result (`clusters`) is left empty for the scheduler.
/// As in Karmada, only ResourceBindings get a schedule priority.
pub fn binding_for(
    template: &Value,
    policy: Match<'_>,
    inputs: &BindingInputs<'_>,
) -> Result<Binding, Error> {
    let field = |value: &Value, field: &'static str| {
        value
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or(Error::MissingField { field })
    };
    let api_version = field(&template["apiVersion"], "apiVersion")?;
    let kind = field(&template["kind"], "kind")?;
    let name = field(&template["metadata"]["name"], "metadata.name")?;
    let namespace = field(&template["metadata"]["namespace"], "metadata.namespace").ok();
    let optional = |key: &str| template["metadata"][key].as_str().map(str::to_string);
    let uid = optional("uid");

    let policy_spec = policy.spec();
    let mut spec = ResourceBindingSpec {
        resource: ObjectReference {
            api_version: api_version.clone(),
            kind: kind.clone(),
            namespace: namespace.clone(),
            name: name.clone(),
            uid: uid.clone(),
            resource_version: optional("resourceVersion"),
        },
        propagate_deps: policy_spec.propagate_deps,
        // Karmada's policy carries its placement by value, so a binding always has one.
        placement: Some(policy_spec.placement.clone().unwrap_or_default()),
        scheduler_name: policy_spec.scheduler_name.clone(),
        failover: policy_spec.failover.clone(),
        conflict_resolution: policy_spec.conflict_resolution,
        preserve_resources_on_deletion: policy_spec.preserve_resources_on_deletion,
        suspension: policy_spec.suspension.clone().map(|policy| Suspension {
            policy,
            scheduling: None,
        }),
        ..ResourceBindingSpec::default()
    };
    if let Some(found) = interpret_replicas(template)? {
        spec.replicas = Some(found.replicas);
        spec.replica_requirements = found.requirements;
    }

    let (mut labels, annotations) = Claim::of(policy).labels_and_annotations();
    let (id_label, finalizer) = if namespace.is_some() {
        (
            RESOURCE_BINDING_PERMANENT_ID_LABEL,
            RESOURCE_BINDING_FINALIZER,
        )
    } else {
        (
            CLUSTER_RESOURCE_BINDING_PERMANENT_ID_LABEL,
            CLUSTER_RESOURCE_BINDING_FINALIZER,
        )
    };
    if let Some(id) = inputs.permanent_id {
        labels.insert(id_label.to_string(), id.to_string());
    }
    let metadata = ObjectMeta {
        name: Some(binding_name(&kind, &name)),
        namespace: namespace.clone(),
        labels: Some(labels),
        annotations: Some(annotations),
        finalizers: Some(vec![finalizer.to_string()]),
        owner_references: Some(vec![OwnerReference {
            api_version,
            kind,
            name,
            uid: uid.unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]),
        ..ObjectMeta::default()
    };

    if namespace.is_none() {
        return Ok(Binding::Cluster(ClusterResourceBinding {
            metadata,
            spec: ClusterResourceBindingSpec(spec),
            status: None,
        }));
    }
    if let Some(requested) = &policy_spec.schedule_priority {
        let priority = inputs
            .schedule_priority
            .ok_or_else(|| Error::SchedulePriority {
                class: requested.priority_class_name.clone(),
            })?;
        spec.schedule_priority = Some(SchedulePriority {
            priority: Some(priority),
        });
    }
    Ok(Binding::Namespaced(ResourceBinding {
        metadata,
        spec,
        status: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use karmada_api::policy::propagation::{
        CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL, ClusterPropagationPolicy,
        PROPAGATION_POLICY_PERMANENT_ID_LABEL, PropagationPolicy, ReplicaSchedulingType,
    };
    use serde_json::json;

    use crate::detector::best_policy;

    #[test]
    fn binding_names_follow_karmada() {
        for (kind, name, want) in [
            ("Deployment", "nginx", "nginx-deployment"),
            (
                "ClusterRole",
                "system:controller:Foo",
                "system.controller.foo-clusterrole",
            ),
            ("Namespace", "Prod", "prod-namespace"),
        ] {
            assert_eq!(binding_name(kind, name), want);
        }
    }

    #[test]
    fn nginx_sample_binds_two_replicas_with_the_policys_placement() {
        let mut template = crate::samples::nginx("deployment.yaml");
        template["metadata"]["uid"] = json!("uid-1");
        template["metadata"]["resourceVersion"] = json!("42");
        let mut policy: PropagationPolicy =
            serde_json::from_value(crate::samples::nginx("propagationpolicy.yaml")).unwrap();
        policy.metadata.labels = Some(
            [(
                PROPAGATION_POLICY_PERMANENT_ID_LABEL.to_string(),
                "pp-id".to_string(),
            )]
            .into(),
        );
        let policies = [policy];

        let matched =
            best_policy(&template, &policies, &[]).expect("the sample policy selects nginx");
        let inputs = BindingInputs {
            permanent_id: Some("rb-id"),
            schedule_priority: None,
        };
        let Binding::Namespaced(binding) = binding_for(&template, matched, &inputs).unwrap() else {
            panic!("a namespaced template gets a ResourceBinding");
        };
        assert_eq!(binding.metadata.name.as_deref(), Some("nginx-deployment"));
        assert_eq!(binding.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(binding.spec.replicas, Some(2));
        assert_eq!(
            binding.spec.replica_requirements, None,
            "nginx requests nothing"
        );
        let placement = binding.spec.placement.as_ref().unwrap();
        assert_eq!(placement, policies[0].spec.placement.as_ref().unwrap());
        assert_eq!(
            placement.replica_scheduling_type(),
            ReplicaSchedulingType::Divided
        );
        assert_eq!(
            binding.spec.resource,
            ObjectReference {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: Some("default".into()),
                name: "nginx".into(),
                uid: Some("uid-1".into()),
                resource_version: Some("42".into()),
            }
        );
        assert!(
            binding.spec.clusters.is_empty(),
            "scheduling is the scheduler's job"
        );
        let owner = &binding.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("Deployment", "nginx", "uid-1")
        );
        assert_eq!(
            (owner.controller, owner.block_owner_deletion),
            (Some(true), Some(true))
        );
        assert_eq!(
            binding.metadata.finalizers,
            Some(vec![RESOURCE_BINDING_FINALIZER.to_string()])
        );
        assert_eq!(
            binding.metadata.labels,
            Some(
                [
                    (
                        PROPAGATION_POLICY_PERMANENT_ID_LABEL.to_string(),
                        "pp-id".to_string()
                    ),
                    (
                        RESOURCE_BINDING_PERMANENT_ID_LABEL.to_string(),
                        "rb-id".to_string()
                    ),
                ]
                .into()
            )
        );
        let annotations = binding.metadata.annotations.unwrap();
        assert_eq!(
            annotations["propagationpolicy.karmada.io/name"],
            "nginx-propagation"
        );
        assert_eq!(
            annotations["propagationpolicy.karmada.io/namespace"],
            "default"
        );
    }

    fn cpp(extra: Value) -> ClusterPropagationPolicy {
        let mut policy = json!({
            "metadata": {"name": "everything", "labels": {CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL: "cpp-id"}},
            "spec": {"resourceSelectors": [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole"}],
                     "placement": {"clusterAffinity": {"clusterNames": ["member1"]}}},
        });
        if let Value::Object(extra) = extra {
            for (key, value) in extra {
                policy["spec"][key] = value;
            }
        }
        serde_json::from_value(policy).unwrap()
    }

    #[test]
    fn cluster_scoped_templates_get_cluster_resource_bindings() {
        let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                          "metadata": {"name": "system:reader", "uid": "u"}});
        let policy = cpp(json!({
            "propagateDeps": true, "schedulerName": "other", "conflictResolution": "Overwrite",
            "preserveResourcesOnDeletion": true, "suspension": {"dispatching": true},
            "failover": {"cluster": {"purgeMode": "Directly"}},
            "schedulePriority": {"priorityClassSource": "KubePriorityClass", "priorityClassName": "high"},
        }));
        let inputs = BindingInputs {
            permanent_id: Some("crb-id"),
            schedule_priority: None,
        };
        let Binding::Cluster(binding) =
            binding_for(&role, Match::Cluster(&policy), &inputs).unwrap()
        else {
            panic!("a cluster-scoped template gets a ClusterResourceBinding");
        };
        assert_eq!(
            binding.metadata.name.as_deref(),
            Some("system.reader-clusterrole")
        );
        assert_eq!(binding.metadata.namespace, None);
        assert_eq!(
            binding.metadata.finalizers,
            Some(vec![CLUSTER_RESOURCE_BINDING_FINALIZER.to_string()])
        );
        let labels = binding.metadata.labels.clone().unwrap();
        assert_eq!(
            labels[CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL],
            "cpp-id"
        );
        assert_eq!(
            labels[CLUSTER_RESOURCE_BINDING_PERMANENT_ID_LABEL],
            "crb-id"
        );
        assert_eq!(
            binding.metadata.annotations.clone().unwrap()["clusterpropagationpolicy.karmada.io/name"],
            "everything"
        );
        let spec = &binding.spec;
        assert_eq!(spec.replicas, None, "a ClusterRole has no replicas");
        assert_eq!(spec.propagate_deps, Some(true));
        assert_eq!(spec.scheduler_name.as_deref(), Some("other"));
        assert_eq!(spec.preserve_resources_on_deletion, Some(true));
        assert_eq!(
            spec.suspension.as_ref().unwrap().policy.dispatching,
            Some(true)
        );
        assert!(spec.failover.as_ref().unwrap().cluster.is_some());
        assert_eq!(
            spec.schedule_priority, None,
            "Karmada gives only ResourceBindings a priority"
        );
        assert_eq!(spec.resource.namespace, None);
    }

    #[test]
    fn schedule_priority_comes_from_the_resolved_priority_class() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job",
                         "metadata": {"name": "pi", "namespace": "ml", "uid": "u"},
                         "spec": {"parallelism": 3, "completions": 2, "template": {"spec": {"containers": [
                             {"name": "pi", "resources": {"requests": {"cpu": "1"}}}]}}}});
        let policy = cpp(json!({
            "schedulePriority": {"priorityClassSource": "KubePriorityClass", "priorityClassName": "high"},
        }));
        let unresolved = binding_for(&job, Match::Cluster(&policy), &BindingInputs::default());
        assert!(
            matches!(unresolved, Err(Error::SchedulePriority { ref class }) if class == "high")
        );
        let inputs = BindingInputs {
            permanent_id: None,
            schedule_priority: Some(1000),
        };
        let built = binding_for(&job, Match::Cluster(&policy), &inputs).unwrap();
        let spec = built.spec();
        assert_eq!(
            spec.schedule_priority.as_ref().unwrap().priority,
            Some(1000)
        );
        assert_eq!(spec.replicas, Some(2));
        assert_eq!(
            spec.replica_requirements.as_ref().unwrap().resource_request["cpu"].0,
            "1"
        );
        assert!(
            matches!(built, Binding::Namespaced(_)),
            "CPP on a namespaced template: a ResourceBinding"
        );
        assert_eq!(built.metadata().name.as_deref(), Some("pi-job"));
        assert!(
            !built
                .metadata()
                .labels
                .as_ref()
                .unwrap()
                .contains_key(RESOURCE_BINDING_PERMANENT_ID_LABEL)
        );
    }

    #[test]
    fn templates_without_identity_are_rejected() {
        let policy = cpp(json!({}));
        let nameless = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}});
        let err = binding_for(
            &nameless,
            Match::Cluster(&policy),
            &BindingInputs::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "resource template has no metadata.name; it is not a Kubernetes object"
        );
    }
}
