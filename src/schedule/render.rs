//! How a schedule preview is printed: JSON for machines (the placement or the error) and a
//! table for people (every cluster with its replicas, room, and why it was left out).

use std::collections::BTreeMap;

use karmada_api::cluster::Cluster;
use karmada_api::policy::propagation::ReplicaSchedulingType;
use karmada_api::work::binding::ResourceBindingSpec;
use karmada_scheduler::{Error, Placement};
use serde_json::{Value, json};

/// One cluster's line of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub cluster: String,
    /// Replicas placed there; `None` when the cluster got nothing or the resource has none.
    pub replicas: Option<i32>,
    /// Replicas the cluster could still take, for workloads that passed the filters.
    pub available: Option<i32>,
    /// `scheduled`, `not selected`, or why the cluster was left out.
    pub result: String,
}

/// The machine-readable outcome: `{"clusters": [...]}` (plus `affinityName` when a
/// `clusterAffinities` term was chosen), or `{"error": {"reason", "message"}}`.
pub fn json(result: &Result<Placement, Error>) -> String {
    let value = match result {
        Ok(placement) => {
            let mut out = json!({"clusters": placement.clusters});
            if let Some(term) = &placement.affinity_name {
                out["affinityName"] = Value::String(term.clone());
            }
            out
        }
        Err(e) => json!({"error": {"reason": reason(e), "message": e.to_string()}}),
    };
    // A `Value` always serializes; the fallback only keeps this function total.
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

/// The error's variant name, the `reason` users and scripts match on.
pub fn reason(error: &Error) -> &'static str {
    match error {
        Error::NoClusterFit { .. } => "NoClusterFit",
        Error::Unschedulable { .. } => "Unschedulable",
        Error::Invalid { .. } => "Invalid",
    }
}

/// One row per cluster of the scenario, in the scenario's order.
///
/// `filtered` holds the filter reasons (from the error on NoClusterFit, from
/// `karmada_scheduler::explain` otherwise) and `room` the replicas each cluster that passed
/// them could still take.
pub fn rows(
    clusters: &[Cluster],
    result: &Result<Placement, Error>,
    filtered: &BTreeMap<String, Vec<String>>,
    room: &BTreeMap<String, i32>,
) -> Vec<Row> {
    clusters
        .iter()
        .map(|cluster| {
            let name = cluster.metadata.name.clone().unwrap_or_default();
            let target = result
                .as_ref()
                .ok()
                .and_then(|p| p.clusters.iter().find(|t| t.name == name));
            let result = if cluster.metadata.deletion_timestamp.is_some() {
                "skipped: the cluster is being deleted".to_string()
            } else if let Some(why) = filtered.get(&name) {
                format!("filtered out: {}", why.join("; "))
            } else if target.is_some() {
                "scheduled".to_string()
            } else if result.is_ok() {
                "not selected".to_string()
            } else {
                "fits".to_string()
            };
            Row {
                replicas: target.and_then(|t| t.replicas),
                available: room.get(&name).copied(),
                cluster: name,
                result,
            }
        })
        .collect()
}

