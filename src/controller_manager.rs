//! `karmada controller-manager`: the federation's controllers against a federation apiserver
//! reached through a kubeconfig.

use std::path::PathBuf;

use karmada_propagation::{binding, detector, execution_namespace, namespace_sync, status};

#[derive(clap::Args)]
pub struct Args {
    /// Kubeconfig of the federation apiserver (its current context is used).
    #[arg(long)]
    kubeconfig: PathBuf,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = crate::kubeconfig::client(&args.kubeconfig).await?;
    let cancel = crate::shutdown_signal();
    tracing::info!("controller-manager ready");
    tokio::join!(
        execution_namespace::run(client.clone(), cancel.clone()),
        namespace_sync::run(client.clone(), cancel.clone()),
        detector::controller::run(client.clone(), cancel.clone()),
        binding::controller::run(client.clone(), cancel.clone()),
        status::controller::run(client, cancel),
    );
    Ok(())
}
