use serde_json::{Value, json};

use super::*;
use crate::fixture::{cluster, spec, with_room};

fn targets(placement: &Placement) -> Vec<(String, Option<i32>)> {
    placement
        .clusters
        .iter()
        .map(|t| (t.name.clone(), t.replicas))
        .collect()
}

fn tainted(name: &str) -> Cluster {
    cluster(
        &json!({"name": name, "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}],
                   "summary": {"allocatable": {"pods": "100"}}}),
    )
}

fn divided_dynamic() -> Value {
    json!({"replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted",
           "weightPreference": {"dynamicWeight": "AvailableReplicas"}})
}

#[test]
fn no_fit_reports_every_cluster_and_skips_deleting_ones() {
    let clusters = [
        tainted("m1"),
        cluster(&json!({"name": "m2", "apis": {"v1": ["ConfigMap"]}})),
        cluster(&json!({"name": "m3", "deleting": true})),
    ];
    let spec = spec(&json!({"replicas": 1, "placement": {}}));
    let err = schedule(&clusters, &Request::new(&spec)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "0/3 clusters are available: m1: cluster(s) had untolerated taint {k=v:NoSchedule}; \
         m2: cluster(s) did not have the API resource apps/v1 Deployment."
    );
    let Error::NoClusterFit { total, reasons } = err else {
        panic!("expected a fit error");
    };
    assert_eq!((total, reasons.len()), (3, 2));
    let none = schedule::<Cluster>(&[], &Request::new(&spec)).unwrap_err();
    assert_eq!(
        none.to_string(),
        "0/0 clusters are available: no cluster exists."
    );
}

#[test]
fn duplicated_by_default_on_every_fitting_cluster() {
    let clusters = [with_room("m2", 1), tainted("m3"), with_room("m1", 1)];
    let spec = spec(&json!({"replicas": 4, "placement": {}}));
    let placement = schedule(&clusters, &Request::new(&spec)).unwrap();
    assert_eq!(
        targets(&placement),
        [("m1".into(), Some(4)), ("m2".into(), Some(4))]
    );
    assert_eq!(placement.affinity_name, None);
}

#[test]
fn cluster_affinities_fall_back_in_order_from_the_observed_term() {
    let clusters = [tainted("m1"), with_room("m2", 10), with_room("m3", 10)];
    let terms = json!([
        {"affinityName": "primary", "clusterNames": ["m1"]},
        {"affinityName": "backup", "clusterNames": ["m2"]},
        {"affinityName": "last", "clusterNames": ["m3"]},
    ]);
    let spec_for = |tolerate: bool| {
        let mut placement = json!({"clusterAffinities": terms});
        if tolerate {
            placement["clusterTolerations"] = json!([{"key": "k", "operator": "Exists"}]);
        }
        spec(&json!({"replicas": 2, "placement": placement}))
    };
    let cases = [
        ("first fitting term", false, None, false, "backup", "m2"),
        (
            "starts at the observed term",
            true,
            Some("last"),
            false,
            "last",
            "m3",
        ),
        (
            "a user-requested reschedule starts over",
            true,
            Some("last"),
            true,
            "primary",
            "m1",
        ),
        (
            "unknown observed term starts over",
            true,
            Some("gone"),
            false,
            "primary",
            "m1",
        ),
    ];
    for (name, tolerate, observed, fresh, term, cluster) in cases {
        let spec = spec_for(tolerate);
        let request = Request {
            observed_affinity: observed,
            fresh,
            ..Request::new(&spec)
        };
        let placement = schedule(&clusters, &request).unwrap();
        assert_eq!(placement.affinity_name.as_deref(), Some(term), "{name}");
        assert_eq!(
            targets(&placement),
            [(cluster.to_string(), Some(2))],
            "{name}"
        );
    }

    // Every term failing reports the first term's error.
    let spec = spec(&json!({"replicas": 2, "placement": {"clusterAffinities": [
        {"affinityName": "a", "clusterNames": ["m1"]},
        {"affinityName": "b", "clusterNames": ["nowhere"]},
    ]}}));
    let err = schedule(&clusters, &Request::new(&spec)).unwrap_err();
    assert!(
        err.to_string()
            .contains("m1: cluster(s) had untolerated taint"),
        "{err}"
    );
}

