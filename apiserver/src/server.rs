//! Assembles and runs one API server: storage, watch cache, controllers and the HTTP listener.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::auth::attributes::ClientCertificate;
use crate::auth::attributes::{self, User};
use crate::auth::authn::StaticTokens;
use crate::auth::authorizer::{Auth, Mode};
use crate::auth::tokens::TokenIssuer;
use crate::controllers;
use crate::http::audit::AuditLog;
use crate::http::inflight::{InFlight, Limits};
use crate::http::{self, Api};
use crate::openapi::OpenApi;
use crate::registry::catalog::Catalog;
use crate::registry::error::Error as RegistryError;
use crate::registry::store::{Store, WriteOptions};
use crate::registry::watch_cache::{self, WatchCache};
use crate::storage::{self, Storage};
use crate::tls::Tls;

/// Where the server keeps its data.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The embedded store in this directory.
    Embedded(PathBuf),
    /// The embedded store in memory (tests, throwaway servers).
    Memory,
    /// An etcd cluster; keys live under `prefix`.
    Etcd {
        endpoints: Vec<String>,
        prefix: String,
    },
}

/// How to run a server.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub backend: Backend,
    /// History kept for compaction: revisions older than this are compacted periodically.
    pub compaction_interval: Duration,
    /// Serve the Karmada API from start (a federation apiserver): its CRDs and admission.
    pub karmada_api: bool,
    /// Serve the MCS API's CRDs (ServiceExport, ServiceImport) from start, as a member cluster
    /// does; implied by `karmada_api`.
    pub mcs_api: bool,
    /// Whether requests are authenticated and authorized (RBAC) or all allowed.
    pub authorization: Mode,
    /// Static bearer tokens (kube-apiserver's `--token-auth-file` format).
    pub token_file: Option<PathBuf>,
    /// A bearer token for [`ADMIN_USER`], a member of `system:masters`: the credential of the
    /// kubeconfig the server writes.
    pub admin_token: Option<String>,
    /// Serve HTTPS with this (and accept client certificates of its CA); plain HTTP without.
    pub tls: Option<Arc<Tls>>,
    /// Sign cluster agents' client certificates with this CA when asked (CSRs); none without.
    pub signer: Option<Arc<crate::pki::ClusterCa>>,
    /// Append an audit event for every mutating request to this file.
    pub audit_log: Option<PathBuf>,
    /// How long a client may take to send its request headers (slow clients are cut off).
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request body.
    pub body_read_timeout: Duration,
    /// Requests in flight per client and in all.
    pub in_flight: Limits,
}

/// The user of the admin token.
pub const ADMIN_USER: &str = "karmada-admin";

