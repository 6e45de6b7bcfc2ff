//! kube-runtime watchers and reflectors, including recovery across a server restart.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use karmada_apiserver::server::Backend;
use kube::ResourceExt;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;

use crate::events::*;
use crate::fixtures::*;
use crate::support::server::{DEADLINE, TestServer, client_for, eventually, free_addr};

#[tokio::test]
async fn watcher_applied_objects_follow_label_selector() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client.clone());
    // Drive the watcher to InitDone first, so the objects below are created after it started.
    let events = started_watcher(api.clone(), watcher::Config::default().labels("team=a")).await?;
    let mut objects = events.applied_objects().boxed();
    let pp = PostParams::default();
    api.create(&pp, &configmap("outsider", &[("team", "b")], &[]))
        .await?;
    api.create(&pp, &configmap("member", &[("team", "a")], &[("v", "1")]))
        .await?;
    api.patch(
        "member",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await?;
    let mut versions = Vec::new();
    let until = Instant::now() + DEADLINE;
    while versions.last().map(String::as_str) != Some("2") {
        let next = tokio::time::timeout(
            until.saturating_duration_since(Instant::now()),
            objects.try_next(),
        )
        .await;
        let cm = next.map_err(|_| {
            anyhow!("no applied object v=2 within {DEADLINE:?}; saw {versions:?}")
        })??;
        let cm = cm.context("applied_objects ended")?;
        ensure!(
            cm.name_any() == "member",
            "the label selector hides {}",
            cm.name_any()
        );
        versions.push(
            cm.data
                .unwrap_or_default()
                .get("v")
                .cloned()
                .unwrap_or_default(),
        );
    }
    ensure!(
        versions == ["1", "2"],
        "applied_objects yields the create then the patch: {versions:?}"
    );
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn reflector_store_tracks_creates_and_deletes() -> anyhow::Result<()> {
    const N: usize = 5;
    let server = TestServer::start(Backend::Memory).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client.clone());
    let (reader, writer) = reflector::store::<ConfigMap>();
    let stream = reflector(
        writer,
        watcher(api.clone(), watcher::Config::default().labels("refl=yes")),
    );
    let driver = tokio::spawn(
        stream
            .default_backoff()
            .applied_objects()
            .for_each(|_| async {}),
    );
    tokio::time::timeout(DEADLINE, reader.wait_until_ready())
        .await
        .context("store never became ready")??;
    ensure!(
        reader.is_empty(),
        "the store starts empty: {:?}",
        names_arc(&reader.state())
    );

    for i in 0..N {
        api.create(
            &PostParams::default(),
            &configmap(&format!("r{i}"), &[("refl", "yes")], &[]),
        )
        .await?;
    }
    let count = || {
        let reader = reader.clone();
        async move {
            Ok(if reader.len() == N {
                Ok(())
            } else {
                Err(format!("{:?}", names_arc(&reader.state())))
            })
        }
    };
    eventually(&format!("{N} objects in the store"), count).await?;
    api.delete("r2", &DeleteParams::default()).await?;
    eventually(&format!("{} objects in the store, r2 gone", N - 1), || {
        let reader = reader.clone();
        async move {
            let now = names_arc(&reader.state());
            Ok(if now.len() == N - 1 && !now.contains("r2") {
                Ok(())
            } else {
                Err(format!("{now:?}"))
            })
        }
    })
    .await?;
    driver.abort();
    server.shutdown().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Restart on the same data directory: watcher recovery and 410 on ancient versions

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_recovers_across_restart_and_old_versions_expire() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let addr = free_addr()?;
    let backend = Backend::Embedded(dir.path().to_path_buf());
    let first = TestServer::start_at(addr, backend.clone()).await?;
    let client = client_for(&first.url())?;
    let api: Api<ConfigMap> = Api::default_namespaced(client.clone());
    for name in ["before-1", "before-2"] {
        api.create(&PostParams::default(), &configmap(name, &[], &[]))
            .await?;
    }
    // The stream is polled only when the test reads it, so each step below happens at a
    // known point of the watcher's life and the test does not race its reconnects.
    let (reader, writer) = reflector::store::<ConfigMap>();
    let mut events: Events<ConfigMap> =
        reflector(writer, watcher(api.clone(), watcher::Config::default()))
            .default_backoff()
            .boxed();
    let done = |e: &watcher::Event<ConfigMap>| matches!(e, watcher::Event::InitDone).then_some(());
    wait_event(&mut events, "the initial list", DEADLINE, done).await?;
    ensure!(
        names_arc(&reader.state()) == names_of(&["before-1", "before-2"]),
        "initial store"
    );
    tokio::time::timeout(DEADLINE, first.shutdown())
        .await
        .context("the first server did not shut down")?;

    // While the watcher is cut off, another server on the same data writes history that the
    // restarted server will not keep in its watch window.
    let offline = TestServer::start(backend.clone())
        .await
        .context("reopening the data directory")?;
    let offline_api: Api<ConfigMap> = Api::default_namespaced(offline.client.clone());
    for i in 1..=3 {
        offline_api
            .create(
                &PostParams::default(),
                &configmap(&format!("during-{i}"), &[], &[]),
            )
            .await?;
    }
    for i in 0..20 {
        let data = json!({"data": {"n": i.to_string()}});
        offline_api
            .patch("during-1", &PatchParams::default(), &Patch::Merge(data))
            .await?;
    }
    offline_api
        .delete("before-2", &DeleteParams::default())
        .await?;
    tokio::time::timeout(DEADLINE, offline.shutdown())
        .await
        .context("the offline server did not shut down")?;

    let second = TestServer::start_at(addr, backend)
        .await
        .context("restarting on the same address")?;
    api.create(&PostParams::default(), &configmap("after-1", &[], &[]))
        .await?;
    let after_restart = api.list(&ListParams::default()).await?;
    ensure!(
        names(&after_restart.items)
            == names_of(&["before-1", "during-1", "during-2", "during-3", "after-1"]),
        "the restarted server lists what was stored: {:?}",
        names(&after_restart.items)
    );

    // The watcher's resourceVersion predates the new window: it must get 410, relist, and end
    // with exactly the current objects (including the delete it never saw as an event).
    let relisted = |e: &watcher::Event<ConfigMap>| matches!(e, watcher::Event::Init).then_some(());
    wait_event(
        &mut events,
        "a relist (Init) after the restart",
        Duration::from_secs(40),
        relisted,
    )
    .await?;
    let want = names_of(&["before-1", "during-1", "during-2", "during-3", "after-1"]);
    let until = Instant::now() + Duration::from_secs(40);
    while names_arc(&reader.state()) != want {
        ensure!(
            Instant::now() < until,
            "store after restart: {:?}, want {want:?}",
            names_arc(&reader.state())
        );
        // Drive the reflector; any event may be the one that completes the store.
        let _ = tokio::time::timeout(Duration::from_secs(1), events.next()).await;
    }

    // A raw watch from an ancient version gets a single ERROR event carrying 410 Expired.
    let mut raw = api.watch(&WatchParams::default(), "1").await?.boxed();
    let first_event = tokio::time::timeout(DEADLINE, raw.try_next())
        .await
        .context("no event on a watch from rv 1")??;
    match first_event {
        Some(WatchEvent::Error(status)) => {
            expect_status(&status, 410, "Expired", "watch from resourceVersion 1")?;
        }
        other => {
            bail!("watch from resourceVersion 1: expected an ERROR event with 410, got {other:?}")
        }
    }
    second.shutdown().await;
    Ok(())
}
