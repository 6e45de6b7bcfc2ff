//! The dependencies distributor attaches the ConfigMaps and Secrets a propagated workload
//! refers to, so the binding controller sends them wherever the workload is scheduled; the
//! attached bindings follow the workload's clusters, and go when nothing refers to them. A
//! ServiceImport carries its derived Service and every imported slice to its consumers.

mod support;

use std::collections::BTreeSet;

use karmada_api::work::binding::ResourceBinding;
use karmada_api::work::work::Work;
use karmada_propagation::{binding, dependencies};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

use support::{Federation, cluster_of, create, create_namespace, join, release_works, until};

/// A federation with members member1 and member2, namespace `shop`, and both the
/// dependencies distributor and the binding controller running.
async fn federation() -> anyhow::Result<(Federation, tokio::task::JoinHandle<()>)> {
    let fed = support::federation().await?;
    join(&fed.client, "member1", &[]).await?;
    join(&fed.client, "member2", &[]).await?;
    create_namespace(&fed.client, "shop").await?;
    let (client, cancel) = (fed.client.clone(), fed.cancel.clone());
    let controllers = tokio::spawn(async move {
        tokio::join!(
            dependencies::run(client.clone(), cancel.clone()),
            binding::controller::run(client, cancel),
        );
    });
    Ok((fed, controllers))
}

async fn stop(fed: Federation, controllers: tokio::task::JoinHandle<()>) -> anyhow::Result<()> {
    fed.cancel.cancel();
    controllers.await?;
    fed.running.wait().await;
    Ok(())
}

/// A Deployment in `shop` whose pod spec is `pod`.
fn deployment(name: &str, pod: &Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod}
        }
    })
}

/// The binding the detector and scheduler would have written for Deployment `name`, with
/// `propagateDeps` and a schedule on `clusters`.
async fn parent(client: &Client, name: &str, clusters: &[&str]) -> anyhow::Result<()> {
    parent_of(client, "apps/v1", "Deployment", name, clusters).await
}

