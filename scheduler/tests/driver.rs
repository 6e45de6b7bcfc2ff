//! The scheduler driver against an in-process federation apiserver: bindings get their
//! clusters, follow placement and replica changes, keep what runs when nothing fits, and
//! Duplicated bindings pick up new clusters.

use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use karmada_api::cluster::{Cluster, ESTIMATOR_ADDRESS_ANNOTATION};
use karmada_api::work::binding::{ClusterResourceBinding, ResourceBinding, TargetCluster};
use karmada_apiserver::server;
use karmada_estimator::proto::estimator_server::Estimator;
use karmada_estimator::proto::{
    MaxAvailableReplicasRequest, MaxAvailableReplicasResponse, UnschedulableReplicasRequest,
    UnschedulableReplicasResponse,
};
use karmada_estimator::tonic;
use karmada_runtime::testing;
use karmada_scheduler::driver;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// How long a test waits for a state before failing.
const DEADLINE: Duration = Duration::from_secs(20);

fn from<T: DeserializeOwned>(value: Value) -> anyhow::Result<T> {
    Ok(serde_json::from_value(value)?)
}

/// Creates a cluster with `labels` that serves Deployments and ClusterRoles and has room for
/// 100 pods; the status goes through its subresource, as the cluster status controller
/// writes it.
async fn cluster(client: &Client, name: &str, labels: Value) -> anyhow::Result<()> {
    let api: Api<Cluster> = Api::all(client.clone());
    let cluster = from(json!({
        "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": name, "labels": labels},
        "spec": {"syncMode": "Push"},
    }))?;
    api.create(&PostParams::default(), &cluster).await?;
    let status = json!({"status": {
        "apiEnablements": [
            {"groupVersion": "apps/v1", "resources": [{"name": "deployments", "kind": "Deployment"}]},
            {"groupVersion": "rbac.authorization.k8s.io/v1",
             "resources": [{"name": "clusterroles", "kind": "ClusterRole"}]},
        ],
        "resourceSummary": {"allocatable": {"pods": "100", "cpu": "10", "memory": "20Gi"}},
    }});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

