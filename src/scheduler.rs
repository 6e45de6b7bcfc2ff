//! `karmada scheduler`: places every (Cluster)ResourceBinding on member clusters, against a
//! federation apiserver reached through a kubeconfig.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Kubeconfig of the federation apiserver (its current context is used).
    #[arg(long)]
    kubeconfig: PathBuf,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = crate::kubeconfig::client(&args.kubeconfig).await?;
    let cancel = crate::shutdown_signal();
    tracing::info!("scheduler ready");
    karmada_scheduler::driver::run(client, cancel).await;
    Ok(())
}
