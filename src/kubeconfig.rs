//! Clients for the components that reach an apiserver through a kubeconfig file.

use std::path::Path;

use anyhow::Context as _;

/// A client for the current context of the kubeconfig at `path`.
pub async fn client(path: &Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .with_context(|| format!("kubeconfig {} is not usable", path.display()))?;
    kube::Client::try_from(config)
        .with_context(|| format!("cannot build a client from kubeconfig {}", path.display()))
}