/// A federation with member1 (tier=web), member2 and member3 (tier=web) and namespace `shop`,
/// until the returned token is cancelled.
async fn bare_federation() -> anyhow::Result<(server::Running, Client, CancellationToken)> {
    let testing::Apiserver {
        running,
        client,
        cancel,
    } = testing::federation().await?;
    for (name, labels) in [
        ("member1", json!({"tier": "web"})),
        ("member2", json!({})),
        ("member3", json!({"tier": "web"})),
    ] {
        cluster(&client, name, labels).await?;
    }
    let shop: Namespace = from(json!({"metadata": {"name": "shop"}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &shop)
        .await?;
    Ok((running, client, cancel))
}

/// [`bare_federation`] with the scheduler running.
async fn federation() -> anyhow::Result<(server::Running, Client, CancellationToken)> {
    let (running, client, cancel) = bare_federation().await?;
    tokio::spawn(driver::run(client.clone(), cancel.child_token()));
    Ok((running, client, cancel))
}

/// A binding of Deployment shop/`name` with `replicas` and `placement`.
fn deployment_binding(
    name: &str,
    replicas: i32,
    placement: &Value,
) -> anyhow::Result<ResourceBinding> {
    from(json!({
        "apiVersion": "work.karmada.io/v1alpha2", "kind": "ResourceBinding",
        "metadata": {"name": format!("{name}-deployment"), "namespace": "shop"},
        "spec": {
            "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop",
                         "name": name, "uid": format!("uid-{name}")},
            "replicas": replicas,
            "placement": placement,
        },
    }))
}

/// Static 1:1 weights over member1 and member2, limited to `names`.
fn weighted(names: &[&str]) -> Value {
    json!({
        "clusterAffinity": {"clusterNames": names},
        "replicaScheduling": {
            "replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Weighted",
            "weightPreference": {"staticWeightList": [
                {"targetCluster": {"clusterNames": ["member1"]}, "weight": 1},
                {"targetCluster": {"clusterNames": ["member2"]}, "weight": 1},
            ]},
        },
    })
}

/// Weights by available replicas over `names`.
fn dynamic(names: &[&str]) -> Value {
    json!({
        "clusterAffinity": {"clusterNames": names},
        "replicaScheduling": {
            "replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Weighted",
            "weightPreference": {"dynamicWeight": "AvailableReplicas"},
        },
    })
}

fn targets(clusters: &[TargetCluster]) -> Vec<(String, i32)> {
    let mut seen: Vec<(String, i32)> = clusters
        .iter()
        .map(|c| (c.name.clone(), c.replicas.unwrap_or(0)))
        .collect();
    seen.sort();
    seen
}

fn scheduled_condition(binding: &ResourceBinding) -> Option<Condition> {
    binding
        .status
        .as_ref()?
        .condition(karmada_api::work::binding::SCHEDULED_CONDITION)
        .cloned()
}

/// Waits until the binding is scheduled onto `want` for its current generation.
async fn placed(
    api: &Api<ResourceBinding>,
    name: &str,
    want: &[(&str, i32)],
) -> anyhow::Result<ResourceBinding> {
    let want: Vec<(String, i32)> = want.iter().map(|(n, r)| (n.to_string(), *r)).collect();
    testing::until(
        &format!("{name} scheduled onto {want:?}"),
        DEADLINE,
        || async {
            let binding = api.get(name).await?;
            let seen = targets(&binding.spec.clusters);
            let condition = scheduled_condition(&binding);
            let observed = binding
                .status
                .as_ref()
                .and_then(|s| s.scheduler_observed_generation);
            let settled = seen == want
                && condition
                    .as_ref()
                    .is_some_and(|c| c.status == "True" && c.reason == "Success")
                && observed == binding.metadata.generation;
            Ok(if settled {
                Ok(binding)
            } else {
                Err(format!(
                    "{seen:?}, {condition:?}, observed generation {observed:?}"
                ))
            })
        },
    )
    .await
}

#[tokio::test]
async fn divided_bindings_follow_placement_and_replica_changes_and_keep_running_when_nothing_fits()
-> anyhow::Result<()> {
    let (_running, client, cancel) = federation().await?;
    let api: Api<ResourceBinding> = Api::namespaced(client.clone(), "shop");
    let name = "nginx-deployment";
    let binding = deployment_binding("nginx", 2, &weighted(&["member1", "member2"]))?;
    api.create(&PostParams::default(), &binding).await?;

    let first = placed(&api, name, &[("member1", 1), ("member2", 1)]).await?;
    let scheduled = scheduled_condition(&first).context("a Scheduled condition")?;
    assert_eq!(
        scheduled.message,
        "Binding has been scheduled successfully."
    );
    assert!(
        first
            .status
            .as_ref()
            .and_then(|s| s.last_scheduled_time.as_ref())
            .is_some()
    );
    let applied = first
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(driver::decide::APPLIED_PLACEMENT_ANNOTATION));
    assert_eq!(
        applied
            .map(|a| serde_json::from_str::<Value>(a))
            .transpose()?,
        Some(weighted(&["member1", "member2"])),
        "the applied placement is recorded"
    );

    // Another controller's condition survives every status write of the scheduler.
    let fully_applied = json!({"status": {"conditions": [
        scheduled,
        {"type": "FullyApplied", "status": "True", "reason": "FullyAppliedSuccess",
         "message": "All works have been successfully applied", "lastTransitionTime": "2026-01-01T00:00:00Z"},
    ]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&fully_applied))
        .await?;

    let scale = json!({"spec": {"replicas": 4}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&scale))
        .await?;
    placed(&api, name, &[("member1", 2), ("member2", 2)]).await?;

    let narrow = json!({"spec": {"placement": weighted(&["member1"])}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&narrow))
        .await?;
    let narrowed = placed(&api, name, &[("member1", 4)]).await?;
    let since = scheduled_condition(&narrowed)
        .context("Scheduled")?
        .last_transition_time;

    let impossible = json!({"spec": {"placement": {
        // A merge patch: drop the names so only the selector is left.
        "clusterAffinity": {"clusterNames": null, "labelSelector": {"matchLabels": {"tier": "gpu"}}},
    }}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&impossible))
        .await?;
    let failed = testing::until("Scheduled False with NoClusterFit", DEADLINE, || async {
        let binding = api.get(name).await?;
        let condition = scheduled_condition(&binding);
        Ok(match &condition {
            Some(c) if c.status == "False" => Ok(binding),
            _ => Err(format!("{condition:?}")),
        })
    })
    .await?;
    let condition = scheduled_condition(&failed).context("Scheduled")?;
    assert_eq!(condition.reason, "NoClusterFit");
    assert!(
        condition.message.starts_with("0/3 clusters are available"),
        "{}",
        condition.message
    );
    assert!(condition.last_transition_time.0 >= since.0);
    assert_eq!(
        targets(&failed.spec.clusters),
        [("member1".to_string(), 4)],
        "what runs keeps running"
    );
    let status = failed.status.as_ref().context("status")?;
    assert!(
        status.condition("FullyApplied").is_some(),
        "the scheduler keeps other conditions: {:?}",
        status.conditions
    );
    assert!(
        status.scheduler_observed_generation < failed.metadata.generation,
        "a failed cycle does not claim the generation"
    );

    // Both the binding and the Deployment tell what happened.
    let events: Api<Event> = Api::namespaced(client.clone(), "shop");
    testing::until(
        "schedule events on the binding and the Deployment",
        DEADLINE,
        || async {
            let list = events.list(&ListParams::default()).await?;
            let about = |kind: &str, reason: &str| {
                list.items.iter().any(|e| {
                    e.reason.as_deref() == Some(reason)
                        && e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some(kind)
                })
            };
            let seen = [
                about("ResourceBinding", "ScheduleBindingSucceed"),
                about("Deployment", "ScheduleBindingSucceed"),
                about("ResourceBinding", "ScheduleBindingFailed"),
                about("Deployment", "ScheduleBindingFailed"),
            ];
            Ok(if seen.iter().all(|s| *s) {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            })
        },
    )
    .await?;

    // Once a cluster matches, the binding schedules again without any edit to it.
    let relabel = json!({"metadata": {"labels": {"tier": "gpu"}}});
    Api::<Cluster>::all(client.clone())
        .patch("member2", &PatchParams::default(), &Patch::Merge(&relabel))
        .await?;
    placed(&api, name, &[("member2", 4)]).await?;
    cancel.cancel();
    Ok(())
}

#[tokio::test]
async fn duplicated_bindings_pick_up_new_matching_clusters() -> anyhow::Result<()> {
    let (_running, client, cancel) = federation().await?;
    let api: Api<ResourceBinding> = Api::namespaced(client.clone(), "shop");
    let placement = json!({"clusterAffinity": {"labelSelector": {"matchLabels": {"tier": "web"}}}});
    let binding = deployment_binding("web", 3, &placement)?;
    api.create(&PostParams::default(), &binding).await?;
    placed(&api, "web-deployment", &[("member1", 3), ("member3", 3)]).await?;

    cluster(&client, "member4", json!({"tier": "web"})).await?;
    placed(
        &api,
        "web-deployment",
        &[("member1", 3), ("member3", 3), ("member4", 3)],
    )
    .await?;
    cancel.cancel();
    Ok(())
}

#[tokio::test]
async fn cluster_resource_bindings_are_scheduled_too() -> anyhow::Result<()> {
    let (_running, client, cancel) = federation().await?;
    let api: Api<ClusterResourceBinding> = Api::all(client.clone());
    let binding: ClusterResourceBinding = from(json!({
        "apiVersion": "work.karmada.io/v1alpha2", "kind": "ClusterResourceBinding",
        "metadata": {"name": "reader-clusterrole"},
        "spec": {
            "resource": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                         "name": "reader", "uid": "uid-reader"},
            "placement": {"clusterAffinity": {"clusterNames": ["member2", "member3"]}},
        },
    }))?;
    api.create(&PostParams::default(), &binding).await?;
    testing::until(
        "the ClusterRole scheduled onto member2 and member3",
        DEADLINE,
        || async {
            let binding = api.get("reader-clusterrole").await?;
            let mut names: Vec<String> = binding
                .spec
                .clusters
                .iter()
                .map(|c| c.name.clone())
                .collect();
            names.sort();
            let scheduled = binding
                .status
                .as_ref()
                .and_then(|s| s.condition("Scheduled"))
                .is_some_and(|c| c.status == "True");
            Ok(if names == ["member2", "member3"] && scheduled {
                Ok(())
            } else {
                Err(format!("{names:?}, scheduled: {scheduled}"))
            })
        },
    )
    .await?;
    cancel.cancel();
    Ok(())
}

