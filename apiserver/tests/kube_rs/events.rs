//! Reading kube-runtime watcher streams with deadlines and readable failure messages.

use std::time::{Duration, Instant};

use anyhow::bail;
use futures::StreamExt;
use futures::stream::BoxStream;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};

use crate::support::server::DEADLINE;

pub(crate) type Events<K> = BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>;

fn event_label<K: ResourceExt>(event: &watcher::Event<K>) -> String {
    match event {
        watcher::Event::Apply(o) => format!("Apply({})", o.name_any()),
        watcher::Event::Delete(o) => format!("Delete({})", o.name_any()),
        watcher::Event::Init => "Init".into(),
        watcher::Event::InitApply(o) => format!("InitApply({})", o.name_any()),
        watcher::Event::InitDone => "InitDone".into(),
    }
}

/// Reads `events` until `pick` accepts one, within `deadline`. Watcher errors are tolerated
/// (the watcher retries by itself) but reported if the wanted event never comes.
pub(crate) async fn wait_event<K: ResourceExt, T>(
    events: &mut Events<K>,
    what: &str,
    deadline: Duration,
    mut pick: impl FnMut(&watcher::Event<K>) -> Option<T>,
) -> anyhow::Result<T> {
    let until = Instant::now() + deadline;
    let mut seen = Vec::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.next()).await {
            Err(_) => bail!("timed out after {deadline:?} waiting for {what}; saw {seen:?}"),
            Ok(None) => bail!("the watcher stream ended while waiting for {what}; saw {seen:?}"),
            Ok(Some(Err(e))) => seen.push(format!("error: {e}")),
            Ok(Some(Ok(event))) => {
                if let Some(found) = pick(&event) {
                    return Ok(found);
                }
                seen.push(event_label(&event));
            }
        }
    }
}

/// A watcher on `api` whose initial listing is already done, so later events are live changes.
pub(crate) async fn started_watcher<K>(
    api: Api<K>,
    config: watcher::Config,
) -> anyhow::Result<Events<K>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let mut events = watcher(api, config).default_backoff().boxed();
    let is_done = |e: &watcher::Event<K>| matches!(e, watcher::Event::InitDone).then_some(());
    wait_event(
        &mut events,
        "the initial list (InitDone)",
        DEADLINE,
        is_done,
    )
    .await?;
    Ok(events)
}

/// Picks the `Apply` event of `name`, yielding the object.
pub(crate) fn applied<K: ResourceExt + Clone>(
    name: &str,
) -> impl FnMut(&watcher::Event<K>) -> Option<K> + '_ {
    move |e| match e {
        watcher::Event::Apply(o) if o.name_any() == name => Some(o.clone()),
        _ => None,
    }
}

pub(crate) fn deleted<K: ResourceExt>(
    name: &str,
) -> impl FnMut(&watcher::Event<K>) -> Option<()> + '_ {
    move |e| matches!(e, watcher::Event::Delete(o) if o.name_any() == name).then_some(())
}
