//! One case per validation rule of a propagation spec: the mutation that breaks the rule and
//! the fields reported.

use k8s_openapi::api::core::v1::Toleration;

use super::propagation_spec;
use crate::policy::propagation::*;
use crate::policy::selectors::{
    ClusterAffinity, FieldSelector, FieldSelectorRequirement, ResourceSelector,
};
use crate::validation::Reason::{self, Duplicate, Invalid, NotSupported, Required};

/// A valid, defaulted spec every case starts from.
fn base() -> PropagationSpec {
    PropagationSpec {
        resource_selectors: vec![ResourceSelector {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("prod".into()),
            ..Default::default()
        }],
        placement: Some(Placement::default()),
        ..Default::default()
    }
}

fn placement(spec: &mut PropagationSpec) -> &mut Placement {
    spec.placement.get_or_insert_with(Placement::default)
}

fn names(names: &[&str]) -> ClusterAffinity {
    ClusterAffinity {
        cluster_names: names.iter().map(|n| n.to_string()).collect(),
        ..Default::default()
    }
}

fn term(name: &str) -> ClusterAffinityTerm {
    ClusterAffinityTerm {
        affinity_name: name.into(),
        affinity: names(&["member1"]),
        overflow_affinities: None,
    }
}

fn by_field(field: SpreadField) -> SpreadConstraint {
    SpreadConstraint {
        spread_by_field: Some(field),
        min_groups: Some(1),
        ..Default::default()
    }
}

fn application(purge: PurgeMode, grace: Option<i32>) -> FailoverBehavior {
    FailoverBehavior {
        application: Some(ApplicationFailoverBehavior {
            decision_conditions: DecisionConditions {
                toleration_seconds: Some(300),
            },
            purge_mode: Some(purge),
            grace_period_seconds: grace,
            state_preservation: None,
        }),
        cluster: None,
    }
}

fn divided(
    preference: Option<ReplicaDivisionPreference>,
    weights: Option<ClusterPreferences>,
) -> Option<ReplicaSchedulingStrategy> {
    Some(ReplicaSchedulingStrategy {
        replica_scheduling_type: Some(ReplicaSchedulingType::Divided),
        replica_division_preference: preference,
        weight_preference: weights,
    })
}

