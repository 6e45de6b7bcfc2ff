//! The binding controller renders a binding into one Work per scheduled cluster (replicas
//! revised, overrides applied per cluster), drops Works of clusters removed from the schedule,
//! and on deletion removes every Work before releasing the binding.

mod support;

use karmada_api::cluster::Cluster;
use karmada_api::work::binding::{ClusterResourceBinding, ResourceBinding};
use karmada_api::work::work::{WORK_PERMANENT_ID_LABEL, Work};
use karmada_propagation::binding::controller;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

use support::{
    Federation, cluster_of, create, create_cluster, create_namespace, join, release_works, until,
};

/// A federation with clusters member1 (env=edge) and member2 (env=core) and their execution
/// namespaces, plus namespace `shop`.
async fn federation() -> anyhow::Result<Federation> {
    let fed = support::federation().await?;
    join(&fed.client, "member1", &[("env", "edge")]).await?;
    join(&fed.client, "member2", &[("env", "core")]).await?;
    create_namespace(&fed.client, "shop").await?;
    Ok(fed)
}

fn works_of(client: &Client, label: &str, id: &str) -> impl Fn() -> ListFuture {
    let api: Api<Work> = Api::all(client.clone());
    let selector = format!("{label}={id}");
    move || {
        let (api, selector) = (api.clone(), selector.clone());
        Box::pin(async move {
            Ok(api
                .list(&ListParams::default().labels(&selector))
                .await?
                .items)
        })
    }
}

type ListFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<Vec<Work>>> + Send>>;

