//! Application failover (`failover.application` in the policy): a workload that stays
//! Unhealthy in one cluster for `decisionConditions.tolerationSeconds` (300 by default) is
//! evicted from that cluster the way a NoExecute taint evicts it, so the scheduler places its
//! replicas elsewhere while the old copy is kept as the purge mode says. A workload unhealthy in
//! every cluster it runs in is left where it is: the trouble is the application, not a cluster,
//! and moving it would only churn.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use karmada_api::policy::propagation::PurgeMode;
use karmada_api::work::binding::{
    ClusterResourceBinding, EVICTION_PRODUCER_APPLICATION_FAILOVER,
    EVICTION_REASON_APPLICATION_FAILURE, ResourceBinding, ResourceBindingSpec,
    ResourceBindingStatus, ResourceHealth,
};
use karmada_runtime::Backoff;
use karmada_runtime::conflict;
use karmada_runtime::controller::{Backed, object_key, run_with_backoff};
use karmada_runtime::events::Recorder;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;

use crate::binding::controller::BindingObject;
use crate::eviction::Eviction;
use crate::taint_manager::evict_and_report;

const CONTROLLER: &str = "application-failover";
/// Karmada's default for `decisionConditions.tolerationSeconds`.
pub const DEFAULT_TOLERATION: Duration = Duration::from_secs(300);
/// Karmada's default grace period of a Gracefully purged application failover.
const DEFAULT_GRACE_PERIOD_SECONDS: i32 = 600;

/// When each target cluster of one binding was first seen Unhealthy.
pub type UnhealthySince = HashMap<String, Timestamp>;

/// What to do with a binding at one look.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Clusters to evict now, each with how long it has been unhealthy.
    pub evict: Vec<(String, Duration)>,
    /// When the next cluster's toleration runs out.
    pub recheck: Option<Duration>,
}

/// Updates `since` from the binding's aggregated health at `now` and decides which clusters'
/// toleration ran out. Nothing is evicted when the binding asks for no application failover or
/// when every target cluster is unhealthy.
pub fn decide(
    spec: &ResourceBindingSpec,
    status: Option<&ResourceBindingStatus>,
    since: &mut UnhealthySince,
    now: Timestamp,
) -> Decision {
    let mut decision = Decision {
        evict: Vec::new(),
        recheck: None,
    };
    let Some(behavior) = spec.failover.as_ref().and_then(|f| f.application.as_ref()) else {
        since.clear();
        return decision;
    };
    let toleration = behavior
        .decision_conditions
        .toleration_seconds
        .map_or(DEFAULT_TOLERATION, |s| {
            Duration::from_secs(u64::try_from(s).unwrap_or(0))
        });
    let health = |cluster: &str| {
        status.and_then(|s| {
            s.aggregated_status
                .iter()
                .find(|item| item.cluster_name == cluster)
                .and_then(|item| item.health)
        })
    };
    since.retain(|cluster, _| spec.targets(cluster));
    let mut unhealthy = 0;
    for target in &spec.clusters {
        if health(&target.name) != Some(ResourceHealth::Unhealthy) {
            since.remove(&target.name);
            continue;
        }
        unhealthy += 1;
        let first = *since.entry(target.name.clone()).or_insert(now);
        let lasted = now.duration_since(first);
        let lasted = if lasted.is_negative() {
            Duration::ZERO
        } else {
            lasted.unsigned_abs()
        };
        if lasted >= toleration {
            decision.evict.push((target.name.clone(), lasted));
        } else {
            let left = toleration - lasted;
            decision.recheck = Some(decision.recheck.map_or(left, |r| r.min(left)));
        }
    }
    if unhealthy == spec.clusters.len() {
        decision.evict.clear();
    }
    decision
}

struct Context {
    client: Client,
    recorder: Recorder,
    backoff: Backoff,
    /// Per binding (by object key), its clusters' unhealthy-since times.
    since: Mutex<HashMap<String, UnhealthySince>>,
}

impl Backed for Context {
    fn backoff(&self) -> &Backoff {
        &self.backoff
    }
}

/// Runs until `cancel` fires.
pub async fn run(client: Client, cancel: CancellationToken) {
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), Reporter::from(CONTROLLER)),
        client,
        backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(30)),
        since: Mutex::default(),
    });
    tokio::join!(
        controller::<ResourceBinding>(ctx.clone(), cancel.clone()),
        controller::<ClusterResourceBinding>(ctx, cancel),
    );
}

async fn controller<K: BindingObject>(ctx: Arc<Context>, cancel: CancellationToken) {
    let controller = Controller::new(
        Api::<K>::all(ctx.client.clone()),
        watcher::Config::default(),
    )
    .graceful_shutdown_on(async move { cancel.cancelled().await });
    run_with_backoff(controller, CONTROLLER, ctx, reconcile::<K>).await;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot evict {binding} from cluster {cluster}: {source}")]
    Evict {
        binding: String,
        cluster: String,
        #[source]
        source: conflict::Error,
    },
}

