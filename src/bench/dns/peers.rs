//! The measuring tools of `bench dns`: the synthetic zone (as our snapshot and as a BIND9 zone
//! file with the same names and addresses), BIND9 itself, and dnsperf.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use karmada_dns::model::{Backend, Cluster, Endpoint, Service, Snapshot};
use tokio::process::{Child, Command};

/// The namespace of the synthetic Services.
const NAMESPACE: &str = "bench";

/// The name of synthetic Service `i`.
pub fn service_name(i: usize) -> String {
    format!("svc-{i}.{NAMESPACE}.svc.clusterset.local")
}

/// Service `i`'s ClusterIP in cluster `c` (0-based): 10.(c+1).x.y, distinct for every pair.
fn service_ip(i: usize, c: usize) -> Ipv4Addr {
    let [_, _, x, y] = u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes();
    Ipv4Addr::new(10, u8::try_from(c + 1).unwrap_or(u8::MAX), x, y)
}

/// `services` ClusterSetIP Services, each exported from every one of `clusters` Ready clusters
/// with one ready endpoint: every name answers `clusters` A records.
pub fn snapshot(services: usize, clusters: usize) -> Snapshot {
    let mut snapshot = Snapshot::default();
    for c in 0..clusters {
        snapshot.clusters.insert(
            format!("member{}", c + 1),
            Cluster {
                ready: true,
                region: None,
            },
        );
    }
    for i in 0..services {
        let backends: BTreeMap<String, Backend> = (0..clusters)
            .map(|c| {
                let backend = Backend {
                    service_ips: vec![IpAddr::V4(service_ip(i, c))],
                    endpoints: vec![Endpoint {
                        addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 200, 0, 1))],
                        ready: true,
                        hostname: None,
                        ports: Vec::new(),
                    }],
                };
                (format!("member{}", c + 1), backend)
            })
            .collect();
        snapshot.services.insert(
            (NAMESPACE.to_string(), format!("svc-{i}")),
            Service {
                headless: false,
                ports: Vec::new(),
                policy: karmada_dns::model::Policy::RoundRobin,
                backends,
            },
        );
    }
    snapshot
}

/// The same names and addresses as [`snapshot`], as a BIND9 zone file for `clusterset.local`.
pub fn zone_file(services: usize, clusters: usize, ttl: u32) -> String {
    let mut zone = format!(
        "$TTL {ttl}\n@ IN SOA ns.dns.clusterset.local. hostmaster.clusterset.local. 1 7200 1800 86400 {ttl}\n\
         @ IN NS ns.dns.clusterset.local.\nns.dns IN A 127.0.0.1\n"
    );
    for i in 0..services {
        for c in 0..clusters {
            zone.push_str(&format!(
                "svc-{i}.{NAMESPACE}.svc IN A {}\n",
                service_ip(i, c)
            ));
        }
    }
    zone
}

/// dnsperf's input: every Service's name, type A.
pub fn queries(services: usize) -> String {
    (0..services)
        .map(|i| format!("{} A\n", service_name(i)))
        .collect()
}

/// A running BIND9 (`named`), killed on drop.
pub struct Bind9 {
    _child: Child,
    pub address: SocketAddr,
    pub version: String,
}

