//! Legacy and aggregated discovery of built-in kinds and CRDs created at run time.

use std::collections::BTreeSet;

use anyhow::{Context, ensure};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use karmada_apiserver::server::Backend;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::{Client, Discovery};
use serde_json::json;

use crate::fixtures::*;
use crate::support::server::{TestServer, eventually};

fn widget_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.karmada.io"},
        "spec": {
            "group": "example.karmada.io",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
                }}},
                "subresources": {"status": {}}
            }]
        }
    }))
    .expect("a valid CRD")
}

async fn discover(client: Client, aggregated: bool) -> anyhow::Result<Discovery> {
    let discovery = Discovery::new(client);
    let run = if aggregated {
        discovery.run_aggregated().await
    } else {
        discovery.run().await
    };
    run.with_context(|| format!("discovery (aggregated: {aggregated})"))
}

#[tokio::test]
async fn discovery_finds_builtins_and_runtime_crds() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let client = server.client.clone();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &widget_crd()).await?;
    eventually("the Widget CRD to be Established", || {
        let crds = crds.clone();
        async move {
            let crd = crds.get("widgets.example.karmada.io").await?;
            let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
            let established = conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            Ok(if established {
                Ok(())
            } else {
                Err(format!("conditions {conditions:?}"))
            })
        }
    })
    .await?;

    let deployment_gvk = GroupVersionKind::gvk("apps", "v1", "Deployment");
    let widget_gvk = GroupVersionKind::gvk("example.karmada.io", "v1", "Widget");
    for aggregated in [false, true] {
        let discovery = discover(client.clone(), aggregated).await?;
        let mode = if aggregated { "aggregated" } else { "legacy" };
        let (resource, caps) = discovery
            .resolve_gvk(&deployment_gvk)
            .with_context(|| format!("{mode}: no Deployment"))?;
        ensure!(
            resource.plural == "deployments",
            "{mode}: Deployment plural {}",
            resource.plural
        );
        let subresources: BTreeSet<String> = caps
            .subresources
            .iter()
            .map(|(r, _)| r.plural.clone())
            .collect();
        ensure!(
            subresources.contains("status") && subresources.contains("scale"),
            "{mode}: Deployment subresources {subresources:?}"
        );
        let (widget, caps) = discovery
            .resolve_gvk(&widget_gvk)
            .with_context(|| format!("{mode}: no Widget"))?;
        ensure!(
            widget.plural == "widgets",
            "{mode}: Widget plural {}",
            widget.plural
        );
        ensure!(
            caps.scope == kube::discovery::Scope::Namespaced,
            "{mode}: Widget scope"
        );
        ensure!(
            caps.supports_operation("watch"),
            "{mode}: Widget verbs {:?}",
            caps.operations
        );

        let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &widget);
        let name = format!("w-{mode}");
        let object = DynamicObject::new(&name, &widget).data(json!({"spec": {"size": 3}}));
        widgets.create(&PostParams::default(), &object).await?;
        let got = widgets.get(&name).await?;
        ensure!(
            got.data["spec"]["size"] == json!(3),
            "{mode}: Widget round trip: {:?}",
            got.data
        );
        let patched = widgets
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"size": 4}})),
            )
            .await?;
        ensure!(
            patched.data["spec"]["size"] == json!(4),
            "{mode}: Widget merge patch: {:?}",
            patched.data
        );
        let listed = widgets.list(&ListParams::default()).await?;
        ensure!(
            names(&listed.items).contains(&name),
            "{mode}: Widget list {:?}",
            names(&listed.items)
        );
    }
    server.shutdown().await;
    Ok(())
}
