//! Defaults of propagation policies: the CRD schema defaults kube-apiserver applies, then the
//! ones Karmada's mutating webhook adds.

use super::{
    ConflictResolution, DEFAULT_SCHEDULER_NAME, PreemptionBehavior, PropagationSpec, PurgeMode,
    ReplicaDivisionPreference, ReplicaSchedulingType, SpreadField,
};
use crate::policy::selectors::ResourceSelector;

/// Failover tolerance of an unhealthy application when the policy leaves it out.
const DEFAULT_TOLERATION_SECONDS: i32 = 300;
/// Grace period of a Gracefully purged copy when the policy leaves it out.
const DEFAULT_GRACE_PERIOD_SECONDS: i32 = 600;
/// Group and kind whose selection forces `propagateDeps`: an imported service is useless
/// without the EndpointSlices that follow it.
const SERVICE_IMPORT_API_VERSION: &str = "multicluster.x-k8s.io/v1alpha1";
const SERVICE_IMPORT_KIND: &str = "ServiceImport";

/// A namespaced policy only selects in its own namespace, so an empty selector namespace
/// means that one.
pub(super) fn selector_namespaces(selectors: &mut [ResourceSelector], namespace: &str) {
    for selector in selectors {
        if selector.namespace.as_deref().unwrap_or_default().is_empty() {
            selector.namespace = Some(namespace.to_owned());
        }
    }
}

/// Fills the defaults shared by both policy kinds, in place.
pub(super) fn propagation_spec(spec: &mut PropagationSpec) {
    schema_defaults(spec);

    if let Some(placement) = &mut spec.placement {
        for constraint in &mut placement.spread_constraints {
            let by_label = constraint.spread_by_label.as_deref().unwrap_or_default();
            if constraint.spread_by_field.is_none() && by_label.is_empty() {
                constraint.spread_by_field = Some(SpreadField::Cluster);
            }
            if constraint.min_groups.unwrap_or(0) == 0 {
                constraint.min_groups = Some(1);
            }
        }
        if let Some(strategy) = &mut placement.replica_scheduling
            && strategy.replica_scheduling_type == Some(ReplicaSchedulingType::Divided)
            && strategy.replica_division_preference.is_none()
        {
            strategy.replica_division_preference = Some(ReplicaDivisionPreference::Weighted);
        }
    }

    let selects_service_import = spec
        .resource_selectors
        .iter()
        .any(|s| s.api_version == SERVICE_IMPORT_API_VERSION && s.kind == SERVICE_IMPORT_KIND);
    if selects_service_import {
        spec.propagate_deps = Some(true);
    }

    if let Some(application) = spec.failover.as_mut().and_then(|f| f.application.as_mut())
        && application.purge_mode == Some(PurgeMode::Gracefully)
        && application.grace_period_seconds.is_none()
    {
        application.grace_period_seconds = Some(DEFAULT_GRACE_PERIOD_SECONDS);
    }
}