impl Bind9 {
    /// Starts `named` in the foreground on 127.0.0.1:`port` with `zone` for
    /// `clusterset.local`, its files in `dir`, one thread per core; returns once it answers.
    pub async fn start(dir: &Path, port: u16, zone: &str, threads: usize) -> anyhow::Result<Bind9> {
        let version = Command::new("named")
            .arg("-v")
            .output()
            .await
            .context("cannot run named: install BIND9 (Debian: apt-get install bind9)")?;
        let version = String::from_utf8_lossy(&version.stdout)
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        std::fs::write(dir.join("zone"), zone)?;
        let d = dir.display();
        // No control channel, no recursion, loopback only: an authoritative server like ours.
        let conf = format!(
            "options {{ directory \"{d}\"; pid-file \"{d}/named.pid\"; listen-on port {port} {{ 127.0.0.1; }};\n\
             listen-on-v6 {{ none; }}; recursion no; }};\ncontrols {{ }};\n\
             zone \"clusterset.local\" {{ type primary; file \"{d}/zone\"; }};\n"
        );
        std::fs::write(dir.join("named.conf"), conf)?;
        let child = Command::new("named")
            .args(["-g", "-c"])
            .arg(dir.join("named.conf"))
            .args(["-n", &threads.max(1).to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("named.log"))?)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start named")?;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let bind = Bind9 {
            _child: child,
            address,
            version,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while super::change::query_a(address, &service_name(0))
            .await
            .is_err()
        {
            ensure!(
                Instant::now() < deadline,
                "named did not answer within 30 s; its log is {}",
                dir.join("named.log").display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(bind)
    }
}

/// What one dnsperf run measured.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Run {
    pub queries: u64,
    pub lost: u64,
    pub qps: f64,
    /// dnsperf's average latency, in milliseconds.
    pub average_ms: f64,
    /// Per-query latencies (only with `verbose`).
    #[serde(skip)]
    pub latencies: Vec<Duration>,
}

/// Runs dnsperf against `server` for `seconds` with `clients` clients, at most `rate` queries
/// per second when given; `verbose` also collects every query's latency.
pub async fn dnsperf(
    server: SocketAddr,
    queries: &Path,
    seconds: u64,
    clients: usize,
    rate: Option<u64>,
    verbose: bool,
) -> anyhow::Result<Run> {
    let mut command = Command::new("dnsperf");
    command
        .args([
            "-s",
            &server.ip().to_string(),
            "-p",
            &server.port().to_string(),
        ])
        .arg("-d")
        .arg(queries)
        .args(["-l", &seconds.to_string(), "-c", &clients.to_string()])
        .args(["-q", "200"]);
    if let Some(rate) = rate {
        command.args(["-Q", &rate.to_string()]);
    }
    if verbose {
        command.arg("-v");
    }
    let out = command
        .output()
        .await
        .context("cannot run dnsperf: install it (Debian: apt-get install dnsperf)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "dnsperf failed ({}): {}{}",
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse(&text)
}

/// Reads dnsperf's statistics and, from `-v` lines (`> NOERROR name A 0.000123`), latencies.
fn parse(text: &str) -> anyhow::Result<Run> {
    let field = |label: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
    };
    let number = |label: &str| -> anyhow::Result<f64> {
        field(label)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("dnsperf printed no {label:?}:\n{text}"))
    };
    let latencies = text
        .lines()
        .filter(|l| l.starts_with("> "))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .collect();
    Ok(Run {
        queries: number("Queries sent:")? as u64,
        lost: number("Queries lost:")? as u64,
        qps: number("Queries per second:")?,
        average_ms: number("Average Latency (s):")? * 1000.0,
        latencies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zone_file_holds_the_snapshots_names_and_addresses() {
        let snapshot = snapshot(300, 3);
        let zone = zone_file(300, 3, 5);
        assert_eq!(snapshot.services.len(), 300);
        let svc = &snapshot.services[&("bench".to_string(), "svc-299".to_string())];
        for (c, backend) in svc.backends.values().enumerate() {
            let ip = backend.service_ips[0];
            assert_eq!(ip, IpAddr::V4(service_ip(299, c)));
            assert!(
                zone.contains(&format!("svc-299.bench.svc IN A {ip}\n")),
                "{ip}"
            );
        }
        // Every address is distinct.
        let mut all: Vec<Ipv4Addr> = (0..300)
            .flat_map(|i| (0..3).map(move |c| service_ip(i, c)))
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 900);
        assert_eq!(
            queries(2),
            "svc-0.bench.svc.clusterset.local A\nsvc-1.bench.svc.clusterset.local A\n"
        );
    }

    #[test]
    fn dnsperf_output_is_read() {
        let text = "> NOERROR svc-0.bench.svc.clusterset.local A 0.000120
> NOERROR svc-1.bench.svc.clusterset.local A 0.000300
Statistics:

  Queries sent:         198730
  Queries completed:    198730 (100.00%)
  Queries lost:         0 (0.00%)

  Queries per second:   99303.431872

  Average Latency (s):  0.000630 (min 0.000014, max 0.005150)
";
        let run = parse(text).unwrap();
        assert_eq!(run.queries, 198_730);
        assert_eq!(run.lost, 0);
        assert!((run.qps - 99_303.43).abs() < 0.01);
        assert!((run.average_ms - 0.63).abs() < 1e-9);
        assert_eq!(
            run.latencies,
            [Duration::from_micros(120), Duration::from_micros(300)]
        );
        assert!(parse("nothing").is_err());
    }
}
