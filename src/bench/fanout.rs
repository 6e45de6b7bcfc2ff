//! Watch fan-out: many kube-rs watchers on ConfigMaps, then a series of creates, timing how
//! long each event takes from its create returning to each watcher receiving it.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::driver::{self, Measured};
use super::report::Params;
use super::workload::config_map;

/// Server-side watch timeout; far longer than any run, so no watch ends mid-measurement.
const WATCH_TIMEOUT_SECS: u32 = 290;
/// How long watchers may take to receive every event after the last create returned; a
/// watcher still missing events then has them counted as missing, not waited for.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(60);
const NAME_PREFIX: &str = "bench-watch-";

/// What the fan-out phase measured.
pub struct Fanout {
    /// Time for each watch request to be accepted.
    pub open: Measured,
    /// One latency per event per watcher, from the create returning to the event arriving.
    pub events: Measured,
    pub expected: usize,
    pub delivered: usize,
}

/// When one watcher received each of the benchmark's events (`None`: not received).
type Receipts = Vec<Option<Instant>>;

pub async fn run(api: &Api<ConfigMap>, params: &Params, backend: &str) -> anyhow::Result<Fanout> {
    let events = params.events;
    // Watching from a listed resourceVersion makes every later create reach every watcher,
    // however long the watchers took to open.
    let list = api
        .list(&ListParams::default().limit(1))
        .await
        .context("cannot list ConfigMaps before watching")?;
    let version = list
        .metadata
        .resource_version
        .context("the list response has no resourceVersion")?;
    let stop = CancellationToken::new();

    driver::announce(backend, "watch-open", params.watchers, params.concurrency);
    let opened = driver::run("watch-open", params.watchers, params.concurrency, {
        let (api, stop) = (api.clone(), stop.clone());
        move |i| {
            let (api, version, stop) = (api.clone(), version.clone(), stop.clone());
            async move {
                let watch_params = WatchParams::default().timeout(WATCH_TIMEOUT_SECS);
                let stream = api
                    .watch(&watch_params, &version)
                    .await
                    .with_context(|| format!("cannot open watch {i}"))?;
                anyhow::Ok(tokio::spawn(receive(stream, events, stop)))
            }
        }
    })
    .await;
    let receivers = match opened {
        Ok(run) => run,
        Err(e) => {
            stop.cancel();
            return Err(e);
        }
    };
    let open = driver::finished(backend, "watch-open", receivers.measured).1;

    driver::announce(backend, "watch-event", events, 1);
    let began = Instant::now();
    let mut returned = Vec::with_capacity(events);
    for j in 0..events {
        let name = format!("{NAME_PREFIX}{j:06}");
        let created = api
            .create(&PostParams::default(), &config_map(&name, "watched"))
            .await;
        if let Err(e) = created {
            stop.cancel();
            return Err(e)
                .with_context(|| format!("cannot create ConfigMap {name} for the watchers"));
        }
        returned.push(Instant::now());
    }
    let receipts = collect(receivers.outputs, &stop).await?;
    let measured = event_latencies(&returned, &receipts, began);
    let delivered = measured.latencies.len();
    let expected = events * params.watchers;
    if delivered < expected {
        eprintln!(
            "bench: {backend}: watch-event: only {delivered} of {expected} events arrived within {DELIVERY_DEADLINE:?}"
        );
    }
    let events = driver::finished(backend, "watch-event", measured).1;
    Ok(Fanout {
        open,
        events,
        expected,
        delivered,
    })
}

