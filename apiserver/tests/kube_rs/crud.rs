//! Core CRUD, selectors, errors, watch replay and paging, on every storage backend.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use karmada_apiserver::server::Backend;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::events::*;
use crate::fixtures::*;
use crate::support::etcd::EtcdProcess;
use crate::support::server::{DEADLINE, TestServer};

/// Create, read, list with selectors, replace with optimistic concurrency, error reasons,
/// delete and delete-collection.
async fn crud(client: Client) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let pp = PostParams::default();
    let a = api
        .create(&pp, &configmap("alpha", &[("tier", "web")], &[("k", "1")]))
        .await?;
    api.create(&pp, &configmap("beta", &[("tier", "db")], &[("k", "2")]))
        .await?;
    api.create(&pp, &configmap("gamma", &[("tier", "web")], &[("k", "3")]))
        .await?;
    ensure!(a.metadata.uid.is_some(), "create must assign a uid: {a:?}");
    ensure!(
        a.metadata.creation_timestamp.is_some(),
        "create must set creationTimestamp"
    );
    let first_rv = a
        .resource_version()
        .context("create must return a resourceVersion")?;

    let got = api.get("alpha").await?;
    ensure!(
        data_of(&got) == json!({"k": "1"}),
        "get returns the stored data: {got:?}"
    );
    ensure!(
        got.metadata.uid == a.metadata.uid,
        "get returns the created object"
    );

    let web = api.list(&ListParams::default().labels("tier=web")).await?;
    ensure!(
        names(&web.items) == names_of(&["alpha", "gamma"]),
        "label selector tier=web: {:?}",
        names(&web.items)
    );
    let not_web = api.list(&ListParams::default().labels("tier!=web")).await?;
    ensure!(
        names(&not_web.items) == names_of(&["beta"]),
        "label selector tier!=web: {:?}",
        names(&not_web.items)
    );
    let by_name = api
        .list(&ListParams::default().fields("metadata.name=beta"))
        .await?;
    ensure!(
        names(&by_name.items) == names_of(&["beta"]),
        "field selector metadata.name: {:?}",
        names(&by_name.items)
    );
    ensure!(
        web.metadata
            .resource_version
            .is_some_and(|rv| !rv.is_empty()),
        "lists carry a resourceVersion"
    );

    // Replace with the current resourceVersion works; replaying the old one conflicts.
    let mut updated = got.clone();
    updated.data = Some([("k".to_string(), "1b".to_string())].into());
    let replaced = api.replace("alpha", &pp, &updated).await?;
    ensure!(
        replaced.resource_version() != Some(first_rv),
        "replace moves the resourceVersion"
    );
    let mut stale = got.clone();
    stale.data = Some([("k".to_string(), "lost-update".to_string())].into());
    let conflict = api_status(
        api.replace("alpha", &pp, &stale).await,
        "replace with a stale resourceVersion",
    )?;
    expect_status(
        &conflict,
        409,
        "Conflict",
        "replace with a stale resourceVersion",
    )?;
    ensure!(
        data_of(&api.get("alpha").await?) == json!({"k": "1b"}),
        "a conflicting replace changes nothing"
    );

    let missing = api_status(api.get("nope").await, "get of a missing object")?;
    expect_status(&missing, 404, "NotFound", "get of a missing object")?;
    ensure!(
        api.get_opt("nope").await?.is_none(),
        "get_opt maps 404 to None"
    );
    let dup = api_status(
        api.create(&pp, &configmap("beta", &[], &[])).await,
        "create of an existing name",
    )?;
    expect_status(&dup, 409, "AlreadyExists", "create of an existing name")?;

    api.delete("beta", &DeleteParams::default()).await?;
    ensure!(
        api.get_opt("beta").await?.is_none(),
        "beta is gone after delete"
    );
    let again = api_status(
        api.delete("beta", &DeleteParams::default()).await,
        "delete of a deleted object",
    )?;
    expect_status(&again, 404, "NotFound", "delete of a deleted object")?;

    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("tier=web"),
    )
    .await?;
    let left = api.list(&ListParams::default()).await?;
    ensure!(
        left.items.is_empty(),
        "nothing left after delete_collection: {:?}",
        names(&left.items)
    );
    Ok(())
}

