//! `karmada dns`: the federation's global DNS, authoritative for the multi-cluster service
//! zone (and optionally a global zone), answering from a watch of the federation.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use karmada_dns::config::{Config, Prefix};
use karmada_dns::metrics::Metrics;
use karmada_dns::model::Published;

#[derive(clap::Args)]
pub struct Args {
    /// Kubeconfig of the federation apiserver (its current context is used).
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Where to serve DNS, over UDP and TCP (port 0 picks one free for both).
    #[arg(long, default_value = "127.0.0.1:5353")]
    listen: SocketAddr,
    /// The multi-cluster service zone: `<svc>.<ns>.svc.<zone>`.
    #[arg(long, default_value = "clusterset.local")]
    zone: String,
    /// A zone for global names (`<name>.<zone>`) of LoadBalancer Services and Services
    /// annotated `dns.karmada.io/global-name`; none when unset.
    #[arg(long)]
    global_zone: Option<String>,
    /// TTL of every answer, in seconds (also the SOA minimum, so negative answers age as fast).
    #[arg(long, default_value_t = 5)]
    ttl: u32,
    /// Client prefix to region, for the `nearest` policy when the query carries no EDNS Client
    /// Subnet: `10.1.0.0/16=us-east` (repeat or comma-separate).
    #[arg(long = "region", value_delimiter = ',', value_name = "PREFIX=REGION")]
    regions: Vec<String>,
    /// Serve Prometheus metrics (queries, answers by rcode, latency) at
    /// `http://ADDR/metrics`; not served when unset.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
}

/// `PREFIX=REGION` pairs.
fn parse_regions(pairs: &[String]) -> anyhow::Result<Vec<(Prefix, String)>> {
    pairs
        .iter()
        .map(|pair| {
            let (prefix, region) = pair.split_once('=').with_context(|| {
                format!("--region {pair:?} is not PREFIX=REGION, e.g. 10.1.0.0/16=us-east")
            })?;
            let prefix: Prefix = prefix
                .trim()
                .parse()
                .with_context(|| format!("--region {pair:?}"))?;
            let region = region.trim();
            anyhow::ensure!(!region.is_empty(), "--region {pair:?} names no region");
            Ok((prefix, region.to_string()))
        })
        .collect()
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = Config {
        zone: args.zone,
        global_zone: args.global_zone,
        ttl: args.ttl,
        regions: parse_regions(&args.regions)?,
        ns_address: (!args.listen.ip().is_unspecified()).then_some(args.listen.ip()),
    };
    let client = crate::kubeconfig::client(&args.kubeconfig).await?;
    let cancel = crate::shutdown_signal();
    let published = Arc::new(Published::default());
    tracing::info!("reading the federation");
    let keep_current = karmada_dns::source::start(client, Arc::clone(&published), cancel.clone())
        .await
        .context("cannot watch the federation")?;
    let watch = tokio::spawn(keep_current);
    // Bound only once the first snapshot is there, so nothing is answered from an empty view.
    let (udp, tcp) = bind(args.listen).await?;
    let address = udp.local_addr()?;
    let metrics = Arc::new(Metrics::new());
    if let Some(addr) = args.metrics_listen {
        serve_metrics(addr, Arc::clone(&metrics), cancel.clone()).await?;
    }
    tracing::info!(listen = %address, zone = %config.zone, global_zone = ?config.global_zone, "dns ready");
    let served = karmada_dns::server::serve(config, published, udp, tcp, metrics, cancel.clone())
        .await
        .context("the DNS server failed");
    cancel.cancel();
    let _ = watch.await;
    served
}

/// A port of `ip` free for both UDP and TCP at this moment.
pub(crate) async fn free_port(ip: std::net::IpAddr) -> anyhow::Result<u16> {
    let (udp, _tcp) = bind(SocketAddr::new(ip, 0)).await?;
    Ok(udp.local_addr()?.port())
}

/// UDP and TCP sockets on the same address; with port 0, a port free for both.
async fn bind(
    listen: SocketAddr,
) -> anyhow::Result<(tokio::net::UdpSocket, tokio::net::TcpListener)> {
    const ATTEMPTS: usize = 20;
    for _ in 0..ATTEMPTS {
        let udp = tokio::net::UdpSocket::bind(listen)
            .await
            .with_context(|| format!("cannot listen on UDP {listen}"))?;
        let address = udp.local_addr()?;
        match tokio::net::TcpListener::bind(address).await {
            Ok(tcp) => return Ok((udp, tcp)),
            // The port picked for UDP is taken for TCP: pick again.
            Err(_) if listen.port() == 0 => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot listen on TCP {address}")),
        }
    }
    anyhow::bail!(
        "found no port free for both UDP and TCP on {} in {ATTEMPTS} attempts",
        listen.ip()
    )
}

/// Serves `GET /metrics` in Prometheus' text format until `cancel`.
async fn serve_metrics(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    cancel: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on --metrics-listen {addr}"))?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = Arc::clone(&metrics);
            async move {
                (
                    [("content-type", "text/plain; version=0.0.4")],
                    metrics.render(),
                )
            }
        }),
    );
    tracing::info!(url = %format!("http://{}/metrics", listener.local_addr()?), "metrics served");
    tokio::spawn(async move {
        let shutdown = async move { cancel.cancelled().await };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "the metrics server stopped");
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_parse_and_bad_ones_say_what_to_write() {
        let regions =
            parse_regions(&["10.1.0.0/16=us-east".into(), " fd00::/8 = eu ".into()]).unwrap();
        assert_eq!(regions.len(), 2);
        assert_eq!(regions[1].1, "eu");
        for (bad, says) in [
            ("10.1.0.0/16", "PREFIX=REGION"),
            ("10.1.0.0/16=", "names no region"),
            ("nonsense=us", "--region"),
        ] {
            let err = format!("{:#}", parse_regions(&[bad.into()]).unwrap_err());
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
