use serde_json::{Value, json};

use super::*;
use crate::fixture::cluster;

/// Clusters `(name, region, score, available)`, sorted as Karmada sorts them.
fn clusters(list: &[(&str, &str, i64, i64)]) -> Vec<Cluster> {
    list.iter()
        .map(|(name, region, ..)| cluster(&json!({"name": name, "region": region})))
        .collect()
}

fn candidates<'a>(objects: &'a [Cluster], list: &[(&str, &str, i64, i64)]) -> Vec<Candidate<'a>> {
    let mut out: Vec<_> = objects
        .iter()
        .zip(list)
        .map(|(cluster, (_, _, score, available))| Candidate {
            cluster,
            name: cluster.metadata.name.as_deref().unwrap(),
            tier: 0,
            score: *score,
            available: *available,
            allocatable: i32::try_from(*available).unwrap(),
        })
        .collect();
    sort(&mut out);
    out
}

fn names(selected: &[Candidate<'_>]) -> Vec<String> {
    selected.iter().map(|c| c.name.to_string()).collect()
}

fn placement(v: Value) -> Placement {
    serde_json::from_value(v).unwrap()
}

fn dynamic(constraints: &Value) -> Placement {
    placement(json!({
        "spreadConstraints": constraints,
        "replicaScheduling": {"replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted",
                              "weightPreference": {"dynamicWeight": "AvailableReplicas"}},
    }))
}

#[test]
fn order_is_score_then_room_then_name() {
    let list = [
        ("b", "r", 0, 5),
        ("a", "r", 0, 5),
        ("c", "r", 0, 9),
        ("d", "r", 100, 1),
    ];
    let objects = clusters(&list);
    assert_eq!(names(&candidates(&objects, &list)), ["d", "c", "a", "b"]);
}

#[test]
fn cluster_path_table() {
    let list = [
        ("s60", "r", 60, 50),
        ("s40", "r", 40, 60),
        ("s30", "r", 30, 80),
        ("s20", "r", 20, 40),
    ];
    let objects = clusters(&list);
    let cluster_constraint = |min: i64, max: i64| json!([{"spreadByField": "cluster", "minGroups": min, "maxGroups": max}]);
    type Case = (
        &'static str,
        Placement,
        i32,
        Result<Vec<&'static str>, Error>,
    );
    let cases: Vec<Case> = vec![
        ("top clusters when they have room", dynamic(&cluster_constraint(1, 2)), 100, Ok(vec!["s60", "s40"])),
        ("swaps the weakest position for room", dynamic(&cluster_constraint(1, 2)), 120, Ok(vec!["s60", "s30"])),
        ("swaps several positions", dynamic(&cluster_constraint(1, 2)), 140, Ok(vec!["s40", "s30"])),
        (
            "not enough room in any pair",
            dynamic(&cluster_constraint(1, 2)),
            150,
            Err(Error::Unschedulable { message: "no enough resource when selecting 2 clusters".into() }),
        ),
        ("maxGroups 0 means no bound", dynamic(&cluster_constraint(1, 0)), 230, Ok(vec!["s60", "s40", "s30", "s20"])),
        (
            "fewer clusters than minGroups",
            dynamic(&cluster_constraint(5, 6)),
            1,
            Err(Error::Unschedulable {
                message: "4 feasible cluster(s) are fewer than the cluster spread constraint's minGroups 5".into(),
            }),
        ),
        (
            "duplicated ignores room",
            placement(json!({"spreadConstraints": cluster_constraint(1, 2)})),
            1000,
            Ok(vec!["s60", "s40"]),
        ),
        (
            "static weights ignore spread constraints",
            placement(json!({"spreadConstraints": cluster_constraint(1, 1),
                             "replicaScheduling": {"replicaSchedulingType": "Divided"}})),
            1000,
            Ok(vec!["s60", "s40", "s30", "s20"]),
        ),
        ("no constraints select all", dynamic(&json!([])), 1, Ok(vec!["s60", "s40", "s30", "s20"])),
        (
            "label spread alone is not schedulable",
            dynamic(&json!([{"spreadByLabel": "team", "minGroups": 1}])),
            1,
            Err(Error::Invalid {
                message: "only cluster and region spread constraints can be scheduled; add a spreadByField: cluster constraint"
                    .into(),
            }),
        ),
    ];
    for (name, placement, replicas, want) in cases {
        let got = select(candidates(&objects, &list), &placement, replicas).map(|s| names(&s));
        let want = want.map(|w| w.into_iter().map(str::to_string).collect::<Vec<_>>());
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn region_path_picks_a_region_combination_then_fills_clusters() {
    // Divided 20 over 2 regions: a region's target is 10; r1 reaches it (score 10000), r2 and
    // r3 hold 4 each (4000). Feasible pairs: {r1,r2} and {r1,r3} (14000 each) and {r2,r3};
    // {r1,r3} has more clusters. Then the best cluster of each region, filled up to 3 by room.
    let list = [
        ("a", "r1", 0, 10),
        ("b", "r1", 0, 1),
        ("c", "r2", 0, 4),
        ("d", "r3", 0, 2),
        ("e", "r3", 0, 2),
    ];
    let objects = clusters(&list);
    let constraints = |region_min: i64| {
        json!([
            {"spreadByField": "region", "minGroups": region_min, "maxGroups": 2},
            {"spreadByField": "cluster", "minGroups": 2, "maxGroups": 3},
        ])
    };
    let got = select(candidates(&objects, &list), &dynamic(&constraints(2)), 20).unwrap();
    assert_eq!(names(&got), ["a", "d", "e"]);

    let err = select(candidates(&objects, &list), &dynamic(&constraints(4)), 20).unwrap_err();
    assert_eq!(
        err.to_string(),
        "3 feasible region(s) are fewer than the region spread constraint's minGroups 4"
    );
}

#[test]
fn group_scores_weigh_capacity_before_plugin_scores() {
    let list = [("a", "r", 100, 5), ("b", "r", 0, 2), ("c", "r", 0, 1)];
    let objects = clusters(&list);
    let group = candidates(&objects, &list);
    let duplicated = placement(json!({}));
    // Two clusters can run all 2 replicas: 2*1000 + (100+0)/2.
    assert_eq!(group_score(&group, &duplicated, 2, 1, 1), 2050);
    assert_eq!(group_score(&group, &duplicated, 9, 1, 1), 0);
    let divided = dynamic(&json!([]));
    // Target ceil(6/2) = 3, reached by the first cluster alone but two are needed.
    assert_eq!(group_score(&group, &divided, 6, 2, 1), 3000 + 100 / 2);
    // Target 20 never reached: 8 available * 1000 + average score over all three.
    assert_eq!(group_score(&group, &divided, 20, 1, 1), 8000 + 100 / 3);
}

#[test]
fn group_search_prefers_score_then_size_then_a_shorter_prefix() {
    let group = |name, value, weight| Group {
        name,
        value,
        weight,
    };
    // Best total score is {x, y}; its prefix {x} is feasible on its own, so it wins.
    let groups = vec![group("x", 2, 100), group("y", 1, 50), group("z", 1, 10)];
    assert_eq!(select_groups(groups.clone(), 1, 3, 2), ["x"]);
    // With at least two groups, {x, y} has the highest score.
    assert_eq!(select_groups(groups.clone(), 2, 3, 2), ["x", "y"]);
    // Exactly `min` groups available: all of them or nothing.
    assert_eq!(select_groups(groups.clone(), 3, 3, 4), ["x", "y", "z"]);
    assert!(select_groups(groups, 3, 3, 5).is_empty());
    // Equal scores: the combination with more clusters.
    let groups = vec![group("p", 1, 10), group("q", 3, 10), group("r", 2, 10)];
    assert_eq!(select_groups(groups, 2, 2, 1), ["q", "r"]);
}