/// A WorkloadRebalancer's cue: `rescheduleTriggeredAt` after the last schedule divides the
/// replicas afresh by today's room instead of keeping the current split.
#[tokio::test]
async fn a_reschedule_trigger_divides_dynamic_weights_afresh() -> anyhow::Result<()> {
    let (_running, client, cancel) = federation().await?;
    let api: Api<ResourceBinding> = Api::namespaced(client.clone(), "shop");
    let name = "web-deployment";
    api.create(
        &PostParams::default(),
        &deployment_binding("web", 6, &dynamic(&["member1", "member2"]))?,
    )
    .await?;
    let first = placed(&api, name, &[("member1", 3), ("member2", 3)]).await?;

    // member2 fills up: a capacity change alone moves nothing that runs.
    let full = json!({"status": {"resourceSummary": {
        "allocatable": {"pods": "100", "cpu": "10", "memory": "20Gi"},
        "allocated": {"pods": "98"},
    }}});
    Api::<Cluster>::all(client.clone())
        .patch_status("member2", &PatchParams::default(), &Patch::Merge(&full))
        .await?;
    let last = first
        .status
        .as_ref()
        .and_then(|s| s.last_scheduled_time.clone())
        .context("lastScheduledTime")?;

    // The trigger must be later than the last schedule, and times have second precision:
    // wait for the next second (a rebalancer's creation time is always in the past).
    let at = testing::until("the clock to pass the last schedule", DEADLINE, || async {
        let now = jiff::Timestamp::now();
        Ok(if now.as_second() > last.0.as_second() {
            Ok(jiff::Timestamp::from_second(now.as_second())?)
        } else {
            Err(format!("{now} is within the second of {}", last.0))
        })
    })
    .await?;
    let trigger = json!({"spec": {"rescheduleTriggeredAt": at.to_string()}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&trigger))
        .await?;
    let fresh = placed(&api, name, &[("member1", 6)]).await?;
    let scheduled_at = fresh
        .status
        .as_ref()
        .and_then(|s| s.last_scheduled_time.as_ref())
        .context("lastScheduledTime")?;
    assert!(
        scheduled_at.0 >= at,
        "{scheduled_at:?} is before the trigger {at}"
    );
    cancel.cancel();
    Ok(())
}