/// The `default:` values of Karmada's CRD schema, which kube-apiserver fills in before any
/// webhook sees the object.
fn schema_defaults(spec: &mut PropagationSpec) {
    spec.conflict_resolution
        .get_or_insert(ConflictResolution::Abort);
    spec.preemption.get_or_insert(PreemptionBehavior::Never);
    spec.priority.get_or_insert(0);
    spec.scheduler_name
        .get_or_insert_with(|| DEFAULT_SCHEDULER_NAME.to_owned());

    if let Some(strategy) = spec
        .placement
        .as_mut()
        .and_then(|p| p.replica_scheduling.as_mut())
    {
        strategy
            .replica_scheduling_type
            .get_or_insert(ReplicaSchedulingType::Divided);
    }
    if let Some(failover) = &mut spec.failover {
        if let Some(application) = &mut failover.application {
            application
                .decision_conditions
                .toleration_seconds
                .get_or_insert(DEFAULT_TOLERATION_SECONDS);
            application.purge_mode.get_or_insert(PurgeMode::Gracefully);
        }
        if let Some(cluster) = &mut failover.cluster {
            cluster.purge_mode.get_or_insert(PurgeMode::Gracefully);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::propagation::{
        ApplicationFailoverBehavior, ClusterFailoverBehavior, FailoverBehavior, Placement,
        ReplicaSchedulingStrategy, SpreadConstraint,
    };

    fn selector(namespace: Option<&str>) -> ResourceSelector {
        ResourceSelector {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: namespace.map(str::to_owned),
            ..Default::default()
        }
    }

    fn defaulted(spec: PropagationSpec) -> PropagationSpec {
        let mut spec = spec;
        propagation_spec(&mut spec);
        spec
    }

    fn with_placement(placement: Placement) -> PropagationSpec {
        PropagationSpec {
            placement: Some(placement),
            ..Default::default()
        }
    }

    #[test]
    fn empty_selector_namespaces_become_the_policy_namespace() {
        let mut selectors = vec![selector(None), selector(Some("")), selector(Some("other"))];
        selector_namespaces(&mut selectors, "default");
        let namespaces: Vec<_> = selectors.iter().map(|s| s.namespace.as_deref()).collect();
        assert_eq!(
            namespaces,
            [Some("default"), Some("default"), Some("other")]
        );
    }

    #[test]
    fn schema_defaults_fill_top_level_fields() {
        let spec = defaulted(PropagationSpec::default());
        assert_eq!(spec.conflict_resolution, Some(ConflictResolution::Abort));
        assert_eq!(spec.preemption, Some(PreemptionBehavior::Never));
        assert_eq!(spec.priority, Some(0));
        assert_eq!(spec.scheduler_name.as_deref(), Some("default-scheduler"));
        assert_eq!(spec.placement, None, "no placement is invented");
        assert_eq!(spec.propagate_deps, None);
    }

    #[test]
    fn explicit_values_are_kept() {
        let spec = defaulted(PropagationSpec {
            conflict_resolution: Some(ConflictResolution::Overwrite),
            priority: Some(7),
            scheduler_name: Some("mine".into()),
            ..Default::default()
        });
        assert_eq!(
            spec.conflict_resolution,
            Some(ConflictResolution::Overwrite)
        );
        assert_eq!(spec.priority, Some(7));
        assert_eq!(spec.scheduler_name.as_deref(), Some("mine"));
    }

    #[test]
    fn spread_constraints_default_to_cluster_and_one_group() {
        let spec = defaulted(with_placement(Placement {
            spread_constraints: vec![
                SpreadConstraint::default(),
                SpreadConstraint {
                    spread_by_label: Some("team".into()),
                    min_groups: Some(0),
                    ..Default::default()
                },
                SpreadConstraint {
                    spread_by_field: Some(SpreadField::Region),
                    min_groups: Some(2),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }));
        let c = &spec.placement.unwrap().spread_constraints;
        assert_eq!(
            (c[0].spread_by_field, c[0].min_groups),
            (Some(SpreadField::Cluster), Some(1))
        );
        assert_eq!((c[1].spread_by_field, c[1].min_groups), (None, Some(1)));
        assert_eq!(
            (c[2].spread_by_field, c[2].min_groups),
            (Some(SpreadField::Region), Some(2))
        );
    }

    #[test]
    fn replica_scheduling_defaults_to_divided_weighted() {
        let spec = defaulted(with_placement(Placement {
            replica_scheduling: Some(ReplicaSchedulingStrategy::default()),
            ..Default::default()
        }));
        let strategy = spec.placement.unwrap().replica_scheduling.unwrap();
        assert_eq!(
            strategy.replica_scheduling_type,
            Some(ReplicaSchedulingType::Divided)
        );
        assert_eq!(
            strategy.replica_division_preference,
            Some(ReplicaDivisionPreference::Weighted)
        );
    }

    #[test]
    fn duplicated_gets_no_division_preference_and_absent_strategy_stays_absent() {
        let spec = defaulted(with_placement(Placement {
            replica_scheduling: Some(ReplicaSchedulingStrategy {
                replica_scheduling_type: Some(ReplicaSchedulingType::Duplicated),
                ..Default::default()
            }),
            ..Default::default()
        }));
        let strategy = spec.placement.unwrap().replica_scheduling.unwrap();
        assert_eq!(strategy.replica_division_preference, None);

        let spec = defaulted(with_placement(Placement::default()));
        assert_eq!(spec.placement.unwrap().replica_scheduling, None);
    }

    #[test]
    fn aggregated_preference_is_kept() {
        let spec = defaulted(with_placement(Placement {
            replica_scheduling: Some(ReplicaSchedulingStrategy {
                replica_division_preference: Some(ReplicaDivisionPreference::Aggregated),
                ..Default::default()
            }),
            ..Default::default()
        }));
        let strategy = spec.placement.unwrap().replica_scheduling.unwrap();
        assert_eq!(
            strategy.replica_division_preference,
            Some(ReplicaDivisionPreference::Aggregated)
        );
    }

    #[test]
    fn selecting_service_import_forces_propagate_deps() {
        let spec = defaulted(PropagationSpec {
            resource_selectors: vec![ResourceSelector {
                api_version: "multicluster.x-k8s.io/v1alpha1".into(),
                kind: "ServiceImport".into(),
                ..Default::default()
            }],
            propagate_deps: Some(false),
            ..Default::default()
        });
        assert_eq!(spec.propagate_deps, Some(true));
    }

    #[test]
    fn application_failover_defaults() {
        let spec = defaulted(PropagationSpec {
            failover: Some(FailoverBehavior {
                application: Some(ApplicationFailoverBehavior::default()),
                cluster: Some(ClusterFailoverBehavior::default()),
            }),
            ..Default::default()
        });
        let failover = spec.failover.unwrap();
        let application = failover.application.unwrap();
        assert_eq!(
            application.decision_conditions.toleration_seconds,
            Some(300)
        );
        assert_eq!(application.purge_mode, Some(PurgeMode::Gracefully));
        assert_eq!(application.grace_period_seconds, Some(600));
        assert_eq!(
            failover.cluster.unwrap().purge_mode,
            Some(PurgeMode::Gracefully)
        );
    }

    #[test]
    fn grace_period_is_only_defaulted_for_graceful_purges() {
        let spec = defaulted(PropagationSpec {
            failover: Some(FailoverBehavior {
                application: Some(ApplicationFailoverBehavior {
                    purge_mode: Some(PurgeMode::Directly),
                    ..Default::default()
                }),
                cluster: None,
            }),
            ..Default::default()
        });
        let application = spec.failover.unwrap().application.unwrap();
        assert_eq!(application.grace_period_seconds, None);
    }
}