/// A watcher started (initial list done) before the changes reports each of them.
async fn watch_events(client: Client) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(
        &PostParams::default(),
        &configmap("old", &[("tier", "web")], &[]),
    )
    .await?;
    let mut events = started_watcher(api.clone(), watcher::Config::default()).await?;

    let pp = PostParams::default();
    api.create(&pp, &configmap("alpha", &[("tier", "web")], &[("k", "1")]))
        .await?;
    api.create(&pp, &configmap("beta", &[("tier", "db")], &[("k", "2")]))
        .await?;
    for name in ["alpha", "beta"] {
        let seen = wait_event(
            &mut events,
            &format!("Apply({name})"),
            DEADLINE,
            applied(name),
        )
        .await?;
        ensure!(
            seen.data.is_some(),
            "the watched {name} carries its data: {seen:?}"
        );
    }
    api.patch(
        "alpha",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "1b"}})),
    )
    .await?;
    let seen = wait_event(
        &mut events,
        "Apply(alpha) after the patch",
        DEADLINE,
        applied("alpha"),
    )
    .await?;
    ensure!(
        data_of(&seen) == json!({"k": "1b"}),
        "the watcher sees the patched data: {seen:?}"
    );

    api.delete("beta", &DeleteParams::default()).await?;
    wait_event(&mut events, "Delete(beta)", DEADLINE, deleted("beta")).await?;
    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("tier=web"),
    )
    .await?;
    let mut gone = BTreeSet::new();
    while gone.len() < 2 {
        let name = wait_event(
            &mut events,
            "Delete of old and alpha",
            DEADLINE,
            |e| match e {
                watcher::Event::Delete(o) => Some(o.name_any()),
                _ => None,
            },
        )
        .await?;
        gone.insert(name);
    }
    ensure!(
        gone == names_of(&["old", "alpha"]),
        "delete_collection is seen as deletes: {gone:?}"
    );
    Ok(())
}

#[tokio::test]
async fn crud_on_memory() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    crud(server.client.clone()).await?;
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn watch_on_memory() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    watch_events(server.client.clone()).await?;
    server.shutdown().await;
    Ok(())
}