/// Records when each benchmark event arrives, until all have or `stop` is cancelled.
async fn receive(
    stream: impl Stream<Item = kube::Result<WatchEvent<ConfigMap>>>,
    events: usize,
    stop: CancellationToken,
) -> Receipts {
    let mut receipts: Receipts = vec![None; events];
    let mut missing = events;
    let mut stream = std::pin::pin!(stream);
    while missing > 0 {
        let next = tokio::select! {
            _ = stop.cancelled() => break,
            next = stream.next() => next,
        };
        let event = match next {
            Some(Ok(event)) => event,
            Some(Err(e)) => {
                eprintln!("bench: a watch failed: {e}");
                break;
            }
            None => break,
        };
        let arrived = Instant::now();
        match event {
            WatchEvent::Added(object) => {
                if let Some(slot) = object
                    .metadata
                    .name
                    .as_deref()
                    .and_then(event_index)
                    .and_then(|j| receipts.get_mut(j))
                    && slot.is_none()
                {
                    *slot = Some(arrived);
                    missing -= 1;
                }
            }
            WatchEvent::Error(status) => {
                eprintln!("bench: a watch ended with an error: {}", status.message);
                break;
            }
            WatchEvent::Modified(_) | WatchEvent::Deleted(_) | WatchEvent::Bookmark(_) => {}
        }
    }
    receipts
}

/// Waits for every watcher, stopping the stragglers at the delivery deadline.
async fn collect(
    receivers: Vec<JoinHandle<Receipts>>,
    stop: &CancellationToken,
) -> anyhow::Result<Vec<Receipts>> {
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(DELIVERY_DEADLINE).await;
            stop.cancel();
        })
    };
    let mut all = Vec::with_capacity(receivers.len());
    for receiver in receivers {
        all.push(receiver.await.context("a watcher task panicked")?);
    }
    stopper.abort();
    stop.cancel();
    Ok(all)
}

/// The index of a fan-out event from its object's name.
fn event_index(name: &str) -> Option<usize> {
    name.strip_prefix(NAME_PREFIX)?.parse().ok()
}

/// One latency per received event: arrival minus the moment its create returned (zero when
/// the event beat the create's response). The phase lasts from the first create until the
/// last arrival.
fn event_latencies(returned: &[Instant], receipts: &[Receipts], began: Instant) -> Measured {
    let mut latencies = Vec::new();
    let mut last = returned.last().copied().unwrap_or(began);
    for watcher in receipts {
        for (arrived, returned) in watcher.iter().zip(returned) {
            if let Some(arrived) = arrived {
                latencies.push(arrived.saturating_duration_since(*returned));
                last = last.max(*arrived);
            }
        }
    }
    let objects = latencies.len();
    Measured {
        latencies,
        elapsed: last.duration_since(began),
        objects,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_indexes_come_from_benchmark_names_only() {
        let cases = [
            ("bench-watch-000007", Some(7)),
            ("bench-000007", None),
            ("bench-watch-x", None),
        ];
        for (name, want) in cases {
            assert_eq!(event_index(name), want, "{name}");
        }
    }

    #[test]
    fn latencies_run_from_create_return_to_arrival_and_skip_missing_events() {
        let began = Instant::now();
        let at = |ms: u64| began + Duration::from_millis(ms);
        let returned = [at(10), at(20)];
        let receipts = vec![
            vec![Some(at(12)), Some(at(25))],
            // An event may arrive before its create's response does: that is zero latency.
            vec![Some(at(9)), None],
        ];
        let measured = event_latencies(&returned, &receipts, began);
        let mut got = measured.latencies.clone();
        got.sort();
        assert_eq!(
            got,
            [
                Duration::ZERO,
                Duration::from_millis(2),
                Duration::from_millis(5)
            ]
        );
        assert_eq!(measured.elapsed, Duration::from_millis(25));
        assert_eq!(measured.objects, 3);
    }

    #[test]
    fn with_nothing_received_the_phase_ends_at_the_last_create() {
        let began = Instant::now();
        let returned = [began + Duration::from_millis(4)];
        let measured = event_latencies(&returned, &[vec![None]], began);
        assert!(measured.latencies.is_empty());
        assert_eq!(measured.elapsed, Duration::from_millis(4));
    }
}