type Mutation = fn(&mut PropagationSpec);
/// A rule's name, the mutation that breaks it, and the fields reported.
type Case = (&'static str, Mutation, Vec<(&'static str, Reason)>);

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    vec![
        ("valid spec", |_| {}, vec![]),
        ("no selectors", |s| s.resource_selectors.clear(), vec![("spec.resourceSelectors", Required)]),
        ("selector without apiVersion", |s| s.resource_selectors[0].api_version.clear(),
            vec![("spec.resourceSelectors[0].apiVersion", Required)]),
        ("selector without kind", |s| s.resource_selectors[0].kind.clear(),
            vec![("spec.resourceSelectors[0].kind", Required)]),
        ("selector in another namespace", |s| s.resource_selectors[0].namespace = Some("dev".into()),
            vec![("spec.resourceSelectors[0].namespace", Invalid)]),
        ("preemption without selector name", |s| s.preemption = Some(PreemptionBehavior::Always),
            vec![("spec.resourceSelectors[0].name", Invalid)]),
        ("preemption with selector name", |s| {
            s.preemption = Some(PreemptionBehavior::Always);
            s.resource_selectors[0].name = Some("web".into());
        }, vec![]),
        ("application failover without propagateDeps", |s| s.failover = Some(application(PurgeMode::Directly, None)),
            vec![("spec.propagateDeps", Invalid)]),
        ("negative tolerationSeconds", |s| {
            s.propagate_deps = Some(true);
            let mut f = application(PurgeMode::Directly, None);
            f.application.as_mut().unwrap().decision_conditions.toleration_seconds = Some(-1);
            s.failover = Some(f);
        }, vec![("spec.failover.application.decisionConditions.tolerationSeconds", Invalid)]),
        ("grace period without graceful purge", |s| {
            s.propagate_deps = Some(true);
            s.failover = Some(application(PurgeMode::Never, Some(60)));
        }, vec![("spec.failover.application.gracePeriodSeconds", Invalid)]),
        ("graceful purge without grace period", |s| {
            s.propagate_deps = Some(true);
            s.failover = Some(application(PurgeMode::Gracefully, None));
        }, vec![("spec.failover.application.gracePeriodSeconds", Required)]),
        ("zero grace period", |s| {
            s.propagate_deps = Some(true);
            s.failover = Some(application(PurgeMode::Gracefully, Some(0)));
        }, vec![("spec.failover.application.gracePeriodSeconds", Invalid)]),
        ("valid graceful application failover", |s| {
            s.propagate_deps = Some(true);
            s.failover = Some(application(PurgeMode::Gracefully, Some(600)));
        }, vec![]),
        ("state preservation rules", |s| {
            s.failover = Some(FailoverBehavior {
                application: None,
                cluster: Some(ClusterFailoverBehavior {
                    purge_mode: Some(PurgeMode::Never),
                    state_preservation: Some(StatePreservation { rules: vec![
                        StatePreservationRule { alias_label_name: "bad key!".into(), json_path: String::new() },
                    ]}),
                }),
            });
        }, vec![
            ("spec.failover.cluster.purgeMode", NotSupported),
            ("spec.failover.cluster.statePreservation.rules[0].aliasLabelName", Invalid),
            ("spec.failover.cluster.statePreservation.rules[0].jsonPath", Required),
        ]),
        ("suspension all and some clusters", |s| {
            s.suspension = Some(Suspension {
                dispatching: Some(true),
                dispatching_on_clusters: Some(SuspendClusters { cluster_names: vec!["member1".into()] }),
            });
        }, vec![("spec.suspension", Invalid)]),
        ("schedule priority without class name", |s| s.schedule_priority = Some(SchedulePriority::default()),
            vec![("spec.schedulePriority.priorityClassName", Required)]),
        ("clusterAffinity with clusterAffinities", |s| {
            let p = placement(s);
            p.cluster_affinity = Some(names(&["member1"]));
            p.cluster_affinities = Some(vec![]);
        }, vec![("spec.placement", Invalid)]),
        ("field selector key and operator", |s| {
            placement(s).cluster_affinity = Some(ClusterAffinity {
                field_selector: Some(FieldSelector { match_expressions: vec![
                    FieldSelectorRequirement { key: "region".into(), operator: "In".into(), values: vec!["eu".into()] },
                    FieldSelectorRequirement { key: "rack".into(), operator: "Exists".into(), values: vec![] },
                ]}),
                ..Default::default()
            });
        }, vec![
            ("spec.placement.clusterAffinity.fieldSelector.matchExpressions[1].key", NotSupported),
            ("spec.placement.clusterAffinity.fieldSelector.matchExpressions[1].operator", NotSupported),
        ]),
        ("affinity names", |s| {
            placement(s).cluster_affinities = Some(vec![
                term("primary"), term(""), term("primary"), term(&"x".repeat(33)), term("not valid"),
            ]);
        }, vec![
            ("spec.placement.clusterAffinities[1].affinityName", Required),
            ("spec.placement.clusterAffinities[2].affinityName", Duplicate),
            ("spec.placement.clusterAffinities[3].affinityName", Invalid),
            ("spec.placement.clusterAffinities[4].affinityName", Invalid),
        ]),
        ("field selector inside a term", |s| {
            let mut t = term("a");
            t.affinity.field_selector = Some(FieldSelector { match_expressions: vec![
                FieldSelectorRequirement { key: "zone".into(), operator: "Gt".into(), values: vec![] },
            ]});
            placement(s).cluster_affinities = Some(vec![t]);
        }, vec![("spec.placement.clusterAffinities[0].fieldSelector.matchExpressions[0].operator", NotSupported)]),
        ("overflow without capacity-based division", |s| {
            let mut t = term("a");
            t.overflow_affinities = Some(vec![OverflowClusterAffinity { affinity_name: "b".into(), affinity: names(&["m2"]) }]);
            placement(s).cluster_affinities = Some(vec![t]);
        }, vec![("spec.placement.clusterAffinities[0].overflowAffinities", Invalid)]),
        ("overflow with aggregated division", |s| {
            let mut t = term("a");
            t.overflow_affinities = Some(vec![OverflowClusterAffinity { affinity_name: "b".into(), affinity: names(&["m2"]) }]);
            let p = placement(s);
            p.cluster_affinities = Some(vec![t]);
            p.replica_scheduling = divided(Some(ReplicaDivisionPreference::Aggregated), None);
        }, vec![]),
        ("overflow on an empty term with a repeated name", |s| {
            let mut t = term("a");
            t.affinity = ClusterAffinity::default();
            t.overflow_affinities = Some(vec![OverflowClusterAffinity { affinity_name: "a".into(), affinity: names(&["m2"]) }]);
            let p = placement(s);
            p.cluster_affinities = Some(vec![t]);
            p.replica_scheduling = divided(Some(ReplicaDivisionPreference::Weighted), Some(ClusterPreferences {
                dynamic_weight: Some(DynamicWeightFactor::AvailableReplicas),
                ..Default::default()
            }));
        }, vec![
            ("spec.placement.clusterAffinities[0].overflowAffinities", Invalid),
            ("spec.placement.clusterAffinities[0].overflowAffinities[0].affinityName", Duplicate),
        ]),
        ("spreadByField with spreadByLabel", |s| {
            let mut c = by_field(SpreadField::Cluster);
            c.spread_by_label = Some("team".into());
            placement(s).spread_constraints = vec![c];
        }, vec![("spec.placement.spreadConstraints[0]", Invalid)]),
        ("negative group counts", |s| {
            let mut c = by_field(SpreadField::Cluster);
            c.min_groups = Some(-1);
            c.max_groups = Some(-2);
            placement(s).spread_constraints = vec![c];
        }, vec![
            ("spec.placement.spreadConstraints[0].minGroups", Invalid),
            ("spec.placement.spreadConstraints[0].maxGroups", Invalid),
        ]),
        ("maxGroups below minGroups", |s| {
            let mut c = by_field(SpreadField::Cluster);
            c.min_groups = Some(3);
            c.max_groups = Some(2);
            placement(s).spread_constraints = vec![c];
        }, vec![("spec.placement.spreadConstraints[0].maxGroups", Invalid)]),
        ("duplicated spreadByField", |s| {
            placement(s).spread_constraints = vec![by_field(SpreadField::Cluster), by_field(SpreadField::Cluster)];
        }, vec![("spec.placement.spreadConstraints[1].spreadByField", Duplicate)]),
        ("region spread without cluster spread", |s| placement(s).spread_constraints = vec![by_field(SpreadField::Region)],
            vec![("spec.placement.spreadConstraints", Invalid)]),
        ("region spread with cluster spread", |s| {
            placement(s).spread_constraints = vec![by_field(SpreadField::Region), by_field(SpreadField::Cluster)];
        }, vec![]),
        ("label spread alone", |s| {
            placement(s).spread_constraints = vec![SpreadConstraint { spread_by_label: Some("team".into()), ..Default::default() }];
        }, vec![]),
        ("divided without preference", |s| placement(s).replica_scheduling = divided(None, None),
            vec![("spec.placement.replicaScheduling.replicaDivisionPreference", Required)]),
        ("duplicated without preference", |s| {
            placement(s).replica_scheduling = Some(ReplicaSchedulingStrategy {
                replica_scheduling_type: Some(ReplicaSchedulingType::Duplicated),
                ..Default::default()
            });
        }, vec![]),
        ("static weights below 1 and dynamic weight together", |s| {
            placement(s).replica_scheduling = divided(Some(ReplicaDivisionPreference::Weighted), Some(ClusterPreferences {
                static_weight_list: vec![
                    StaticClusterWeight { target_cluster: names(&["member1"]), weight: 1 },
                    StaticClusterWeight { target_cluster: names(&["member2"]), weight: 0 },
                ],
                dynamic_weight: Some(DynamicWeightFactor::AvailableReplicas),
            }));
        }, vec![
            ("spec.placement.replicaScheduling.weightPreference", Invalid),
            ("spec.placement.replicaScheduling.weightPreference.staticWeightList[1].weight", Invalid),
        ]),
        ("workload affinity keys", |s| {
            placement(s).workload_affinity = Some(WorkloadAffinity {
                affinity: Some(WorkloadAffinityTerm { group_by_label_key: "app".into() }),
                anti_affinity: Some(WorkloadAffinityTerm { group_by_label_key: "-bad".into() }),
            });
        }, vec![("spec.placement.workloadAffinity.antiAffinity.groupByLabelKey", Invalid)]),
        ("workload affinity and anti-affinity on one key", |s| {
            placement(s).workload_affinity = Some(WorkloadAffinity {
                affinity: Some(WorkloadAffinityTerm { group_by_label_key: "app".into() }),
                anti_affinity: Some(WorkloadAffinityTerm { group_by_label_key: "app".into() }),
            });
        }, vec![("spec.placement.workloadAffinity", Invalid)]),
        ("toleration comparison operator", |s| {
            placement(s).cluster_tolerations = vec![
                Toleration { key: Some("a".into()), operator: Some("Exists".into()), ..Default::default() },
                Toleration { key: Some("b".into()), operator: Some("Gt".into()), value: Some("3".into()), ..Default::default() },
            ];
        }, vec![("spec.placement.clusterTolerations[1].operator", NotSupported)]),
    ]
}

