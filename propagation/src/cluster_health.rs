//! Cluster health as the federation sees it: a pull cluster whose agent stopped renewing its
//! heartbeat Lease for longer than the grace period turns `Ready: Unknown`, and every cluster
//! carries the NoSchedule taint matching its Ready condition (`not-ready` for False,
//! `unreachable` for Unknown), as Karmada's cluster controller does.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use karmada_api::cluster::{CONDITION_READY, Cluster, ClusterStatus, ClusterSyncMode};
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use tokio_util::sync::CancellationToken;

/// Taint of a cluster whose Ready condition is False.
pub const NOT_READY_TAINT: &str = "cluster.karmada.io/not-ready";
/// Taint of a cluster whose Ready condition is Unknown.
pub const UNREACHABLE_TAINT: &str = "cluster.karmada.io/unreachable";
/// Namespace of the agents' heartbeat Leases (one per cluster, named after it).
pub const LEASE_NAMESPACE: &str = karmada_api::CLUSTER_NAMESPACE;
/// Reason of the Ready condition the federation sets when the heartbeat stops.
pub const STATUS_UNKNOWN_REASON: &str = "ClusterStatusUnknown";
/// How long a heartbeat may be missing before the cluster is Unknown, by default: long enough
/// for several missed renewals of the agent's 2 s heartbeat, short enough for fast failover.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(15);
const RETRY: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cluster {cluster}: cannot read its heartbeat Lease: {source}")]
    Lease {
        cluster: String,
        #[source]
        source: kube::Error,
    },
    #[error("cluster {cluster}: cannot write {what}: {source}")]
    Write {
        cluster: String,
        what: &'static str,
        #[source]
        source: kube::Error,
    },
}

/// What the health check concluded for one cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    /// The Ready condition to write, when the heartbeat stopped and it does not say so yet.
    pub ready: Option<Condition>,
    /// The cluster's taints with the health taints brought in line with Ready.
    pub taints: Vec<Taint>,
    /// When to look again: when the current heartbeat runs out.
    pub recheck: Duration,
}

/// Judges `cluster` at `now`. A pull cluster's heartbeat is its Lease's last renewal (or, before
/// the first one, the cluster's creation); once older than `grace`, Ready becomes Unknown. The
/// health taints follow the Ready condition, including the one written here.
pub fn assess(
    cluster: &Cluster,
    lease: Option<&Lease>,
    now: Timestamp,
    grace: Duration,
) -> Assessment {
    let conditions = cluster
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let current = conditions.iter().find(|c| c.type_ == CONDITION_READY);
    let mut ready = None;
    let mut recheck = grace;
    if cluster.spec.sync_mode == ClusterSyncMode::Pull {
        let heartbeat = lease
            .and_then(|l| l.spec.as_ref())
            .and_then(|s| s.renew_time.as_ref().or(s.acquire_time.as_ref()))
            .map(|t| t.0)
            .or_else(|| cluster.metadata.creation_timestamp.as_ref().map(|t| t.0));
        // A heartbeat stamped ahead of this clock (skew) counts as fresh.
        let age = heartbeat
            .map(|t| {
                let elapsed = now.duration_since(t);
                if elapsed.is_negative() {
                    Duration::ZERO
                } else {
                    elapsed.unsigned_abs()
                }
            })
            .unwrap_or(grace);
        if age >= grace {
            if current.is_none_or(|c| c.status != "Unknown") {
                let since = heartbeat.map_or_else(|| "never".to_string(), |t| t.to_string());
                ready = Some(Condition {
                    type_: CONDITION_READY.into(),
                    status: "Unknown".into(),
                    reason: STATUS_UNKNOWN_REASON.into(),
                    message: format!(
                        "the cluster's agent stopped posting its heartbeat: the Lease {LEASE_NAMESPACE}/{} was last renewed {since}, more than {}s ago",
                        cluster.name_any(),
                        grace.as_secs()
                    ),
                    last_transition_time: Time(now),
                    observed_generation: None,
                });
            }
        } else {
            recheck = grace.saturating_sub(age);
        }
    }
    let status = ready
        .as_ref()
        .or(current)
        .map(|c| c.status.as_str())
        .unwrap_or("Unknown");
    let taints = health_taints(&cluster.spec.taints, status, now);
    Assessment {
        ready,
        taints,
        recheck,
    }
}

/// `taints` with exactly the health taint `ready` calls for; a taint already there keeps its
/// `timeAdded`.
fn health_taints(taints: &[Taint], ready: &str, now: Timestamp) -> Vec<Taint> {
    let wanted = match ready {
        "True" => None,
        "False" => Some(NOT_READY_TAINT),
        _ => Some(UNREACHABLE_TAINT),
    };
    let is_health = |t: &Taint| {
        t.effect == "NoSchedule" && (t.key == NOT_READY_TAINT || t.key == UNREACHABLE_TAINT)
    };
    let mut out: Vec<Taint> = taints
        .iter()
        .filter(|t| !is_health(t) || Some(t.key.as_str()) == wanted)
        .cloned()
        .collect();
    if let Some(key) = wanted
        && !out.iter().any(|t| t.key == key && t.effect == "NoSchedule")
    {
        out.push(Taint {
            key: key.into(),
            effect: "NoSchedule".into(),
            value: None,
            time_added: Some(Time(now)),
        });
    }
    out
}

struct Context {
    client: Client,
    grace: Duration,
}

/// Runs until `cancel` fires.
pub async fn run(client: Client, grace: Duration, cancel: CancellationToken) {
    let context = Arc::new(Context {
        client: client.clone(),
        grace,
    });
    Controller::new(Api::<Cluster>::all(client), watcher::Config::default())
        .graceful_shutdown_on(async move { cancel.cancelled().await })
        .run(reconcile, |_, _, _| Action::requeue(RETRY), context)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "cluster health check failed; retrying");
            }
        })
        .await;
}