/// An estimator that answers a fixed number for its cluster, as an agent's would.
struct FixedEstimator {
    cluster: &'static str,
    replicas: i32,
}

#[karmada_estimator::tonic::async_trait]
impl Estimator for FixedEstimator {
    async fn max_available_replicas(
        &self,
        request: tonic::Request<MaxAvailableReplicasRequest>,
    ) -> Result<tonic::Response<MaxAvailableReplicasResponse>, tonic::Status> {
        if request.get_ref().cluster != self.cluster {
            return Err(tonic::Status::invalid_argument("another cluster"));
        }
        Ok(tonic::Response::new(MaxAvailableReplicasResponse {
            max_replicas: self.replicas,
        }))
    }

    async fn get_unschedulable_replicas(
        &self,
        _request: tonic::Request<UnschedulableReplicasRequest>,
    ) -> Result<tonic::Response<UnschedulableReplicasResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("not needed by the scheduler"))
    }
}

/// Clusters whose agents advertise an estimator get the lower of its answer and the summary's
/// room: both summaries say 100 pods, the estimators (node by node) say 2 and 4, so 6 replicas
/// divide 2:4 instead of 3:3.
#[tokio::test]
async fn estimator_answers_lower_the_room_of_dynamic_weights() -> anyhow::Result<()> {
    let (_running, client, cancel) = bare_federation().await?;
    for (cluster, replicas) in [("member1", 2), ("member2", 4)] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let stop = cancel.child_token();
        tokio::spawn(karmada_estimator::server::serve(
            listener,
            FixedEstimator { cluster, replicas },
            async move { stop.cancelled().await },
        ));
        let advertise = json!({"metadata": {"annotations": {ESTIMATOR_ADDRESS_ANNOTATION: addr}}});
        Api::<Cluster>::all(client.clone())
            .patch(cluster, &PatchParams::default(), &Patch::Merge(&advertise))
            .await?;
    }
    // Started after the clusters advertise, so the first cycle already asks the estimators.
    tokio::spawn(driver::run(client.clone(), cancel.child_token()));

    let api: Api<ResourceBinding> = Api::namespaced(client.clone(), "shop");
    api.create(
        &PostParams::default(),
        &deployment_binding("web", 6, &dynamic(&["member1", "member2"]))?,
    )
    .await?;
    placed(&api, "web-deployment", &[("member1", 2), ("member2", 4)]).await?;
    cancel.cancel();
    Ok(())
}

