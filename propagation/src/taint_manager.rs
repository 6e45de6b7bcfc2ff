//! The NoExecute taint manager: a binding placed on a cluster with a NoExecute taint its
//! placement does not tolerate (or tolerates only for `tolerationSeconds`, now run out) is
//! evicted from that cluster as a graceful eviction task, so the scheduler moves its replicas
//! to the remaining clusters while the old copy is kept as the purge mode says. Evictions are
//! paced by a rate limit, slowed while most clusters are unhealthy and paused while none is
//! healthy. A cluster that recovers gets nothing back by itself: moving back is a rebalance
//! (WorkloadRebalancer).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::Stream;
use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::jiff::Timestamp;
use karmada_api::cluster::Cluster;
use karmada_api::policy::propagation::PurgeMode;
use karmada_api::work::binding::{
    ClusterResourceBinding, EVICTION_PRODUCER_TAINT_MANAGER, EVICTION_REASON_TAINT_UNTOLERATED,
    ResourceBinding,
};
use karmada_runtime::Backoff;
use karmada_runtime::conflict::{self, write_fresh};
use karmada_runtime::controller::{Backed, run_with_backoff};
use karmada_runtime::events::Recorder;
use kube::api::PostParams;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::binding::controller::{BindingObject, Regarding, record};
use crate::cluster_health::{NOT_READY_TAINT, UNREACHABLE_TAINT};
use crate::cluster_watch::ClusterWatch;
use crate::eviction::{Eviction, Limiter, Verdict, Wait, evict, judge};

const CONTROLLER: &str = "taint-manager";
const EVICT_ACTION: &str = "Evict";
/// Event reason of an eviction, as Karmada names it.
pub const EVICT_REASON: &str = "EvictWorkloadFromCluster";
/// How often paused evictions (no healthy cluster) look again.
const PAUSED_RECHECK: Duration = Duration::from_secs(5);

/// How the taint manager evicts.
#[derive(Clone, Debug)]
pub struct Config {
    /// Purge mode of bindings whose policy does not say (`failover.cluster.purgeMode`).
    pub purge_mode: PurgeMode,
    /// Evictions per second, with bursts of `burst`.
    pub rate: f64,
    pub burst: u32,
    /// Evictions per second while more than half of the clusters are unhealthy.
    pub secondary_rate: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            purge_mode: PurgeMode::Gracefully,
            rate: 20.0,
            burst: 20,
            secondary_rate: 1.0,
        }
    }
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

struct Context {
    client: Client,
    clusters: Store<Cluster>,
    limiter: Arc<Mutex<Limiter>>,
    recorder: Recorder,
    config: Config,
    backoff: Backoff,
}

impl Backed for Context {
    fn backoff(&self) -> &Backoff {
        &self.backoff
    }
}

/// Runs the taint manager for ResourceBindings and ClusterResourceBindings until `cancel`.
pub async fn run(client: Client, config: Config, cancel: CancellationToken) {
    let limiter = Arc::new(Mutex::new(Limiter::new(
        config.rate,
        config.secondary_rate,
        config.burst,
    )));
    let recorder = Recorder::new(client.clone(), Reporter::from(CONTROLLER));
    let (clusters, watching) = ClusterWatch::start(client.clone(), no_execute_taints);
    let ctx = Arc::new(Context {
        client: client.clone(),
        clusters: clusters.store.clone(),
        limiter,
        recorder,
        config,
        backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(30)),
    });
    let namespaced = controller::<ResourceBinding>(ctx.clone(), clusters.changes(), cancel.clone());
    let cluster_scoped =
        controller::<ClusterResourceBinding>(ctx, clusters.changes(), cancel.clone());
    tokio::select! {
        _ = async { tokio::join!(namespaced, cluster_scoped) } => {}
        () = watching => {}
    }
}

/// The taints of `cluster` the taint manager acts on: all of them, except a health taint
/// (`not-ready`, `unreachable`) on a cluster that is Ready again. That taint is on its way
/// out (the taint policy lifts it a moment after Ready turns True), and evicting on it would
/// move workloads off a healthy cluster.
fn acted_on(cluster: &Cluster) -> Vec<Taint> {
    let ready = cluster.is_ready();
    cluster
        .spec
        .taints
        .iter()
        .filter(|t| !(ready && (t.key == NOT_READY_TAINT || t.key == UNREACHABLE_TAINT)))
        .cloned()
        .collect()
}

/// What the taint manager reacts to: a cluster's NoExecute taints.
fn no_execute_taints(cluster: &Cluster) -> Vec<Taint> {
    cluster
        .spec
        .taints
        .iter()
        .filter(|t| t.effect == "NoExecute")
        .cloned()
        .collect()
}

async fn controller<K: BindingObject>(
    ctx: Arc<Context>,
    changes: impl Stream<Item = ()> + Send + 'static,
    cancel: CancellationToken,
) {
    let controller = Controller::new(
        Api::<K>::all(ctx.client.clone()),
        watcher::Config::default(),
    )
    .reconcile_all_on(changes)
    .graceful_shutdown_on(async move { cancel.cancelled().await });
    run_with_backoff(controller, CONTROLLER, ctx, reconcile::<K>).await;
}

/// Healthy (Ready) and all clusters in the store.
fn health(clusters: &Store<Cluster>) -> (usize, usize) {
    let all = clusters.state();
    (all.iter().filter(|c| c.is_ready()).count(), all.len())
}

