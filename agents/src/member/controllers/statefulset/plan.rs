//! Pure decisions of the StatefulSet controller: which ordinal to create, which pod to delete
//! next (scale-down, failure, rolling update), and the replica counts its status reports.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use crate::member::runtime::pod_ready;

/// Pod label naming the revision a pod was made from (the ControllerRevision's name).
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// How the set is to be driven this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub replicas: i32,
    /// `spec.ordinals.start`: the first ordinal (0 unless set).
    pub start: i32,
    /// `podManagementPolicy: Parallel`; otherwise OrderedReady.
    pub parallel: bool,
    /// `updateStrategy.rollingUpdate.partition` for RollingUpdate, `None` for OnDelete.
    pub rolling_partition: Option<i32>,
    pub update_revision: String,
}

/// One write the controller makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create the pod of `ordinal`, from the update revision or, below the partition of a
    /// rolling update (counted from the first ordinal), the current one.
    Create { ordinal: i32, update: bool },
    /// Delete this pod; `condemned` when its ordinal is outside the set's range.
    Delete {
        name: String,
        ordinal: i32,
        condemned: bool,
    },
}

/// The ordinal of a pod named `<set>-<ordinal>`.
pub fn ordinal(set: &str, pod: &str) -> Option<i32> {
    let rest = pod.strip_prefix(set)?.strip_prefix('-')?;
    if rest.is_empty() || (rest.len() > 1 && rest.starts_with('0')) {
        return None;
    }
    rest.parse().ok().filter(|o: &i32| *o >= 0)
}

fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn finished(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Failed" | "Succeeded")
    )
}

/// Running with a true Ready condition and not on its way out: what "healthy" means for
/// ordered start and for rolling updates.
pub fn healthy(pod: &Pod) -> bool {
    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    running && pod_ready(pod) && !terminating(pod)
}

pub fn revision_of(pod: &Pod) -> Option<&str> {
    pod.labels().get(REVISION_LABEL).map(String::as_str)
}

/// The writes of one pass, in order. OrderedReady stops at the first pod that is missing,
/// terminating or unhealthy (creating at most one pod); Parallel acts on every ordinal at once.
/// Scale-down and rolling updates go from the highest ordinal down, one pod at a time in
/// OrderedReady, and a rolling update starts only once the set's size is settled.
pub fn plan(policy: &Policy, pods: &BTreeMap<i32, &Pod>) -> Vec<Step> {
    let ordered = !policy.parallel;
    let mut steps = Vec::new();
    let delete = |pod: &Pod, ordinal: i32, condemned: bool| Step::Delete {
        name: pod.name_any(),
        ordinal,
        condemned,
    };
    let (start, end) = (policy.start, policy.start + policy.replicas.max(0));
    for ordinal in start..end {
        let pod = pods.get(&ordinal);
        match pod {
            None => {
                let update = policy
                    .rolling_partition
                    .is_none_or(|p| ordinal - start >= p);
                steps.push(Step::Create { ordinal, update });
            }
            Some(pod) if finished(pod) && !terminating(pod) => {
                steps.push(delete(pod, ordinal, false));
            }
            Some(pod) if healthy(pod) => continue,
            Some(_) => {}
        }
        if ordered {
            return steps;
        }
    }
    let condemned = pods.range(end..).rev().chain(pods.range(..start).rev());
    for (&ordinal, pod) in condemned {
        if !terminating(pod) {
            steps.push(delete(pod, ordinal, true));
        }
        if ordered {
            return steps;
        }
    }
    let Some(partition) = policy.rolling_partition else {
        return steps;
    };
    if !steps.is_empty() {
        return steps;
    }
    for ordinal in (start + partition.max(0)..end).rev() {
        let Some(pod) = pods.get(&ordinal) else {
            return steps;
        };
        if revision_of(pod) != Some(policy.update_revision.as_str()) && !terminating(pod) {
            steps.push(delete(pod, ordinal, false));
            return steps;
        }
        if !healthy(pod) {
            return steps;
        }
    }
    steps
}

/// What a StatefulSet's status counts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub replicas: i32,
    pub ready: i32,
    pub current: i32,
    pub updated: i32,
}

