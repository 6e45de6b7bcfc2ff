//! Runs the storage conformance suite on every backend, plus the embedded store's durability.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use karmada_apiserver::storage::embedded::Embedded;
use karmada_apiserver::storage::{Error, EventKind, RangeOptions, Storage, conformance};
use support::etcd::EtcdProcess;

/// One test per property on a fresh in-memory store, so a failure names the broken invariant.
macro_rules! in_memory_properties {
    ($($property:ident),* $(,)?) => {
        mod in_memory {
            use super::*;
            $(
                #[tokio::test]
                async fn $property() {
                    conformance::$property(&Embedded::in_memory().unwrap()).await;
                }
            )*
        }
    };
}

in_memory_properties!(
    revision_increments_by_one,
    create_rejects_existing_keys,
    update_and_delete_compare_revisions,
    create_revision_survives_updates_and_resets_on_recreate,
    values_are_opaque_bytes,
    range_orders_keys_and_isolates_prefixes,
    range_pages_with_limit_and_start_after,
    range_reads_past_revisions,
    range_rejects_future_revisions,
    watch_replays_history_with_prev_values,
    watch_from_zero_sees_only_new_writes,
    watch_delivers_live_deletes,
    concurrent_writers_never_lose_or_duplicate_revisions,
    compaction_forgets_history_but_keeps_current_values,
);