async fn reconcile<K: BindingObject>(binding: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    if binding.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let spec = binding.spec();
    let tolerations = spec
        .placement
        .as_ref()
        .map(|p| p.cluster_tolerations.as_slice())
        .unwrap_or_default();
    let now = Timestamp::now();
    let mut due: Vec<(String, Taint, Option<i32>)> = Vec::new();
    let mut next: Option<Timestamp> = None;
    for target in &spec.clusters {
        let Some(cluster) = ctx.clusters.get(&ObjectRef::new(&target.name)) else {
            continue;
        };
        match judge(tolerations, &acted_on(&cluster), now) {
            Verdict::Keep => {}
            Verdict::EvictNow { taint } => due.push((target.name.clone(), taint, target.replicas)),
            Verdict::EvictAt(at) => next = Some(next.map_or(at, |n| n.min(at))),
        }
    }
    for (cluster, taint, replicas) in due {
        let (healthy, total) = health(&ctx.clusters);
        let paced = match ctx.limiter.lock() {
            Ok(mut limiter) => limiter.acquire(Instant::now(), healthy, total),
            Err(_) => Err(Wait::For(PAUSED_RECHECK)),
        };
        match paced {
            Ok(()) => {}
            Err(Wait::For(delay)) => return Ok(Action::requeue(delay)),
            Err(Wait::NoHealthyCluster) => {
                tracing::info!(
                    binding = %binding.describe(),
                    %cluster,
                    "no cluster is healthy: eviction paused so what runs stays where it is"
                );
                return Ok(Action::requeue(PAUSED_RECHECK));
            }
        }
        let purge_mode = spec
            .failover
            .as_ref()
            .and_then(|f| f.cluster.as_ref())
            .and_then(|c| c.purge_mode)
            .unwrap_or(ctx.config.purge_mode);
        let toleration_ran_out = tolerations
            .iter()
            .any(|t| karmada_api::tolerations::tolerates(t, &taint));
        let why = if toleration_ran_out {
            "its toleration ran out"
        } else {
            "it is not tolerated"
        };
        let message = format!(
            "cluster {cluster} has the taint {}:{} and {why}",
            taint.key, taint.effect
        );
        let eviction = Eviction {
            cluster: &cluster,
            reason: EVICTION_REASON_TAINT_UNTOLERATED,
            message: message.clone(),
            producer: EVICTION_PRODUCER_TAINT_MANAGER,
            purge_mode,
            grace_period_seconds: None,
        };
        let moved = replicas.map_or_else(String::new, |r| {
            format!("its {r} replicas are being placed on the remaining clusters; ")
        });
        let kept = match purge_mode {
            PurgeMode::Gracefully => {
                "the copy there is kept until the new placement is healthy or the grace period ends"
            }
            PurgeMode::Directly => "the copy there is removed now",
            PurgeMode::Never => "the copy there is kept (purge mode Never)",
        };
        let note = format!("Evicted from cluster {cluster}: {message}; {moved}{kept}.");
        evict_and_report(&ctx.client, &ctx.recorder, &*binding, &eviction, &note)
            .await
            .map_err(|source| Error::Evict {
                binding: binding.describe(),
                cluster: cluster.clone(),
                source,
            })?;
    }
    Ok(match next {
        Some(at) => {
            let left = now.duration_until(at).unsigned_abs();
            Action::requeue(left + Duration::from_millis(100))
        }
        None => Action::await_change(),
    })
}

/// Writes `eviction` into `binding` (computed again on the latest version when another writer
/// got there first), then logs `note` and records it as the eviction Event on the binding and
/// its template.
pub(crate) async fn evict_and_report<K: BindingObject>(
    client: &Client,
    recorder: &Recorder,
    binding: &K,
    eviction: &Eviction<'_>,
    note: &str,
) -> Result<(), conflict::Error> {
    let api = binding.api_for(client.clone());
    let name = binding.name_any();
    write_fresh(
        binding.clone(),
        5,
        |mut current: K| {
            let (api, name) = (api.clone(), name.clone());
            let changed = evict(current.spec_mut(), eviction, Timestamp::now());
            async move {
                if !changed {
                    return Ok(());
                }
                api.replace(&name, &PostParams::default(), &current)
                    .await
                    .map(drop)
            }
        },
        || api.get(&name),
    )
    .await?;
    tracing::info!(binding = %binding.describe(), cluster = eviction.cluster, "{note}");
    record(
        recorder,
        binding,
        Regarding::BindingAndTemplate,
        EventType::Warning,
        EVICT_ACTION,
        EVICT_REASON,
        note,
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cluster(ready: &str) -> Cluster {
        serde_json::from_value(json!({
            "metadata": {"name": "m1"},
            "spec": {"syncMode": "Pull", "taints": [
                {"key": UNREACHABLE_TAINT, "effect": "NoExecute"},
                {"key": "maintenance", "effect": "NoExecute"},
            ]},
            "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "R",
                "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
        }))
        .unwrap()
    }

    #[test]
    fn a_health_taint_on_a_ready_cluster_is_not_acted_on() {
        let keys =
            |c: &Cluster| -> Vec<String> { acted_on(c).into_iter().map(|t| t.key).collect() };
        assert_eq!(
            keys(&cluster("Unknown")),
            [UNREACHABLE_TAINT, "maintenance"]
        );
        assert_eq!(keys(&cluster("True")), ["maintenance"]);
    }
}
