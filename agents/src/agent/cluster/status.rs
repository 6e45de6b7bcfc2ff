//! Cluster status collection: probes the member (health, version, discovery), merges what it
//! saw into the Cluster's status and writes it through `/status` when something changed.

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, future};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIResourceList, Condition, Time};
use karmada_api::cluster::{
    ApiEnablement, ApiResource, CONDITION_COMPLETE_API_ENABLEMENTS, CONDITION_READY, Cluster,
    ClusterStatus, NodeSummary, ResourceSummary,
};
use kube::api::{ListParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::{Error, Registration, summary};

/// Reason and message of `Ready` when the member answers its health check (Karmada's own).
pub const REASON_READY: &str = "ClusterReady";
pub const MESSAGE_READY: &str = "cluster is healthy and ready to accept workloads";
/// The member answered, but not with `ok`.
pub const REASON_NOT_READY: &str = "ClusterNotReady";
/// The member could not be reached at all.
pub const REASON_NOT_REACHABLE: &str = "ClusterNotReachable";
/// Reasons of `CompleteAPIEnablements`, as Karmada sets them.
pub const REASON_API_COMPLETE: &str = "Complete";
pub const REASON_API_PARTIAL: &str = "Partial";
pub const REASON_API_EMPTY: &str = "Empty";

/// How the member answered its health check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// Reachable, but the health endpoints did not say `ok`.
    Unhealthy(String),
    Unreachable(String),
}

/// What one collection saw of the member; discovery and inventory are only gathered from a
/// healthy member.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub health: Health,
    pub kubernetes_version: Option<String>,
    pub discovery: Option<Discovery>,
    /// Node and resource summaries, absent until the member's caches have synced.
    pub inventory: Option<(NodeSummary, ResourceSummary)>,
}

/// The member's served APIs and the group versions whose discovery failed.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Discovery {
    pub enablements: Vec<ApiEnablement>,
    pub failed: Vec<String>,
}

/// The status the Cluster should have after `observed`, starting from `current`.
///
/// Conditions other than Ready and CompleteAPIEnablements (set by other controllers) are kept,
/// and an unchanged condition keeps its `lastTransitionTime`, so that comparing the result with
/// `current` tells whether a write is needed at all. When the member is not healthy only Ready
/// changes: the last known inventory stays the best estimate the scheduler has.
pub fn next_status(
    current: &ClusterStatus,
    observed: &Observation,
    now: Timestamp,
) -> ClusterStatus {
    let mut status = current.clone();
    let ready = match &observed.health {
        Health::Healthy => ("True", REASON_READY, MESSAGE_READY.to_string()),
        Health::Unhealthy(why) => (
            "False",
            REASON_NOT_READY,
            format!("cluster is reachable but its health check did not answer ok: {why}"),
        ),
        Health::Unreachable(why) => (
            "False",
            REASON_NOT_REACHABLE,
            format!("cluster is not reachable: {why}"),
        ),
    };
    set_condition(&mut status.conditions, CONDITION_READY, ready, now);
    if observed.health != Health::Healthy {
        return status;
    }
    if let Some(version) = &observed.kubernetes_version {
        status.kubernetes_version = Some(version.clone());
    }
    if let Some(discovery) = &observed.discovery {
        let complete = if discovery.enablements.is_empty() {
            (
                "False",
                REASON_API_EMPTY,
                format!(
                    "no API enablements could be collected from the cluster; failed: {}",
                    discovery.failed.join(", ")
                ),
            )
        } else if !discovery.failed.is_empty() {
            (
                "False",
                REASON_API_PARTIAL,
                format!(
                    "collected {} API enablements, but discovery failed for: {}",
                    discovery.enablements.len(),
                    discovery.failed.join(", ")
                ),
            )
        } else {
            (
                "True",
                REASON_API_COMPLETE,
                "collected the complete API enablements of the cluster".to_string(),
            )
        };
        set_condition(
            &mut status.conditions,
            CONDITION_COMPLETE_API_ENABLEMENTS,
            complete,
            now,
        );
        status.api_enablements = discovery.enablements.clone();
    }
    if let Some((nodes, resources)) = &observed.inventory {
        status.node_summary = Some(nodes.clone());
        status.resource_summary = Some(resources.clone());
    }
    status
}