impl Config {
    pub fn new(listen: SocketAddr, backend: Backend) -> Self {
        Config {
            listen,
            backend,
            compaction_interval: Duration::from_secs(300),
            karmada_api: false,
            mcs_api: false,
            authorization: Mode::default(),
            token_file: None,
            admin_token: None,
            tls: None,
            signer: None,
            audit_log: None,
            // Also how long a kept-alive connection may idle: longer than clients' own idle
            // timeout (90 s in client-go and hyper), so they always close first and never send
            // on a connection the server is closing.
            header_read_timeout: Duration::from_secs(120),
            body_read_timeout: Duration::from_secs(60),
            in_flight: Limits::default(),
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open the storage backend: {0}")]
    Storage(#[source] storage::Error),
    #[error("cannot load the service-account token signing key: {0}")]
    SigningKey(#[source] crate::auth::tokens::Error),
    #[error("cannot start the watch cache: {0}")]
    Cache(#[source] RegistryError),
    #[error("cannot install the Karmada or MCS API's CRDs: {0}")]
    KarmadaApi(#[source] RegistryError),
    #[error("cannot create the built-in namespace {name}: {source}")]
    Bootstrap { name: String, source: RegistryError },
    #[error("cannot write the default RBAC roles and bindings: {0}")]
    Rbac(#[source] RegistryError),
    #[error(transparent)]
    TokenFile(#[from] crate::auth::authn::FileError),
    #[error("cannot open the audit log {path}: {source}")]
    AuditLog {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running server. Dropping it does not stop it; call [`Running::shutdown`].
pub struct Running {
    pub addr: SocketAddr,
    /// The CA (PEM) of the HTTPS server's certificate; `None` when it serves plain HTTP.
    pub ca_pem: Option<String>,
    /// The admin token it accepts, if it was given one.
    pub admin_token: Option<String>,
    pub api: Arc<Api>,
    cancel: CancellationToken,
    tasks: JoinSet<()>,
}

impl Running {
    /// The base URL clients use.
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops serving and waits for every task to end.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Waits until the server stops (on `cancel`).
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

/// Opens the configured backend.
pub async fn open_storage(backend: &Backend) -> Result<Arc<dyn Storage>, Error> {
    Ok(match backend {
        Backend::Embedded(dir) => {
            Arc::new(storage::embedded::Embedded::open(dir).map_err(Error::Storage)?)
        }
        Backend::Memory => {
            Arc::new(storage::embedded::Embedded::in_memory().map_err(Error::Storage)?)
        }
        Backend::Etcd { endpoints, prefix } => Arc::new(
            storage::etcd::Etcd::connect(endpoints, prefix)
                .await
                .map_err(Error::Storage)?,
        ),
    })
}

/// Starts a server and returns once it accepts connections.
pub async fn start(config: Config, cancel: CancellationToken) -> Result<Running, Error> {
    let storage = open_storage(&config.backend).await?;
    // Before the watch cache starts: the key's write must be older than the revision the
    // cache starts from, or consistent lists would wait for a revision it never sees.
    let tokens = TokenIssuer::load_or_create(&storage)
        .await
        .map_err(Error::SigningKey)?;
    let cache = WatchCache::start(
        storage.clone(),
        watch_cache::Options::default(),
        cancel.clone(),
    )
    .await
    .map_err(Error::Cache)?;
    let mut store = Store::new(storage.clone(), cache, Catalog::with_native());
    if config.karmada_api {
        store = store.with_karmada_admission();
        controllers::crd::install(&store, crate::registry::karmada::crds())
            .await
            .map_err(Error::KarmadaApi)?;
    } else if config.mcs_api {
        controllers::crd::install(&store, crate::registry::karmada::mcs_crds())
            .await
            .map_err(Error::KarmadaApi)?;
    }
    controllers::crd::load(&store);
    bootstrap(&store).await?;
    let mut static_tokens = match &config.token_file {
        Some(path) => StaticTokens::load(path).map_err(Error::TokenFile)?,
        None => StaticTokens::default(),
    };
    if let Some(token) = &config.admin_token {
        static_tokens.insert(
            token.clone(),
            User::new(ADMIN_USER, &[attributes::SYSTEM_MASTERS]),
        );
    }
    let auth = Arc::new(Auth::new(config.authorization, static_tokens));
    // Loaded before the first request, so nothing is refused for want of a policy.
    auth.load(&store);
    let audit = match &config.audit_log {
        Some(path) => Some(AuditLog::open(path).map_err(|source| Error::AuditLog {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    let api = Arc::new(Api {
        store: store.clone(),
        openapi: OpenApi::new(),
        metrics: Default::default(),
        tokens,
        auth: Arc::clone(&auth),
        audit,
        in_flight: Arc::new(InFlight::new(config.in_flight)),
        body_read_timeout: config.body_read_timeout,
        shutdown: cancel.clone(),
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Listen {
        addr: config.listen,
        source,
    })?;
    let mut tasks = JoinSet::new();
    tasks.spawn(controllers::crd::run(store.clone(), cancel.clone()));
    tasks.spawn(controllers::namespace::run(store.clone(), cancel.clone()));
    tasks.spawn(controllers::gc::run(store.clone(), cancel.clone()));
    tasks.spawn(controllers::rbac::run(store.clone(), cancel.clone()));
    tasks.spawn(controllers::token_cleaner::run(
        store.clone(),
        cancel.clone(),
    ));
    tasks.spawn(auth.keep_loaded(store.clone(), cancel.clone()));
    if let Some(ca) = config.signer.clone() {
        tasks.spawn(controllers::csr::run(store.clone(), ca, cancel.clone()));
    }
    tasks.spawn(compactor(
        storage,
        config.compaction_interval,
        cancel.clone(),
    ));
    let router = http::router(api.clone());
    let shutdown = cancel.clone();
    let tls = config.tls.clone();
    tasks.spawn(serve(
        listener,
        router,
        tls.clone(),
        config.header_read_timeout,
        shutdown,
    ));
    Ok(Running {
        addr,
        ca_pem: tls.as_ref().map(|tls| tls.ca_pem.clone()),
        admin_token: config.admin_token.clone(),
        api,
        cancel,
        tasks,
    })
}

/// How long open requests may take to finish once the server stops (watches end at once).
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `listener` (HTTPS with `tls`, else plain HTTP) until `cancel` fires. A client
/// must send its request headers (and finish the TLS handshake) within `header_timeout`.
/// Each request carries its connection's peer address and, over TLS, its verified client
/// certificate's user ([`ClientCertificate`]).
async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    tls: Option<Arc<Tls>>,
    header_timeout: Duration,
    cancel: CancellationToken,
) {
    let acceptor = tls.map(|tls| tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.config)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    continue;
                }
            },
        };
        let (acceptor, router, watcher) = (acceptor.clone(), router.clone(), graceful.watcher());
        tokio::spawn(async move {
            let Some(acceptor) = acceptor else {
                connection(stream, router, peer, None, header_timeout, watcher).await;
                return;
            };
            let stream = match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let certificate = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(crate::tls::certificate_user)
                .map(ClientCertificate);
            connection(stream, router, peer, certificate, header_timeout, watcher).await;
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => {}
    }
}

/// Serves one connection with `router` until it ends or `watcher`'s server drains it; its
/// requests are tagged with `peer` and `certificate`.
async fn connection<S>(
    stream: S,
    router: axum::Router,
    peer: SocketAddr,
    certificate: Option<ClientCertificate>,
    header_timeout: Duration,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt as _;

    let service = hyper::service::service_fn(move |mut request: ::http::Request<_>| {
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        if let Some(certificate) = &certificate {
            request.extensions_mut().insert(certificate.clone());
        }
        router.clone().oneshot(request)
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), service)
        .into_owned();
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Creates the namespaces every Kubernetes cluster has, and the default RBAC roles and bindings.
async fn bootstrap(store: &Store) -> Result<(), Error> {
    controllers::rbac::install_defaults(store)
        .await
        .map_err(Error::Rbac)?;
    let namespaces = store
        .catalog()
        .get("", "v1", "namespaces")
        .expect("namespaces are native");
    let options = WriteOptions {
        field_manager: Some("karmada-apiserver".into()),
        ..Default::default()
    };
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        match store.create(&namespaces, None, object, &options).await {
            Ok(_) | Err(RegistryError::AlreadyExists { .. }) => {}
            Err(source) => {
                return Err(Error::Bootstrap {
                    name: name.into(),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Compacts storage history older than one interval, every interval, as kube-apiserver does.
async fn compactor(storage: Arc<dyn Storage>, interval: Duration, cancel: CancellationToken) {
    let mut previous: Option<i64> = None;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if let Some(revision) = previous
            && let Err(e) = storage.compact(revision).await
        {
            tracing::warn!(revision, error = %e, "compaction failed");
        }
        previous = storage.current_revision().await.ok();
    }
}
