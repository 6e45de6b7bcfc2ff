//! An in-process API server with a kube-rs client wired to it, and deadline-bound polling.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use karmada_apiserver::server::{self, Backend, Config, Running};
use tokio_util::sync::CancellationToken;

/// How long a test waits for the server to reach a state before failing.
pub const DEADLINE: Duration = Duration::from_secs(15);
/// How often a poll re-checks its condition; the deadline, not this, is the assertion.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A running API server and a client for it. Call [`TestServer::shutdown`] to stop it.
pub struct TestServer {
    running: Running,
    pub client: kube::Client,
}

impl TestServer {
    /// Starts a server on a free loopback port.
    pub async fn start(backend: Backend) -> anyhow::Result<TestServer> {
        TestServer::start_at("127.0.0.1:0".parse()?, backend).await
    }

    /// Starts a server on `addr` (used to restart a server where its clients expect it).
    pub async fn start_at(addr: SocketAddr, backend: Backend) -> anyhow::Result<TestServer> {
        TestServer::start_with(Config::new(addr, backend)).await
    }

    /// Starts a server with `config`; the client presents the config's admin token, if any.
    pub async fn start_with(config: Config) -> anyhow::Result<TestServer> {
        let addr = config.listen;
        let token = config.admin_token.clone();
        let running = server::start(config, CancellationToken::new())
            .await
            .with_context(|| format!("starting the API server on {addr}"))?;
        let client = client_with_token(&running.url(), token.as_deref())?;
        Ok(TestServer { running, client })
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.running.url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// Stops the server and waits for its tasks (open watches end).
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

/// A kube-rs client talking plain HTTP to `url`, as a kubeconfig with `server: <url>` would.
pub fn client_for(url: &str) -> anyhow::Result<kube::Client> {
    client_with_token(url, None)
}

/// [`client_for`], presenting `token` as a bearer token when given.
pub fn client_with_token(url: &str, token: Option<&str>) -> anyhow::Result<kube::Client> {
    let mut config = kube::Config::new(url.parse().with_context(|| format!("parsing {url}"))?);
    if let Some(token) = token {
        config.headers.push((
            http::header::AUTHORIZATION,
            format!("Bearer {token}")
                .parse()
                .context("a header value")?,
        ));
    }
    kube::Client::try_from(config).context("building a kube client")
}

/// A loopback address nobody listens on right now (the probe listener is released on return).
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let probe = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(probe.local_addr()?)
}

/// Polls `check` until it returns `Some`, failing after [`DEADLINE`] with `what` and the last
/// observation, so a timeout says which state never arrived and what was seen instead.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Result<T, String>>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        let last = match check().await? {
            Ok(value) => return Ok(value),
            Err(observed) => observed,
        };
        if Instant::now() > deadline {
            bail!("timed out after {DEADLINE:?} waiting for {what}; last observed: {last}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
