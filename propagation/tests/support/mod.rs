//! Shared fixtures for the federation controllers' integration tests.

// Each test binary uses a different subset of these fixtures.
#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use karmada_api::work::work::Work;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::{Api, Client, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// An in-memory federation apiserver (serving the Karmada API) and a client for it.
pub use karmada_runtime::testing::{Apiserver as Federation, federation};

/// How long a test waits for a state before failing.
const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `check` until it yields `Ok(value)`, failing after [`DEADLINE`] with what it last
/// reported through `Err`.
pub async fn until<T, F, Fut>(what: &str, check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Result<T, String>>>,
{
    karmada_runtime::testing::until(what, DEADLINE, check).await
}

/// Parses a YAML document into a typed object.
pub fn yaml<T: DeserializeOwned>(text: &str) -> anyhow::Result<T> {
    Ok(serde_saphyr::from_str(text)?)
}

/// A dynamic client for `kind`, its resource found through discovery; scoped to `namespace`
/// only when the kind is namespaced.
pub async fn dynamic_api(
    client: &Client,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
) -> anyhow::Result<Api<DynamicObject>> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, caps) = discovery::pinned_kind(client, &gvk).await?;
    Ok(match namespace {
        Some(ns) if caps.scope == Scope::Namespaced => {
            Api::namespaced_with(client.clone(), ns, &resource)
        }
        _ => Api::all_with(client.clone(), &resource),
    })
}

/// Creates any object from JSON (with its `apiVersion` and `kind`) through a dynamic client.
pub async fn create(client: &Client, object: Value) -> anyhow::Result<DynamicObject> {
    let api = dynamic_api(
        client,
        object["apiVersion"].as_str().unwrap_or_default(),
        object["kind"].as_str().unwrap_or_default(),
        object["metadata"]["namespace"].as_str(),
    )
    .await?;
    Ok(api
        .create(&PostParams::default(), &serde_json::from_value(object)?)
        .await?)
}

pub async fn create_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    create(
        client,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    )
    .await?;
    Ok(())
}

/// Registers a Pull-mode Cluster carrying `labels`, and nothing else.
pub async fn create_cluster(
    client: &Client,
    name: &str,
    labels: &[(&str, &str)],
) -> anyhow::Result<()> {
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    create(
        client,
        json!({
            "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": name, "labels": labels},
            "spec": {"syncMode": "Pull"},
        }),
    )
    .await?;
    Ok(())
}

/// A member that has joined: its Cluster plus the execution namespace its Works go to (which
/// the execution-namespace controller, not running in these tests, would otherwise create).
pub async fn join(client: &Client, name: &str, labels: &[(&str, &str)]) -> anyhow::Result<()> {
    create_cluster(client, name, labels).await?;
    create_namespace(client, &karmada_api::execution_namespace(name)).await
}

/// The member cluster a Work is for, from its execution namespace.
pub fn cluster_of(work: &Work) -> String {
    work.namespace()
        .unwrap_or_default()
        .trim_start_matches(karmada_api::EXECUTION_NAMESPACE_PREFIX)
        .to_string()
}

/// Drops every finalizer of object `name`, standing in for the controller that owns them.
pub async fn clear_finalizers<K>(api: &Api<K>, name: &str) -> anyhow::Result<()>
where
    K: Clone + DeserializeOwned + Debug,
{
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await?;
    Ok(())
}

/// Removes the Works' finalizers, as the execution controller does once member copies are gone.
pub async fn release_works(client: &Client, works: &[Work]) -> anyhow::Result<()> {
    for work in works {
        let api: Api<Work> = Api::namespaced(client.clone(), &work.namespace().unwrap_or_default());
        clear_finalizers(&api, &work.name_any()).await?;
    }
    Ok(())
}