/// [`parent`] for a template of any kind in `shop`.
async fn parent_of(
    client: &Client,
    api_version: &str,
    kind: &str,
    name: &str,
    clusters: &[&str],
) -> anyhow::Result<()> {
    let template = support::dynamic_api(client, api_version, kind, Some("shop"))
        .await?
        .get(name)
        .await?;
    create(client, json!({
        "apiVersion": "work.karmada.io/v1alpha2", "kind": "ResourceBinding",
        "metadata": {
            "name": format!("{name}-{}", kind.to_lowercase()), "namespace": "shop",
            "labels": {"resourcebinding.karmada.io/permanent-id": format!("{name}-rb-id")},
            "finalizers": ["karmada.io/binding-controller"],
            "ownerReferences": [{"apiVersion": api_version, "kind": kind, "name": name,
                                 "uid": template.uid(), "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {
            "resource": {"apiVersion": api_version, "kind": kind, "namespace": "shop",
                         "name": name, "uid": template.uid(),
                         "resourceVersion": template.resource_version()},
            "propagateDeps": true,
            "replicas": 1,
            "placement": {"clusterAffinity": {"clusterNames": ["member1", "member2"]}},
            "clusters": clusters.iter().map(|c| json!({"name": c, "replicas": 1})).collect::<Vec<_>>()
        }
    }))
    .await?;
    Ok(())
}

fn bindings(client: &Client) -> Api<ResourceBinding> {
    Api::namespaced(client.clone(), "shop")
}

/// Who requires an attached binding and where: `parent@cluster,cluster` per entry.
fn required_by(binding: &ResourceBinding) -> Vec<String> {
    binding
        .spec
        .required_by
        .iter()
        .map(|entry| {
            let clusters: Vec<&str> = entry.clusters.iter().map(|c| c.name.as_str()).collect();
            format!("{}@{}", entry.name, clusters.join(","))
        })
        .collect()
}

/// The attached bindings' `requiredBy` once each of `want` (binding, entries) matches.
async fn until_required_by(client: &Client, want: &[(&str, &[&str])]) -> anyhow::Result<()> {
    let api = bindings(client);
    let want: Vec<(String, Vec<String>)> = want
        .iter()
        .map(|(name, entries)| {
            (
                name.to_string(),
                entries.iter().map(|e| e.to_string()).collect(),
            )
        })
        .collect();
    until("attached bindings' requiredBy", || {
        let (api, want) = (api.clone(), want.clone());
        async move {
            let mut seen = Vec::new();
            for (name, _) in &want {
                let entries = api.get_opt(name).await?.map(|b| required_by(&b));
                seen.push((name.clone(), entries.unwrap_or_default()));
            }
            Ok(if seen == want {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            })
        }
    })
    .await
}

/// `cluster kind/name` for every Work not being deleted, after letting every Work that is
/// being deleted go (standing in for the execution controller, which is not running).
async fn placed(client: &Client) -> anyhow::Result<BTreeSet<String>> {
    let works: Vec<Work> = Api::<Work>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let (terminating, live): (Vec<Work>, Vec<Work>) = works
        .into_iter()
        .partition(|w| w.metadata.deletion_timestamp.is_some());
    release_works(client, &terminating).await?;
    Ok(live
        .iter()
        .map(|w| {
            let manifest = &w.spec.workload.manifests[0];
            format!(
                "{} {}/{}",
                cluster_of(w),
                manifest["kind"].as_str().unwrap_or_default(),
                manifest["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect())
}

/// Waits until exactly `want` is placed.
async fn until_placed(client: &Client, want: &[&str]) -> anyhow::Result<()> {
    let want: BTreeSet<String> = want.iter().map(|w| w.to_string()).collect();
    until("Works placed", || {
        let want = want.clone();
        async move {
            let seen = placed(client).await?;
            Ok(if seen == want {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            })
        }
    })
    .await
}

/// Waits until binding `name` is gone, letting its Works go meanwhile.
async fn until_gone(client: &Client, name: &str) -> anyhow::Result<()> {
    let api = bindings(client);
    until(&format!("binding {name} gone"), || {
        let api = api.clone();
        async move {
            placed(client).await?;
            Ok(match api.get_opt(name).await? {
                None => Ok(()),
                Some(b) => Err(format!("still there, requiredBy {:?}", required_by(&b))),
            })
        }
    })
    .await
}

async fn reschedule(client: &Client, name: &str, clusters: &[&str]) -> anyhow::Result<()> {
    let clusters: Vec<Value> = clusters
        .iter()
        .map(|c| json!({"name": c, "replicas": 1}))
        .collect();
    bindings(client)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"clusters": clusters}})),
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn dependencies_follow_their_workload_and_go_when_unreferenced() -> anyhow::Result<()> {
    let (fed, controllers) = federation().await?;
    let client = fed.client.clone();
    create(&client, json!({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "cfg", "namespace": "shop"}, "data": {"mode": "fast"}}))
    .await?;
    create(
        &client,
        json!({"apiVersion": "v1", "kind": "Secret",
                           "metadata": {"name": "creds", "namespace": "shop"},
                           "stringData": {"token": "t0ps3cret"}}),
    )
    .await?;
    let referencing_both = json!({
        "containers": [{"name": "web", "image": "nginx:1.25",
                        "envFrom": [{"configMapRef": {"name": "cfg"}}],
                        "volumeMounts": [{"name": "creds", "mountPath": "/creds"}]}],
        "volumes": [{"name": "creds", "secret": {"secretName": "creds"}}]
    });
    create(&client, deployment("web", &referencing_both)).await?;
    parent(&client, "web", &["member1"]).await?;

    until_required_by(
        &client,
        &[
            ("cfg-configmap", &["web-deployment@member1"]),
            ("creds-secret", &["web-deployment@member1"]),
        ],
    )
    .await?;
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), "shop");
    until(
        "a SyncScheduleResultToDependenciesSucceed event on the binding",
        || {
            let events = events.clone();
            async move {
                let reasons: Vec<String> = events
                    .list(&ListParams::default())
                    .await?
                    .items
                    .into_iter()
                    .filter(|e| {
                        e.regarding.as_ref().and_then(|r| r.name.as_deref())
                            == Some("web-deployment")
                    })
                    .filter_map(|e| e.reason)
                    .collect();
                Ok(
                    if reasons
                        .iter()
                        .any(|r| r == "SyncScheduleResultToDependenciesSucceed")
                    {
                        Ok(())
                    } else {
                        Err(format!("{reasons:?}"))
                    },
                )
            }
        },
    )
    .await?;
    let cfg = bindings(&client).get("cfg-configmap").await?;
    assert_eq!(cfg.spec.resource.kind, "ConfigMap");
    assert!(cfg.spec.placement.is_none() && cfg.spec.clusters.is_empty());
    assert_eq!(cfg.owner_references()[0].name, "cfg");
    assert!(!cfg.labels()["resourcebinding.karmada.io/permanent-id"].is_empty());
    until_placed(
        &client,
        &[
            "member1 ConfigMap/cfg",
            "member1 Deployment/web",
            "member1 Secret/creds",
        ],
    )
    .await?;

    // The scheduler moves the workload: its dependencies move with it.
    reschedule(&client, "web-deployment", &["member2"]).await?;
    until_required_by(
        &client,
        &[
            ("cfg-configmap", &["web-deployment@member2"]),
            ("creds-secret", &["web-deployment@member2"]),
        ],
    )
    .await?;
    until_placed(
        &client,
        &[
            "member2 ConfigMap/cfg",
            "member2 Deployment/web",
            "member2 Secret/creds",
        ],
    )
    .await?;

    // The ConfigMap changes: its Work follows.
    let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), "shop");
    config_maps
        .patch(
            "cfg",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"mode": "slow"}})),
        )
        .await?;
    let works: Api<Work> = Api::namespaced(client.clone(), "karmada-es-member2");
    until("the ConfigMap's Work carrying its new data", || {
        let works = works.clone();
        async move {
            let modes: Vec<Value> = works
                .list(&ListParams::default())
                .await?
                .items
                .iter()
                .map(|w| &w.spec.workload.manifests[0])
                .filter(|m| m["kind"] == "ConfigMap")
                .map(|m| m["data"]["mode"].clone())
                .collect();
            Ok(if modes == [json!("slow")] {
                Ok(())
            } else {
                Err(format!("{modes:?}"))
            })
        }
    })
    .await?;

    // The Deployment stops mounting the Secret; the detector records the new template version
    // on the binding, and the Secret's attached binding goes.
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "shop");
    let mut web = deployments.get("web").await?;
    let pod = web
        .spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut())
        .expect("a pod spec");
    pod.volumes = None;
    pod.containers[0].volume_mounts = None;
    let web = deployments
        .replace("web", &PostParams::default(), &web)
        .await?;
    bindings(&client)
        .patch(
            "web-deployment",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"resource": {"resourceVersion": web.resource_version()}}}),
            ),
        )
        .await?;
    until_gone(&client, "creds-secret").await?;
    until_placed(
        &client,
        &["member2 ConfigMap/cfg", "member2 Deployment/web"],
    )
    .await?;
    assert_eq!(
        required_by(&bindings(&client).get("cfg-configmap").await?),
        ["web-deployment@member2"]
    );

    // The workload's binding is deleted: the rest goes with it.
    bindings(&client)
        .delete("web-deployment", &DeleteParams::default())
        .await?;
    until_gone(&client, "cfg-configmap").await?;
    until_gone(&client, "web-deployment").await?;
    until_placed(&client, &[]).await?;

    stop(fed, controllers).await
}

