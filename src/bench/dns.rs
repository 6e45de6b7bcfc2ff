//! `karmada bench dns`: queries per second and latency of our DNS and of BIND9 serving the
//! same zone on the same machine in the same run, measured with dnsperf and reported side by
//! side; and the time from an endpoint change written to the federation to the changed answer.

mod change;
pub use change::query_a;
mod peers;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::ensure;
use serde::Serialize;

use super::machine::Machine;
use super::report::{Percentiles, percentiles};

#[derive(clap::Args)]
pub struct Args {
    /// Exported Services in the zone, each answering one A record per cluster [default: 1000;
    /// 10 with --quick].
    #[arg(long)]
    services: Option<usize>,
    /// Clusters exporting every Service [default: 3].
    #[arg(long)]
    clusters: Option<usize>,
    /// Seconds of each throughput run [default: 10; 1 with --quick].
    #[arg(long)]
    seconds: Option<usize>,
    /// dnsperf clients (sockets).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Queries per second of the latency runs, where both servers have room to spare, so
    /// that percentiles show service time rather than queueing.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Endpoint changes timed from the federation write to the changed answer [default: 50;
    /// 3 with --quick].
    #[arg(long)]
    changes: Option<usize>,
    #[command(flatten)]
    common: super::Common,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Params {
    pub services: usize,
    pub clusters: usize,
    pub seconds: usize,
    pub clients: usize,
    pub rate: u64,
    pub changes: usize,
}

impl Args {
    fn params(&self) -> anyhow::Result<Params> {
        let pick = |explicit, full, quick| self.common.pick(explicit, full, quick);
        let params = Params {
            services: pick(self.services, 1000, 10),
            clusters: pick(self.clusters, 3, 3),
            seconds: pick(self.seconds, 10, 1),
            clients: self.clients,
            rate: self.rate,
            changes: pick(self.changes, 50, 3),
        };
        for (flag, value) in [
            ("--services", params.services),
            ("--clusters", params.clusters),
            ("--seconds", params.seconds),
            ("--clients", params.clients),
            ("--changes", params.changes),
        ] {
            ensure!(value >= 1, "{flag} must be at least 1");
        }
        ensure!(params.clusters <= 250, "--clusters must be at most 250");
        ensure!(params.rate >= 1, "--rate must be at least 1");
        Ok(params)
    }
}

/// One server's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Server {
    pub name: String,
    /// At full load.
    pub throughput: peers::Run,
    /// At `rate` queries per second.
    pub latency: peers::Run,
    pub latency_ms: Percentiles,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub params: Params,
    pub servers: Vec<Server>,
    /// Our queries per second over BIND9's.
    pub qps_ratio: f64,
    /// From an endpoint change written to the federation to the changed answer.
    pub change_ms: Percentiles,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let params = args.params()?;
    let machine = super::start(&params);
    let report = super::interruptible(Box::pin(bench(machine, params))).await?;
    super::publish(&table(&report), &report, args.common.out.as_deref())
}

async fn bench(machine: Machine, params: Params) -> anyhow::Result<Report> {
    let dir = tempfile::tempdir()?;
    let queries = dir.path().join("queries");
    std::fs::write(&queries, peers::queries(params.services))?;

    // Ours, in this process, from a snapshot of the synthetic zone.
    let published = Arc::new(karmada_dns::model::Published::new(peers::snapshot(
        params.services,
        params.clusters,
    )));
    let cancel = tokio_util::sync::CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    let address = change::serve(published, cancel.clone()).await?;

    let bind_dir = dir.path().join("bind9");
    std::fs::create_dir_all(&bind_dir)?;
    let bind_port = crate::dns::free_port(Ipv4Addr::LOCALHOST.into()).await?;
    let zone = peers::zone_file(params.services, params.clusters, 5);
    let bind = peers::Bind9::start(&bind_dir, bind_port, &zone, machine.cores).await?;

    let mut servers = Vec::new();
    for (name, server) in [
        ("karmada dns".to_string(), address),
        (bind.version.clone(), bind.address),
    ] {
        eprintln!("bench: {name}: {} s at full load", params.seconds);
        let seconds = params.seconds as u64;
        let throughput =
            peers::dnsperf(server, &queries, seconds, params.clients, None, false).await?;
        eprintln!(
            "bench: {name}: {} s at {} queries/s",
            params.seconds, params.rate
        );
        let latency = peers::dnsperf(
            server,
            &queries,
            seconds,
            params.clients,
            Some(params.rate),
            true,
        )
        .await?;
        let latency_ms = percentiles(&latency.latencies);
        servers.push(Server {
            name,
            throughput,
            latency,
            latency_ms,
        });
    }
    drop(bind);
    let qps_ratio = servers[0].throughput.qps / servers[1].throughput.qps.max(f64::MIN_POSITIVE);

    eprintln!("bench: timing {} endpoint changes", params.changes);
    let changes = change::measure(dir.path(), params.changes, Duration::from_secs(60)).await?;
    Ok(Report {
        machine,
        params,
        servers,
        qps_ratio,
        change_ms: percentiles(&changes),
    })
}

fn table(report: &Report) -> String {
    let p = &report.params;
    let m = &report.machine;
    let mut out = format!(
        "dns: {} Services x {} clusters (A, {} records each), dnsperf with {} clients; {} cores, \
         {} build\n\n{:<30} {:>11} {:>6} {:>9}  | latency at {} queries/s (ms)\n{:<30} {:>11} {:>6} {:>9}  | {:>7} {:>7} {:>7} {:>7}\n",
        p.services,
        p.clusters,
        p.clusters,
        p.clients,
        m.cores,
        m.build,
        "server",
        "queries/s",
        "lost",
        "avg ms",
        p.rate,
        "",
        "",
        "",
        "",
        "p50",
        "p90",
        "p99",
        "max",
    );
    for s in &report.servers {
        let l = &s.latency_ms;
        out.push_str(&format!(
            "{:<30} {:>11.0} {:>6} {:>9.3}  | {:>7.3} {:>7.3} {:>7.3} {:>7.3}\n",
            s.name,
            s.throughput.qps,
            s.throughput.lost,
            s.throughput.average_ms,
            l.p50,
            l.p90,
            l.p99,
            l.max,
        ));
    }
    let c = &report.change_ms;
    out.push_str(&format!(
        "\nours / BIND9 queries per second: {:.2}\n\
         endpoint change -> changed answer ({} changes): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, \
         max {:.1} ms\n",
        report.qps_ratio, p.changes, c.p50, c.p90, c.p99, c.max
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(argv: &[&str]) -> anyhow::Result<Params> {
        super::super::parse::<Args>(argv)?.params()
    }

    #[test]
    fn sizes_default_shrink_with_quick_and_are_checked() {
        let full = params(&[]).unwrap();
        assert_eq!((full.services, full.seconds, full.changes), (1000, 10, 50));
        let quick = params(&["--quick"]).unwrap();
        assert_eq!((quick.services, quick.seconds, quick.changes), (10, 1, 3));
        assert_eq!(params(&["--quick", "--services", "7"]).unwrap().services, 7);
        let err = params(&["--clusters", "0"]).unwrap_err();
        assert!(err.to_string().contains("--clusters"), "{err}");
    }
}
