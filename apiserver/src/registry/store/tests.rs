//! The store over the embedded backend: updates that start from a stale cache, and which
//! changes count as no change at all.

use super::*;
use crate::registry::watch_cache;
use crate::storage::embedded::Embedded;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// A store whose watch cache stops following storage when `freeze` is cancelled.
async fn store() -> (Store, CancellationToken) {
    let storage: Arc<dyn Storage> = Arc::new(Embedded::in_memory().expect("store"));
    let freeze = CancellationToken::new();
    let cache = WatchCache::start(
        storage.clone(),
        watch_cache::Options::default(),
        freeze.clone(),
    )
    .await
    .expect("cache");
    (
        Store::new(
            storage,
            cache,
            super::super::catalog::Catalog::with_native(),
        ),
        freeze,
    )
}

/// A store holding `namespaces`, its freeze token (see [`store`]) and the ConfigMap resource.
async fn store_with(namespaces: &[&str]) -> (Store, CancellationToken, Arc<Resource>) {
    let (store, freeze) = store().await;
    let namespace_resource = store.catalog().get("", "v1", "namespaces").expect("native");
    let configmaps = store.catalog().get("", "v1", "configmaps").expect("native");
    for name in namespaces {
        let namespace = json!({"metadata": {"name": name}});
        store
            .create(
                &namespace_resource,
                None,
                namespace,
                &WriteOptions::default(),
            )
            .await
            .expect("namespace");
    }
    (store, freeze, configmaps)
}

/// The revision an object was written at, from its `resourceVersion`.
fn revision_of(object: &Value) -> i64 {
    object
        .resource_version()
        .expect("rv")
        .parse()
        .expect("number")
}

fn set_label(value: &'static str) -> impl FnMut(Option<&Value>) -> Result<Value> {
    move |current| {
        let mut new = current.cloned().unwrap_or_default();
        new["metadata"]["labels"] = json!({"x": value});
        Ok(new)
    }
}

/// Updates ConfigMap `ns/c` through `mutate`.
async fn update_c(
    store: &Store,
    configmaps: &Resource,
    mutate: impl FnMut(Option<&Value>) -> Result<Value>,
) -> Result<(Value, bool)> {
    let options = WriteOptions::default();
    store
        .update_with(
            configmaps,
            Some("ns"),
            "c",
            Subresource::Main,
            &options,
            false,
            mutate,
        )
        .await
}

#[tokio::test]
async fn updates_stay_correct_when_the_cache_is_stale() {
    let (store, freeze, configmaps) = store_with(&["ns"]).await;
    let options = WriteOptions::default();
    let cm = json!({"metadata": {"name": "c", "labels": {"x": "1"}}});
    let created = store
        .create(&configmaps, Some("ns"), cm, &options)
        .await
        .expect("configmap");
    let revision = revision_of(&created);
    store
        .cache()
        .wait_for(revision)
        .await
        .expect("cache caught up");
    freeze.cancel();
    // Let the feeder see the cancellation before storage moves on.
    tokio::task::yield_now().await;

    let update = |v| update_c(&store, &configmaps, set_label(v));
    // The cache still says x=1; storage moves to x=2.
    let (two, _) = update("2").await.expect("update from a fresh cache entry");
    assert_eq!(two["metadata"]["labels"]["x"], "2");
    // Against the stale copy x=1 looks unchanged; it must still be written.
    let (one, _) = update("1").await.expect("update past a stale cache entry");
    assert_eq!(one["metadata"]["labels"]["x"], "1");
    let stored = store.get(&configmaps, Some("ns"), "c").await.expect("get");
    assert_eq!(stored["metadata"]["labels"]["x"], "1");
    // Unchanged against storage: no new revision.
    let before = store.storage().current_revision().await.expect("revision");
    update("1").await.expect("no-op update");
    assert_eq!(
        store.storage().current_revision().await.expect("revision"),
        before
    );
    // A resourceVersion precondition matching storage (not the stale cache) succeeds.
    let rv = stored.resource_version().expect("rv").to_string();
    update_c(&store, &configmaps, |current| {
        let mut new = current.cloned().unwrap_or_default();
        new["metadata"]["resourceVersion"] = json!(rv.clone());
        new["data"] = json!({"k": "v"});
        Ok(new)
    })
    .await
    .expect("precondition on the stored version");
}

