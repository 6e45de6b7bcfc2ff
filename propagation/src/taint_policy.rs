//! ClusterTaintPolicy: taints put on and taken off clusters as their status conditions change,
//! as Karmada's taint-policy controller does. Two built-in policies give a cluster whose Ready
//! condition is False or Unknown the NoExecute taint (`cluster.karmada.io/not-ready` or
//! `cluster.karmada.io/unreachable`) that the taint manager evicts workloads on; they are
//! ordinary objects labelled [`BUILT_IN_LABEL`], and `--default-taint-policies=false` on the
//! controller-manager removes them.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use karmada_api::cluster::{CONDITION_READY, Cluster};
use karmada_api::policy::matching::cluster_matches;
use karmada_api::policy::taint::{
    ClusterTaintPolicy, ClusterTaintPolicySpec, MatchCondition, PolicyTaint,
};
use karmada_runtime::Backoff;
use karmada_runtime::conflict::{self, write_fresh};
use karmada_runtime::controller::{Backed, run_with_backoff};
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::cluster_health::{NOT_READY_TAINT, UNREACHABLE_TAINT};

const CONTROLLER: &str = "cluster-taint-policy";
/// Label of the built-in policies (value `"true"`).
pub const BUILT_IN_LABEL: &str = "policy.karmada.io/built-in";
/// Name of the built-in policy for clusters whose Ready condition is False.
pub const NOT_READY_POLICY: &str = "karmada-not-ready-no-execute";
/// Name of the built-in policy for clusters whose Ready condition is Unknown.
pub const UNREACHABLE_POLICY: &str = "karmada-unreachable-no-execute";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cluster {cluster}: cannot write its taints: {source}")]
    Write {
        cluster: String,
        #[source]
        source: conflict::Error,
    },
}

/// The built-in policies: NoExecute `not-ready` while Ready is False, NoExecute `unreachable`
/// while Ready is Unknown, each taken off when Ready leaves that status.
pub fn built_in() -> Vec<ClusterTaintPolicy> {
    [
        (NOT_READY_POLICY, NOT_READY_TAINT, "False"),
        (UNREACHABLE_POLICY, UNREACHABLE_TAINT, "Unknown"),
    ]
    .into_iter()
    .map(|(name, key, status)| {
        let ready = |operator: &str| MatchCondition {
            condition_type: CONDITION_READY.into(),
            operator: operator.into(),
            status_values: vec![status.into()],
        };
        ClusterTaintPolicy {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some([(BUILT_IN_LABEL.to_string(), "true".to_string())].into()),
                ..ObjectMeta::default()
            },
            spec: ClusterTaintPolicySpec {
                target_clusters: None,
                add_on_conditions: vec![ready("In")],
                remove_on_conditions: vec![ready("NotIn")],
                taints: vec![PolicyTaint {
                    key: key.into(),
                    effect: "NoExecute".into(),
                    value: None,
                }],
            },
        }
    })
    .collect()
}

/// The taints `cluster` carries once `policies` are applied at `now`, in name order. A policy
/// whose target matches and whose add conditions all hold adds its taints (a taint already
/// there keeps its `timeAdded`, and takes the policy's value); otherwise, when its remove
/// conditions all hold, it removes them. An empty condition list never holds.
pub fn apply(
    cluster: &Cluster,
    policies: &[Arc<ClusterTaintPolicy>],
    now: Timestamp,
) -> Vec<Taint> {
    let mut policies: Vec<&ClusterTaintPolicy> = policies.iter().map(AsRef::as_ref).collect();
    policies.sort_by_key(|p| p.name_any());
    let conditions = cluster
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let status_of = |type_: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == type_)
            .map(|c| c.status.as_str())
    };
    let hold = |wanted: &[MatchCondition]| {
        !wanted.is_empty()
            && wanted
                .iter()
                .all(|c| c.matches(status_of(&c.condition_type)))
    };
    let mut taints = cluster.spec.taints.clone();
    for policy in policies {
        if policy.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let spec = &policy.spec;
        if let Some(target) = &spec.target_clusters
            && !cluster_matches(target, cluster)
        {
            continue;
        }
        let same = |t: &Taint, p: &PolicyTaint| t.key == p.key && t.effect == p.effect;
        if hold(&spec.add_on_conditions) {
            for wanted in &spec.taints {
                match taints.iter_mut().find(|t| same(t, wanted)) {
                    Some(existing) => existing.value.clone_from(&wanted.value),
                    None => taints.push(Taint {
                        key: wanted.key.clone(),
                        effect: wanted.effect.clone(),
                        value: wanted.value.clone(),
                        time_added: Some(Time(now)),
                    }),
                }
            }
        } else if hold(&spec.remove_on_conditions) {
            taints.retain(|t| !spec.taints.iter().any(|p| same(t, p)));
        }
    }
    taints
}

