//! Validation of propagation policies as Karmada's validating webhook and CRD schema do it:
//! selectors, failover, suspension, preemption and immutable fields; placement rules live in
//! the `placement` submodule.

mod placement;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    DEFAULT_SCHEDULER_NAME, FailoverBehavior, PreemptionBehavior, PropagationSpec, PurgeMode,
    StatePreservation, Suspension,
};
use crate::validation::{FieldError, Reason};

use self::placement::placement;

/// Every wrong field of a policy spec. `policy_namespace` is the namespace of a
/// PropagationPolicy (its selectors may only name that namespace) and `None` for a
/// ClusterPropagationPolicy.
pub(super) fn propagation_spec(
    spec: &PropagationSpec,
    policy_namespace: Option<&str>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(p) = &spec.placement {
        errors.extend(placement(p, "spec.placement"));
    }
    let application_failover = spec.failover.as_ref().and_then(|f| f.application.as_ref());
    if application_failover.is_some() && spec.propagate_deps != Some(true) {
        errors.push(FieldError::invalid(
            "spec.propagateDeps",
            "application failover is set, so propagateDeps must be true: the dependencies have to \
             follow the application to its new cluster",
        ));
    }
    if let Some(failover) = &spec.failover {
        errors.extend(failover_behavior(failover, "spec.failover"));
    }
    errors.extend(resource_selectors(spec, policy_namespace));
    if let Some(suspension) = &spec.suspension {
        errors.extend(suspension_conflicts(suspension));
    }
    if let Some(priority) = &spec.schedule_priority
        && priority.priority_class_name.is_empty()
    {
        errors.push(FieldError::required(
            "spec.schedulePriority.priorityClassName",
            "name the PriorityClass whose value becomes the scheduling priority",
        ));
    }
    errors
}

/// Rules that compare an update with the stored policy.
pub(super) fn update(
    new: &PropagationSpec,
    old: &PropagationSpec,
    (new_meta, old_meta): (&ObjectMeta, &ObjectMeta),
    permanent_id_label: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let scheduler = |s: &PropagationSpec| {
        s.scheduler_name
            .clone()
            .unwrap_or_else(|| DEFAULT_SCHEDULER_NAME.to_owned())
    };
    if scheduler(new) != scheduler(old) {
        errors.push(FieldError::forbidden(
            "spec.schedulerName",
            format!(
                "the schedulerName may not be changed (it is {:?}); create a new policy instead",
                scheduler(old)
            ),
        ));
    }
    let id = |m: &ObjectMeta| {
        m.labels
            .as_ref()
            .and_then(|l| l.get(permanent_id_label))
            .cloned()
    };
    if id(new_meta) != id(old_meta) {
        errors.push(FieldError::forbidden(
            format!("metadata.labels[{permanent_id_label}]"),
            "the label is immutable: only the system sets it, when the policy is created",
        ));
    }
    errors
}

fn resource_selectors(spec: &PropagationSpec, policy_namespace: Option<&str>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if spec.resource_selectors.is_empty() {
        errors.push(FieldError::required(
            "spec.resourceSelectors",
            "list at least one resource selector (apiVersion and kind of the templates to propagate)",
        ));
    }
    let preempts = spec.preemption == Some(PreemptionBehavior::Always);
    for (i, selector) in spec.resource_selectors.iter().enumerate() {
        let path = format!("spec.resourceSelectors[{i}]");
        if selector.api_version.is_empty() {
            errors.push(FieldError::required(
                format!("{path}.apiVersion"),
                "set the apiVersion of the selected resources, e.g. apps/v1",
            ));
        }
        if selector.kind.is_empty() {
            errors.push(FieldError::required(
                format!("{path}.kind"),
                "set the kind of the selected resources, e.g. Deployment",
            ));
        }
        let namespace = selector.namespace.as_deref().unwrap_or_default();
        if let Some(policy_namespace) = policy_namespace.filter(|ns| !ns.is_empty())
            && namespace != policy_namespace
        {
            errors.push(FieldError::invalid(
                format!("{path}.namespace"),
                format!(
                    "a PropagationPolicy only selects resources in its own namespace: use \
                     {policy_namespace:?} or leave it empty, not {namespace:?}"
                ),
            ));
        }
        if preempts && selector.name.as_deref().unwrap_or_default().is_empty() {
            errors.push(FieldError::invalid(
                format!("{path}.name"),
                "with preemption Always every selector must name one resource; an empty name \
                 could preempt unrelated resources",
            ));
        }
    }
    errors
}

fn suspension_conflicts(suspension: &Suspension) -> Vec<FieldError> {
    let all = suspension.dispatching == Some(true);
    let some = suspension
        .dispatching_on_clusters
        .as_ref()
        .is_some_and(|c| !c.cluster_names.is_empty());
    if all && some {
        return vec![FieldError::invalid(
            "spec.suspension",
            "dispatching: true already suspends every cluster; drop dispatchingOnClusters.clusterNames \
             or set dispatching to false",
        )];
    }
    Vec::new()
}

fn failover_behavior(failover: &FailoverBehavior, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(application) = &failover.application {
        let path = format!("{path}.application");
        if let Some(seconds) = application.decision_conditions.toleration_seconds
            && seconds < 0
        {
            errors.push(FieldError::invalid(
                format!("{path}.decisionConditions.tolerationSeconds"),
                format!("must be greater than or equal to 0, not {seconds}"),
            ));
        }
        // The CRD defaults an absent purge mode to Gracefully.
        let graceful =
            application.purge_mode.unwrap_or(PurgeMode::Gracefully) == PurgeMode::Gracefully;
        match application.grace_period_seconds {
            Some(_) if !graceful => errors.push(FieldError::invalid(
                format!("{path}.gracePeriodSeconds"),
                "only takes effect when purgeMode is Gracefully; remove it or change purgeMode",
            )),
            None if graceful => errors.push(FieldError::required(
                format!("{path}.gracePeriodSeconds"),
                "must be set when purgeMode is Gracefully",
            )),
            Some(seconds) if seconds <= 0 => errors.push(FieldError::invalid(
                format!("{path}.gracePeriodSeconds"),
                format!("must be greater than 0, not {seconds}"),
            )),
            _ => {}
        }
        if let Some(preservation) = &application.state_preservation {
            errors.extend(state_preservation(
                preservation,
                &format!("{path}.statePreservation"),
            ));
        }
    }
    if let Some(cluster) = &failover.cluster {
        let path = format!("{path}.cluster");
        if cluster.purge_mode == Some(PurgeMode::Never) {
            errors.push(FieldError::new(
                format!("{path}.purgeMode"),
                Reason::NotSupported,
                "cluster failover supports purgeMode Directly or Gracefully, not Never",
            ));
        }
        if let Some(preservation) = &cluster.state_preservation {
            errors.extend(state_preservation(
                preservation,
                &format!("{path}.statePreservation"),
            ));
        }
    }
    errors
}

fn state_preservation(preservation: &StatePreservation, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, rule) in preservation.rules.iter().enumerate() {
        let rule_path = format!("{path}.rules[{i}]");
        if let Some(problem) = crate::names::qualified_name(&rule.alias_label_name).err() {
            errors.push(FieldError::invalid(
                format!("{rule_path}.aliasLabelName"),
                format!(
                    "{:?} is not a valid label name: {problem}",
                    rule.alias_label_name
                ),
            ));
        }
        if rule.json_path.is_empty() {
            errors.push(FieldError::required(
                format!("{rule_path}.jsonPath"),
                "give the JSONPath of the status field to preserve, e.g. {.replicas}",
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests;