/// Bindings waiting when the scheduler starts are scheduled higher
/// `spec.schedulePriority.priority` first, whatever order they were created in; one worker
/// makes the order observable.
#[tokio::test]
async fn waiting_bindings_are_scheduled_by_priority() -> anyhow::Result<()> {
    let (_running, client, cancel) = bare_federation().await?;
    let api: Api<ResourceBinding> = Api::namespaced(client.clone(), "shop");
    let placement = json!({"clusterAffinity": {"clusterNames": ["member1"]}});
    for (name, priority) in [
        ("low", Some(-5)),
        ("plain", None),
        ("mid", Some(3)),
        ("high", Some(10)),
    ] {
        let mut binding = deployment_binding(name, 1, &placement)?;
        binding.spec.schedule_priority =
            priority.map(|priority| karmada_api::work::binding::SchedulePriority {
                priority: Some(priority),
            });
        api.create(&PostParams::default(), &binding).await?;
    }

    // Every write reaches the watch in commit order; start the scheduler once it is listening.
    let mut events = Box::pin(watcher(api.clone(), watcher::Config::default()));
    let mut order: Vec<String> = Vec::new();
    let mut started = false;
    while order.len() < 4 {
        let event = tokio::time::timeout(DEADLINE, events.next())
            .await
            .with_context(|| format!("all four bindings scheduled; saw {order:?}"))?
            .context("the watch ended")??;
        match event {
            watcher::Event::InitDone if !started => {
                started = true;
                tokio::spawn(driver::run_with_workers(
                    client.clone(),
                    cancel.child_token(),
                    1,
                ));
            }
            watcher::Event::Apply(binding) if !binding.spec.clusters.is_empty() => {
                let name = binding.name_any();
                if !order.contains(&name) {
                    order.push(name);
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        order,
        [
            "high-deployment",
            "mid-deployment",
            "plain-deployment",
            "low-deployment"
        ]
    );
    cancel.cancel();
    Ok(())
}
