//! Evicting a workload from a cluster, the decisions behind it, and their pace: whether a
//! cluster's NoExecute taints evict a placement now, later or never; turning a target cluster
//! into a graceful eviction task; and the rate limit that keeps a partition of many clusters
//! from stampeding the scheduler.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use karmada_api::policy::propagation::PurgeMode;
use karmada_api::tolerations::tolerates;
use karmada_api::work::binding::{GracefulEvictionTask, ResourceBindingSpec};

/// What a cluster's NoExecute taints mean for a placement on it.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Every NoExecute taint is tolerated for good (or there is none).
    Keep,
    /// `taint` is not tolerated, or its toleration ran out.
    EvictNow { taint: Taint },
    /// Every taint is tolerated, the first toleration runs out at this time.
    EvictAt(Timestamp),
}

/// Judges a placement with `tolerations` on a cluster with `taints` at `now`, as Kubernetes'
/// taint manager does for pods: only NoExecute taints count; one that no toleration matches
/// evicts at once; otherwise the shortest `tolerationSeconds` among the tolerations matching a
/// taint, counted from the taint's `timeAdded`, says when (a toleration without seconds lasts
/// for ever).
pub fn judge(tolerations: &[Toleration], taints: &[Taint], now: Timestamp) -> Verdict {
    let mut earliest: Option<Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        let matching: Vec<&Toleration> =
            tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Verdict::EvictNow {
                taint: taint.clone(),
            };
        }
        let Some(seconds) = matching.iter().filter_map(|t| t.toleration_seconds).min() else {
            continue;
        };
        let added = taint.time_added.as_ref().map_or(now, |t| t.0);
        let deadline = added
            .checked_add(SignedDuration::from_secs(seconds.max(0)))
            .unwrap_or(Timestamp::MAX);
        if deadline <= now {
            return Verdict::EvictNow {
                taint: taint.clone(),
            };
        }
        earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
    }
    earliest.map_or(Verdict::Keep, Verdict::EvictAt)
}

/// Why and by whom a cluster is evicted.
#[derive(Clone, Debug)]
pub struct Eviction<'a> {
    pub cluster: &'a str,
    pub reason: &'a str,
    pub message: String,
    pub producer: &'a str,
    pub purge_mode: PurgeMode,
    pub grace_period_seconds: Option<i32>,
}

/// Moves `eviction.cluster` from the target clusters into a graceful eviction task, as
/// Karmada's `GracefulEvictCluster` does: the scheduler places its replicas elsewhere and the
/// binding controller keeps (or not, by purge mode) its copy meanwhile. Returns false when
/// the cluster is not a target.
pub fn evict(spec: &mut ResourceBindingSpec, eviction: &Eviction<'_>, now: Timestamp) -> bool {
    let Some(index) = spec
        .clusters
        .iter()
        .position(|c| c.name == eviction.cluster)
    else {
        return false;
    };
    let before: Vec<String> = spec.clusters.iter().map(|c| c.name.clone()).collect();
    let target = spec.clusters.remove(index);
    // An earlier eviction of the same cluster still running is replaced by this one.
    spec.graceful_eviction_tasks
        .retain(|t| t.from_cluster != eviction.cluster);
    spec.graceful_eviction_tasks.push(GracefulEvictionTask {
        from_cluster: eviction.cluster.to_string(),
        purge_mode: Some(eviction.purge_mode),
        replicas: target.replicas,
        reason: eviction.reason.to_string(),
        message: Some(eviction.message.clone()),
        producer: eviction.producer.to_string(),
        grace_period_seconds: eviction.grace_period_seconds,
        suppress_deletion: (eviction.purge_mode == PurgeMode::Never).then_some(true),
        preserved_label_state: Default::default(),
        creation_timestamp: Some(Time(now)),
        clusters_before_failover: before,
    });
    true
}

/// A token bucket over evictions whose rate drops when many clusters are unhealthy and which
/// stops when none is healthy: evicting then would only move work nowhere.
#[derive(Debug)]
pub struct Limiter {
    rate: f64,
    secondary_rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

/// Why an eviction has to wait.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wait {
    /// The rate allows the next one after this long.
    For(Duration),
    /// No cluster is healthy: evictions are paused until one is.
    NoHealthyCluster,
}

impl Limiter {
    /// `rate` evictions per second with bursts of `burst`; `secondary_rate` while more than
    /// half of the clusters are unhealthy.
    pub fn new(rate: f64, secondary_rate: f64, burst: u32) -> Limiter {
        let burst = f64::from(burst.max(1));
        Limiter {
            rate: rate.max(0.001),
            secondary_rate: secondary_rate.max(0.001),
            burst,
            tokens: burst,
            last: None,
        }
    }

    /// Takes one eviction's token at `now`, with `healthy` of `total` clusters healthy.
    pub fn acquire(&mut self, now: Instant, healthy: usize, total: usize) -> Result<(), Wait> {
        if healthy == 0 {
            return Err(Wait::NoHealthyCluster);
        }
        let rate = if healthy * 2 < total {
            self.secondary_rate
        } else {
            self.rate
        };
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * rate).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Wait::For(Duration::from_secs_f64(
                (1.0 - self.tokens) / rate,
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use karmada_api::work::binding::TargetCluster;
    use serde_json::json;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn taint(key: &str, effect: &str, added: i64) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            value: None,
            time_added: Some(Time(at(added))),
        }
    }

