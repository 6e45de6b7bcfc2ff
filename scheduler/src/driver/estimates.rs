//! Asks the member clusters' replica estimators (served by their agents and advertised on the
//! Cluster) how many replicas of a binding's shape fit, node by node; the core takes the lower
//! of that answer and its estimate from the Cluster's resource summary.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future;
use karmada_api::cluster::{Cluster, ESTIMATOR_ADDRESS_ANNOTATION};
use karmada_api::work::binding::{ReplicaRequirements, ResourceBindingSpec};
use karmada_estimator::Client;
use karmada_estimator::request::{self, MaxAvailableReplicas};
use kube::ResourceExt;

use crate::Strategy;

/// How long one estimator may take before its cluster counts as unknown; Karmada's default.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(3);
/// The answer for a cluster whose estimator did not answer: no limit from it.
const UNKNOWN: i32 = -1;

/// Connections to the estimators, by address, reused across cycles.
pub struct Estimators {
    clients: Mutex<HashMap<String, Client>>,
    deadline: Duration,
}

impl Estimators {
    pub fn new(deadline: Duration) -> Self {
        Estimators {
            clients: Mutex::new(HashMap::new()),
            deadline,
        }
    }

    /// Each advertising cluster's answer for `spec`, `None` when the binding's division does
    /// not depend on capacity or no cluster advertises an estimator.
    pub async fn available(
        &self,
        clusters: &[Arc<Cluster>],
        spec: &ResourceBindingSpec,
    ) -> Option<BTreeMap<String, i32>> {
        if !capacity_bound(spec) {
            return None;
        }
        let asks: Vec<_> = clusters
            .iter()
            .filter(|c| c.metadata.deletion_timestamp.is_none())
            .filter_map(|c| {
                Some((
                    c.name_any(),
                    c.annotations().get(ESTIMATOR_ADDRESS_ANNOTATION)?.clone(),
                ))
            })
            .collect();
        if asks.is_empty() {
            return None;
        }
        let answers = future::join_all(asks.into_iter().map(|(cluster, addr)| async move {
            let answer = self.ask(&cluster, &addr, spec).await;
            (cluster, answer)
        }))
        .await;
        Some(answers.into_iter().collect())
    }

    async fn ask(&self, cluster: &str, addr: &str, spec: &ResourceBindingSpec) -> i32 {
        let request = request(cluster, spec.replica_requirements.as_ref());
        let cached = self.clients.lock().ok().and_then(|c| c.get(addr).cloned());
        let client = match cached {
            Some(client) => client,
            None => match Client::connect(addr, self.deadline).await {
                Ok(client) => {
                    if let Ok(mut clients) = self.clients.lock() {
                        clients.insert(addr.to_string(), client.clone());
                    }
                    client
                }
                Err(e) => {
                    tracing::debug!(%cluster, error = %e, "scheduler: estimator unreachable");
                    return UNKNOWN;
                }
            },
        };
        match client.max_available_replicas(request).await {
            Ok(replicas) => replicas,
            Err(e) => {
                tracing::debug!(%cluster, error = %e, "scheduler: estimator did not answer");
                // A fresh connection next time: the agent may have restarted elsewhere.
                if let Ok(mut clients) = self.clients.lock() {
                    clients.remove(addr);
                }
                UNKNOWN
            }
        }
    }
}

/// Whether the division of `spec` depends on the clusters' room: replicas to place, divided
/// by available replicas (dynamic weights, aggregated) or selected under spread constraints.
pub fn capacity_bound(spec: &ResourceBindingSpec) -> bool {
    let Some(placement) = spec.placement.as_ref() else {
        return false;
    };
    if spec.replicas.unwrap_or(0) <= 0 {
        return false;
    }
    matches!(
        Strategy::of(placement),
        Strategy::DynamicWeight | Strategy::Aggregated
    ) || !placement.spread_constraints.is_empty()
}