async fn reconcile(cluster: Arc<Cluster>, context: Arc<Context>) -> Result<Action, Error> {
    if cluster.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = cluster.name_any();
    let leases: Api<Lease> = Api::namespaced(context.client.clone(), LEASE_NAMESPACE);
    let lease = leases.get_opt(&name).await.map_err(|source| Error::Lease {
        cluster: name.clone(),
        source,
    })?;
    let assessment = assess(&cluster, lease.as_ref(), Timestamp::now(), context.grace);
    let clusters: Api<Cluster> = Api::all(context.client.clone());
    let write = |what| {
        let cluster = name.clone();
        move |source| Error::Write {
            cluster,
            what,
            source,
        }
    };
    let mut latest = (*cluster).clone();
    if let Some(ready) = assessment.ready {
        tracing::info!(cluster = %name, "heartbeat lost; cluster Ready is Unknown");
        let status = latest.status.get_or_insert_with(ClusterStatus::default);
        status.conditions.retain(|c| c.type_ != CONDITION_READY);
        status.conditions.push(ready);
        latest = clusters
            .replace_status(&name, &PostParams::default(), &latest)
            .await
            .map_err(write("its Ready condition"))?;
    }
    if latest.spec.taints != assessment.taints {
        latest.spec.taints = assessment.taints;
        clusters
            .replace(&name, &PostParams::default(), &latest)
            .await
            .map_err(write("its health taints"))?;
    }
    // A little past the deadline, so the heartbeat has really run out when looked at.
    Ok(Action::requeue(
        assessment.recheck + Duration::from_millis(200),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn cluster(mode: &str, ready: Option<&str>, taints: &serde_json::Value) -> Cluster {
        let conditions = ready.map_or_else(Vec::new, |status| {
            vec![
                json!({"type": "Ready", "status": status, "reason": "ClusterReady",
                        "message": "", "lastTransitionTime": at(0).to_string()}),
            ]
        });
        serde_json::from_value(json!({
            "metadata": {"name": "member1", "creationTimestamp": at(0).to_string()},
            "spec": {"syncMode": mode, "taints": taints},
            "status": {"conditions": conditions},
        }))
        .unwrap()
    }

    fn lease(renewed: i64) -> Lease {
        serde_json::from_value(json!({
            "metadata": {"name": "member1", "namespace": LEASE_NAMESPACE},
            "spec": {"holderIdentity": "member1", "renewTime": format!("{}", at(renewed))},
        }))
        .unwrap()
    }

    fn keys(taints: &[Taint]) -> Vec<&str> {
        taints.iter().map(|t| t.key.as_str()).collect()
    }

    #[test]
    fn heartbeats_decide_pull_clusters_readiness_and_taints() {
        let grace = Duration::from_secs(15);
        let unrelated = json!([{"key": "team", "value": "a", "effect": "NoSchedule"}]);
        let unreachable = json!([{"key": UNREACHABLE_TAINT, "effect": "NoSchedule",
                                  "timeAdded": at(1).to_string()}]);
        // (case, cluster, lease renewed at, now, want Unknown written, want taints, recheck s)
        let cases = [
            (
                "fresh heartbeat, ready",
                cluster("Pull", Some("True"), &unrelated),
                Some(100),
                105,
                false,
                vec!["team"],
                10,
            ),
            (
                "heartbeat ran out",
                cluster("Pull", Some("True"), &unrelated),
                Some(100),
                116,
                true,
                vec!["team", UNREACHABLE_TAINT],
                15,
            ),
            (
                "already Unknown: nothing rewritten",
                cluster("Pull", Some("Unknown"), &unreachable),
                Some(100),
                130,
                false,
                vec![UNREACHABLE_TAINT],
                15,
            ),
            (
                "agent back: Ready True clears the taint",
                cluster("Pull", Some("True"), &unreachable),
                Some(129),
                130,
                false,
                vec![],
                14,
            ),
            (
                "member down, agent alive",
                cluster("Pull", Some("False"), &json!([])),
                Some(129),
                130,
                false,
                vec![NOT_READY_TAINT],
                14,
            ),
            (
                "never renewed: judged from creation",
                cluster("Pull", None, &json!([])),
                None,
                20,
                true,
                vec![UNREACHABLE_TAINT],
                15,
            ),
            (
                "push clusters are not judged by leases",
                cluster("Push", Some("True"), &json!([])),
                None,
                1000,
                false,
                vec![],
                15,
            ),
        ];
        for (case, cluster, renewed, now, unknown, taints, recheck) in cases {
            let lease = renewed.map(lease);
            let got = assess(&cluster, lease.as_ref(), at(now), grace);
            assert_eq!(got.ready.is_some(), unknown, "{case}");
            if let Some(ready) = &got.ready {
                assert_eq!(
                    (ready.status.as_str(), ready.reason.as_str()),
                    ("Unknown", STATUS_UNKNOWN_REASON),
                    "{case}"
                );
            }
            assert_eq!(keys(&got.taints), taints, "{case}");
            assert_eq!(got.recheck, Duration::from_secs(recheck), "{case}");
        }
    }

    #[test]
    fn an_existing_health_taint_keeps_its_time() {
        let taints: Vec<Taint> = serde_json::from_value(json!([
            {"key": UNREACHABLE_TAINT, "effect": "NoSchedule", "timeAdded": at(1).to_string()}
        ]))
        .unwrap();
        let kept = health_taints(&taints, "Unknown", at(50));
        assert_eq!(kept, taints);
    }
}