/// Counts over every pod of the set: all of them are replicas, the healthy ones ready, and
/// those not terminating count toward the revision they were made from.
pub fn counts<'a>(
    pods: impl IntoIterator<Item = &'a Pod>,
    current_revision: &str,
    update_revision: &str,
) -> Counts {
    let mut c = Counts::default();
    for pod in pods {
        c.replicas += 1;
        if healthy(pod) {
            c.ready += 1;
        }
        if terminating(pod) {
            continue;
        }
        let revision = revision_of(pod);
        if revision == Some(current_revision) {
            c.current += 1;
        }
        if revision == Some(update_revision) {
            c.updated += 1;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A pod of set `web`: `state` is one of "ready", "pending", "terminating", "failed".
    fn pod(ordinal: i32, revision: &str, state: &str) -> Pod {
        let mut value = json!({"metadata": {"name": format!("web-{ordinal}"),
            "labels": {REVISION_LABEL: revision}}});
        let (phase, ready) = match state {
            "ready" | "terminating" => ("Running", "True"),
            "failed" => ("Failed", "False"),
            _ => ("Pending", "False"),
        };
        value["status"] =
            json!({"phase": phase, "conditions": [{"type": "Ready", "status": ready}]});
        if state == "terminating" {
            value["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        serde_json::from_value(value).expect("pod")
    }

    fn policy(replicas: i32, parallel: bool, partition: Option<i32>) -> Policy {
        Policy {
            replicas,
            start: 0,
            parallel,
            rolling_partition: partition,
            update_revision: "new".into(),
        }
    }

    fn create(ordinal: i32) -> Step {
        Step::Create {
            ordinal,
            update: true,
        }
    }

    fn delete(ordinal: i32, condemned: bool) -> Step {
        Step::Delete {
            name: format!("web-{ordinal}"),
            ordinal,
            condemned,
        }
    }

    #[test]
    fn ordinals_parse_only_canonical_suffixes() {
        let cases = [
            ("web-0", Some(0)),
            ("web-12", Some(12)),
            ("web-012", None),
            ("web-", None),
            ("web-x", None),
            ("webby-1", None),
            ("web-1-2", None),
        ];
        for (name, want) in cases {
            assert_eq!(ordinal("web", name), want, "{name}");
        }
    }

    /// (why, policy, pods as (ordinal, revision, state), expected steps)
    type Case = (
        &'static str,
        Policy,
        Vec<(i32, &'static str, &'static str)>,
        Vec<Step>,
    );

    #[test]
    fn plans() {
        let rolling = Some(0);
        let cases: Vec<Case> = vec![
            (
                "ordered start creates ordinal 0 only",
                policy(3, false, rolling),
                vec![],
                vec![create(0)],
            ),
            (
                "ordered start waits for a pending pod",
                policy(3, false, rolling),
                vec![(0, "new", "pending")],
                vec![],
            ),
            (
                "ordered start creates the next once ready",
                policy(3, false, rolling),
                vec![(0, "new", "ready")],
                vec![create(1)],
            ),
            (
                "parallel creates every missing ordinal",
                policy(3, true, rolling),
                vec![(1, "new", "pending")],
                vec![create(0), create(2)],
            ),
            (
                "a deleted pod is recreated under its name",
                policy(3, false, rolling),
                vec![(0, "new", "ready"), (2, "new", "ready")],
                vec![create(1)],
            ),
            (
                "ordered start waits for a terminating pod to go",
                policy(3, false, rolling),
                vec![(0, "new", "terminating")],
                vec![],
            ),
            (
                "a failed pod is deleted to be recreated",
                policy(2, false, rolling),
                vec![(0, "new", "failed"), (1, "new", "ready")],
                vec![delete(0, false)],
            ),
            (
                "scale down removes the highest ordinal first, one at a time",
                policy(1, false, rolling),
                vec![
                    (0, "new", "ready"),
                    (1, "new", "ready"),
                    (2, "new", "ready"),
                ],
                vec![delete(2, true)],
            ),
            (
                "scale down waits for termination",
                policy(1, false, rolling),
                vec![
                    (0, "new", "ready"),
                    (1, "new", "ready"),
                    (2, "new", "terminating"),
                ],
                vec![],
            ),
            (
                "ordered scale down waits for unhealthy replicas",
                policy(1, false, rolling),
                vec![(0, "new", "pending"), (1, "new", "ready")],
                vec![],
            ),
            (
                "parallel scale down removes every condemned pod",
                policy(1, true, rolling),
                vec![
                    (0, "new", "ready"),
                    (1, "new", "ready"),
                    (2, "new", "ready"),
                ],
                vec![delete(2, true), delete(1, true)],
            ),
            (
                "rolling update starts at the highest ordinal",
                policy(3, false, rolling),
                vec![
                    (0, "old", "ready"),
                    (1, "old", "ready"),
                    (2, "old", "ready"),
                ],
                vec![delete(2, false)],
            ),
            (
                "rolling update waits for the updated pod to be ready",
                policy(3, false, rolling),
                vec![
                    (0, "old", "ready"),
                    (1, "old", "ready"),
                    (2, "new", "pending"),
                ],
                vec![],
            ),
            (
                "rolling update moves down once the updated pod is ready",
                policy(3, false, rolling),
                vec![
                    (0, "old", "ready"),
                    (1, "old", "ready"),
                    (2, "new", "ready"),
                ],
                vec![delete(1, false)],
            ),
            (
                "rolling update honours the partition",
                policy(3, false, Some(2)),
                vec![
                    (0, "old", "ready"),
                    (1, "old", "ready"),
                    (2, "new", "ready"),
                ],
                vec![],
            ),
            (
                "below the partition pods are recreated at the current revision",
                policy(3, false, Some(2)),
                vec![],
                vec![Step::Create {
                    ordinal: 0,
                    update: false,
                }],
            ),
            (
                "ordinals start where the set says, pods below it are condemned",
                Policy {
                    start: 1,
                    ..policy(2, true, rolling)
                },
                vec![(0, "new", "ready"), (1, "new", "ready")],
                vec![create(2), delete(0, true)],
            ),
            (
                "on delete never replaces old pods",
                policy(2, false, None),
                vec![(0, "old", "ready"), (1, "old", "ready")],
                vec![],
            ),
        ];
        for (why, policy, pods, want) in cases {
            let pods: Vec<(i32, Pod)> = pods
                .into_iter()
                .map(|(o, r, s)| (o, pod(o, r, s)))
                .collect();
            let map: BTreeMap<i32, &Pod> = pods.iter().map(|(o, p)| (*o, p)).collect();
            assert_eq!(plan(&policy, &map), want, "{why}");
        }
    }

    #[test]
    fn counts_by_revision() {
        let pods = [
            pod(0, "old", "ready"),
            pod(1, "new", "pending"),
            pod(2, "new", "ready"),
            pod(3, "old", "terminating"),
        ];
        let want = Counts {
            replicas: 4,
            ready: 2,
            current: 1,
            updated: 2,
        };
        assert_eq!(counts(&pods, "old", "new"), want);
    }
}