#[test]
fn every_rule_reports_its_field() {
    for (name, mutate, expected) in cases() {
        let mut spec = base();
        mutate(&mut spec);
        let errors = propagation_spec(&spec, Some("prod"));
        let got: Vec<_> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.reason))
            .collect();
        assert_eq!(got, expected, "case {name:?}: {errors:#?}");
        assert!(
            errors.iter().all(|e| !e.message.is_empty()),
            "case {name:?}"
        );
    }
}

#[test]
fn cluster_policies_skip_the_namespace_rule() {
    let mut spec = base();
    spec.resource_selectors[0].namespace = Some("anything".into());
    assert!(propagation_spec(&spec, None).is_empty());
}

#[test]
fn messages_say_what_to_fix() {
    let mut spec = base();
    placement(&mut spec).spread_constraints = vec![by_field(SpreadField::Zone)];
    let errors = propagation_spec(&spec, None);
    assert!(
        errors[0].message.contains("spreadByField: cluster"),
        "{}",
        errors[0].message
    );

    let mut spec = base();
    let mut c = by_field(SpreadField::Cluster);
    (c.min_groups, c.max_groups) = (Some(3), Some(2));
    placement(&mut spec).spread_constraints = vec![c];
    let errors = propagation_spec(&spec, None);
    assert_eq!(
        errors[0].message,
        "maxGroups (2) must be greater than or equal to minGroups (3)"
    );
}