/// Sets condition `type_` to (status, reason, message), moving `lastTransitionTime` only when
/// the status flips (or the condition is new).
fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    (status, reason, message): (&str, &str, String),
    now: Timestamp,
) {
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = Time(now);
            }
            c.status = status.into();
            c.reason = reason.into();
            c.message = message;
        }
        None => conditions.push(Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message,
            last_transition_time: Time(now),
            observed_generation: None,
        }),
    }
}

/// Turns discovery answers into sorted enablements without subresources (`pods/status` is
/// not something a workload can be), and names the group versions that failed.
pub fn enablements(answers: Vec<(String, Result<APIResourceList, String>)>) -> Discovery {
    let mut discovery = Discovery::default();
    for (group_version, answer) in answers {
        match answer {
            Ok(list) => {
                let mut resources: Vec<ApiResource> = list
                    .resources
                    .into_iter()
                    .filter(|r| !r.name.contains('/'))
                    .map(|r| ApiResource {
                        name: r.name,
                        kind: r.kind,
                    })
                    .collect();
                resources.sort_by(|a, b| a.name.cmp(&b.name));
                discovery.enablements.push(ApiEnablement {
                    group_version,
                    resources,
                });
            }
            Err(e) => discovery.failed.push(format!("{group_version} ({e})")),
        }
    }
    discovery
        .enablements
        .sort_by(|a, b| a.group_version.cmp(&b.group_version));
    discovery.failed.sort();
    discovery
}

/// The member's nodes and pods, kept current by watches so that a collection reads memory
/// instead of listing 10,000 pods every period.
pub struct Caches {
    pub nodes: Store<Node>,
    pub pods: Store<Pod>,
}

impl Caches {
    /// The caches and the future that keeps them filled until `cancel`; watch failures (the
    /// member being down) are retried with backoff, and the caches keep their last contents.
    pub fn start(
        member: &Client,
        cancel: &CancellationToken,
    ) -> (Caches, impl Future<Output = ()> + Send + use<>) {
        let (nodes, node_fill) = cache::<Node>(member, cancel);
        let (pods, pod_fill) = cache::<Pod>(member, cancel);
        let fill = async move {
            future::join(Box::pin(node_fill), Box::pin(pod_fill)).await;
        };
        (Caches { nodes, pods }, fill)
    }

    /// Summaries from the caches, or `None` while they have not synced once.
    async fn inventory(&self, wait: Duration) -> Option<(NodeSummary, ResourceSummary)> {
        let synced = async {
            self.nodes.wait_until_ready().await.ok()?;
            self.pods.wait_until_ready().await.ok()
        };
        tokio::time::timeout(wait, synced).await.ok()??;
        let nodes = self.nodes.state();
        let pods = self.pods.state();
        Some((
            summary::node_summary(nodes.iter().map(Arc::as_ref)),
            summary::resource_summary(nodes.iter().map(Arc::as_ref), pods.iter().map(Arc::as_ref)),
        ))
    }
}

fn cache<K>(
    member: &Client,
    cancel: &CancellationToken,
) -> (Store<K>, impl Future<Output = ()> + Send + use<K>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let cancel = cancel.clone();
    let stream = watcher(Api::<K>::all(member.clone()), watcher::Config::default())
        .default_backoff()
        // Managed fields are most of a large object and nothing here reads them.
        .modify(|obj| obj.managed_fields_mut().clear());
    let fill = reflector::reflector(writer, stream)
        .take_until(async move { cancel.cancelled().await })
        .for_each(|event| async move {
            if let Err(e) = event {
                tracing::debug!(error = %e, kind = %K::kind(&()), "member watch failed; retrying");
            }
        });
    (store, fill)
}

/// Completes one collection from the member's `health` (as [`health`] probed it): its version,
/// discovery and caches when it is healthy.
pub async fn observe(
    member: &Client,
    caches: &Caches,
    health: Health,
    timeout: Duration,
) -> Observation {
    if health != Health::Healthy {
        return Observation {
            health,
            kubernetes_version: None,
            discovery: None,
            inventory: None,
        };
    }
    let version = async {
        match tokio::time::timeout(timeout, member.apiserver_version()).await {
            Ok(Ok(info)) => Some(info.git_version),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not read the member's version");
                None
            }
            Err(_) => {
                tracing::warn!("reading the member's version timed out");
                None
            }
        }
    };
    let (kubernetes_version, discovery, inventory) = tokio::join!(
        version,
        discover(member, timeout),
        caches.inventory(timeout)
    );
    Observation {
        health,
        kubernetes_version,
        discovery,
        inventory,
    }
}