async fn reconcile<K: BindingObject>(binding: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    let key = object_key(&*binding);
    let decision = {
        let Ok(mut all) = ctx.since.lock() else {
            return Ok(Action::requeue(Duration::from_secs(1)));
        };
        if binding.meta().deletion_timestamp.is_some() {
            all.remove(&key);
            return Ok(Action::await_change());
        }
        let since = all.entry(key.clone()).or_default();
        let decision = decide(binding.spec(), binding.status(), since, Timestamp::now());
        if since.is_empty() {
            all.remove(&key);
        }
        decision
    };
    let behavior = binding
        .spec()
        .failover
        .as_ref()
        .and_then(|f| f.application.clone())
        .unwrap_or_default();
    let purge_mode = behavior.purge_mode.unwrap_or(PurgeMode::Gracefully);
    let grace_period_seconds = behavior
        .grace_period_seconds
        .or((purge_mode == PurgeMode::Gracefully).then_some(DEFAULT_GRACE_PERIOD_SECONDS));
    for (cluster, lasted) in &decision.evict {
        let message = format!(
            "the workload has been unhealthy on cluster {cluster} for {}s, longer than the {}s its policy tolerates",
            lasted.as_secs(),
            behavior
                .decision_conditions
                .toleration_seconds
                .map_or(DEFAULT_TOLERATION.as_secs(), |s| u64::try_from(s)
                    .unwrap_or(0))
        );
        let eviction = Eviction {
            cluster,
            reason: EVICTION_REASON_APPLICATION_FAILURE,
            message: message.clone(),
            producer: EVICTION_PRODUCER_APPLICATION_FAILOVER,
            purge_mode,
            grace_period_seconds,
        };
        let note = format!(
            "Evicted from cluster {cluster}: {message}; its replicas are being placed on the remaining clusters (purge mode {purge_mode:?})."
        );
        evict_and_report(&ctx.client, &ctx.recorder, &*binding, &eviction, &note)
            .await
            .map_err(|source| Error::Evict {
                binding: binding.describe(),
                cluster: cluster.clone(),
                source,
            })?;
        if let Ok(mut all) = ctx.since.lock()
            && let Some(since) = all.get_mut(&key)
        {
            since.remove(cluster);
        }
    }
    Ok(decision.recheck.map_or_else(Action::await_change, |left| {
        Action::requeue(left + Duration::from_millis(100))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn spec(failover: &Value) -> ResourceBindingSpec {
        let mut spec = json!({
            "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "d", "name": "w"},
            "clusters": [{"name": "m1", "replicas": 2}, {"name": "m2", "replicas": 2}],
        });
        spec["failover"] = failover.clone();
        serde_json::from_value(spec).unwrap()
    }

    fn status(health: &[(&str, &str)]) -> ResourceBindingStatus {
        let items: Vec<Value> = health
            .iter()
            .map(|(c, h)| json!({"clusterName": c, "applied": true, "health": h}))
            .collect();
        serde_json::from_value(json!({"aggregatedStatus": items})).unwrap()
    }

    fn evicted(d: &Decision) -> Vec<&str> {
        d.evict.iter().map(|(c, _)| c.as_str()).collect()
    }

    #[test]
    fn a_cluster_unhealthy_past_the_toleration_is_evicted() {
        let s = spec(&json!({"application": {"decisionConditions": {"tolerationSeconds": 30}}}));
        let m2_down = status(&[("m1", "Healthy"), ("m2", "Unhealthy")]);
        let mut since = UnhealthySince::new();
        // First seen unhealthy: wait out the toleration.
        let d = decide(&s, Some(&m2_down), &mut since, at(0));
        assert!(d.evict.is_empty());
        assert_eq!(d.recheck, Some(Duration::from_secs(30)));
        let d = decide(&s, Some(&m2_down), &mut since, at(20));
        assert_eq!(d.recheck, Some(Duration::from_secs(10)));
        let d = decide(&s, Some(&m2_down), &mut since, at(30));
        assert_eq!(evicted(&d), ["m2"]);
        assert_eq!(d.evict[0].1, Duration::from_secs(30));
    }

    #[test]
    fn recovering_resets_the_clock() {
        let s = spec(&json!({"application": {"decisionConditions": {"tolerationSeconds": 30}}}));
        let mut since = UnhealthySince::new();
        decide(
            &s,
            Some(&status(&[("m1", "Healthy"), ("m2", "Unhealthy")])),
            &mut since,
            at(0),
        );
        decide(
            &s,
            Some(&status(&[("m1", "Healthy"), ("m2", "Healthy")])),
            &mut since,
            at(20),
        );
        assert!(since.is_empty());
        let d = decide(
            &s,
            Some(&status(&[("m1", "Healthy"), ("m2", "Unhealthy")])),
            &mut since,
            at(40),
        );
        assert!(d.evict.is_empty(), "the clock restarted at 40");
        // Unknown health is not Unhealthy: no guesswork.
        let d = decide(
            &s,
            Some(&status(&[("m1", "Healthy"), ("m2", "Unknown")])),
            &mut since,
            at(100),
        );
        assert!(d.evict.is_empty() && since.is_empty());
    }

    #[test]
    fn nothing_moves_without_the_policy_or_when_unhealthy_everywhere() {
        let mut since = UnhealthySince::new();
        let none = spec(&Value::Null);
        let d = decide(
            &none,
            Some(&status(&[("m2", "Unhealthy")])),
            &mut since,
            at(1000),
        );
        assert!(d.evict.is_empty() && d.recheck.is_none());
        // The default toleration is 300 s.
        let default = spec(&json!({"application": {"decisionConditions": {}}}));
        let all_down = status(&[("m1", "Unhealthy"), ("m2", "Unhealthy")]);
        decide(&default, Some(&all_down), &mut since, at(0));
        let d = decide(&default, Some(&all_down), &mut since, at(400));
        assert!(d.evict.is_empty(), "{d:?}");
        let one_down = status(&[("m1", "Healthy"), ("m2", "Unhealthy")]);
        let d = decide(&default, Some(&one_down), &mut since, at(400));
        assert_eq!(evicted(&d), ["m2"]);
    }
}
