//! Pure decisions of the ReplicaSet controller: which pods a set owns, adopts or releases, which
//! to delete first when there are too many, and the counts its status reports.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};

use crate::member::runtime::{controller_of, pod_active, pod_ready};

/// A ReplicaSet's claim on the pods of its namespace.
#[derive(Debug, Default)]
pub struct Claim<'a> {
    /// Controlled by the set and matching its selector.
    pub owned: Vec<&'a Pod>,
    /// Matching, active and without a controller: the set takes them over.
    pub adopt: Vec<&'a Pod>,
    /// Controlled by the set but no longer matching: the set lets them go.
    pub release: Vec<&'a Pod>,
}

pub fn claim<'a>(
    pods: impl IntoIterator<Item = &'a Pod>,
    uid: &str,
    selector: &Selector,
) -> Claim<'a> {
    let mut claim = Claim::default();
    for pod in pods {
        let matches = selector.matches(pod.labels());
        let controller = controller_of(pod.metadata.owner_references.as_deref());
        match controller {
            Some(r) if r.uid == uid && matches => claim.owned.push(pod),
            Some(r) if r.uid == uid && pod.metadata.deletion_timestamp.is_none() => {
                claim.release.push(pod);
            }
            None if matches && pod_active(pod) => claim.adopt.push(pod),
            _ => {}
        }
    }
    claim
}

/// Orders pods so the ones cheapest to lose come first: unscheduled before scheduled, Pending
/// before Unknown before Running, not ready before ready, ready more recently before longer,
/// more restarts before fewer, newer before older.
pub fn deletion_order(a: &Pod, b: &Pod) -> Ordering {
    let scheduled = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty())
    };
    let phase = |p: &Pod| match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    };
    let restarts = |p: &Pod| -> i32 {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .map_or(0, |c| c.iter().map(|c| c.restart_count).sum())
    };
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    scheduled(a)
        .cmp(&scheduled(b))
        .then(phase(a).cmp(&phase(b)))
        .then(pod_ready(a).cmp(&pod_ready(b)))
        .then_with(|| {
            if pod_ready(a) && pod_ready(b) {
                ready_since(b).cmp(&ready_since(a))
            } else {
                Ordering::Equal
            }
        })
        .then(restarts(b).cmp(&restarts(a)))
        .then(created(b).cmp(&created(a)))
}

/// The `n` pods to delete first.
pub fn to_delete(mut pods: Vec<&Pod>, n: usize) -> Vec<&Pod> {
    pods.sort_by(|a, b| deletion_order(a, b));
    pods.truncate(n);
    pods
}

fn ready_since(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

/// What a ReplicaSet's status counts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub replicas: i32,
    pub fully_labeled: i32,
    pub ready: i32,
    pub available: i32,
    /// When the next ready pod becomes available, if one is waiting out minReadySeconds.
    pub recheck: Option<Duration>,
}

/// Counts over the set's active pods. A pod is available once it has been ready for
/// `min_ready_seconds`.
pub fn counts(
    pods: &[&Pod],
    template_labels: &BTreeMap<String, String>,
    min_ready_seconds: i32,
    now: Timestamp,
) -> Counts {
    let mut c = Counts::default();
    let min_ready = Duration::from_secs(u64::try_from(min_ready_seconds).unwrap_or(0));
    for pod in pods {
        c.replicas += 1;
        let labels = pod.labels();
        if template_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
        {
            c.fully_labeled += 1;
        }
        if !pod_ready(pod) {
            continue;
        }
        c.ready += 1;
        let ready_for = ready_since(pod).map_or(Duration::ZERO, |t| {
            Duration::try_from(now - t).unwrap_or_default()
        });
        if min_ready.is_zero() || ready_for >= min_ready {
            c.available += 1;
        } else {
            let wait = min_ready - ready_for;
            c.recheck = Some(c.recheck.map_or(wait, |r| r.min(wait)));
        }
    }
    c
}