/// `GET /readyz`, falling back to `/healthz` for apiservers that lack it; `ok` means healthy.
pub async fn health(member: &Client, timeout: Duration) -> Health {
    let mut last = Health::Unreachable("no health endpoint answered".into());
    for path in ["/readyz", "/healthz"] {
        // kube-core builds a plain GET of `path` (no query parameters with the defaults),
        // which saves this crate a direct dependency on `http`.
        let request = match kube::core::Request::new(path).list(&ListParams::default()) {
            Ok(r) => r,
            Err(e) => return Health::Unreachable(format!("building the {path} request: {e}")),
        };
        last = match tokio::time::timeout(timeout, member.request_text(request)).await {
            Ok(Ok(body)) if body.trim() == "ok" => return Health::Healthy,
            Ok(Ok(body)) => Health::Unhealthy(format!("{path} answered {:?}", body.trim())),
            // Not served here: try the older endpoint.
            Ok(Err(kube::Error::Api(s))) if s.code == 404 => {
                Health::Unhealthy(format!("{path} is not served"))
            }
            Ok(Err(kube::Error::Api(s))) => {
                return Health::Unhealthy(format!("{path} answered {}: {}", s.code, s.message));
            }
            Ok(Err(e)) => return Health::Unreachable(e.to_string()),
            Err(_) => {
                return Health::Unreachable(format!("{path} did not answer within {timeout:?}"));
            }
        };
    }
    last
}

/// Discovers every group version the member serves; `None` when even the group lists failed.
async fn discover(member: &Client, timeout: Duration) -> Option<Discovery> {
    let lists = async {
        let core = member.list_core_api_versions().await?;
        let groups = member.list_api_groups().await?;
        Ok::<_, kube::Error>((core, groups))
    };
    let (core, groups) = match tokio::time::timeout(timeout, lists).await {
        Ok(Ok(lists)) => lists,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "member API discovery failed");
            return None;
        }
        Err(_) => {
            tracing::warn!("member API discovery timed out");
            return None;
        }
    };
    let group_versions = core.versions.into_iter().map(|v| (v, true)).chain(
        groups
            .groups
            .into_iter()
            .flat_map(|g| g.versions.into_iter().map(|v| (v.group_version, false))),
    );
    let answers = future::join_all(group_versions.map(|(gv, core)| async move {
        let list = async {
            if core {
                member.list_core_api_resources(&gv).await
            } else {
                member.list_api_group_resources(&gv).await
            }
        };
        let answer = match tokio::time::timeout(timeout, list).await {
            Ok(Ok(list)) => Ok(list),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {timeout:?}")),
        };
        (gv, answer)
    }))
    .await;
    Some(enablements(answers))
}