/// The estimator request for one replica of `requirements` (none: the pod count alone).
pub fn request(cluster: &str, requirements: Option<&ReplicaRequirements>) -> MaxAvailableReplicas {
    let mut wanted = request::ReplicaRequirements::default();
    if let Some(r) = requirements {
        wanted.resource_request = r
            .resource_request
            .iter()
            .map(|(name, q)| (name.clone(), q.0.clone()))
            .collect();
        wanted.namespace = r.namespace.clone().unwrap_or_default();
        wanted.priority_class_name = r.priority_class_name.clone().unwrap_or_default();
        if let Some(claim) = &r.node_claim {
            wanted.node_selector = claim.node_selector.clone();
            wanted.tolerations = claim
                .tolerations
                .iter()
                .map(|t| request::Toleration {
                    key: t.key.clone(),
                    operator: t.operator.clone(),
                    value: t.value.clone(),
                    effect: t.effect.clone(),
                })
                .collect();
            wanted.node_affinity = claim
                .hard_node_affinity
                .iter()
                .flat_map(|selector| &selector.node_selector_terms)
                .map(|term| request::NodeSelectorTerm {
                    match_expressions: requirements_of(term.match_expressions.as_deref()),
                    match_fields: requirements_of(term.match_fields.as_deref()),
                })
                .collect();
        }
    }
    MaxAvailableReplicas {
        cluster: cluster.to_string(),
        requirements: wanted,
    }
}

fn requirements_of(
    list: Option<&[k8s_openapi::api::core::v1::NodeSelectorRequirement]>,
) -> Vec<request::NodeSelectorRequirement> {
    list.unwrap_or_default()
        .iter()
        .map(|r| request::NodeSelectorRequirement {
            key: r.key.clone(),
            operator: r.operator.clone(),
            values: r.values.clone().unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn spec(v: &Value) -> ResourceBindingSpec {
        serde_json::from_value(v.clone()).unwrap()
    }

    #[test]
    fn only_capacity_bound_divisions_ask_the_estimators() {
        let dynamic = json!({"replicaScheduling": {"replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Weighted",
            "weightPreference": {"dynamicWeight": "AvailableReplicas"}}});
        let aggregated = json!({"replicaScheduling": {"replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Aggregated"}});
        let static_weights = json!({"replicaScheduling": {"replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Weighted",
            "weightPreference": {"staticWeightList": [
                {"targetCluster": {"clusterNames": ["m1"]}, "weight": 1}]}}});
        let spread = json!({"spreadConstraints": [
            {"spreadByField": "region", "minGroups": 1, "maxGroups": 2}]});
        let resource = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"});
        for (placement, replicas, want) in [
            (&dynamic, 3, true),
            (&aggregated, 3, true),
            (&spread, 3, true),
            (&dynamic, 0, false),
            (&static_weights, 3, false),
            (&json!({}), 3, false),
        ] {
            let s =
                spec(&json!({"resource": resource, "replicas": replicas, "placement": placement}));
            assert_eq!(capacity_bound(&s), want, "{placement} x{replicas}");
        }
    }

    #[test]
    fn requirements_travel_whole() {
        let requirements: ReplicaRequirements = serde_json::from_value(json!({
            "resourceRequest": {"cpu": "500m", "memory": "1Gi"},
            "namespace": "shop",
            "priorityClassName": "high",
            "nodeClaim": {
                "nodeSelector": {"disk": "ssd"},
                "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "hardNodeAffinity": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a", "b"]}]}]},
            },
        }))
        .unwrap();
        let got = request("member1", Some(&requirements));
        assert_eq!(got.cluster, "member1");
        let r = &got.requirements;
        assert_eq!(r.resource_request["cpu"], "500m");
        assert_eq!(r.resource_request["memory"], "1Gi");
        assert_eq!(r.namespace, "shop");
        assert_eq!(r.priority_class_name, "high");
        assert_eq!(r.node_selector["disk"], "ssd");
        assert_eq!(r.tolerations[0].key.as_deref(), Some("gpu"));
        assert_eq!(r.tolerations[0].effect.as_deref(), Some("NoSchedule"));
        let term = &r.node_affinity[0];
        assert_eq!(term.match_expressions[0].key, "zone");
        assert_eq!(term.match_expressions[0].values, ["a", "b"]);
        assert!(term.match_fields.is_empty());

        let bare = request("member2", None);
        assert!(bare.requirements.resource_request.is_empty());
    }
}
