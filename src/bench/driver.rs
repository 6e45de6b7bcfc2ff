//! Runs one operation a fixed number of times over concurrent tasks, timing every call.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::task::JoinSet;

/// How often a running phase reports how far it got.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Latencies of a batch of calls and the wall time the batch took.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// One entry per call (or per delivered event), in no particular order.
    pub latencies: Vec<Duration>,
    /// Wall time from the first call starting to the last one finishing.
    pub elapsed: Duration,
    /// Objects the calls moved in total (list calls move many per call).
    pub objects: usize,
}

/// The outputs of a [`run`], in call-index order, and its measurements.
pub struct Run<T> {
    pub outputs: Vec<T>,
    pub measured: Measured,
}

/// Calls `op(i)` for every `i` in `0..count`, with at most `concurrency` calls in flight.
///
/// The first failing call stops the run: a benchmark of a server that returns errors would
/// measure the wrong thing, so the error is returned with the phase it happened in.
pub async fn run<T, F, Fut>(
    phase: &str,
    count: usize,
    concurrency: usize,
    op: F,
) -> anyhow::Result<Run<T>>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let completed = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency.clamp(1, count.max(1)) {
        let (op, next, completed) = (op.clone(), next.clone(), completed.clone());
        tasks.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return anyhow::Ok(done);
                }
                let began = Instant::now();
                let output = op(i).await?;
                done.push((i, began.elapsed(), output));
                completed.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let mut results = Vec::with_capacity(count);
    let mut progress =
        tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                None => break,
                // Dropping `tasks` on return aborts the calls still in flight.
                Some(joined) => results.extend(
                    joined.with_context(|| format!("a {phase} task panicked"))?
                        .with_context(|| format!("{phase} failed"))?,
                ),
            },
            _ = progress.tick() => {
                let completed = completed.load(Ordering::Relaxed);
                eprintln!("bench:     {phase}: {completed}/{count} done after {:.1}s", start.elapsed().as_secs_f64());
            }
        }
    }
    let elapsed = start.elapsed();
    results.sort_unstable_by_key(|(i, _, _)| *i);
    let mut latencies = Vec::with_capacity(results.len());
    let outputs = results
        .into_iter()
        .map(|(_, latency, output)| {
            latencies.push(latency);
            output
        })
        .collect();
    Ok(Run {
        outputs,
        measured: Measured {
            latencies,
            elapsed,
            objects: count,
        },
    })
}

/// Tells the person waiting which phase starts.
pub fn announce(backend: &str, phase: &str, calls: usize, concurrency: usize) {
    eprintln!(
        "bench: {backend}: {phase}: {calls} calls, {} at a time",
        concurrency.min(calls)
    );
}

/// Tells the person waiting how the phase went, and hands its measurements on.
pub fn finished(
    backend: &str,
    phase: &'static str,
    measured: Measured,
) -> (&'static str, Measured) {
    let seconds = measured.elapsed.as_secs_f64();
    eprintln!(
        "bench: {backend}: {phase}: done in {seconds:.2}s ({:.0}/s)",
        if seconds > 0.0 {
            measured.latencies.len() as f64 / seconds
        } else {
            0.0
        }
    );
    (phase, measured)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_every_index_once_and_keeps_index_order() {
        let run = run("square", 50, 7, |i| async move { anyhow::Ok(i * i) })
            .await
            .unwrap();
        assert_eq!(run.outputs, (0..50).map(|i| i * i).collect::<Vec<_>>());
        assert_eq!(run.measured.latencies.len(), 50);
        assert_eq!(run.measured.objects, 50);
    }

    #[tokio::test]
    async fn never_has_more_calls_in_flight_than_the_concurrency() {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (f, p) = (in_flight.clone(), peak.clone());
        run("gauge", 40, 3, move |_| {
            let (f, p) = (f.clone(), p.clone());
            async move {
                let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                tokio::task::yield_now().await;
                f.fetch_sub(1, Ordering::SeqCst);
                anyhow::Ok(())
            }
        })
        .await
        .unwrap();
        assert!(peak.load(Ordering::SeqCst) <= 3);
    }

    #[tokio::test]
    async fn a_failing_call_fails_the_run_naming_the_phase() {
        let result = run("create", 10, 2, |i| async move {
            anyhow::ensure!(i != 4, "object 4 refused");
            Ok(i)
        })
        .await;
        let message = format!("{:#}", result.err().expect("the run must fail"));
        assert!(
            message.contains("create failed") && message.contains("object 4 refused"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn an_empty_run_is_empty() {
        let run = run("none", 0, 4, |i| async move { anyhow::Ok(i) })
            .await
            .unwrap();
        assert!(run.outputs.is_empty() && run.measured.latencies.is_empty());
    }
}