#[test]
fn capacity_comes_from_summaries_and_estimators() {
    let clusters = [with_room("m1", 4), with_room("m2", 3)];
    let spec =
        spec(&json!({"replicas": 10, "placement": {"replicaScheduling": divided_dynamic()}}));
    let err = schedule(&clusters, &Request::new(&spec)).unwrap_err();
    assert_eq!(
        err,
        Error::Unschedulable {
            message: "Clusters available replicas 7 are not enough to schedule.".into()
        }
    );

    let spec = crate::fixture::spec(
        &json!({"replicas": 5, "placement": {"replicaScheduling": divided_dynamic()}}),
    );
    let answers = BTreeMap::from([("m1".to_string(), 1), ("m2".to_string(), -1)]);
    let request = Request {
        available: Some(&answers),
        ..Request::new(&spec)
    };
    let err = schedule(&clusters, &request).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Clusters available replicas 4 are not enough to schedule."
    );
    let spec = crate::fixture::spec(
        &json!({"replicas": 4, "placement": {"replicaScheduling": divided_dynamic()}}),
    );
    let request = Request {
        available: Some(&answers),
        ..Request::new(&spec)
    };
    let placement = schedule(&clusters, &request).unwrap();
    assert_eq!(
        targets(&placement),
        [("m1".into(), Some(1)), ("m2".into(), Some(3))]
    );
}

#[test]
fn region_spread_end_to_end() {
    let region = |name: &str, region: &str, pods: i64| {
        cluster(
            &json!({"name": name, "region": region, "summary": {"allocatable": {"pods": pods.to_string()}}}),
        )
    };
    let clusters = [
        region("a", "east", 6),
        region("b", "east", 2),
        region("c", "west", 5),
        cluster(&json!({"name": "nowhere", "summary": {"allocatable": {"pods": "100"}}})),
    ];
    let spec = spec(&json!({"replicas": 8, "placement": {
        "replicaScheduling": divided_dynamic(),
        "spreadConstraints": [
            {"spreadByField": "region", "minGroups": 2, "maxGroups": 2},
            {"spreadByField": "cluster", "minGroups": 2, "maxGroups": 2},
        ],
    }}));
    let placement = schedule(&clusters, &Request::new(&spec)).unwrap();
    // One cluster per region (the cluster without a region is filtered out); 8 by room 6:5.
    assert_eq!(
        targets(&placement),
        [("a".into(), Some(4)), ("c".into(), Some(4))]
    );
}

#[test]
fn unschedulable_placements_are_invalid() {
    let clusters = [with_room("m1", 1)];
    let no_placement = spec(&json!({"replicas": 1}));
    assert_eq!(
        schedule(&clusters, &Request::new(&no_placement))
            .unwrap_err()
            .to_string(),
        "invalid placement: the binding has no placement"
    );
    let both = spec(&json!({"replicas": 1, "placement": {
        "clusterAffinity": {}, "clusterAffinities": [{"affinityName": "a"}]}}));
    assert!(matches!(
        schedule(&clusters, &Request::new(&both)),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn overflow_tiers_fill_in_order() {
    let clusters = [with_room("m1", 3), with_room("m2", 4), with_room("m3", 10)];
    let placement = |replicas: Option<i32>| {
        let mut value = json!({"placement": {
            "replicaScheduling": divided_dynamic(),
            "clusterAffinities": [{
                "affinityName": "primary",
                "clusterNames": ["m1"],
                "overflowAffinities": [
                    {"affinityName": "burst", "clusterNames": ["m2"]},
                    {"affinityName": "spill", "clusterNames": ["m3"]},
                ],
            }],
        }});
        if let Some(replicas) = replicas {
            value["replicas"] = json!(replicas);
        }
        spec(&value)
    };
    let spec = placement(Some(9));
    let result = schedule(&clusters, &Request::new(&spec)).unwrap();
    assert_eq!(
        targets(&result),
        [
            ("m1".into(), Some(3)),
            ("m2".into(), Some(4)),
            ("m3".into(), Some(2))
        ]
    );
    assert_eq!(result.affinity_name.as_deref(), Some("primary"));

    let spec = placement(Some(20));
    let err = schedule(&clusters, &Request::new(&spec)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Clusters available replicas are not enough to schedule."
    );

    // Resources without replicas never overflow.
    let spec = placement(None);
    let result = schedule(&clusters, &Request::new(&spec)).unwrap();
    assert_eq!(targets(&result), [("m1".into(), None)]);
}
