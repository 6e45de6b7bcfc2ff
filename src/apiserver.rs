//! `karmada apiserver`: one Kubernetes-compatible API server.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use karmada_apiserver::kubeconfig;
use karmada_apiserver::server::{self, Backend, Config};

#[derive(clap::Args)]
pub struct Args {
    /// Address to serve on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Directory for the embedded store and the kubeconfig; without it data lives in memory.
    #[arg(long, conflicts_with = "etcd_endpoints")]
    data_dir: Option<PathBuf>,
    /// Comma-separated etcd client URLs; stores data in etcd instead of the embedded store.
    #[arg(long, value_delimiter = ',')]
    etcd_endpoints: Vec<String>,
    /// Key prefix in etcd, so several servers can share one etcd.
    #[arg(long, default_value = "")]
    etcd_prefix: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let backend = match (&args.data_dir, args.etcd_endpoints.is_empty()) {
        (_, false) => Backend::Etcd {
            endpoints: args.etcd_endpoints.clone(),
            prefix: args.etcd_prefix.clone(),
        },
        (Some(dir), true) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create data directory {}", dir.display()))?;
            Backend::Embedded(dir.clone())
        }
        (None, true) => Backend::Memory,
    };
    let cancel = crate::shutdown_signal();
    let running = server::start(Config::new(args.listen, backend), cancel).await?;
    let url = running.url();
    if let Some(dir) = &args.data_dir {
        let path = dir.join("kubeconfig");
        kubeconfig::write(
            &path,
            &[kubeconfig::Context {
                name: "karmada-apiserver".into(),
                server: url.clone(),
            }],
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
    }
    tracing::info!(%url, "apiserver ready");
    running.wait().await;
    Ok(())
}
