//! Query counters and the latency histogram of the DNS server, rendered in the Prometheus text
//! format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_proto::op::ResponseCode;

/// Upper bounds of the latency buckets, in microseconds (50µs to 100ms).
const BUCKETS_MICROS: [u64; 11] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000,
];

/// The response codes counted apart; anything else counts as `OTHER`.
const RCODES: [(ResponseCode, &str); 7] = [
    (ResponseCode::NoError, "NOERROR"),
    (ResponseCode::FormErr, "FORMERR"),
    (ResponseCode::ServFail, "SERVFAIL"),
    (ResponseCode::NXDomain, "NXDOMAIN"),
    (ResponseCode::NotImp, "NOTIMP"),
    (ResponseCode::Refused, "REFUSED"),
    (ResponseCode::BADVERS, "BADVERS"),
];

/// Counters of the DNS server; shared with whoever serves them over HTTP.
#[derive(Debug, Default)]
pub struct Metrics {
    queries: AtomicU64,
    /// One per `RCODES` entry, then `OTHER`.
    responses: [AtomicU64; RCODES.len() + 1],
    /// Non-cumulative counts per bucket, then the overflow past the last bound.
    latency: [AtomicU64; BUCKETS_MICROS.len() + 1],
    latency_sum_nanos: AtomicU64,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Records one answered query: its response code and how long answering took.
    pub fn observe(&self, rcode: ResponseCode, elapsed: Duration) {
        self.queries.fetch_add(1, Ordering::Relaxed);
        let index = RCODES
            .iter()
            .position(|(code, _)| u16::from(*code) == u16::from(rcode))
            .unwrap_or(RCODES.len());
        self.responses[index].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_MICROS
            .iter()
            .position(|bound| micros <= *bound)
            .unwrap_or(BUCKETS_MICROS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Queries answered so far.
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Responses sent so far with this response code.
    pub fn responses(&self, rcode: ResponseCode) -> u64 {
        let index = RCODES
            .iter()
            .position(|(code, _)| u16::from(*code) == u16::from(rcode))
            .unwrap_or(RCODES.len());
        self.responses[index].load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        // Writing to a String cannot fail.
        let _ = self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) -> std::fmt::Result {
        writeln!(
            out,
            "# HELP karmada_dns_queries_total DNS queries answered."
        )?;
        writeln!(out, "# TYPE karmada_dns_queries_total counter")?;
        writeln!(out, "karmada_dns_queries_total {}", self.queries())?;
        writeln!(
            out,
            "# HELP karmada_dns_responses_total DNS responses by response code."
        )?;
        writeln!(out, "# TYPE karmada_dns_responses_total counter")?;
        let names = RCODES.iter().map(|(_, name)| *name).chain(["OTHER"]);
        for (name, count) in names.zip(&self.responses) {
            let count = count.load(Ordering::Relaxed);
            writeln!(
                out,
                "karmada_dns_responses_total{{rcode=\"{name}\"}} {count}"
            )?;
        }
        let histogram = "karmada_dns_request_duration_seconds";
        writeln!(out, "# HELP {histogram} Time to answer a DNS query.")?;
        writeln!(out, "# TYPE {histogram} histogram")?;
        let mut cumulative = 0;
        for (bound, count) in BUCKETS_MICROS.iter().zip(&self.latency) {
            cumulative += count.load(Ordering::Relaxed);
            let le = *bound as f64 / 1e6;
            writeln!(out, "{histogram}_bucket{{le=\"{le}\"}} {cumulative}")?;
        }
        cumulative += self.latency[BUCKETS_MICROS.len()].load(Ordering::Relaxed);
        writeln!(out, "{histogram}_bucket{{le=\"+Inf\"}} {cumulative}")?;
        let sum = self.latency_sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        writeln!(out, "{histogram}_sum {sum}")?;
        writeln!(out, "{histogram}_count {cumulative}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_show_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.observe(ResponseCode::NoError, Duration::from_micros(30));
        metrics.observe(ResponseCode::NoError, Duration::from_micros(700));
        metrics.observe(ResponseCode::NXDomain, Duration::from_millis(200));
        metrics.observe(ResponseCode::YXDomain, Duration::from_micros(60));
        let text = metrics.render();
        for line in [
            "karmada_dns_queries_total 4",
            "karmada_dns_responses_total{rcode=\"NOERROR\"} 2",
            "karmada_dns_responses_total{rcode=\"NXDOMAIN\"} 1",
            "karmada_dns_responses_total{rcode=\"OTHER\"} 1",
            "karmada_dns_responses_total{rcode=\"REFUSED\"} 0",
            "karmada_dns_request_duration_seconds_bucket{le=\"0.00005\"} 1",
            "karmada_dns_request_duration_seconds_bucket{le=\"0.0001\"} 2",
            "karmada_dns_request_duration_seconds_bucket{le=\"0.001\"} 3",
            "karmada_dns_request_duration_seconds_bucket{le=\"0.1\"} 3",
            "karmada_dns_request_duration_seconds_bucket{le=\"+Inf\"} 4",
            "karmada_dns_request_duration_seconds_count 4",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert_eq!(metrics.responses(ResponseCode::NoError), 2);
    }
}