#[tokio::test]
async fn a_resource_binding_becomes_one_work_per_cluster_with_its_overrides() -> anyhow::Result<()>
{
    let fed = federation().await?;
    let client = fed.client.clone();
    let run = tokio::spawn(controller::run(client.clone(), fed.cancel.clone()));

    create(
        &client,
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "nginx", "namespace": "shop", "labels": {"app": "nginx"}},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "nginx"}},
                "template": {
                    "metadata": {"labels": {"app": "nginx"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}
                }
            }
        }),
    )
    .await?;
    create(&client, json!({
        "apiVersion": "policy.karmada.io/v1alpha1", "kind": "OverridePolicy",
        "metadata": {"name": "edge", "namespace": "shop"},
        "spec": {
            "resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx"}],
            "overrideRules": [{
                "targetCluster": {"labelSelector": {"matchLabels": {"env": "edge"}}},
                "overriders": {
                    "labelsOverrider": [{"operator": "add", "value": {"tier": "edge"}}],
                    "imageOverrider": [{"component": "Registry", "operator": "replace", "value": "registry.edge.example"}]
                }
            }]
        }
    }))
    .await?;
    let bindings: Api<ResourceBinding> = Api::namespaced(client.clone(), "shop");
    create(&client, json!({
        "apiVersion": "work.karmada.io/v1alpha2", "kind": "ResourceBinding",
        "metadata": {
            "name": "nginx-deployment", "namespace": "shop",
            "labels": {"resourcebinding.karmada.io/permanent-id": "rb-1"},
            "finalizers": ["karmada.io/binding-controller"]
        },
        "spec": {
            "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "nginx"},
            "replicas": 3,
            "clusters": [{"name": "member1", "replicas": 2}, {"name": "member2", "replicas": 1}]
        }
    }))
    .await?;

    let list = works_of(&client, "resourcebinding.karmada.io/permanent-id", "rb-1");
    until("a Work per cluster", || {
        let works = list();
        async move {
            let works = works.await?;
            let mut clusters: Vec<String> = works.iter().map(cluster_of).collect();
            clusters.sort();
            Ok(if clusters == ["member1", "member2"] {
                Ok(())
            } else {
                Err(format!("{clusters:?}"))
            })
        }
    })
    .await?;
    for work in list().await? {
        let manifest = &work.spec.workload.manifests[0];
        let image = manifest["spec"]["template"]["spec"]["containers"][0]["image"].clone();
        let tier = manifest["metadata"]["labels"]["tier"].clone();
        assert!(!work.labels()[WORK_PERMANENT_ID_LABEL].is_empty());
        assert_eq!(
            work.annotations()["resourcebinding.karmada.io/name"],
            "nginx-deployment"
        );
        match cluster_of(&work).as_str() {
            "member1" => {
                assert_eq!(manifest["spec"]["replicas"], json!(2));
                assert_eq!(image, json!("registry.edge.example/nginx:1.25"));
                assert_eq!(tier, json!("edge"));
            }
            _ => {
                assert_eq!(manifest["spec"]["replicas"], json!(1));
                assert_eq!(image, json!("nginx:1.25"));
                assert_eq!(tier, Value::Null);
            }
        }
    }

    // A Work edited by hand is put back, keeping its permanent id.
    let member1 = list()
        .await?
        .into_iter()
        .find(|w| cluster_of(w) == "member1")
        .expect("member1");
    let id = member1.labels()[WORK_PERMANENT_ID_LABEL].clone();
    let works: Api<Work> = Api::namespaced(client.clone(), "karmada-es-member1");
    let mut edited = member1.clone();
    edited.spec.workload.manifests[0]["spec"]["replicas"] = json!(7);
    works
        .replace(&member1.name_any(), &PostParams::default(), &edited)
        .await?;
    until("the edited Work restored", || {
        let works = works.clone();
        let name = member1.name_any();
        async move {
            let work = works.get(&name).await?;
            let replicas = work.spec.workload.manifests[0]["spec"]["replicas"].clone();
            Ok(if replicas == json!(2) {
                Ok(())
            } else {
                Err(replicas.to_string())
            })
        }
    })
    .await?;
    assert_eq!(
        works.get(&member1.name_any()).await?.labels()[WORK_PERMANENT_ID_LABEL],
        id
    );

    // A cluster relabelled into an override's target gets its Work rendered again.
    Api::<Cluster>::all(client.clone())
        .patch(
            "member2",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"env": "edge"}}})),
        )
        .await?;
    until("member2's Work overridden", || {
        let works = list();
        async move {
            let works = works.await?;
            let member2 = works.iter().find(|w| cluster_of(w) == "member2");
            let image = member2.map(|w| {
                w.spec.workload.manifests[0]["spec"]["template"]["spec"]["containers"][0]["image"]
                    .clone()
            });
            Ok(match image {
                Some(image) if image == json!("registry.edge.example/nginx:1.25") => Ok(()),
                other => Err(format!("{other:?}")),
            })
        }
    })
    .await?;

    // The scheduler drops member2: its Work goes.
    bindings
        .patch(
            "nginx-deployment",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"clusters": [{"name": "member1", "replicas": 3}]}})),
        )
        .await?;
    until("only member1's Work, with all replicas", || {
        let works = list();
        async move {
            let works = works.await?;
            let seen: Vec<(String, Value)> = works
                .iter()
                .filter(|w| w.metadata.deletion_timestamp.is_none())
                .map(|w| {
                    (
                        cluster_of(w),
                        w.spec.workload.manifests[0]["spec"]["replicas"].clone(),
                    )
                })
                .collect();
            let terminating: Vec<Work> = works
                .into_iter()
                .filter(|w| w.metadata.deletion_timestamp.is_some())
                .collect();
            Ok(
                if seen == [("member1".to_string(), json!(3))]
                    && terminating.iter().all(|w| cluster_of(w) == "member2")
                {
                    Ok(())
                } else {
                    Err(format!("{seen:?}"))
                },
            )
        }
    })
    .await?;
    let stale: Vec<Work> = list()
        .await?
        .into_iter()
        .filter(|w| cluster_of(w) == "member2")
        .collect();
    release_works(&client, &stale).await?;

    // Deleting the binding deletes its Works, and the binding goes once they are gone.
    bindings
        .delete("nginx-deployment", &DeleteParams::default())
        .await?;
    until("the Works terminating", || {
        let works = list();
        async move {
            let works = works.await?;
            Ok(
                if !works.is_empty()
                    && works
                        .iter()
                        .all(|w| w.metadata.deletion_timestamp.is_some())
                {
                    Ok(())
                } else {
                    Err(format!("{} Works", works.len()))
                },
            )
        }
    })
    .await?;
    assert!(
        bindings.get_opt("nginx-deployment").await?.is_some(),
        "the binding waits for its Works"
    );
    release_works(&client, &list().await?).await?;
    until("the binding and its Works gone", || {
        let (works, bindings) = (list(), bindings.clone());
        async move {
            let works = works.await?;
            let binding = bindings.get_opt("nginx-deployment").await?;
            Ok(if works.is_empty() && binding.is_none() {
                Ok(())
            } else {
                Err(format!(
                    "{} Works, binding: {:?}",
                    works.len(),
                    binding.map(|b| b.finalizers().to_vec())
                ))
            })
        }
    })
    .await?;

    fed.cancel.cancel();
    run.await?;
    fed.running.wait().await;
    Ok(())
}