#[tokio::test]
async fn a_shared_dependency_serves_every_dependent_and_appears_late() -> anyhow::Result<()> {
    let (fed, controllers) = federation().await?;
    let client = fed.client.clone();
    let pod = json!({"containers": [{"name": "app", "image": "busybox",
        "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "shared", "key": "mode"}}}]}]});
    create(&client, deployment("web", &pod)).await?;
    create(&client, deployment("api", &pod)).await?;
    parent(&client, "web", &["member1"]).await?;
    parent(&client, "api", &["member2"]).await?;

    // The ConfigMap does not exist yet: nothing is attached until it does.
    until_placed(
        &client,
        &["member1 Deployment/web", "member2 Deployment/api"],
    )
    .await?;
    assert!(
        bindings(&client)
            .get_opt("shared-configmap")
            .await?
            .is_none()
    );
    create(&client, json!({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "shared", "namespace": "shop"}, "data": {"mode": "slow"}}))
    .await?;
    until_required_by(
        &client,
        &[(
            "shared-configmap",
            &["api-deployment@member2", "web-deployment@member1"],
        )],
    )
    .await?;
    until_placed(
        &client,
        &[
            "member1 ConfigMap/shared",
            "member1 Deployment/web",
            "member2 ConfigMap/shared",
            "member2 Deployment/api",
        ],
    )
    .await?;

    // One dependent turns propagateDeps off: the other keeps the ConfigMap where it needs it.
    bindings(&client)
        .patch(
            "api-deployment",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"propagateDeps": false}})),
        )
        .await?;
    until_required_by(
        &client,
        &[("shared-configmap", &["web-deployment@member1"])],
    )
    .await?;
    until_placed(
        &client,
        &[
            "member1 ConfigMap/shared",
            "member1 Deployment/web",
            "member2 Deployment/api",
        ],
    )
    .await?;

    // The last dependent loses its schedule: nothing needs the ConfigMap any more.
    reschedule(&client, "web-deployment", &[]).await?;
    until_gone(&client, "shared-configmap").await?;

    stop(fed, controllers).await
}