#[test]
fn only_bookkeeping_changes_count_as_unchanged() {
    let current = json!({
        "kind": "ConfigMap",
        "metadata": {"name": "c", "resourceVersion": "5", "managedFields": [{"manager": "a"}]},
        "data": {"k": "v"},
    });
    // Key order, resourceVersion and managedFields do not matter.
    let reordered = json!({
        "data": {"k": "v"},
        "metadata": {"managedFields": [{"manager": "b"}], "name": "c"},
        "kind": "ConfigMap",
    });
    assert!(unchanged(&current, &reordered));
    let mut labelled = current.clone();
    labelled["metadata"]["labels"] = json!({"x": "1"});
    assert!(!unchanged(&current, &labelled));
    let mut edited = current.clone();
    edited["data"]["k"] = json!("w");
    assert!(!unchanged(&current, &edited));
    let mut extra = current.clone();
    extra["spec"] = json!({});
    assert!(!unchanged(&current, &extra));
    assert!(!unchanged(&extra, &current));
    // A missing metadata is the same as one holding only bookkeeping.
    assert!(unchanged(
        &json!({"data": {}}),
        &json!({"data": {}, "metadata": {"resourceVersion": "1"}})
    ));
}

/// Names of the ConfigMaps a list with `selector` (in `namespace`, if any) returns.
async fn names_selected(
    store: &Store,
    configmaps: &Resource,
    namespace: Option<&str>,
    selector: &str,
) -> Vec<String> {
    use crate::registry::list::{Filter, ListOptions};
    use crate::registry::selector::LabelSelector;
    let filter = Filter {
        namespace: namespace.map(str::to_owned),
        labels: Some(LabelSelector::parse(selector).expect("selector")),
        fields: None,
    };
    let options = ListOptions {
        filter: filter.clone(),
        ..Default::default()
    };
    let page = store.list(configmaps, &options).await.expect("list");
    let listed: Vec<String> = page
        .items
        .iter()
        .map(|o| format!("{}/{}", o.namespace().unwrap_or(""), o.name().unwrap_or("")))
        .collect();
    // A watch from now sends the same objects first, read the same way.
    let mut watch = store.watch(configmaps, filter, None).await.expect("watch");
    let mut initial = Vec::new();
    while watch.has_pending_initial() {
        let event = watch.next().await.expect("initial event");
        let object = &event.object;
        initial.push(format!(
            "{}/{}",
            object.namespace().unwrap_or(""),
            object.name().unwrap_or("")
        ));
    }
    assert_eq!(
        listed, initial,
        "list and initial watch events of {selector:?}"
    );
    listed
}