#[tokio::test]
async fn a_cluster_resource_binding_propagates_a_cluster_scoped_template() -> anyhow::Result<()> {
    let fed = federation().await?;
    let client = fed.client.clone();
    let run = tokio::spawn(controller::run(client.clone(), fed.cancel.clone()));

    create(
        &client,
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
        }),
    )
    .await?;
    create(&client, json!({
        "apiVersion": "work.karmada.io/v1alpha2", "kind": "ClusterResourceBinding",
        "metadata": {
            "name": "reader-clusterrole",
            "labels": {"clusterresourcebinding.karmada.io/permanent-id": "crb-1"},
            "finalizers": ["karmada.io/cluster-resource-binding-controller"]
        },
        "spec": {
            "resource": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "name": "reader"},
            "clusters": [{"name": "member1"}, {"name": "member2"}, {"name": "member3"}]
        }
    }))
    .await?;
    // member3 has just joined: its execution namespace does not exist yet.
    create_cluster(&client, "member3", &[]).await?;
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::all(client.clone());
    until(
        "a SyncWorkFailed event naming the missing namespace",
        || {
            let events = events.clone();
            async move {
                let notes: Vec<String> = events
                    .list(&ListParams::default())
                    .await?
                    .items
                    .into_iter()
                    .filter(|e| e.reason.as_deref() == Some("SyncWorkFailed"))
                    .filter_map(|e| e.note)
                    .collect();
                Ok(
                    if notes.iter().any(|n| {
                        n.contains("execution namespace karmada-es-member3 does not exist yet")
                    }) {
                        Ok(())
                    } else {
                        Err(format!("{notes:?}"))
                    },
                )
            }
        },
    )
    .await?;
    create_namespace(&client, "karmada-es-member3").await?;
    let list = works_of(
        &client,
        "clusterresourcebinding.karmada.io/permanent-id",
        "crb-1",
    );
    until("a Work per cluster", || {
        let works = list();
        async move {
            let works = works.await?;
            let ok = works.len() == 3
                && works.iter().all(|w| {
                    w.annotations()
                        .get("clusterresourcebinding.karmada.io/name")
                        .map(String::as_str)
                        == Some("reader-clusterrole")
                        && w.spec.workload.manifests[0]["rules"][0]["verbs"]
                            == json!(["get", "list"])
                });
            Ok(if ok {
                Ok(())
            } else {
                Err(format!("{} Works", works.len()))
            })
        }
    })
    .await?;

    let bindings: Api<ClusterResourceBinding> = Api::all(client.clone());
    bindings
        .delete("reader-clusterrole", &DeleteParams::default())
        .await?;
    until("the Works terminating", || {
        let works = list();
        async move {
            let works = works.await?;
            Ok(
                if works
                    .iter()
                    .all(|w| w.metadata.deletion_timestamp.is_some())
                {
                    Ok(())
                } else {
                    Err(format!("{} Works", works.len()))
                },
            )
        }
    })
    .await?;
    release_works(&client, &list().await?).await?;
    until("the binding gone", || {
        let bindings = bindings.clone();
        async move {
            Ok(match bindings.get_opt("reader-clusterrole").await? {
                None => Ok(()),
                Some(b) => Err(format!("finalizers {:?}", b.finalizers())),
            })
        }
    })
    .await?;

    fed.cancel.cancel();
    run.await?;
    fed.running.wait().await;
    Ok(())
}