#[tokio::test]
async fn a_dependency_claimed_by_a_policy_keeps_its_own_placement() -> anyhow::Result<()> {
    let (fed, controllers) = federation().await?;
    let client = fed.client.clone();
    let cm = create(
        &client,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": "cfg", "namespace": "shop"}}),
    )
    .await?;
    // A policy claimed the ConfigMap itself and the scheduler put it on member2.
    create(&client, json!({
        "apiVersion": "work.karmada.io/v1alpha2", "kind": "ResourceBinding",
        "metadata": {
            "name": "cfg-configmap", "namespace": "shop",
            "labels": {"resourcebinding.karmada.io/permanent-id": "cfg-rb-id"},
            "finalizers": ["karmada.io/binding-controller"]
        },
        "spec": {
            "resource": {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "shop", "name": "cfg",
                         "uid": cm.uid(), "resourceVersion": cm.resource_version()},
            "placement": {"clusterAffinity": {"clusterNames": ["member2"]}},
            "clusters": [{"name": "member2"}]
        }
    }))
    .await?;
    let pod = json!({"containers": [{"name": "web", "image": "nginx",
                                     "envFrom": [{"configMapRef": {"name": "cfg"}}]}]});
    create(&client, deployment("web", &pod)).await?;
    parent(&client, "web", &["member1"]).await?;

    until_required_by(&client, &[("cfg-configmap", &["web-deployment@member1"])]).await?;
    let claimed = bindings(&client).get("cfg-configmap").await?;
    assert_eq!(claimed.spec.clusters.len(), 1);
    assert_eq!(claimed.spec.clusters[0].name, "member2");
    assert!(claimed.spec.placement.is_some());
    until_placed(
        &client,
        &[
            "member1 ConfigMap/cfg",
            "member1 Deployment/web",
            "member2 ConfigMap/cfg",
        ],
    )
    .await?;

    bindings(&client)
        .delete("web-deployment", &DeleteParams::default())
        .await?;
    until_gone(&client, "web-deployment").await?;
    until_required_by(&client, &[("cfg-configmap", &[])]).await?;
    until_placed(&client, &["member2 ConfigMap/cfg"]).await?;
    assert!(
        bindings(&client)
            .get("cfg-configmap")
            .await?
            .spec
            .placement
            .is_some(),
        "the policy's binding stays"
    );

    stop(fed, controllers).await
}

