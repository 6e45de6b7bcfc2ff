//! `karmada controller-manager`: the federation's controllers against a federation apiserver
//! reached through a kubeconfig.

use std::path::PathBuf;

use anyhow::Context as _;
use karmada_propagation::execution_namespace;

#[derive(clap::Args)]
pub struct Args {
    /// Kubeconfig of the federation apiserver (its current context is used).
    #[arg(long)]
    kubeconfig: PathBuf,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let kubeconfig = kube::config::Kubeconfig::read_from(&args.kubeconfig)
        .with_context(|| format!("cannot read kubeconfig {}", args.kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .with_context(|| format!("kubeconfig {} is not usable", args.kubeconfig.display()))?;
    let client = kube::Client::try_from(config).context("cannot build a client")?;
    let cancel = crate::shutdown_signal();
    tracing::info!("controller-manager ready");
    execution_namespace::run(client, cancel).await;
    Ok(())
}
