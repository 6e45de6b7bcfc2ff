//! Benchmark figures: latency percentiles, one row per backend and operation, the stdout
//! table and the JSON document.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::driver::Measured;
use super::machine::Machine;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// Nearest-rank percentiles (the smallest sample that at least q of all samples do not
/// exceed), so every reported figure is a latency that was actually observed.
pub fn percentiles(latencies: &[Duration]) -> Percentiles {
    if latencies.is_empty() {
        return Percentiles::default();
    }
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let at = |q: f64| {
        let rank = (q * sorted.len() as f64).ceil() as usize;
        millis(sorted[rank.clamp(1, sorted.len()) - 1])
    };
    Percentiles {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: millis(sorted[sorted.len() - 1]),
    }
}

/// One step every item (a Deployment, a binding) goes through.
#[derive(Debug, Clone, Serialize)]
pub struct Milestone {
    pub step: &'static str,
    /// From the start of the measured part to the last item reaching the step.
    pub seconds: f64,
    /// Items that reached the step, per second of `seconds`.
    pub per_sec: f64,
    /// Per item, from its creation to reaching the step.
    pub latency_ms: Percentiles,
}

/// The milestone `step` from when each item was `created` and `reached` it, timed from `t0`.
pub fn milestone(
    step: &'static str,
    t0: Instant,
    created: &HashMap<String, Instant>,
    reached: &HashMap<String, Instant>,
) -> Milestone {
    let latencies: Vec<Duration> = reached
        .iter()
        .filter_map(|(name, at)| Some(at.saturating_duration_since(*created.get(name)?)))
        .collect();
    let seconds = reached
        .values()
        .max()
        .map_or(0.0, |at| at.saturating_duration_since(t0).as_secs_f64());
    Milestone {
        step,
        seconds,
        per_sec: if seconds > 0.0 {
            latencies.len() as f64 / seconds
        } else {
            0.0
        },
        latency_ms: percentiles(&latencies),
    }
}

/// A table of steps: when the last item reached each (seconds from the start), items per
/// second, and per-item latency percentiles; `rate` names the rate column.
pub fn milestone_table<'a>(
    out: &mut String,
    rate: &str,
    rows: impl IntoIterator<Item = (&'a str, f64, f64, Percentiles)>,
) {
    let _ = writeln!(
        out,
        "{:<20} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10}",
        "step", "all at s", rate, "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for (step, seconds, per_sec, l) in rows {
        let _ = writeln!(
            out,
            "{step:<20} {seconds:>9.2} {per_sec:>9.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            l.p50, l.p90, l.p99, l.max
        );
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One operation on one backend.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub backend: String,
    pub operation: String,
    /// Calls made (for `watch-event`: events delivered, summed over watchers).
    pub count: usize,
    /// Objects moved by those calls (lists move many per call).
    pub objects: usize,
    pub seconds: f64,
    pub ops_per_sec: f64,
    pub latency_ms: Percentiles,
}

impl Row {
    pub fn new(backend: &str, operation: &str, measured: &Measured) -> Row {
        let seconds = measured.elapsed.as_secs_f64();
        let count = measured.latencies.len();
        Row {
            backend: backend.to_owned(),
            operation: operation.to_owned(),
            count,
            objects: measured.objects,
            seconds,
            ops_per_sec: if seconds > 0.0 {
                count as f64 / seconds
            } else {
                0.0
            },
            latency_ms: percentiles(&measured.latencies),
        }
    }
}

/// The sizes a run used, after `--quick` and explicit flags were applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Params {
    pub objects: usize,
    pub concurrency: usize,
    pub watchers: usize,
    pub events: usize,
    pub list_rounds: usize,
    pub payload_bytes: usize,
}

/// What one backend's run observed beyond the rows.
#[derive(Debug, Clone, Serialize)]
pub struct BackendNotes {
    pub backend: String,
    /// Bytes of one stored ConfigMap as the server returned it; the raw writes use this size.
    pub value_bytes: usize,
    /// Watch events expected (watchers x events) and actually delivered before the deadline.
    pub watch_events_expected: usize,
    pub watch_events_delivered: usize,
    /// Resident memory of this process (server and clients together) after the workload.
    pub process_rss_bytes: Option<u64>,
    /// Resident memory of the private etcd after the workload, for the etcd backend.
    pub etcd_rss_bytes: Option<u64>,
}

/// The JSON document written to `--out`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub benchmark: &'static str,
    pub machine: Machine,
    pub params: Params,
    pub results: Vec<Row>,
    pub backends: Vec<BackendNotes>,
}

/// The table printed on stdout: one line per backend and operation.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<9} {:<14} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "backend", "operation", "count", "ops/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for row in rows {
        let l = row.latency_ms;
        let _ = writeln!(
            out,
            "{:<9} {:<14} {:>7} {:>10.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            row.backend, row.operation, row.count, row.ops_per_sec, l.p50, l.p90, l.p99, l.max
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn percentiles_pick_observed_samples_by_nearest_rank() {
        let one_to_hundred: Vec<u64> = (1..=100).collect();
        let cases: &[(&[u64], Percentiles)] = &[
            (&[], Percentiles::default()),
            (
                &[7],
                Percentiles {
                    p50: 7.0,
                    p90: 7.0,
                    p99: 7.0,
                    max: 7.0,
                },
            ),
            (
                &[4, 1, 3, 2],
                Percentiles {
                    p50: 2.0,
                    p90: 4.0,
                    p99: 4.0,
                    max: 4.0,
                },
            ),
            (
                &one_to_hundred,
                Percentiles {
                    p50: 50.0,
                    p90: 90.0,
                    p99: 99.0,
                    max: 100.0,
                },
            ),
            (
                &[1, 1, 1, 1, 1, 1, 1, 1, 1, 1000],
                Percentiles {
                    p50: 1.0,
                    p90: 1.0,
                    p99: 1000.0,
                    max: 1000.0,
                },
            ),
        ];
        for (samples, want) in cases {
            assert_eq!(percentiles(&ms(samples)), *want, "samples {samples:?}");
        }
    }

    #[test]
    fn a_row_divides_calls_by_wall_time() {
        let measured = Measured {
            latencies: ms(&[1, 2, 3, 4]),
            elapsed: Duration::from_secs(2),
            objects: 40,
        };
        let row = Row::new("etcd", "list", &measured);
        assert_eq!((row.count, row.objects, row.ops_per_sec), (4, 40, 2.0));
        assert_eq!(row.latency_ms.max, 4.0);
    }

    #[test]
    fn a_row_of_nothing_has_zero_throughput() {
        let row = Row::new("embedded", "create", &Measured::default());
        assert_eq!((row.count, row.ops_per_sec), (0, 0.0));
    }

    #[test]
    fn the_table_has_a_header_and_one_line_per_row() {
        let measured = Measured {
            latencies: ms(&[2]),
            elapsed: Duration::from_millis(500),
            objects: 1,
        };
        let rows = [
            Row::new("embedded", "create", &measured),
            Row::new("etcd", "raw-put", &measured),
        ];
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("backend") && lines[0].contains("p99 ms"));
        assert!(lines[1].starts_with("embedded  create") && lines[1].contains("2.0"));
        assert!(lines[2].starts_with("etcd      raw-put"));
    }
}