/// Writes the status `observed` implies, unless it equals the stored one. Returns whether it
/// wrote.
pub async fn publish(
    clusters: &Api<Cluster>,
    registration: &Registration,
    observed: &Observation,
) -> Result<bool, Error> {
    let name = &registration.name;
    let mut cluster = clusters
        .get(name)
        .await
        .map_err(|source| Error::ReadCluster {
            cluster: name.clone(),
            source,
        })?;
    let current = cluster.status.clone().unwrap_or_default();
    let next = next_status(&current, observed, Timestamp::now());
    if next == current {
        return Ok(false);
    }
    cluster.status = Some(next);
    // The object carries its resourceVersion, so a concurrent writer makes this a conflict
    // and the next period starts over from a fresh read.
    clusters
        .replace_status(&cluster.name_any(), &PostParams::default(), &cluster)
        .await
        .map_err(|source| Error::WriteStatus {
            cluster: name.clone(),
            source,
        })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    fn healthy() -> Observation {
        Observation {
            health: Health::Healthy,
            kubernetes_version: Some("v1.33.0".into()),
            discovery: Some(Discovery {
                enablements: vec![ApiEnablement {
                    group_version: "v1".into(),
                    resources: vec![],
                }],
                failed: vec![],
            }),
            inventory: Some((
                NodeSummary {
                    total_num: Some(2),
                    ready_num: Some(2),
                },
                ResourceSummary::default(),
            )),
        }
    }

    fn condition<'a>(status: &'a ClusterStatus, type_: &str) -> &'a Condition {
        status.conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    #[test]
    fn healthy_member_fills_every_field() {
        let status = next_status(&ClusterStatus::default(), &healthy(), at(10));
        let ready = condition(&status, CONDITION_READY);
        assert_eq!(
            (
                ready.status.as_str(),
                ready.reason.as_str(),
                ready.message.as_str()
            ),
            ("True", REASON_READY, MESSAGE_READY)
        );
        assert_eq!(
            condition(&status, CONDITION_COMPLETE_API_ENABLEMENTS).reason,
            REASON_API_COMPLETE
        );
        assert_eq!(status.kubernetes_version.as_deref(), Some("v1.33.0"));
        assert_eq!(status.node_summary.unwrap().total_num, Some(2));
    }

    #[test]
    fn unchanged_observation_changes_nothing() {
        let first = next_status(&ClusterStatus::default(), &healthy(), at(10));
        assert_eq!(next_status(&first, &healthy(), at(20)), first);
    }

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let first = next_status(&ClusterStatus::default(), &healthy(), at(10));
        let down = Observation {
            health: Health::Unreachable("connection refused".into()),
            kubernetes_version: None,
            discovery: None,
            inventory: None,
        };
        let second = next_status(&first, &down, at(20));
        let ready = condition(&second, CONDITION_READY);
        assert_eq!(ready.status, "False");
        assert_eq!(ready.reason, REASON_NOT_REACHABLE);
        assert!(ready.message.contains("connection refused"));
        assert_eq!(ready.last_transition_time, Time(at(20)));
        // Everything else is the last known state.
        assert_eq!(second.node_summary, first.node_summary);
        assert_eq!(second.kubernetes_version, first.kubernetes_version);

        let unhealthy = Observation {
            health: Health::Unhealthy("/readyz answered 500".into()),
            ..down
        };
        let third = next_status(&second, &unhealthy, at(30));
        let ready = condition(&third, CONDITION_READY);
        assert_eq!(ready.reason, REASON_NOT_READY);
        assert_eq!(ready.last_transition_time, Time(at(20)));
    }

    #[test]
    fn other_controllers_conditions_are_kept() {
        let mut current = ClusterStatus::default();
        set_condition(
            &mut current.conditions,
            "ServiceDomainNameResolutionReady",
            ("True", "Resolved", String::new()),
            at(1),
        );
        let next = next_status(&current, &healthy(), at(10));
        assert_eq!(next.conditions.len(), 3);
        assert_eq!(next.conditions[0].type_, "ServiceDomainNameResolutionReady");
    }

    fn resource(name: &str, kind: &str) -> APIResource {
        APIResource {
            name: name.into(),
            kind: kind.into(),
            namespaced: true,
            singular_name: String::new(),
            verbs: vec![],
            ..Default::default()
        }
    }

    #[test]
    fn enablements_are_sorted_without_subresources_and_failures_named() {
        let list = |gv: &str, resources: Vec<APIResource>| APIResourceList {
            group_version: gv.into(),
            resources,
        };
        let discovery = enablements(vec![
            (
                "v1".into(),
                Ok(list(
                    "v1",
                    vec![
                        resource("pods/status", "Pod"),
                        resource("pods", "Pod"),
                        resource("configmaps", "ConfigMap"),
                    ],
                )),
            ),
            ("metrics.k8s.io/v1beta1".into(), Err("503".into())),
            (
                "apps/v1".into(),
                Ok(list("apps/v1", vec![resource("deployments", "Deployment")])),
            ),
        ]);
        let gvs: Vec<_> = discovery
            .enablements
            .iter()
            .map(|e| e.group_version.as_str())
            .collect();
        assert_eq!(gvs, ["apps/v1", "v1"]);
        let core: Vec<_> = discovery.enablements[1]
            .resources
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(core, ["configmaps", "pods"]);
        assert_eq!(discovery.failed, ["metrics.k8s.io/v1beta1 (503)"]);

        let partial = Observation {
            discovery: Some(discovery),
            ..healthy()
        };
        let status = next_status(&ClusterStatus::default(), &partial, at(1));
        let c = condition(&status, CONDITION_COMPLETE_API_ENABLEMENTS);
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", REASON_API_PARTIAL)
        );
        assert!(c.message.contains("metrics.k8s.io/v1beta1"));

        let empty = Observation {
            discovery: Some(enablements(vec![("v1".into(), Err("timeout".into()))])),
            ..healthy()
        };
        let status = next_status(&ClusterStatus::default(), &empty, at(1));
        assert_eq!(
            condition(&status, CONDITION_COMPLETE_API_ENABLEMENTS).reason,
            REASON_API_EMPTY
        );
    }
}
