//! Deletion lifecycles: finalizers, garbage collection and namespace termination.

use anyhow::{Context, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use karmada_apiserver::server::Backend;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::fixtures::*;
use crate::support::server::{TestServer, eventually};

/// kube's finalizer helper adds the first finalizer with `test /metadata/finalizers == null`
/// then `add`; upstream's JSON patch treats a missing member as null, so this must succeed
/// once, and the replay from the same stale view must fail.
#[tokio::test]
async fn finalizer_helper_first_add_tests_for_absent_list() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client.clone());
    api.create(&PostParams::default(), &configmap("fin", &[], &[]))
        .await?;
    let add_first = json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "add", "path": "/metadata/finalizers", "value": ["a.test/cleanup"]}
    ]);
    let pp = PatchParams::default();
    let with_a = api
        .patch("fin", &pp, &json_patch(add_first.clone()))
        .await?;
    ensure!(
        with_a.finalizers() == ["a.test/cleanup"],
        "first finalizer added: {:?}",
        with_a.finalizers()
    );
    let stale = api_status(
        api.patch("fin", &pp, &json_patch(add_first)).await,
        "stale finalizer add",
    )?;
    expect_status(&stale, 422, "Invalid", "stale finalizer add")?;
    ensure!(
        api.get("fin").await?.finalizers() == ["a.test/cleanup"],
        "a failed test op changes nothing"
    );
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client.clone());
    let mut fin = configmap("fin", &[], &[]);
    fin.metadata.finalizers = Some(vec!["a.test/cleanup".into()]);
    api.create(&PostParams::default(), &fin).await?;
    let pp = PatchParams::default();

    // Later finalizers: test the whole list as last seen, then append (kube's helper).
    let add_second = json!([
        {"op": "test", "path": "/metadata/finalizers", "value": ["a.test/cleanup"]},
        {"op": "add", "path": "/metadata/finalizers/-", "value": "b.test/cleanup"}
    ]);
    let with_b = api
        .patch("fin", &pp, &json_patch(add_second.clone()))
        .await?;
    ensure!(
        with_b.finalizers() == ["a.test/cleanup", "b.test/cleanup"],
        "second finalizer: {:?}",
        with_b.finalizers()
    );
    let stale = api_status(
        api.patch("fin", &pp, &json_patch(add_second)).await,
        "stale finalizer append",
    )?;
    expect_status(&stale, 422, "Invalid", "stale finalizer append")?;

    let marked = api.delete("fin", &DeleteParams::default()).await?;
    let marked = marked
        .left()
        .context("delete of a finalized object returns the object, not a Status")?;
    ensure!(
        marked.metadata.deletion_timestamp.is_some(),
        "delete sets deletionTimestamp: {:?}",
        marked.metadata
    );
    let still = api.get("fin").await?;
    ensure!(
        still.metadata.deletion_timestamp.is_some() && still.finalizers().len() == 2,
        "held: {:?}",
        still.metadata
    );
    let add_late = json!([{"op": "add", "path": "/metadata/finalizers/-", "value": "c.test/late"}]);
    let late = api_status(
        api.patch("fin", &pp, &json_patch(add_late)).await,
        "adding a finalizer while deleting",
    )?;
    expect_status(&late, 422, "Invalid", "adding a finalizer while deleting")?;

    let remove = |index: usize, name: &str| {
        json_patch(json!([
            {"op": "test", "path": format!("/metadata/finalizers/{index}"), "value": name},
            {"op": "remove", "path": format!("/metadata/finalizers/{index}")}
        ]))
    };
    let only_b = api.patch("fin", &pp, &remove(0, "a.test/cleanup")).await?;
    ensure!(
        only_b.finalizers() == ["b.test/cleanup"],
        "one finalizer left: {:?}",
        only_b.finalizers()
    );
    ensure!(
        api.get_opt("fin").await?.is_some(),
        "one finalizer still holds the object"
    );
    api.patch("fin", &pp, &remove(0, "b.test/cleanup")).await?;
    eventually("fin to be gone after its last finalizer", || {
        let api = api.clone();
        async move {
            Ok(api
                .get_opt("fin")
                .await?
                .map_or(Ok(()), |o| Err(format!("{:?}", o.metadata))))
        }
    })
    .await?;
    server.shutdown().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Garbage collection

/// Creates `owner` and a `dependent` pointing at it; returns the dependent.
async fn owner_and_dependent(
    api: &Api<ConfigMap>,
    finalizers: &[&str],
) -> anyhow::Result<ConfigMap> {
    let owner = api
        .create(&PostParams::default(), &configmap("owner", &[], &[]))
        .await?;
    let mut dependent = configmap("dependent", &[], &[]);
    dependent.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "owner".into(),
        uid: owner.uid().context("the owner has a uid")?,
        // As controllers set it: a foreground-deleted owner waits for this dependent.
        block_owner_deletion: Some(true),
        ..Default::default()
    }]);
    dependent.metadata.finalizers = Some(finalizers.iter().map(|f| f.to_string()).collect());
    Ok(api.create(&PostParams::default(), &dependent).await?)
}