struct Context {
    client: Client,
    policies: Store<ClusterTaintPolicy>,
    backoff: Backoff,
}

impl Backed for Context {
    fn backoff(&self) -> &Backoff {
        &self.backoff
    }
}

/// Creates (`built_in`) or removes the built-in policies, then keeps every cluster's taints in
/// line with the policies until `cancel`.
pub async fn run(client: Client, built_in_policies: bool, cancel: CancellationToken) {
    if let Err(e) = ensure_built_in(&client, built_in_policies).await {
        tracing::warn!(error = %e, "cannot set up the built-in ClusterTaintPolicies; continuing");
    }
    let (policies, writer) = reflector::store::<ClusterTaintPolicy>();
    let policy_changes = reflector::reflector(
        writer,
        watcher(
            Api::<ClusterTaintPolicy>::all(client.clone()),
            watcher::Config::default(),
        ),
    )
    .default_backoff()
    .touched_objects()
    .filter_map(|r| async move { r.ok().map(|_| ()) });
    let ctx = Arc::new(Context {
        client: client.clone(),
        policies,
        backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(30)),
    });
    let controller = Controller::new(Api::<Cluster>::all(client), watcher::Config::default())
        .reconcile_all_on(policy_changes)
        .graceful_shutdown_on(async move { cancel.cancelled().await });
    run_with_backoff(controller, CONTROLLER, ctx, reconcile).await;
}