#[tokio::test]
async fn embedded_on_disk_passes_conformance() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(&Embedded::open(dir.path()).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_passes_conformance() {
    let etcd = EtcdProcess::start().await.unwrap();
    // A non-empty prefix also proves that keys are stored under it and stripped on the way out.
    conformance::run_all(&etcd.storage("/registry-test").await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_prefixes_keep_stores_apart() {
    let etcd = EtcdProcess::start().await.unwrap();
    let (one, two, raw) = (
        etcd.storage("/one").await.unwrap(),
        etcd.storage("/two").await.unwrap(),
        etcd.storage("").await.unwrap(),
    );
    let created = one
        .create("/pods/a", Bytes::from_static(b"1"))
        .await
        .unwrap();
    assert_eq!(created.key, "/pods/a");
    assert_eq!(two.get("/pods/a").await.unwrap(), None);
    two.create("/pods/a", Bytes::from_static(b"2"))
        .await
        .unwrap();
    let listed = one.range("/pods/", RangeOptions::default()).await.unwrap();
    assert_eq!(listed.kvs, std::slice::from_ref(&created));
    let stored = raw.range("/", RangeOptions::default()).await.unwrap();
    let keys: Vec<_> = stored.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/one/pods/a", "/two/pods/a"]);

    let mut watch = one.watch("/pods/", 0).await.unwrap();
    two.delete("/pods/a", None).await.unwrap();
    let deleted = one.delete("/pods/a", None).await.unwrap();
    let event = watch.next().await.unwrap().unwrap();
    assert_eq!((event.kind, event.kv), (EventKind::Delete, deleted));
}

#[tokio::test]
async fn embedded_fresh_store_starts_at_revision_zero() {
    let store = Embedded::in_memory().unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 0);
    assert_eq!(store.compacted_revision().await.unwrap(), 0);
    assert_eq!(
        store
            .create("/k", Bytes::from_static(b"v"))
            .await
            .unwrap()
            .mod_revision,
        1
    );
}

#[tokio::test]
async fn embedded_reopen_keeps_data_revisions_and_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let (a, c, horizon, current) = {
        let store = Embedded::open(dir.path()).unwrap();
        let a = store
            .create("/r/a", Bytes::from_static(b"a1"))
            .await
            .unwrap();
        let b = store
            .create("/r/b", Bytes::from_static(b"b1"))
            .await
            .unwrap();
        let a = store
            .update("/r/a", Bytes::from_static(b"a2"), a.mod_revision)
            .await
            .unwrap();
        store.delete("/r/b", Some(b.mod_revision)).await.unwrap();
        let c = store
            .create("/r/c", Bytes::from_static(b"c1"))
            .await
            .unwrap();
        store.compact(a.mod_revision).await.unwrap();
        (
            a,
            c,
            store.compacted_revision().await.unwrap(),
            store.current_revision().await.unwrap(),
        )
    };
    let store = Embedded::open(dir.path()).unwrap();
    assert_eq!(store.current_revision().await.unwrap(), current);
    assert_eq!(store.compacted_revision().await.unwrap(), horizon);
    assert_eq!(store.get("/r/a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.get("/r/b").await.unwrap(), None);
    assert_eq!(store.get("/r/c").await.unwrap(), Some(c.clone()));
    let at_horizon = RangeOptions {
        revision: Some(horizon),
        ..RangeOptions::default()
    };
    let listed = store.range("/r/", at_horizon).await.unwrap();
    let keys: Vec<_> = listed.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        ["/r/a", "/r/b"],
        "state at the horizon, before b's delete"
    );
    let below = RangeOptions {
        revision: Some(horizon - 1),
        ..RangeOptions::default()
    };
    assert!(matches!(
        store.range("/r/", below).await,
        Err(Error::Compacted { .. })
    ));

    let mut watch = store.watch("/r/", horizon).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(watch.next().await.unwrap().unwrap());
    }
    assert_eq!(
        seen.iter().map(|e| e.revision()).collect::<Vec<_>>(),
        [horizon, horizon + 1, horizon + 2]
    );
    assert_eq!(seen[2].kv, c);
    let next = store
        .create("/r/d", Bytes::from_static(b"d1"))
        .await
        .unwrap();
    assert_eq!(
        next.mod_revision,
        current + 1,
        "the revision counter continues after a reopen"
    );
}

#[tokio::test]
async fn embedded_refuses_a_second_open_of_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Embedded::open(dir.path()).unwrap();
    let error = Embedded::open(dir.path())
        .err()
        .expect("a second open of a store in use must fail");
    let message = format!(
        "{error}: {}",
        std::error::Error::source(&error)
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert!(
        message.contains("another process"),
        "unhelpful error: {message}"
    );
}

#[tokio::test]
async fn embedded_slow_watcher_catches_up_without_gaps() {
    const WRITES: i64 = 3000;
    let store = Embedded::in_memory().unwrap();
    let mut watch = store.watch("/lag/", 0).await.unwrap();
    // Far more writes than the live broadcast buffers, none read yet: the watcher lags.
    for i in 0..WRITES {
        store
            .create(&format!("/lag/{i:05}"), Bytes::from_static(b"v"))
            .await
            .unwrap();
    }
    for expected in 1..=WRITES {
        let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("watch stalled")
            .expect("watch ended")
            .expect("watch failed");
        assert_eq!(event.revision(), expected);
        assert_eq!(event.kv.key, format!("/lag/{:05}", expected - 1));
    }
}

/// Set in the child process of the durability test: the directory it writes to.
const WRITER_ENV: &str = "KARMADA_STORAGE_DURABILITY_WRITER_DIR";
const ACKS_BEFORE_KILL: usize = 200;

/// Kills a writer with SIGKILL mid-stream and checks that every write it acknowledged is there.
#[test]
fn embedded_acknowledged_writes_survive_kill_9() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Ok(dir) = std::env::var(WRITER_ENV) {
        // Child mode: write until killed, acknowledging each committed write on stdout.
        runtime.block_on(write_and_acknowledge(Path::new(&dir)));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "embedded_acknowledged_writes_survive_kill_9",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, acks) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut acknowledged = Vec::new();
    let mut killed = false;
    loop {
        let line = match acks.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!(
                    "the writer acknowledged only {} writes in 60 s",
                    acknowledged.len()
                );
            }
        };
        if let Some(ack) = line.strip_prefix("ack ") {
            let (index, revision) = ack.split_once(' ').unwrap();
            acknowledged.push((
                index.parse::<u64>().unwrap(),
                revision.parse::<i64>().unwrap(),
            ));
        }
        if !killed && acknowledged.len() >= ACKS_BEFORE_KILL {
            child.kill().unwrap(); // SIGKILL: no destructors, no flushes
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    assert!(
        killed && !status.success(),
        "the writer finished before it could be killed: {status}"
    );

    runtime.block_on(async {
        let store = Embedded::open(dir.path()).unwrap();
        for (index, revision) in &acknowledged {
            let kv = store.get(&format!("/durable/{index:07}")).await.unwrap();
            let kv = kv.unwrap_or_else(|| {
                panic!("acknowledged write {index} (revision {revision}) was lost")
            });
            assert_eq!(
                (kv.mod_revision, kv.value),
                (*revision, Bytes::from(format!("value-{index}")))
            );
        }
        let last = acknowledged.last().unwrap().1;
        assert!(store.current_revision().await.unwrap() >= last);
    });
}

async fn write_and_acknowledge(dir: &Path) {
    let store = Embedded::open(dir).unwrap();
    for index in 0..1_000_000u64 {
        let kv = store
            .create(
                &format!("/durable/{index:07}"),
                Bytes::from(format!("value-{index}")),
            )
            .await
            .unwrap();
        println!("ack {index} {}", kv.mod_revision);
    }
}