/// The readable preview: a line per cluster, then what happened overall.
pub fn table(
    rows: &[Row],
    result: &Result<Placement, Error>,
    spec: &ResourceBindingSpec,
) -> String {
    let dash = |n: Option<i32>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
    let mut lines = vec![[
        "CLUSTER".to_string(),
        "REPLICAS".to_string(),
        "AVAILABLE".to_string(),
        "RESULT".to_string(),
    ]];
    lines.extend(rows.iter().map(|row| {
        [
            row.cluster.clone(),
            dash(row.replicas),
            dash(row.available),
            row.result.clone(),
        ]
    }));
    let mut widths = [0; 3];
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    for [cluster, replicas, available, result] in &lines {
        let [w0, w1, w2] = widths;
        let line = format!("{cluster:<w0$}   {replicas:<w1$}   {available:<w2$}   {result}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&summary(rows.len(), result, spec));
    out.push('\n');
    out
}

/// One sentence on the whole outcome.
fn summary(total: usize, result: &Result<Placement, Error>, spec: &ResourceBindingSpec) -> String {
    let placement = match result {
        Ok(placement) => placement,
        Err(e) => return format!("cannot schedule ({}): {e}", reason(e)),
    };
    let used = placement.clusters.len();
    let replicas = spec.replicas.unwrap_or(0);
    let duplicated = spec
        .placement
        .as_ref()
        .is_some_and(|p| p.replica_scheduling_type() == ReplicaSchedulingType::Duplicated);
    let mut line = if replicas == 0 && spec.components.is_empty() {
        format!("propagated to {used} of {total} clusters")
    } else if duplicated {
        format!("{used} of {total} clusters each run all {replicas} replicas (Duplicated)")
    } else {
        format!("{replicas} replicas divided over {used} of {total} clusters")
    };
    if let Some(term) = &placement.affinity_name {
        line.push_str(&format!(", with clusterAffinities term {term:?}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use karmada_api::work::binding::TargetCluster;

    fn target(name: &str, replicas: Option<i32>) -> TargetCluster {
        TargetCluster {
            name: name.into(),
            replicas,
            ..TargetCluster::default()
        }
    }

    #[test]
    fn json_prints_placements_and_errors() {
        let cases = [
            (
                Ok(Placement {
                    clusters: vec![target("member1", Some(2)), target("member2", Some(4))],
                    affinity_name: None,
                }),
                json!({"clusters": [{"name": "member1", "replicas": 2},
                                    {"name": "member2", "replicas": 4}]}),
            ),
            (
                Ok(Placement {
                    clusters: vec![target("member1", None)],
                    affinity_name: Some("primary".into()),
                }),
                json!({"clusters": [{"name": "member1"}], "affinityName": "primary"}),
            ),
            (
                Err(Error::Unschedulable {
                    message: "no room".into(),
                }),
                json!({"error": {"reason": "Unschedulable", "message": "no room"}}),
            ),
            (
                Err(Error::NoClusterFit {
                    total: 1,
                    reasons: [("m1".to_string(), vec!["tainted".to_string()])].into(),
                }),
                json!({"error": {"reason": "NoClusterFit",
                                 "message": "0/1 clusters are available: m1: tainted."}}),
            ),
            (
                Err(Error::Invalid {
                    message: "bad".into(),
                }),
                json!({"error": {"reason": "Invalid", "message": "invalid placement: bad"}}),
            ),
        ];
        for (result, want) in cases {
            let printed = json(&result);
            assert!(printed.ends_with("}\n"), "{printed}");
            let got: Value = serde_json::from_str(&printed).unwrap();
            assert_eq!(got, want);
        }
    }

    fn cluster(name: &str, deleting: bool) -> Cluster {
        let mut cluster: Cluster = serde_json::from_value(json!({
            "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": name}, "spec": {"syncMode": "Push"},
        }))
        .unwrap();
        if deleting {
            cluster.metadata.deletion_timestamp = Some(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
            );
        }
        cluster
    }

    #[test]
    fn rows_say_why_each_cluster_got_what_it_got() {
        let clusters = [
            cluster("a", false),
            cluster("b", false),
            cluster("c", false),
            cluster("d", true),
        ];
        let filtered = [("c".to_string(), vec!["x".to_string(), "y".to_string()])].into();
        let room = [("a".to_string(), 5), ("b".to_string(), 1)].into();
        let placed = Ok(Placement {
            clusters: vec![target("a", Some(3))],
            affinity_name: None,
        });
        let results: Vec<(String, Option<i32>, Option<i32>, String)> =
            rows(&clusters, &placed, &filtered, &room)
                .into_iter()
                .map(|r| (r.cluster, r.replicas, r.available, r.result))
                .collect();
        assert_eq!(
            results,
            [
                ("a".into(), Some(3), Some(5), "scheduled".into()),
                ("b".into(), None, Some(1), "not selected".into()),
                ("c".into(), None, None, "filtered out: x; y".into()),
                (
                    "d".into(),
                    None,
                    None,
                    "skipped: the cluster is being deleted".into()
                ),
            ]
        );
        let failed = Err(Error::Unschedulable {
            message: "no room".into(),
        });
        let failed_rows = rows(&clusters, &failed, &filtered, &room);
        assert_eq!(failed_rows[1].result, "fits");
    }

    #[test]
    fn table_aligns_columns_and_sums_up() {
        let rows = [
            Row {
                cluster: "member1".into(),
                replicas: Some(2),
                available: Some(10),
                result: "scheduled".into(),
            },
            Row {
                cluster: "m3".into(),
                replicas: None,
                available: None,
                result: "filtered out: tainted".into(),
            },
        ];
        let spec: ResourceBindingSpec = serde_json::from_value(json!({
            "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "n"},
            "replicas": 2,
            "placement": {"replicaScheduling": {"replicaSchedulingType": "Divided"}},
        }))
        .unwrap();
        let placed = Ok(Placement {
            clusters: vec![target("member1", Some(2))],
            affinity_name: None,
        });
        assert_eq!(
            table(&rows, &placed, &spec),
            "CLUSTER   REPLICAS   AVAILABLE   RESULT\n\
             member1   2          10          scheduled\n\
             m3        -          -           filtered out: tainted\n\
             \n\
             2 replicas divided over 1 of 2 clusters\n"
        );
        let failed = Err(Error::Unschedulable {
            message: "no room".into(),
        });
        assert!(
            table(&rows, &failed, &spec).ends_with("\ncannot schedule (Unschedulable): no room\n")
        );
    }

    #[test]
    fn summary_reads_per_scheduling_type() {
        let spec = |placement: Value, replicas: Option<i32>| -> ResourceBindingSpec {
            serde_json::from_value(json!({
                "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "n"},
                "replicas": replicas, "placement": placement,
            }))
            .unwrap()
        };
        let placed = Ok(Placement {
            clusters: vec![target("a", Some(4)), target("b", Some(4))],
            affinity_name: Some("primary".into()),
        });
        assert_eq!(
            summary(3, &placed, &spec(json!({}), Some(4))),
            "2 of 3 clusters each run all 4 replicas (Duplicated), with clusterAffinities term \"primary\""
        );
        assert_eq!(
            summary(3, &placed, &spec(json!({}), None)),
            "propagated to 2 of 3 clusters, with clusterAffinities term \"primary\""
        );
    }
}
