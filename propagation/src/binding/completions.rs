//! Splitting a Job's `completions` across clusters for Divided bindings, as Karmada's binding
//! controller does: each cluster's share of parallelism is its weight, shared out by the
//! Webster (Sainte-Laguë) method so every cluster finishes in about the same time.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use karmada_api::policy::propagation::ReplicaSchedulingType;
use karmada_api::work::binding::{ResourceBindingSpec, TargetCluster};
use serde_json::Value;

use super::name::fnv32a;
use super::replicas::ReviseError;

/// Whether completions are split at all: only for Divided bindings that have replicas.
pub fn divides_completions(spec: &ResourceBindingSpec) -> bool {
    spec.replicas.unwrap_or(0) > 0
        && spec
            .placement
            .as_ref()
            .is_some_and(|p| p.replica_scheduling_type() == ReplicaSchedulingType::Divided)
}

/// Each target cluster's completions, weighted by its scheduled replicas; `None` when the Job
/// has no `spec.completions` (a work-queue Job) or no cluster has replicas, and the field is
/// then left as the template has it. Ties go by fewer completions, then by cluster name in an
/// order fixed by the template's `uid`, so reconciling again gives the same split.
pub fn split_completions(
    template: &Value,
    targets: &[TargetCluster],
) -> Result<Option<BTreeMap<String, i32>>, ReviseError> {
    let Some(completions) = template.get("spec").and_then(|s| s.get("completions")) else {
        return Ok(None);
    };
    let Some(completions) = completions.as_i64() else {
        return Err(ReviseError {
            kind: "Job".to_string(),
            field: "completions",
            found: completions.to_string(),
        });
    };
    let weights: BTreeMap<&str, i64> = targets
        .iter()
        .map(|t| (t.name.as_str(), i64::from(t.replicas.unwrap_or(0))))
        .collect();
    if weights.values().sum::<i64>() == 0 {
        return Ok(None);
    }
    let descending = template
        .get("metadata")
        .and_then(|m| m.get("uid"))
        .and_then(Value::as_str)
        .is_some_and(|uid| fnv32a(uid.as_bytes()) & 1 == 1);
    let mut seats: BTreeMap<&str, i64> = weights.keys().map(|name| (*name, 0)).collect();
    for _ in 0..completions.max(0) {
        let next = weights
            .iter()
            .map(|(name, votes)| (*name, *votes, seats[name]))
            .max_by(|a, b| priority(*a, *b, descending))
            .map(|(name, _, _)| name);
        if let Some(name) = next {
            *seats.entry(name).or_default() += 1;
        }
    }
    Ok(Some(
        seats
            .into_iter()
            .map(|(name, n)| (name.to_string(), i32::try_from(n).unwrap_or(i32::MAX)))
            .collect(),
    ))
}

/// Orders parties so the one that gets the next seat is the greatest: highest
/// `votes / (2 * seats + 1)`, then fewer seats, then name in the uid-chosen direction.
fn priority(a: (&str, i64, i64), b: (&str, i64, i64), descending: bool) -> Ordering {
    let (a_name, a_votes, a_seats) = a;
    let (b_name, b_votes, b_seats) = b;
    let lhs = i128::from(a_votes) * i128::from(2 * b_seats + 1);
    let rhs = i128::from(b_votes) * i128::from(2 * a_seats + 1);
    lhs.cmp(&rhs).then(b_seats.cmp(&a_seats)).then_with(|| {
        if descending {
            a_name.cmp(b_name)
        } else {
            b_name.cmp(a_name)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn targets(replicas: &[(&str, i32)]) -> Vec<TargetCluster> {
        replicas
            .iter()
            .map(|(name, n)| TargetCluster {
                name: (*name).to_string(),
                replicas: Some(*n),
                ..Default::default()
            })
            .collect()
    }

    fn job(completions: &Value, uid: &str) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "uid": uid},
               "spec": {"completions": completions, "parallelism": 3}})
    }

    /// Completions, template uid, scheduled replicas, wanted completions per cluster.
    type Case<'a> = (i64, &'a str, &'a [(&'a str, i32)], &'a [(&'a str, i32)]);

    #[test]
    fn split_table() {
        // "a" hashes even (ascending names win ties), "b" odd (descending names win ties).
        assert_eq!(fnv32a(b"a") & 1, 0);
        assert_eq!(fnv32a(b"b") & 1, 1);
        let cases: [Case; 5] = [
            (10, "a", &[("m1", 2), ("m2", 3)], &[("m1", 4), ("m2", 6)]),
            (
                6,
                "a",
                &[("m1", 1), ("m2", 1), ("m3", 1)],
                &[("m1", 2), ("m2", 2), ("m3", 2)],
            ),
            (1, "a", &[("m1", 1), ("m2", 1)], &[("m1", 1), ("m2", 0)]),
            (1, "b", &[("m1", 1), ("m2", 1)], &[("m1", 0), ("m2", 1)]),
            (3, "a", &[("m1", 1), ("m2", 0)], &[("m1", 3), ("m2", 0)]),
        ];
        for (completions, uid, scheduled, want) in cases {
            let got = split_completions(&job(&json!(completions), uid), &targets(scheduled))
                .unwrap()
                .unwrap();
            let want: BTreeMap<String, i32> =
                want.iter().map(|(n, c)| ((*n).to_string(), *c)).collect();
            assert_eq!(got, want, "{completions} over {scheduled:?} uid {uid}");
        }
    }

    #[test]
    fn nothing_to_split() {
        let work_queue =
            json!({"apiVersion": "batch/v1", "kind": "Job", "spec": {"parallelism": 2}});
        assert_eq!(
            split_completions(&work_queue, &targets(&[("m1", 1)])),
            Ok(None)
        );
        let no_weight = job(&json!(4), "a");
        assert_eq!(
            split_completions(&no_weight, &targets(&[("m1", 0)])),
            Ok(None)
        );
        let err = split_completions(&job(&json!("4"), "a"), &targets(&[("m1", 1)])).unwrap_err();
        assert_eq!(err.field, "completions");
    }

    #[test]
    fn only_divided_bindings_with_replicas_split() {
        let spec = |value: Value| -> ResourceBindingSpec { serde_json::from_value(value).unwrap() };
        let resource = json!({"apiVersion": "batch/v1", "kind": "Job", "name": "pi"});
        let divided = json!({"replicaScheduling": {"replicaSchedulingType": "Divided"}});
        let duplicated = json!({"replicaScheduling": {"replicaSchedulingType": "Duplicated"}});
        assert!(divides_completions(&spec(
            json!({"resource": resource, "replicas": 2, "placement": divided})
        )));
        assert!(!divides_completions(&spec(
            json!({"resource": resource, "replicas": 2, "placement": duplicated})
        )));
        assert!(!divides_completions(&spec(
            json!({"resource": resource, "placement": divided})
        )));
        assert!(!divides_completions(&spec(
            json!({"resource": resource, "replicas": 2})
        )));
    }
}