    fn toleration(key: &str, seconds: Option<i64>) -> Toleration {
        serde_json::from_value(
            json!({"key": key, "operator": "Exists", "effect": "NoExecute",
                                      "tolerationSeconds": seconds}),
        )
        .unwrap()
    }

    #[test]
    fn taints_judge_by_kubernetes_rules() {
        let unreachable = taint("unreachable", "NoExecute", 0);
        let cases = [
            // No taint, or only NoSchedule ones: stay.
            (vec![], vec![taint("x", "NoSchedule", 0)], Verdict::Keep),
            // Not tolerated: now.
            (
                vec![],
                vec![unreachable.clone()],
                Verdict::EvictNow {
                    taint: unreachable.clone(),
                },
            ),
            // Tolerated for ever.
            (
                vec![toleration("unreachable", None)],
                vec![unreachable.clone()],
                Verdict::Keep,
            ),
            // Tolerated for 30 s from the taint's time.
            (
                vec![toleration("unreachable", Some(30))],
                vec![unreachable.clone()],
                Verdict::EvictAt(at(30)),
            ),
            // The shortest matching toleration wins, a for-ever one notwithstanding.
            (
                vec![toleration("unreachable", None), toleration("", Some(20))],
                vec![unreachable.clone()],
                Verdict::EvictAt(at(20)),
            ),
            // Two taints: the earliest deadline.
            (
                vec![toleration("", Some(50))],
                vec![unreachable.clone(), taint("not-ready", "NoExecute", -40)],
                Verdict::EvictAt(at(10)),
            ),
        ];
        for (tolerations, taints, want) in cases {
            assert_eq!(judge(&tolerations, &taints, at(5)), want, "{taints:?}");
        }
        // Once the toleration ran out: now.
        assert_eq!(
            judge(
                &[toleration("unreachable", Some(30))],
                std::slice::from_ref(&unreachable),
                at(30)
            ),
            Verdict::EvictNow { taint: unreachable }
        );
    }

    fn spec(clusters: &[(&str, i32)]) -> ResourceBindingSpec {
        ResourceBindingSpec {
            clusters: clusters
                .iter()
                .map(|(name, replicas)| TargetCluster {
                    name: name.to_string(),
                    replicas: Some(*replicas),
                    ..TargetCluster::default()
                })
                .collect(),
            ..ResourceBindingSpec::default()
        }
    }

    fn eviction(cluster: &str, purge_mode: PurgeMode) -> Eviction<'_> {
        Eviction {
            cluster,
            reason: "TaintUntolerated",
            message: "taint unreachable:NoExecute is not tolerated".into(),
            producer: "TaintManager",
            purge_mode,
            grace_period_seconds: None,
        }
    }

    #[test]
    fn an_evicted_cluster_becomes_a_task_with_its_replicas() {
        let mut s = spec(&[("m1", 2), ("m2", 2), ("m3", 2)]);
        assert!(evict(&mut s, &eviction("m2", PurgeMode::Gracefully), at(9)));
        let names: Vec<&str> = s.clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["m1", "m3"]);
        let task = &s.graceful_eviction_tasks[0];
        assert_eq!(task.from_cluster, "m2");
        assert_eq!(task.replicas, Some(2));
        assert_eq!(task.purge_mode, Some(PurgeMode::Gracefully));
        assert_eq!(task.suppress_deletion, None);
        assert_eq!(task.creation_timestamp, Some(Time(at(9))));
        assert_eq!(task.clusters_before_failover, ["m1", "m2", "m3"]);
        // Not a target (any more): nothing changes.
        assert!(!evict(
            &mut s,
            &eviction("m2", PurgeMode::Gracefully),
            at(10)
        ));
        assert_eq!(s.graceful_eviction_tasks.len(), 1);
        // Never keeps the old copy until someone lifts suppressDeletion.
        assert!(evict(&mut s, &eviction("m1", PurgeMode::Never), at(11)));
        assert_eq!(s.graceful_eviction_tasks[1].suppress_deletion, Some(true));
    }

    #[test]
    fn the_limiter_paces_evictions_and_slows_down_in_a_large_outage() {
        let start = Instant::now();
        let mut limiter = Limiter::new(2.0, 0.5, 2);
        // The burst goes at once, then one per half second.
        assert_eq!(limiter.acquire(start, 3, 3), Ok(()));
        assert_eq!(limiter.acquire(start, 3, 3), Ok(()));
        assert_eq!(
            limiter.acquire(start, 3, 3),
            Err(Wait::For(Duration::from_millis(500)))
        );
        assert_eq!(
            limiter.acquire(start + Duration::from_millis(500), 3, 3),
            Ok(())
        );
        // Most clusters down: the secondary rate, one per two seconds.
        let later = start + Duration::from_millis(500);
        assert_eq!(
            limiter.acquire(later, 1, 3),
            Err(Wait::For(Duration::from_secs(2)))
        );
        // None healthy: nothing is evicted.
        assert_eq!(
            limiter.acquire(later + Duration::from_secs(10), 0, 3),
            Err(Wait::NoHealthyCluster)
        );
    }
}