/// Sizes of successive create batches: 1, 2, 4, ... so a set whose pods are all rejected fails
/// after one request rather than hundreds.
pub fn slow_start_batches(total: usize) -> Vec<usize> {
    let mut batches = Vec::new();
    let (mut left, mut size) = (total, 1);
    while left > 0 {
        let batch = size.min(left);
        batches.push(batch);
        left -= batch;
        size *= 2;
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, extra: serde_json::Value) -> Pod {
        let mut value = json!({"metadata": {"name": name, "labels": {"app": "web"}}});
        merge(&mut value, extra);
        serde_json::from_value(value).expect("pod")
    }

    fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
        match (into, from) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (slot, v) => *slot = v,
        }
    }

    fn owned_by(uid: &str) -> serde_json::Value {
        json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": uid, "controller": true}]}})
    }

    fn ready(at: i64) -> serde_json::Value {
        let t = Timestamp::from_second(at).expect("time").to_string();
        json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": t}]}})
    }

    fn names(pods: &[&Pod]) -> Vec<String> {
        pods.iter().map(|p| p.name_any()).collect()
    }

    fn with(parts: Vec<serde_json::Value>) -> serde_json::Value {
        let mut v = json!({});
        for p in parts {
            merge(&mut v, p);
        }
        v
    }

    #[test]
    fn claims() {
        let selector: Selector = [("app", "web")].into_iter().collect();
        let pods = [
            pod("mine", owned_by("u1")),
            pod("orphan", json!({})),
            pod("finished-orphan", json!({"status": {"phase": "Succeeded"}})),
            pod(
                "relabelled",
                with(vec![
                    owned_by("u1"),
                    json!({"metadata": {"labels": {"app": "other"}}}),
                ]),
            ),
            pod("someone-elses", owned_by("u2")),
            pod("unrelated", json!({"metadata": {"labels": {"app": "db"}}})),
        ];
        let c = claim(&pods, "u1", &selector);
        assert_eq!(names(&c.owned), ["mine"]);
        assert_eq!(names(&c.adopt), ["orphan"]);
        assert_eq!(names(&c.release), ["relabelled"]);
    }

    #[test]
    fn deletes_cheapest_pods_first() {
        let at = |s: i64| json!({"metadata": {"creationTimestamp": Timestamp::from_second(s).expect("t").to_string()}});
        let node = || json!({"spec": {"nodeName": "n1", "containers": []}});
        let phase = |p: &str| json!({"status": {"phase": p}});
        // (why, pod to keep, pod to delete first)
        let cases = [
            (
                "unscheduled before scheduled",
                with(vec![node(), ready(10)]),
                json!({}),
            ),
            (
                "pending before running",
                with(vec![node(), ready(10)]),
                with(vec![node(), phase("Pending")]),
            ),
            (
                "unknown before running",
                with(vec![node(), phase("Running")]),
                with(vec![node(), phase("Unknown")]),
            ),
            (
                "not ready before ready",
                with(vec![node(), ready(10)]),
                with(vec![node(), phase("Running")]),
            ),
            (
                "recently ready before long ready",
                with(vec![node(), ready(10)]),
                with(vec![node(), ready(20)]),
            ),
            (
                "newer before older",
                with(vec![node(), ready(10), at(1)]),
                with(vec![node(), ready(10), at(2)]),
            ),
        ];
        for (why, keep, delete) in cases {
            let (keep, delete) = (pod("a", keep), pod("b", delete));
            assert_eq!(deletion_order(&delete, &keep), Ordering::Less, "{why}");
            assert_eq!(names(&to_delete(vec![&keep, &delete], 1)), ["b"], "{why}");
        }
    }

    #[test]
    fn counts_respect_min_ready_seconds() {
        let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
        let now = Timestamp::from_second(100).expect("time");
        let pods = [
            pod("long-ready", ready(10)),
            pod("just-ready", ready(95)),
            pod("starting", json!({"status": {"phase": "Pending"}})),
            pod(
                "mislabelled",
                with(vec![
                    ready(10),
                    json!({"metadata": {"labels": {"app": "web2"}}}),
                ]),
            ),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let want = Counts {
            replicas: 4,
            fully_labeled: 3,
            ready: 3,
            available: 2,
            recheck: Some(Duration::from_secs(5)),
        };
        assert_eq!(counts(&refs, &labels, 10, now), want);
        let no_wait = counts(&refs, &labels, 0, now);
        assert_eq!((no_wait.available, no_wait.recheck), (3, None));
    }

    #[test]
    fn slow_start_doubles() {
        let cases = [
            (0, vec![]),
            (1, vec![1]),
            (4, vec![1, 2, 1]),
            (10, vec![1, 2, 4, 3]),
        ];
        for (total, want) in cases {
            assert_eq!(slow_start_batches(total), want, "{total}");
        }
    }
}