async fn ensure_built_in(client: &Client, wanted: bool) -> Result<(), kube::Error> {
    let api: Api<ClusterTaintPolicy> = Api::all(client.clone());
    if wanted {
        for policy in built_in() {
            match api.create(&PostParams::default(), &policy).await {
                Ok(_) => {
                    tracing::info!(policy = %policy.name_any(), "built-in ClusterTaintPolicy created");
                }
                // Kept as the operator may have edited it.
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(());
    }
    let labelled = ListParams::default().labels(&format!("{BUILT_IN_LABEL}=true"));
    for policy in api.list(&labelled).await? {
        match api
            .delete(&policy.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {
                tracing::info!(policy = %policy.name_any(), "built-in ClusterTaintPolicy removed");
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn reconcile(cluster: Arc<Cluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    if cluster.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = cluster.name_any();
    let api: Api<Cluster> = Api::all(ctx.client.clone());
    let policies = ctx.policies.state();
    write_fresh(
        (*cluster).clone(),
        5,
        |mut current: Cluster| {
            let (api, name) = (api.clone(), name.clone());
            let taints = apply(&current, &policies, Timestamp::now());
            async move {
                if taints == current.spec.taints {
                    return Ok(());
                }
                describe_change(&name, &current.spec.taints, &taints);
                current.spec.taints = taints;
                api.replace(&name, &PostParams::default(), &current)
                    .await
                    .map(drop)
            }
        },
        || api.get(&name),
    )
    .await
    .map_err(|source| Error::Write {
        cluster: name.clone(),
        source,
    })?;
    Ok(Action::await_change())
}

fn describe_change(cluster: &str, before: &[Taint], after: &[Taint]) {
    let show = |t: &Taint| format!("{}:{}", t.key, t.effect);
    for added in after.iter().filter(|t| !before.contains(t)) {
        tracing::info!(cluster, taint = %show(added), "cluster tainted by a ClusterTaintPolicy");
    }
    for removed in before
        .iter()
        .filter(|t| !after.iter().any(|a| a.key == t.key && a.effect == t.effect))
    {
        tracing::info!(cluster, taint = %show(removed), "cluster taint lifted by a ClusterTaintPolicy");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn cluster(conditions: &[(&str, &str)], taints: Value, labels: Value) -> Cluster {
        let conditions: Vec<Value> = conditions
            .iter()
            .map(|(type_, status)| {
                json!({"type": type_, "status": status, "reason": "R", "message": "",
                       "lastTransitionTime": at(0).to_string()})
            })
            .collect();
        let mut object = json!({
            "metadata": {"name": "member1"},
            "spec": {"syncMode": "Pull"},
            "status": {"conditions": conditions},
        });
        object["metadata"]["labels"] = labels;
        object["spec"]["taints"] = taints;
        serde_json::from_value(object).unwrap()
    }

    fn policy(spec: Value) -> Arc<ClusterTaintPolicy> {
        let mut object = json!({
            "apiVersion": "policy.karmada.io/v1alpha1",
            "kind": "ClusterTaintPolicy",
            "metadata": {"name": "p"},
        });
        object["spec"] = spec;
        Arc::new(serde_json::from_value(object).unwrap())
    }

    fn shown(taints: &[Taint]) -> Vec<String> {
        taints
            .iter()
            .map(|t| {
                format!(
                    "{}={}:{}",
                    t.key,
                    t.value.as_deref().unwrap_or(""),
                    t.effect
                )
            })
            .collect()
    }

    fn built_ins() -> Vec<Arc<ClusterTaintPolicy>> {
        built_in().into_iter().map(Arc::new).collect()
    }

    #[test]
    fn the_built_in_policies_follow_the_ready_condition() {
        let none = json!([]);
        let cases: [(&str, Vec<&str>); 3] = [
            ("True", vec![]),
            ("False", vec!["cluster.karmada.io/not-ready=:NoExecute"]),
            ("Unknown", vec!["cluster.karmada.io/unreachable=:NoExecute"]),
        ];
        for (ready, want) in cases {
            let c = cluster(&[("Ready", ready)], none.clone(), json!({}));
            assert_eq!(
                shown(&apply(&c, &built_ins(), at(5))),
                want,
                "Ready {ready}"
            );
        }
        // False then Unknown: not-ready is lifted, unreachable added; back to True lifts all.
        let tainted = cluster(
            &[("Ready", "Unknown")],
            json!([{"key": NOT_READY_TAINT, "effect": "NoExecute", "timeAdded": at(1).to_string()}]),
            json!({}),
        );
        assert_eq!(
            shown(&apply(&tainted, &built_ins(), at(5))),
            ["cluster.karmada.io/unreachable=:NoExecute"]
        );
        let recovered = cluster(
            &[("Ready", "True")],
            json!([{"key": UNREACHABLE_TAINT, "effect": "NoExecute"},
                   {"key": UNREACHABLE_TAINT, "effect": "NoSchedule"}]),
            json!({}),
        );
        // The health controller's NoSchedule taint is not the policy's to lift.
        assert_eq!(
            shown(&apply(&recovered, &built_ins(), at(5))),
            ["cluster.karmada.io/unreachable=:NoSchedule"]
        );
    }

    #[test]
    fn an_added_taint_keeps_its_time_and_takes_the_policys_value() {
        let p = policy(json!({
            "addOnConditions": [{"conditionType": "Ready", "operator": "In", "statusValues": ["False"]}],
            "taints": [{"key": "k", "effect": "NoExecute", "value": "v2"}],
        }));
        let fresh = cluster(&[("Ready", "False")], json!([]), json!({}));
        let added = apply(&fresh, std::slice::from_ref(&p), at(7));
        assert_eq!(added[0].time_added, Some(Time(at(7))));
        let old = cluster(
            &[("Ready", "False")],
            json!([{"key": "k", "effect": "NoExecute", "value": "v1", "timeAdded": at(1).to_string()}]),
            json!({}),
        );
        let kept = apply(&old, &[p], at(7));
        assert_eq!(shown(&kept), ["k=v2:NoExecute"]);
        assert_eq!(kept[0].time_added, Some(Time(at(1))));
    }

    #[test]
    fn conditions_are_anded_and_an_empty_list_never_holds() {
        let p = policy(json!({
            "addOnConditions": [
                {"conditionType": "Ready", "operator": "In", "statusValues": ["False"]},
                {"conditionType": "NetworkReady", "operator": "NotIn", "statusValues": ["True"]},
            ],
            "taints": [{"key": "k", "effect": "NoSchedule"}],
        }));
        // Both hold (an absent condition counts as Unknown).
        let both = cluster(&[("Ready", "False")], json!([]), json!({}));
        assert_eq!(
            shown(&apply(&both, std::slice::from_ref(&p), at(0))),
            ["k=:NoSchedule"]
        );
        // One does not: nothing added, and with no remove conditions nothing removed.
        let one = cluster(
            &[("Ready", "False"), ("NetworkReady", "True")],
            json!([{"key": "k", "effect": "NoSchedule"}]),
            json!({}),
        );
        assert_eq!(shown(&apply(&one, &[p], at(0))), ["k=:NoSchedule"]);
    }

    #[test]
    fn only_target_clusters_are_touched() {
        let p = policy(json!({
            "targetClusters": {"labelSelector": {"matchLabels": {"tier": "edge"}}},
            "addOnConditions": [{"conditionType": "Ready", "operator": "In", "statusValues": ["False"]}],
            "taints": [{"key": "k", "effect": "NoExecute"}],
        }));
        let edge = cluster(&[("Ready", "False")], json!([]), json!({"tier": "edge"}));
        let core = cluster(&[("Ready", "False")], json!([]), json!({"tier": "core"}));
        assert_eq!(apply(&edge, std::slice::from_ref(&p), at(0)).len(), 1);
        assert!(apply(&core, &[p], at(0)).is_empty());
    }

    #[test]
    fn the_built_in_policies_pass_admission() {
        use karmada_api::validation::Admit as _;
        for p in built_in() {
            assert!(
                p.validate(None).is_empty(),
                "{}: {:?}",
                p.name_any(),
                p.validate(None)
            );
        }
    }
}
