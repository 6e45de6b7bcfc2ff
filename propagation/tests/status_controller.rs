//! Member status flows back: Work statuses become the binding's aggregatedStatus and
//! FullyApplied condition (the scheduler's Scheduled condition kept), and the binding's
//! aggregated status becomes the Deployment template's own status.

use std::time::{Duration, Instant};

use anyhow::bail;
use karmada_api::work::binding::{ClusterResourceBinding, ResourceBinding, ResourceHealth};
use karmada_api::work::work::Work;
use karmada_apiserver::server::{self, Backend, Config};
use karmada_propagation::{binding, status};
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Polls `check` every 50 ms until it holds, failing after 20 s with what it last saw.
async fn until<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Result<(), String>>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let last = match check().await? {
            Ok(()) => return Ok(()),
            Err(seen) => seen,
        };
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}; last saw {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn dynamic_api(
    client: &Client,
    api_version: &str,
    kind: &str,
    plural: &str,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

async fn create(client: &Client, plural: &str, object: Value) -> anyhow::Result<()> {
    let api = dynamic_api(
        client,
        object["apiVersion"].as_str().unwrap_or_default(),
        object["kind"].as_str().unwrap_or_default(),
        plural,
        object["metadata"]["namespace"].as_str(),
    );
    api.create(&PostParams::default(), &serde_json::from_value(object)?)
        .await?;
    Ok(())
}

/// The status a member's agent reports for its copy of a one-replica Deployment.
fn applied_status(namespace: &str, name: &str) -> Value {
    let condition = |type_: &str, reason: &str| {
        json!({
            "type": type_, "status": "True", "reason": reason, "message": "applied",
            "lastTransitionTime": "2026-01-01T00:00:00Z"
        })
    };
    json!({"status": {
        "conditions": [condition("Applied", "AppliedSuccessful")],
        "manifestStatuses": [{
            "identifier": {"ordinal": 0, "group": "apps", "version": "v1", "kind": "Deployment",
                           "resource": "deployments", "namespace": namespace, "name": name},
            "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1,
                       "generation": 1, "observedGeneration": 1, "resourceTemplateGeneration": 1},
            "health": "Healthy"
        }]
    }})
}

#[tokio::test]
async fn member_status_reaches_the_binding_and_the_template() -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    let config = Config {
        karmada_api: true,
        ..Config::new("127.0.0.1:0".parse()?, Backend::Memory)
    };
    let running = server::start(config, cancel.clone()).await?;
    let client = Client::try_from(kube::Config::new(running.url().parse()?))?;
    for cluster in ["member1", "member2"] {
        create(
            &client,
            "clusters",
            json!({
                "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
                "metadata": {"name": cluster, "labels": {"name": cluster}},
                "spec": {"syncMode": "Pull"},
            }),
        )
        .await?;
        create(&client, "namespaces", json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("karmada-es-{cluster}")}
        }))
        .await?;
    }
    create(
        &client,
        "namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
    )
    .await?;
    let binding_run = tokio::spawn(binding::controller::run(client.clone(), cancel.clone()));
    let status_run = tokio::spawn(status::controller::run(client.clone(), cancel.clone()));

    create(
        &client,
        "deployments",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
            }
        }),
    )
    .await?;
    create(&client, "resourcebindings", json!({
        "apiVersion": "work.karmada.io/v1alpha2", "kind": "ResourceBinding",
        "metadata": {
            "name": "web-deployment", "namespace": "shop",
            "labels": {"resourcebinding.karmada.io/permanent-id": "rb-web"},
            "finalizers": ["karmada.io/binding-controller"]
        },
        "spec": {
            "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"},
            "replicas": 2,
            "clusters": [{"name": "member1", "replicas": 1}, {"name": "member2", "replicas": 1}]
        }
    }))
    .await?;
    // The scheduler's condition, which the status controller must keep.
    let bindings: Api<ResourceBinding> = Api::namespaced(client.clone(), "shop");
    bindings
        .patch_status(
            "web-deployment",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [{
                "type": "Scheduled", "status": "True", "reason": "Success",
                "message": "Binding has been scheduled successfully.",
                "lastTransitionTime": "2026-01-01T00:00:00Z"
            }]}})),
        )
        .await?;

    let works: Api<Work> = Api::all(client.clone());
    let selector = ListParams::default().labels("resourcebinding.karmada.io/permanent-id=rb-web");
    until("two Works", || {
        let works = works.clone();
        let selector = selector.clone();
        async move {
            let n = works.list(&selector).await?.items.len();
            Ok(if n == 2 {
                Ok(())
            } else {
                Err(format!("{n} Works"))
            })
        }
    })
    .await?;
    // Before any member reports, FullyApplied is False.
    until("FullyApplied False", || {
        let bindings = bindings.clone();
        async move {
            let b = bindings.get("web-deployment").await?;
            let status = b.status.unwrap_or_default();
            Ok(match status.condition("FullyApplied") {
                Some(c) if c.status == "False" && status.aggregated_status.len() == 2 => Ok(()),
                other => Err(format!("{other:?}")),
            })
        }
    })
    .await?;

    for work in works.list(&selector).await?.items {
        let api: Api<Work> = Api::namespaced(client.clone(), &work.namespace().unwrap_or_default());
        api.patch_status(
            &work.name_any(),
            &PatchParams::default(),
            &Patch::Merge(applied_status("shop", "web")),
        )
        .await?;
    }

    until(
        "both clusters applied and healthy, FullyApplied True",
        || {
            let bindings = bindings.clone();
            async move {
                let status = bindings
                    .get("web-deployment")
                    .await?
                    .status
                    .unwrap_or_default();
                let items: Vec<(String, Option<bool>, Option<ResourceHealth>)> = status
                    .aggregated_status
                    .iter()
                    .map(|i| (i.cluster_name.clone(), i.applied, i.health))
                    .collect();
                let fully = status.condition("FullyApplied").map(|c| c.status.clone());
                let ok = items
                    == [
                        (
                            "member1".to_string(),
                            Some(true),
                            Some(ResourceHealth::Healthy),
                        ),
                        (
                            "member2".to_string(),
                            Some(true),
                            Some(ResourceHealth::Healthy),
                        ),
                    ]
                    && fully.as_deref() == Some("True");
                Ok(if ok {
                    Ok(())
                } else {
                    Err(format!("{items:?}, FullyApplied {fully:?}"))
                })
            }
        },
    )
    .await?;
    let status = bindings
        .get("web-deployment")
        .await?
        .status
        .unwrap_or_default();
    assert_eq!(
        status.condition("Scheduled").map(|c| c.reason.as_str()),
        Some("Success"),
        "the scheduler's condition is kept"
    );

    let deployments = dynamic_api(
        &client,
        "apps/v1",
        "Deployment",
        "deployments",
        Some("shop"),
    );
    until("the template's status summed", || {
        let deployments = deployments.clone();
        async move {
            let template = deployments.get("web").await?;
            let status = template.data.get("status").cloned().unwrap_or(Value::Null);
            Ok(
                if status["readyReplicas"] == json!(2) && status["observedGeneration"] == json!(1) {
                    Ok(())
                } else {
                    Err(status.to_string())
                },
            )
        }
    })
    .await?;

    cancel.cancel();
    binding_run.await?;
    status_run.await?;
    running.wait().await;
    Ok(())
}

