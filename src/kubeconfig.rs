//! Clients for the components that reach an apiserver through a kubeconfig file.

use std::path::Path;

use anyhow::Context as _;
use karmada_agents::push::credentials::Credentials;
use karmada_apiserver::kubeconfig;
use karmada_apiserver::tls::Issued;

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

/// The server, CA and credentials of the kubeconfig's current context.
pub fn credentials(path: &Path) -> anyhow::Result<Credentials> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
    Credentials::from_kubeconfig(&kubeconfig, None)
        .with_context(|| format!("kubeconfig {}", path.display()))
}

/// The server URL of the kubeconfig's current context, as the file states it.
pub fn server(path: &Path) -> anyhow::Result<String> {
    Ok(credentials(path)?.server)
}

/// A kubeconfig context `name` with these credentials.
pub fn context(name: &str, credentials: &Credentials) -> anyhow::Result<kubeconfig::Context> {
    let pem = |bytes: &Vec<u8>, what: &str| {
        String::from_utf8(bytes.clone())
            .with_context(|| format!("context {name}: the {what} is not PEM text"))
    };
    let ca_pem = match &credentials.ca_bundle {
        Some(bundle) => Some(pem(bundle, "CA bundle")?),
        None => None,
    };
    let client_certificate = match &credentials.client_certificate {
        Some((cert, key)) => Some(Issued {
            cert_pem: pem(cert, "client certificate")?,
            key_pem: pem(key, "client key")?,
        }),
        None => None,
    };
    Ok(kubeconfig::Context {
        name: name.to_string(),
        server: credentials.server.clone(),
        token: credentials.token.clone(),
        ca_pem,
        client_certificate,
    })
}