async fn etcd_server(etcd: &EtcdProcess) -> anyhow::Result<TestServer> {
    let backend = Backend::Etcd {
        endpoints: vec![etcd.endpoint().to_string()],
        prefix: "/kube-rs-test".into(),
    };
    TestServer::start(backend).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_on_etcd() -> anyhow::Result<()> {
    let etcd = EtcdProcess::start().await?;
    let server = etcd_server(&etcd).await?;
    crud(server.client.clone()).await?;
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_on_etcd() -> anyhow::Result<()> {
    let etcd = EtcdProcess::start().await?;
    let server = etcd_server(&etcd).await?;
    watch_events(server.client.clone()).await?;
    server.shutdown().await;
    Ok(())
}

/// The raw protocol under kube's watcher: a watch from the list's resourceVersion must replay
/// every change made after that list, in order, even if the watch starts later.
#[tokio::test]
async fn watch_from_list_version_replays_later_changes() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client.clone());
    api.create(&PostParams::default(), &configmap("existing", &[], &[]))
        .await?;
    let list_rv = api
        .list(&ListParams::default())
        .await?
        .metadata
        .resource_version
        .context("list rv")?;
    api.create(&PostParams::default(), &configmap("added", &[], &[]))
        .await?;
    api.patch(
        "added",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await?;
    api.delete("existing", &DeleteParams::default()).await?;

    let mut stream = api.watch(&WatchParams::default(), &list_rv).await?.boxed();
    let mut seen = Vec::new();
    let until = Instant::now() + DEADLINE;
    while seen.len() < 3 {
        let next = tokio::time::timeout(
            until.saturating_duration_since(Instant::now()),
            stream.try_next(),
        )
        .await;
        let Ok(next) = next else {
            bail!(
                "watch from resourceVersion {list_rv}: wanted 3 replayed events within {DEADLINE:?}, got {seen:?}"
            );
        };
        seen.push(match next?.context("the watch ended")? {
            WatchEvent::Added(o) => format!("ADDED {}", o.name_any()),
            WatchEvent::Modified(o) => format!("MODIFIED {}", o.name_any()),
            WatchEvent::Deleted(o) => format!("DELETED {}", o.name_any()),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(status) => bail!("watch from {list_rv} failed: {status:?}"),
        });
    }
    ensure!(
        seen == ["ADDED added", "MODIFIED added", "DELETED existing"],
        "replayed events: {seen:?}"
    );
    server.shutdown().await;
    Ok(())
}
// ---------------------------------------------------------------------------------------------
// Paging

#[tokio::test]
async fn list_pages_follow_continue_tokens() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client.clone());
    let expected: BTreeSet<String> = (0..30).map(|i| format!("cm-{i:02}")).collect();
    for name in &expected {
        api.create(&PostParams::default(), &configmap(name, &[], &[]))
            .await?;
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    let mut list_rv = None;
    loop {
        let mut lp = ListParams::default().limit(7);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await?;
        pages += 1;
        ensure!(
            page.items.len() <= 7,
            "page {pages} has {} items, limit 7",
            page.items.len()
        );
        if pages == 1 {
            ensure!(
                page.metadata.remaining_item_count == Some(23),
                "first page's remainingItemCount: {:?}",
                page.metadata.remaining_item_count
            );
            list_rv = page.metadata.resource_version.clone();
            // Created mid-listing: a consistent paged list must not show it.
            api.create(&PostParams::default(), &configmap("zz-late", &[], &[]))
                .await?;
        } else {
            ensure!(
                page.metadata.resource_version == list_rv,
                "every page is read at the first page's revision"
            );
        }
        seen.extend(page.items.iter().map(ResourceExt::name_any));
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
        ensure!(pages < 10, "paging does not terminate: {seen:?}");
    }
    ensure!(
        pages == 5,
        "30 items at 7 per page take 5 pages, took {pages}"
    );
    ensure!(
        seen.len() == 30,
        "each object exactly once, got {} entries: {seen:?}",
        seen.len()
    );
    ensure!(
        seen.iter().cloned().collect::<BTreeSet<_>>() == expected,
        "all 30 objects listed: {seen:?}"
    );
    server.shutdown().await;
    Ok(())
}

/// Another writer on the same etcd (here: another key prefix) raises etcd's revision without
/// touching this server's keys; lists must still answer promptly and see every object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_stay_consistent_on_a_shared_etcd() -> anyhow::Result<()> {
    use karmada_apiserver::storage::Storage;
    let etcd = EtcdProcess::start().await?;
    let server = etcd_server(&etcd).await?;
    let neighbour = etcd.storage("/someone-else").await?;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client.clone());
    let pp = PostParams::default();
    api.create(&pp, &configmap("first", &[], &[])).await?;
    neighbour
        .create(
            "/registry/core/configmaps/default/x",
            bytes::Bytes::from_static(b"{}"),
        )
        .await?;
    let started = Instant::now();
    let names: BTreeSet<String> = api
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(|c| c.name_any())
        .collect();
    ensure!(
        names.contains("first"),
        "list after a foreign write: {names:?}"
    );
    ensure!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "list took {:?}",
        started.elapsed()
    );
    api.create(&pp, &configmap("second", &[], &[])).await?;
    let names: BTreeSet<String> = api
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(|c| c.name_any())
        .collect();
    ensure!(
        names.contains("first") && names.contains("second") && !names.contains("x"),
        "list: {names:?}"
    );
    server.shutdown().await;
    Ok(())
}
