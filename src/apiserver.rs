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
    #[command(flatten)]
    storage: StorageArgs,
}

/// Where a control plane keeps its data; shared by every command that runs an apiserver.
#[derive(clap::Args)]
pub struct StorageArgs {
    /// Directory for the kubeconfig and, unless `--etcd-endpoints` is given, the embedded
    /// store; without either, data lives in memory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Comma-separated etcd client URLs; stores data in etcd instead of the embedded store.
    #[arg(long, value_delimiter = ',')]
    pub etcd_endpoints: Vec<String>,
    /// Key prefix in etcd, so several servers can share one etcd.
    #[arg(long, default_value = "")]
    pub etcd_prefix: String,
}

impl StorageArgs {
    pub fn backend(&self) -> anyhow::Result<Backend> {
        Ok(match (&self.data_dir, self.etcd_endpoints.is_empty()) {
            (_, false) => Backend::Etcd {
                endpoints: self.etcd_endpoints.clone(),
                prefix: self.etcd_prefix.clone(),
            },
            (Some(dir), true) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create data directory {}", dir.display()))?;
                Backend::Embedded(dir.clone())
            }
            (None, true) => Backend::Memory,
        })
    }

    /// With `--data-dir`, writes `DIR/kubeconfig` whose one context, `name`, points at `url`.
    pub fn write_kubeconfig(&self, name: &str, url: &str) -> anyhow::Result<()> {
        let Some(dir) = &self.data_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        let path = dir.join("kubeconfig");
        let context = kubeconfig::Context {
            name: name.into(),
            server: url.into(),
        };
        kubeconfig::write(&path, &[context])
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cancel = crate::shutdown_signal();
    // The federation's apiserver: Karmada's kinds are served from start.
    let config = Config {
        karmada_api: true,
        ..Config::new(args.listen, args.storage.backend()?)
    };
    let running = server::start(config, cancel).await?;
    let url = running.url();
    args.storage.write_kubeconfig("karmada-apiserver", &url)?;
    tracing::info!(%url, "apiserver ready");
    running.wait().await;
    Ok(())
}