#[tokio::test]
async fn a_cluster_resource_binding_reports_its_members() -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    let config = Config {
        karmada_api: true,
        ..Config::new("127.0.0.1:0".parse()?, Backend::Memory)
    };
    let running = server::start(config, cancel.clone()).await?;
    let client = Client::try_from(kube::Config::new(running.url().parse()?))?;
    create(&client, "namespaces", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "karmada-es-member1"}}))
        .await?;
    create(
        &client,
        "namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
    )
    .await?;
    let status_run = tokio::spawn(status::controller::run(client.clone(), cancel.clone()));
    create(&client, "clusterresourcebindings", json!({
        "apiVersion": "work.karmada.io/v1alpha2", "kind": "ClusterResourceBinding",
        "metadata": {"name": "team-a-namespace", "labels": {"clusterresourcebinding.karmada.io/permanent-id": "crb-ns"}},
        "spec": {
            "resource": {"apiVersion": "v1", "kind": "Namespace", "name": "team-a"},
            "clusters": [{"name": "member1"}]
        }
    }))
    .await?;
    // The Work as the binding controller would write it, already applied by the member.
    create(&client, "works", json!({
        "apiVersion": "work.karmada.io/v1alpha1", "kind": "Work",
        "metadata": {
            "name": "team-a", "namespace": "karmada-es-member1",
            "labels": {"clusterresourcebinding.karmada.io/permanent-id": "crb-ns"},
            "annotations": {"clusterresourcebinding.karmada.io/name": "team-a-namespace"}
        },
        "spec": {"workload": {"manifests": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}]}}
    }))
    .await?;
    let works: Api<Work> = Api::namespaced(client.clone(), "karmada-es-member1");
    works
        .patch_status("team-a", &PatchParams::default(), &Patch::Merge(json!({"status": {"conditions": [{
            "type": "Applied", "status": "True", "reason": "AppliedSuccessful", "message": "applied",
            "lastTransitionTime": "2026-01-01T00:00:00Z"
        }]}})))
        .await?;

    let bindings: Api<ClusterResourceBinding> = Api::all(client.clone());
    until("member1 applied and FullyApplied True", || {
        let bindings = bindings.clone();
        async move {
            let status = bindings
                .get("team-a-namespace")
                .await?
                .status
                .unwrap_or_default();
            let applied: Vec<(String, Option<bool>)> = status
                .aggregated_status
                .iter()
                .map(|i| (i.cluster_name.clone(), i.applied))
                .collect();
            let fully = status.condition("FullyApplied").map(|c| c.status.clone());
            Ok(
                if applied == [("member1".to_string(), Some(true))]
                    && fully.as_deref() == Some("True")
                {
                    Ok(())
                } else {
                    Err(format!("{applied:?}, FullyApplied {fully:?}"))
                },
            )
        }
    })
    .await?;

    cancel.cancel();
    status_run.await?;
    running.wait().await;
    Ok(())
}
