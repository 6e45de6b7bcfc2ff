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

/// The server URL of the kubeconfig's current context, as the file states it.
pub fn server(path: &Path) -> anyhow::Result<String> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
    let context_name = kubeconfig
        .current_context
        .clone()
        .with_context(|| format!("kubeconfig {} has no current context", path.display()))?;
    let cluster_name = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .with_context(|| {
            format!(
                "kubeconfig {}: context {context_name} is missing",
                path.display()
            )
        })?;
    kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .with_context(|| {
            format!(
                "kubeconfig {}: cluster {cluster_name} has no server",
                path.display()
            )
        })
}
