use serde_json::{Value, json};

use super::*;
use crate::fixture::{spec, with_room};
use crate::spread;

/// Assigns `spec_json` over clusters `(name, allocatable)`, in Karmada's candidate order
/// (clusters holding replicas score 100).
fn run(
    clusters: &[(&str, i32)],
    spec_json: &Value,
    fresh: bool,
) -> Result<Vec<(String, i32)>, Error> {
    let spec = spec(spec_json);
    let placement = spec.placement.clone().unwrap_or_default();
    let objects: Vec<_> = clusters
        .iter()
        .map(|(n, room)| with_room(n, i64::from(*room)))
        .collect();
    let mut candidates: Vec<Candidate<'_>> = objects
        .iter()
        .zip(clusters)
        .map(|(cluster, (name, allocatable))| {
            let held = spec
                .clusters
                .iter()
                .find(|t| t.name == *name)
                .and_then(|t| t.replicas)
                .unwrap_or(0);
            Candidate {
                cluster,
                name,
                tier: 0,
                score: crate::score::score(&spec, cluster),
                available: i64::from(*allocatable) + i64::from(held),
                allocatable: *allocatable,
            }
        })
        .collect();
    spread::sort(&mut candidates);
    let result = assign(&candidates, &spec, &placement, fresh, false)?;
    Ok(result
        .into_iter()
        .map(|t| (t.name, t.replicas.unwrap_or(-1)))
        .collect())
}

fn pairs(list: &[(&str, i32)]) -> Vec<(String, i32)> {
    list.iter().map(|(n, r)| (n.to_string(), *r)).collect()
}

fn divided(preference: &Value) -> Value {
    json!({"replicaScheduling": preference})
}

fn dynamic_weight() -> Value {
    divided(
        &json!({"replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted",
                   "weightPreference": {"dynamicWeight": "AvailableReplicas"}}),
    )
}

fn aggregated() -> Value {
    divided(&json!({"replicaSchedulingType": "Divided", "replicaDivisionPreference": "Aggregated"}))
}

fn static_weight(list: &Value) -> Value {
    divided(
        &json!({"replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted",
                   "weightPreference": {"staticWeightList": list}}),
    )
}

/// A test case: name, clusters `(name, allocatable)`, binding spec, expected replicas.
type Case<'a> = (&'a str, &'a [(&'a str, i32)], Value, Vec<(&'a str, i32)>);

fn previous(list: &[(&str, i32)]) -> Value {
    json!(
        list.iter()
            .map(|(n, r)| json!({"name": n, "replicas": r}))
            .collect::<Vec<_>>()
    )
}

#[test]
fn strategy_follows_the_placement() {
    let of = |placement: Value| Strategy::of(&serde_json::from_value(placement).unwrap());
    assert_eq!(of(json!({})), Strategy::Duplicated);
    assert_eq!(
        of(divided(&json!({"replicaSchedulingType": "Duplicated"}))),
        Strategy::Duplicated
    );
    assert_eq!(of(divided(&json!({}))), Strategy::StaticWeight);
    assert_eq!(of(static_weight(&json!([]))), Strategy::StaticWeight);
    assert_eq!(of(dynamic_weight()), Strategy::DynamicWeight);
    assert_eq!(of(aggregated()), Strategy::Aggregated);
}

#[test]
fn duplicated_and_non_workloads() {
    let three = [("m1", 5), ("m2", 5), ("m3", 0)];
    let got = run(&three, &json!({"replicas": 3, "placement": {}}), false).unwrap();
    assert_eq!(
        got,
        pairs(&[("m1", 3), ("m2", 3), ("m3", 3)]),
        "duplicated ignores capacity"
    );
    let got = run(&three, &json!({"placement": {}}), false).unwrap();
    assert_eq!(
        got,
        pairs(&[("m1", -1), ("m2", -1), ("m3", -1)]),
        "no replicas: names only"
    );
    let err = assign(
        &[],
        &spec(&json!({"replicas": 1})),
        &Default::default(),
        false,
        false,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "no clusters available to schedule");
}

#[test]
fn static_weight_table() {
    let four = [("m1", 0), ("m2", 0), ("m3", 0), ("m4", 0)];
    let by_name = |weights: &[(&str, i64)]| {
        json!(
            weights
                .iter()
                .map(|(n, w)| json!({"targetCluster": {"clusterNames": [n]}, "weight": w}))
                .collect::<Vec<_>>()
        )
    };
    let cases: Vec<Case<'_>> = vec![
        (
            "no preference: equal weights, ties by name",
            &four[..2],
            json!({"replicas": 3, "placement": divided(&json!({}))}),
            vec![("m1", 2), ("m2", 1)],
        ),
        (
            "descending tie direction for an odd uid hash",
            &four[..2],
            json!({"replicas": 3, "placement": divided(&json!({})), "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x", "uid": "uid-a"}}),
            vec![("m1", 1), ("m2", 2)],
        ),
        (
            "7 at 2:1:1:1",
            &four,
            json!({"replicas": 7, "placement": static_weight(&by_name(&[("m1", 2), ("m2", 1), ("m3", 1), ("m4", 1)]))}),
            vec![("m1", 3), ("m2", 2), ("m3", 1), ("m4", 1)],
        ),
        (
            "9 at 2:1:1:1",
            &four,
            json!({"replicas": 9, "placement": static_weight(&by_name(&[("m1", 2), ("m2", 1), ("m3", 1), ("m4", 1)]))}),
            vec![("m1", 3), ("m2", 2), ("m3", 2), ("m4", 2)],
        ),
        (
            "highest matching rule wins; unmatched clusters get nothing",
            &four,
            json!({"replicas": 6, "placement": static_weight(&json!([
                {"targetCluster": {"clusterNames": ["m1", "m2"]}, "weight": 1},
                {"targetCluster": {"clusterNames": ["m2"]}, "weight": 2},
            ]))}),
            vec![("m1", 2), ("m2", 4)],
        ),
        (
            "previous placement is not used",
            &four[..2],
            json!({"replicas": 4, "clusters": previous(&[("m1", 4)]), "placement": divided(&json!({}))}),
            vec![("m1", 2), ("m2", 2)],
        ),
        (
            "no cluster matches: equal weights",
            &four[..3],
            json!({"replicas": 3, "placement": static_weight(&by_name(&[("other", 5)]))}),
            vec![("m1", 1), ("m2", 1), ("m3", 1)],
        ),
    ];
    for (name, clusters, spec_json, want) in cases {
        assert_eq!(
            run(clusters, &spec_json, false).unwrap(),
            pairs(&want),
            "{name}"
        );
    }
}

