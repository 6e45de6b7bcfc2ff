//! Member status flows back: Work statuses become the binding's aggregatedStatus and
//! FullyApplied condition (the scheduler's Scheduled condition kept), and the binding's
//! aggregated status becomes the Deployment template's own status.

mod support;

use karmada_api::work::binding::{ClusterResourceBinding, ResourceBinding, ResourceHealth};
use karmada_api::work::work::Work;
use karmada_propagation::{binding, status};
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use support::{create, create_namespace, dynamic_api, federation, join, until};

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
    let fed = federation().await?;
    let client = fed.client.clone();
    for cluster in ["member1", "member2"] {
        join(&client, cluster, &[("name", cluster)]).await?;
    }
    create_namespace(&client, "shop").await?;
    let binding_run = tokio::spawn(binding::controller::run(client.clone(), fed.cancel.clone()));
    let status_run = tokio::spawn(status::controller::run(client.clone(), fed.cancel.clone()));

    create(
        &client,
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
    create(&client, json!({
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

    let deployments = dynamic_api(&client, "apps/v1", "Deployment", Some("shop")).await?;
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

    fed.cancel.cancel();
    binding_run.await?;
    status_run.await?;
    fed.running.wait().await;
    Ok(())
}

#[tokio::test]
async fn a_cluster_resource_binding_reports_its_members() -> anyhow::Result<()> {
    let fed = federation().await?;
    let client = fed.client.clone();
    create_namespace(&client, "karmada-es-member1").await?;
    create_namespace(&client, "team-a").await?;
    let status_run = tokio::spawn(status::controller::run(client.clone(), fed.cancel.clone()));
    create(&client, json!({
        "apiVersion": "work.karmada.io/v1alpha2", "kind": "ClusterResourceBinding",
        "metadata": {"name": "team-a-namespace", "labels": {"clusterresourcebinding.karmada.io/permanent-id": "crb-ns"}},
        "spec": {
            "resource": {"apiVersion": "v1", "kind": "Namespace", "name": "team-a"},
            "clusters": [{"name": "member1"}]
        }
    }))
    .await?;
    // The Work as the binding controller would write it, already applied by the member.
    create(&client, json!({
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

    fed.cancel.cancel();
    status_run.await?;
    fed.running.wait().await;
    Ok(())
}