#[tokio::test]
async fn label_selected_lists_follow_creates_relabels_and_deletes() {
    let (store, _freeze, configmaps) = store_with(&["a", "b"]).await;
    let options = WriteOptions::default();
    let mut last = None;
    for (ns, name, labels) in [
        ("b", "one", json!({"owner": "x", "tier": "web"})),
        ("a", "two", json!({"owner": "x"})),
        ("a", "three", json!({"owner": "y", "tier": "web"})),
        ("a", "four", json!({})),
    ] {
        let cm = json!({"metadata": {"name": name, "labels": labels}});
        last = Some(
            store
                .create(&configmaps, Some(ns), cm, &options)
                .await
                .expect("create"),
        );
    }
    let rv = revision_of(&last.expect("created"));
    store.cache().wait_for(rv).await.expect("cache caught up");

    let selected = |ns, selector| names_selected(&store, &configmaps, ns, selector);
    assert_eq!(selected(None, "owner=x").await, ["a/two", "b/one"]);
    assert_eq!(selected(Some("a"), "owner=x").await, ["a/two"]);
    assert_eq!(
        selected(None, "owner in (x,y)").await,
        ["a/three", "a/two", "b/one"]
    );
    // The index narrows by one requirement; the others still apply.
    assert_eq!(
        selected(None, "owner in (x,y),tier=web").await,
        ["a/three", "b/one"]
    );
    assert_eq!(selected(None, "owner=x,tier!=web").await, ["a/two"]);
    assert_eq!(selected(None, "owner=z").await, Vec::<String>::new());
    // Without an equality requirement every object is read and matched.
    assert_eq!(selected(None, "!owner").await, ["a/four"]);

    let relabel = |name: &'static str, labels: Value| {
        let store = &store;
        let configmaps = &configmaps;
        async move {
            let options = WriteOptions::default();
            store
                .update_with(
                    configmaps,
                    Some("a"),
                    name,
                    Subresource::Main,
                    &options,
                    false,
                    |current| {
                        let mut new = current.cloned().unwrap_or_default();
                        new["metadata"]["labels"] = labels.clone();
                        Ok(new)
                    },
                )
                .await
                .expect("relabel")
                .0
        }
    };
    relabel("four", json!({"owner": "x"})).await;
    let moved = relabel("two", json!({"owner": "y"})).await;
    let deleted = store
        .delete(&configmaps, Some("b"), "one", &Default::default())
        .await
        .expect("delete");
    assert!(deleted.gone);
    let rv = revision_of(&moved);
    store
        .cache()
        .wait_for(rv + 1)
        .await
        .expect("cache caught up");
    assert_eq!(selected(None, "owner=x").await, ["a/four"]);
    assert_eq!(selected(None, "owner=y").await, ["a/three", "a/two"]);
}

#[tokio::test]
async fn lists_at_an_exact_revision_read_storage_whole_or_in_pages() {
    use crate::registry::list::{ListOptions, ReadAt};
    let (store, freeze, configmaps) = store_with(&["ns"]).await;
    let options = WriteOptions::default();
    let mut at = 0;
    for name in ["a", "b", "c"] {
        let cm = json!({"metadata": {"name": name}});
        let created = store
            .create(&configmaps, Some("ns"), cm, &options)
            .await
            .expect("create");
        at = revision_of(&created);
    }
    // Written after the revision listed: not in the list.
    let late = json!({"metadata": {"name": "d"}});
    store
        .create(&configmaps, Some("ns"), late, &options)
        .await
        .expect("create");
    let names = |items: &[Arc<Value>]| -> Vec<String> {
        items
            .iter()
            .map(|o| o.name().unwrap_or_default().to_string())
            .collect()
    };
    let exact = |limit, continue_token| ListOptions {
        limit,
        continue_token,
        read_at: ReadAt::Exact(at),
        ..Default::default()
    };
    let whole = store
        .list(&configmaps, &exact(0, None))
        .await
        .expect("whole");
    assert_eq!(names(&whole.items), ["a", "b", "c"]);
    assert!(whole.continue_token.is_none());
    let first = store
        .list(&configmaps, &exact(2, None))
        .await
        .expect("first page");
    assert_eq!(names(&first.items), ["a", "b"]);
    let rest = store
        .list(&configmaps, &exact(2, first.continue_token.clone()))
        .await
        .expect("second page");
    assert_eq!(names(&rest.items), ["c"]);
    assert!(rest.continue_token.is_none());

    // A consistent list with the cache stuck behind storage reads storage's latest state.
    freeze.cancel();
    tokio::task::yield_now().await;
    let newest = json!({"metadata": {"name": "e"}});
    let newest = store
        .create(&configmaps, Some("ns"), newest, &options)
        .await
        .expect("create");
    let newest_at = revision_of(&newest);
    assert!(store.cache().revision() < newest_at, "the cache is behind");
    let latest = store
        .list(&configmaps, &ListOptions::default())
        .await
        .expect("latest");
    assert_eq!(names(&latest.items), ["a", "b", "c", "d", "e"]);
    assert_eq!(
        latest.revision.to_string(),
        newest.resource_version().expect("rv")
    );
}