#[test]
fn dynamic_scale_up_and_down_table() {
    let tens = [("m1", 10), ("m2", 10), ("m3", 10)];
    let with = |replicas: i32, prev: &[(&str, i32)]| json!({"replicas": replicas, "clusters": previous(prev), "placement": dynamic_weight()});
    let cases: Vec<Case<'_>> = vec![
        (
            "first schedule follows free room",
            &[("m1", 10), ("m2", 20), ("m3", 30)],
            with(12, &[]),
            vec![("m1", 2), ("m2", 4), ("m3", 6)],
        ),
        (
            "scale down follows the current distribution",
            &tens,
            with(6, &[("m1", 2), ("m2", 4), ("m3", 6)]),
            vec![("m1", 1), ("m2", 2), ("m3", 3)],
        ),
        (
            "scale up divides only the extra replicas",
            &tens,
            with(24, &[("m1", 2), ("m2", 4), ("m3", 6)]),
            vec![("m1", 6), ("m2", 8), ("m3", 10)],
        ),
        (
            "unchanged replicas keep the placement",
            &[("m1", 0), ("m2", 0)],
            with(5, &[("m1", 2), ("m2", 3)]),
            vec![("m1", 2), ("m2", 3)],
        ),
        (
            "replicas on a cluster no longer selected are placed again",
            &[("m1", 4), ("m2", 4)],
            with(6, &[("m1", 2), ("gone", 4)]),
            vec![("m1", 4), ("m2", 2)],
        ),
        (
            "never more than fits",
            &[("m1", 2), ("m2", 10)],
            with(12, &[]),
            vec![("m1", 2), ("m2", 10)],
        ),
        (
            "equal room ties by name",
            &[("m1", 5), ("m2", 5)],
            with(3, &[]),
            vec![("m1", 2), ("m2", 1)],
        ),
    ];
    for (name, clusters, spec_json, want) in cases {
        assert_eq!(
            run(clusters, &spec_json, false).unwrap(),
            pairs(&want),
            "{name}"
        );
    }
}

#[test]
fn dynamic_capacity_shortfall_is_unschedulable() {
    let prev = previous(&[("m1", 2)]);
    let err = run(
        &[("m1", 3), ("m2", 3)],
        &json!({"replicas": 10, "clusters": prev, "placement": dynamic_weight()}),
        false,
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::Unschedulable {
            message: "Clusters available replicas 6 are not enough to schedule.".into()
        }
    );
}

#[test]
fn fresh_mode_ignores_the_current_distribution() {
    // Steady scale-up keeps m1's 6 and puts the 2 extra on m2, which has more room; fresh
    // divides all 8 by room plus held replicas, 8:8.
    let spec_json =
        json!({"replicas": 8, "clusters": previous(&[("m1", 6)]), "placement": dynamic_weight()});
    assert_eq!(
        run(&[("m1", 2), ("m2", 8)], &spec_json, false).unwrap(),
        pairs(&[("m1", 6), ("m2", 2)])
    );
    assert_eq!(
        run(&[("m1", 2), ("m2", 8)], &spec_json, true).unwrap(),
        pairs(&[("m1", 4), ("m2", 4)])
    );
}

#[test]
fn aggregated_table() {
    let cases: Vec<Case<'_>> = vec![
        (
            "first schedule packs into the largest clusters",
            &[("m1", 6), ("m2", 8), ("m3", 10)],
            json!({"replicas": 12, "placement": aggregated()}),
            vec![("m2", 5), ("m3", 7)],
        ),
        (
            "scale up stays on clusters already holding replicas",
            &[("m1", 6), ("m2", 6), ("m3", 20)],
            json!({"replicas": 24, "clusters": previous(&[("m1", 4), ("m2", 8)]), "placement": aggregated()}),
            vec![("m1", 10), ("m2", 14)],
        ),
        (
            "scale up spills over into the fewest new clusters, divided by room",
            &[("m1", 2), ("m2", 9), ("m3", 20)],
            json!({"replicas": 8, "clusters": previous(&[("m1", 4)]), "placement": aggregated()}),
            vec![("m1", 4), ("m3", 4)],
        ),
        (
            "scale down keeps the fewest clusters that held enough",
            &[("m1", 0), ("m2", 0)],
            json!({"replicas": 3, "clusters": previous(&[("m1", 2), ("m2", 4)]), "placement": aggregated()}),
            vec![("m2", 3)],
        ),
    ];
    for (name, clusters, spec_json, want) in cases {
        assert_eq!(
            run(clusters, &spec_json, false).unwrap(),
            pairs(&want),
            "{name}"
        );
    }
}