/// A slice `cluster`'s agent reports for Service shop/`service`.
fn reported(cluster: &str, service: &str, address: &str) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "name": format!("shop.{service}-slice"),
            "namespace": format!("karmada-es-{cluster}"),
            "labels": {"multicluster.kubernetes.io/source-cluster": cluster,
                       "multicluster.kubernetes.io/service-name": service,
                       "multicluster.karmada.io/service-namespace": "shop",
                       "endpointslice.kubernetes.io/managed-by": "agent.karmada.io"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": true}}],
    })
}

#[tokio::test]
async fn a_service_import_carries_its_derived_service_and_every_clusters_endpoints()
-> anyhow::Result<()> {
    let (fed, controllers) = federation().await?;
    let client = fed.client.clone();
    join(&client, "member3", &[]).await?;
    let imports = tokio::spawn(karmada_propagation::service_import::run(
        client.clone(),
        fed.cancel.child_token(),
    ));
    create(
        &client,
        json!({"apiVersion": "v1", "kind": "Service",
                           "metadata": {"name": "web", "namespace": "shop"},
                           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    )
    .await?;
    create(
        &client,
        json!({"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport",
                           "metadata": {"name": "web", "namespace": "shop"}}),
    )
    .await?;
    create(&client, reported("member1", "web", "10.1.0.7")).await?;
    create(&client, reported("member2", "web", "10.2.0.7")).await?;
    let import = until("the ServiceImport", || async {
        let api = support::dynamic_api(
            &client,
            "multicluster.x-k8s.io/v1alpha1",
            "ServiceImport",
            Some("shop"),
        )
        .await?;
        Ok(api
            .get_opt("web")
            .await?
            .ok_or_else(|| "absent".to_string()))
    })
    .await?;
    assert_eq!(import.name_any(), "web");

    // A policy put the import on member3, the consumer: what it depends on follows.
    parent_of(
        &client,
        "multicluster.x-k8s.io/v1alpha1",
        "ServiceImport",
        "web",
        &["member3"],
    )
    .await?;
    until_placed(
        &client,
        &[
            "member3 EndpointSlice/imported-member1-web-slice",
            "member3 EndpointSlice/imported-member2-web-slice",
            "member3 Service/derived-web",
            "member3 ServiceImport/web",
        ],
    )
    .await?;

    // A cluster exporting later is imported too, and one whose report goes is dropped.
    join(&client, "member4", &[]).await?;
    create(&client, reported("member4", "web", "10.4.0.7")).await?;
    until_placed(
        &client,
        &[
            "member3 EndpointSlice/imported-member1-web-slice",
            "member3 EndpointSlice/imported-member2-web-slice",
            "member3 EndpointSlice/imported-member4-web-slice",
            "member3 Service/derived-web",
            "member3 ServiceImport/web",
        ],
    )
    .await?;
    support::dynamic_api(
        &client,
        "discovery.k8s.io/v1",
        "EndpointSlice",
        Some("karmada-es-member2"),
    )
    .await?
    .delete("shop.web-slice", &DeleteParams::default())
    .await?;
    until_placed(
        &client,
        &[
            "member3 EndpointSlice/imported-member1-web-slice",
            "member3 EndpointSlice/imported-member4-web-slice",
            "member3 Service/derived-web",
            "member3 ServiceImport/web",
        ],
    )
    .await?;
    stop(fed, controllers).await?;
    imports.await?;
    Ok(())
}