async fn wait_gone(api: &Api<ConfigMap>, name: &str) -> anyhow::Result<()> {
    eventually(&format!("{name} to be deleted"), || async move {
        Ok(api
            .get_opt(name)
            .await?
            .map_or(Ok(()), |o| Err(format!("still there: {:?}", o.metadata))))
    })
    .await
}

#[tokio::test]
async fn gc_background_deletes_dependents() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client.clone());
    owner_and_dependent(&api, &[]).await?;
    api.delete("owner", &DeleteParams::background()).await?;
    ensure!(
        api.get_opt("owner").await?.is_none(),
        "background deletion removes the owner at once"
    );
    wait_gone(&api, "dependent").await?;
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn gc_orphan_keeps_dependents_and_strips_references() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client.clone());
    owner_and_dependent(&api, &[]).await?;
    api.delete("owner", &DeleteParams::orphan()).await?;
    wait_gone(&api, "owner").await?;
    let dependent = api
        .get("dependent")
        .await
        .context("an orphaned dependent survives")?;
    ensure!(
        dependent.owner_references().is_empty(),
        "orphaning removes the owner's reference: {:?}",
        dependent.owner_references()
    );
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn gc_foreground_deletes_owner_after_dependents() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client.clone());
    // The dependent's own finalizer holds it, which must hold the owner too.
    owner_and_dependent(&api, &["test.karmada.io/hold"]).await?;
    let marked = api
        .delete("owner", &DeleteParams::foreground())
        .await?
        .left()
        .context("owner is kept")?;
    ensure!(
        marked
            .finalizers()
            .iter()
            .any(|f| f == "foregroundDeletion"),
        "foreground deletion marks the owner: {:?}",
        marked.finalizers()
    );
    eventually("the dependent to be marked for deletion", || {
        let api = api.clone();
        async move {
            let d = api.get("dependent").await?;
            Ok(if d.metadata.deletion_timestamp.is_some() {
                Ok(())
            } else {
                Err(format!("{:?}", d.metadata))
            })
        }
    })
    .await?;
    let owner = api.get_opt("owner").await?;
    ensure!(
        owner.is_some(),
        "the owner waits while a dependent still exists"
    );
    let release = json!({"metadata": {"finalizers": null}});
    api.patch("dependent", &PatchParams::default(), &Patch::Merge(release))
        .await?;
    // Clearing every finalizer on the dependent (including a GC-added foregroundDeletion) lets it go.
    wait_gone(&api, "dependent").await?;
    wait_gone(&api, "owner").await?;
    server.shutdown().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Namespace deletion

#[tokio::test]
async fn namespace_deletion_drains_contents_and_forbids_new_objects() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let namespaces: Api<Namespace> = Api::all(server.client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("doomed".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces.create(&PostParams::default(), &ns).await?;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "doomed");
    let deployments: Api<Deployment> = Api::namespaced(server.client.clone(), "doomed");
    let pp = PostParams::default();
    cms.create(&pp, &configmap("plain", &[], &[])).await?;
    let mut held = configmap("held", &[], &[]);
    held.metadata.finalizers = Some(vec!["test.karmada.io/hold".into()]);
    cms.create(&pp, &held).await?;
    deployments.create(&pp, &deployment("web", 1)).await?;

    namespaces
        .delete("doomed", &DeleteParams::default())
        .await?;
    eventually("plain and web to be removed from the namespace", || {
        let (cms, deployments) = (cms.clone(), deployments.clone());
        async move {
            let left = (
                cms.get_opt("plain").await?.is_some(),
                deployments.get_opt("web").await?.is_some(),
            );
            Ok(if left == (false, false) {
                Ok(())
            } else {
                Err(format!("(plain, web) present: {left:?}"))
            })
        }
    })
    .await?;
    let terminating = namespaces
        .get("doomed")
        .await
        .context("the namespace waits for held content")?;
    let phase = terminating.status.as_ref().and_then(|s| s.phase.clone());
    ensure!(
        phase.as_deref() == Some("Terminating"),
        "namespace phase while draining: {phase:?}"
    );
    let late = api_status(
        cms.create(&pp, &configmap("late", &[], &[])).await,
        "create in a terminating namespace",
    )?;
    expect_status(&late, 403, "Forbidden", "create in a terminating namespace")?;

    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await?;
    eventually("the namespace to be gone", || {
        let namespaces = namespaces.clone();
        async move {
            Ok(namespaces
                .get_opt("doomed")
                .await?
                .map_or(Ok(()), |n| Err(format!("{:?}", n.status))))
        }
    })
    .await?;
    ensure!(
        cms.get_opt("held").await?.is_none(),
        "the held object went with the namespace"
    );
    server.shutdown().await;
    Ok(())
}
