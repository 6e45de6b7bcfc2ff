//! Every patch type kube-rs sends, and the status and scale subresources.

use anyhow::{Context, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v1::{Scale, ScaleSpec};
use k8s_openapi::api::core::v1::ConfigMap;
use karmada_apiserver::server::Backend;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::fixtures::*;
use crate::support::server::TestServer;

#[tokio::test]
async fn configmap_patches_of_every_type() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client.clone());
    api.create(
        &PostParams::default(),
        &configmap("p", &[("x", "1")], &[("a", "1"), ("b", "2")]),
    )
    .await?;
    let pp = PatchParams::default();

    let merged = api
        .patch(
            "p",
            &pp,
            &Patch::Merge(json!({"data": {"b": null, "c": "3"}})),
        )
        .await?;
    ensure!(
        data_of(&merged) == json!({"a": "1", "c": "3"}),
        "merge patch: null deletes, keys add: {merged:?}"
    );

    let strategic = api
        .patch(
            "p",
            &pp,
            &Patch::Strategic(json!({"metadata": {"labels": {"y": "2"}}})),
        )
        .await?;
    ensure!(
        strategic.labels().get("x").map(String::as_str) == Some("1")
            && strategic.labels().contains_key("y"),
        "strategic merge keeps other labels: {:?}",
        strategic.labels()
    );

    let ops = json!([
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "one"},
        {"op": "remove", "path": "/data/c"}
    ]);
    let patched = api.patch("p", &pp, &json_patch(ops)).await?;
    ensure!(
        data_of(&patched) == json!({"a": "one"}),
        "JSON patch replace+remove: {patched:?}"
    );
    let failing = json_patch(json!([{"op": "test", "path": "/data/a", "value": "1"}]));
    let status = api_status(
        api.patch("p", &pp, &failing).await,
        "JSON patch with a failing test op",
    )?;
    expect_status(&status, 422, "Invalid", "JSON patch with a failing test op")?;

    // Server-side apply creates, then owns exactly what it applied.
    let apply = PatchParams::apply("mgr").force();
    let body = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": data});
    let created = api
        .patch(
            "ssa",
            &apply,
            &Patch::Apply(body(json!({"k1": "v1", "k2": "v2"}))),
        )
        .await?;
    ensure!(
        data_of(&created) == json!({"k1": "v1", "k2": "v2"}),
        "apply creates the object: {created:?}"
    );
    let managers: Vec<_> = created
        .managed_fields()
        .iter()
        .map(|m| (m.manager.clone(), m.operation.clone()))
        .collect();
    ensure!(
        managers.contains(&(Some("mgr".into()), Some("Apply".into()))),
        "managedFields records the Apply manager: {managers:?}"
    );
    let reapplied = api
        .patch("ssa", &apply, &Patch::Apply(body(json!({"k2": "v2b"}))))
        .await?;
    ensure!(
        data_of(&reapplied) == json!({"k2": "v2b"}),
        "fields no longer applied are removed: {reapplied:?}"
    );
    let other = PatchParams::apply("other");
    let conflict = api_status(
        api.patch("ssa", &other, &Patch::Apply(body(json!({"k2": "theirs"}))))
            .await,
        "apply by another manager without force",
    )?;
    expect_status(
        &conflict,
        409,
        "Conflict",
        "apply by another manager without force",
    )?;
    let forced = api
        .patch(
            "ssa",
            &other.force(),
            &Patch::Apply(body(json!({"k2": "theirs"}))),
        )
        .await?;
    ensure!(
        data_of(&forced) == json!({"k2": "theirs"}),
        "a forced apply takes the field: {forced:?}"
    );
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn deployment_status_scale_and_strategic_containers() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let api: Api<Deployment> = Api::default_namespaced(server.client.clone());
    let created = api
        .create(&PostParams::default(), &deployment("web", 2))
        .await?;
    ensure!(
        created.metadata.generation == Some(1),
        "a new Deployment has generation 1: {:?}",
        created.metadata
    );

    // The status endpoint writes status only: spec changes in the same body are ignored.
    let status_patch = json!({
        "spec": {"replicas": 9},
        "status": {"replicas": 2, "readyReplicas": 1, "observedGeneration": 1}
    });
    let after = api
        .patch_status("web", &PatchParams::default(), &Patch::Merge(status_patch))
        .await?;
    let status = after.status.clone().context("status was written")?;
    ensure!(
        status.replicas == Some(2) && status.ready_replicas == Some(1),
        "status written: {status:?}"
    );
    let spec_replicas = |d: &Deployment| d.spec.as_ref().and_then(|s| s.replicas);
    ensure!(
        spec_replicas(&after) == Some(2),
        "status writes leave spec alone: {:?}",
        after.spec
    );
    ensure!(
        after.metadata.generation == Some(1),
        "status writes keep generation: {:?}",
        after.metadata.generation
    );
    let main_write = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 7}})),
        )
        .await?;
    ensure!(
        main_write.status.as_ref().and_then(|s| s.replicas) == Some(2),
        "writes to the main endpoint ignore status: {:?}",
        main_write.status
    );

    let scale = api.get_scale("web").await?;
    ensure!(
        scale.spec.as_ref().and_then(|s| s.replicas) == Some(2),
        "scale mirrors spec.replicas: {scale:?}"
    );
    let new_scale = Scale {
        metadata: scale.metadata.clone(),
        spec: Some(ScaleSpec { replicas: Some(5) }),
        status: None,
    };
    let replaced = api
        .replace_scale("web", &PostParams::default(), &new_scale)
        .await?;
    ensure!(
        replaced.spec.and_then(|s| s.replicas) == Some(5),
        "replace_scale answers with the new scale"
    );
    let now = api.get("web").await?;
    ensure!(
        spec_replicas(&now) == Some(5),
        "replace_scale sets spec.replicas: {:?}",
        now.spec
    );
    ensure!(
        now.metadata.generation == Some(2),
        "a scale change bumps generation: {:?}",
        now.metadata.generation
    );
    api.patch_scale(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 3}})),
    )
    .await?;
    let now = api.get("web").await?;
    ensure!(
        spec_replicas(&now) == Some(3),
        "patch_scale sets spec.replicas: {:?}",
        now.spec
    );
    ensure!(
        now.metadata.generation == Some(3),
        "patch_scale bumps generation: {:?}",
        now.metadata.generation
    );

    // Strategic merge on containers merges by name instead of replacing the list.
    let smp = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:2"},
        {"name": "sidecar", "image": "busybox"}
    ]}}}});
    let patched = api
        .patch("web", &PatchParams::default(), &Patch::Strategic(smp))
        .await?;
    let containers = patched
        .spec
        .and_then(|s| s.template.spec)
        .map(|s| s.containers)
        .unwrap_or_default();
    let summary: Vec<_> = containers
        .iter()
        .map(|c| (c.name.clone(), c.image.clone(), c.ports.is_some()))
        .collect();
    ensure!(
        summary
            == vec![
                ("app".to_string(), Some("nginx:2".to_string()), true),
                ("sidecar".to_string(), Some("busybox".to_string()), false)
            ],
        "containers merged by name, keeping app's ports: {summary:?}"
    );
    server.shutdown().await;
    Ok(())
}
