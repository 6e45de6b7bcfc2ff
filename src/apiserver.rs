//! `karmada apiserver`: one Kubernetes-compatible API server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use karmada_apiserver::auth::authorizer::Mode;
use karmada_apiserver::pki::ClusterCa;
use karmada_apiserver::server::{self, Backend, Config};
use karmada_apiserver::{kubeconfig, tls};

/// The file in the data directory holding the admin token of an RBAC server.
const ADMIN_TOKEN_FILE: &str = "admin-token";

#[derive(clap::Args)]
pub struct Args {
    /// Address to serve on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    auth: AuthArgs,
}

/// Who may use a server; shared by every command that runs an apiserver.
#[derive(clap::Args)]
pub struct AuthArgs {
    /// `RBAC`: HTTPS, with a certificate from the cluster CA (DIR/pki, made on first start);
    /// requests need credentials (a bearer token, or a client certificate of that CA) except
    /// /healthz, /livez, /readyz and /version, and RBAC decides what each user may do; the
    /// kubeconfig written into --data-dir trusts the CA and carries an admin token (kept in
    /// DIR/admin-token). `AlwaysAllow`: plain HTTP where anyone may do anything, for
    /// development on a loopback address only.
    #[arg(long, value_enum, default_value_t = AuthorizationMode::Rbac)]
    pub authorization_mode: AuthorizationMode,
    /// Static bearer tokens, one `token,user,uid[,"group1,group2"]` per line (kube-apiserver's
    /// format).
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,
    /// Append an `audit.k8s.io/v1` event (who, what, when, result) for every mutating request
    /// to this file.
    #[arg(long)]
    pub audit_log_path: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthorizationMode {
    #[value(name = "AlwaysAllow")]
    AlwaysAllow,
    #[value(name = "RBAC")]
    Rbac,
}

/// The cluster CA kept in `DIR/pki` (made on first start), or one made for this run without a
/// data directory.
pub fn cluster_ca(data_dir: Option<&Path>, name: &str) -> anyhow::Result<ClusterCa> {
    Ok(match data_dir {
        Some(dir) => ClusterCa::load_or_create(&dir.join("pki"), name)?,
        None => ClusterCa::generate(name)?,
    })
}

impl AuthArgs {
    /// `config` with these settings. An RBAC server serves HTTPS with a certificate of `ca`
    /// and gets an admin token: kept in the data directory (made on first start, reused
    /// after), or made for this run without one. Plain HTTP is refused off loopback.
    pub fn apply(
        &self,
        config: Config,
        data_dir: Option<&Path>,
        ca: &ClusterCa,
    ) -> anyhow::Result<Config> {
        let authorization = match self.authorization_mode {
            AuthorizationMode::AlwaysAllow => Mode::AlwaysAllow,
            AuthorizationMode::Rbac => Mode::Rbac,
        };
        let config = Config {
            audit_log: self.audit_log_path.clone(),
            ..config
        };
        if authorization == Mode::AlwaysAllow {
            anyhow::ensure!(
                config.listen.ip().is_loopback(),
                "--authorization-mode AlwaysAllow serves plain HTTP to anyone, so it only \
                 listens on a loopback address, not {}; use --authorization-mode RBAC (the \
                 default) or listen on 127.0.0.1",
                config.listen.ip()
            );
            return Ok(Config {
                authorization,
                token_file: self.token_auth_file.clone(),
                ..config
            });
        }
        let mut hosts = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let ip = config.listen.ip();
        if !ip.is_unspecified() && !ip.is_loopback() {
            hosts.push(ip.to_string());
        }
        let serving = tls::serving_certificate(ca, &hosts)?;
        let admin_token = match data_dir {
            Some(dir) => admin_token(dir)?,
            None => new_token(),
        };
        Ok(Config {
            authorization,
            token_file: self.token_auth_file.clone(),
            admin_token: Some(admin_token),
            tls: Some(Arc::new(tls::Tls::new(ca, &serving)?)),
            signer: Some(Arc::new(ca.clone())),
            ..config
        })
    }
}

/// The admin token kept in `dir`, created (readable by its owner only) when missing.
fn admin_token(dir: &Path) -> anyhow::Result<String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_string()),
        Ok(_) => anyhow::bail!(
            "{} is empty; delete it to have a new token made",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let token = new_token();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(token.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(token)
}

/// A fresh random bearer token: 256 bits, in hex.
fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

    /// With `--data-dir`, writes `DIR/kubeconfig` whose one context, `name`, points at `url`,
    /// trusts `ca_pem` and presents `token` when given.
    pub fn write_kubeconfig(
        &self,
        name: &str,
        url: &str,
        token: Option<String>,
        ca_pem: Option<String>,
    ) -> anyhow::Result<()> {
        let Some(dir) = &self.data_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        let path = dir.join("kubeconfig");
        let context = kubeconfig::Context {
            name: name.into(),
            server: url.into(),
            token,
            ca_pem,
            client_certificate: None,
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
    let data_dir = args.storage.data_dir.as_deref();
    let ca = cluster_ca(data_dir, "karmada-ca")?;
    let config = args.auth.apply(config, data_dir, &ca)?;
    let running = server::start(config, cancel).await?;
    let url = running.url();
    args.storage.write_kubeconfig(
        "karmada-apiserver",
        &url,
        running.admin_token.clone(),
        running.ca_pem.clone(),
    )?;
    tracing::info!(%url, "apiserver ready");
    running.wait().await;
    Ok(())
}
