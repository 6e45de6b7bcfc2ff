//! A `karmada apiserver` child process on a free port, with a kubeconfig for it, killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use karmada_agents::push::credentials::Credentials;
use kube::config::Kubeconfig;

const BINARY: &str = env!("CARGO_BIN_EXE_karmada");
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// Where the server keeps its data.
#[derive(Clone, Copy)]
pub enum Store<'a> {
    /// Nothing survives the process.
    Memory,
    /// The embedded store in this directory; the server writes `DIR/kubeconfig` itself.
    Embedded(&'a Path),
    /// An etcd at `endpoint`, every key under `prefix`.
    Etcd { endpoint: &'a str, prefix: &'a str },
}

/// One running server. Its stderr is drained for its whole life so the log can be shown when a
/// test fails and the process never blocks on a full pipe.
pub struct ApiServer {
    child: Child,
    url: String,
    kubeconfig: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
    _own_dir: Option<tempfile::TempDir>,
}

impl ApiServer {
    /// Starts `karmada apiserver` and returns once it logged that it is ready to serve.
    pub fn start(store: Store<'_>) -> anyhow::Result<ApiServer> {
        ApiServer::start_command(&["apiserver"], store)
    }

    /// Starts `karmada <command...>` (any command that serves an apiserver, such as
    /// `member --name m1`) and returns once it logged its ready line.
    pub fn start_command(command_args: &[&str], store: Store<'_>) -> anyhow::Result<ApiServer> {
        ApiServer::start_launched(&[], "127.0.0.1", command_args, store)
    }

    /// Starts `karmada <command...>` through `launcher` (such as `ip netns exec NS`), listening
    /// on a free port of `address`, and returns once it logged its ready line.
    pub fn start_launched(
        launcher: &[&str],
        address: &str,
        command_args: &[&str],
        store: Store<'_>,
    ) -> anyhow::Result<ApiServer> {
        let mut command = launched(launcher, command_args);
        command.args(["--listen", &format!("{address}:0")]);
        match &store {
            Store::Memory => {}
            Store::Embedded(dir) => {
                command.arg("--data-dir").arg(dir);
            }
            Store::Etcd { endpoint, prefix } => {
                command.args(["--etcd-endpoints", endpoint, "--etcd-prefix", prefix]);
            }
        }
        // Only a server with a data directory writes a kubeconfig with its CA and admin
        // token; the others serve plain HTTP to anyone (on loopback), unless told otherwise.
        let mode_given = command_args.contains(&"--authorization-mode");
        if !mode_given && !matches!(store, Store::Embedded(_)) {
            command.args(["--authorization-mode", "AlwaysAllow"]);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {BINARY}"))?;
        let stderr = child
            .stderr
            .take()
            .context("the server's stderr was not piped")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = drain(stderr, Arc::clone(&log));
        let url = match wait_ready(&mut child, &lines, &log) {
            Ok(url) => url,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        let mut server = ApiServer {
            child,
            url,
            kubeconfig: PathBuf::new(),
            log,
            _own_dir: None,
        };
        match store {
            Store::Embedded(dir) => {
                server.kubeconfig = dir.join("kubeconfig");
                if !server.kubeconfig.exists() {
                    bail!(
                        "the server is ready but did not write {}; its log:\n{}",
                        server.kubeconfig.display(),
                        server.log()
                    );
                }
            }
            Store::Memory | Store::Etcd { .. } => {
                let dir = tempfile::tempdir().context("creating a directory for the kubeconfig")?;
                server.kubeconfig = dir.path().join("kubeconfig");
                let plain = Credentials {
                    server: server.url.clone(),
                    ..Credentials::default()
                };
                std::fs::write(
                    &server.kubeconfig,
                    serde_json::to_string_pretty(&plain.kubeconfig("test"))?,
                )
                .context("writing the kubeconfig")?;
                server._own_dir = Some(dir);
            }
        }
        Ok(server)
    }

    /// The base URL, e.g. `https://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A kubeconfig whose current context is this server.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .map(|lines| lines.join("\n"))
            .unwrap_or_default()
    }

    /// Ends the server with SIGKILL, as a crash would, and returns how it exited.
    pub fn kill(mut self) -> anyhow::Result<ExitStatus> {
        self.child.kill().context("sending SIGKILL to the server")?;
        Ok(self.child.wait()?)
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `karmada <args...>` logging plain text at info level to a piped stderr (ready lines are
/// parsed from it), with no stdin or stdout.
pub fn karmada(args: &[&str]) -> Command {
    launched(&[], args)
}

/// [`karmada`] started through `launcher`, a command that runs the program it is given (such
/// as `ip netns exec NS`); none when empty.
pub fn launched(launcher: &[&str], args: &[&str]) -> Command {
    let mut command = match launcher.split_first() {
        Some((program, rest)) => {
            let mut command = Command::new(program);
            command.args(rest).arg(BINARY);
            command
        }
        None => Command::new(BINARY),
    };
    command
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("KARMADA_LOG_FORMAT", "text")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Copies every stderr line into `log` and forwards it on the returned channel until EOF.
pub fn drain(stderr: ChildStderr, log: Arc<Mutex<Vec<String>>>) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut lines) = log.lock() {
                lines.push(line.clone());
            }
            // Nobody listens once the server is ready; the log above still grows.
            let _ = send.send(line);
        }
    });
    receive
}

fn wait_ready(
    child: &mut Child,
    lines: &mpsc::Receiver<String>,
    log: &Mutex<Vec<String>>,
) -> anyhow::Result<String> {
    let deadline = Instant::now() + READY_DEADLINE;
    let collected = || log.lock().map(|l| l.join("\n")).unwrap_or_default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                if let Some(url) = ready_url(&line) {
                    return Ok(url);
                }
            }
            Err(RecvTimeoutError::Timeout) => bail!(
                "the server did not log its ready line within {READY_DEADLINE:?}; its output:\n{}",
                collected()
            ),
            Err(RecvTimeoutError::Disconnected) => {
                let status = child.wait()?;
                bail!(
                    "the server exited with {status} before it was ready; its output:\n{}",
                    collected()
                );
            }
        }
    }
}

/// The URL from a line like `... apiserver ready url=http://127.0.0.1:PORT`, colours or not.
fn ready_url(line: &str) -> Option<String> {
    let plain = strip_ansi(line);
    if !plain.contains(" ready") {
        return None;
    }
    let rest = &plain[plain.find("url=")? + "url=".len()..];
    let url = rest.split_whitespace().next()?;
    url.starts_with("http").then(|| url.to_owned())
}

/// Removes ANSI SGR sequences (`ESC [ ... m`), which tracing adds when it thinks it has a terminal.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A kubeconfig (JSON, which kubectl reads like YAML) with a context per `(name, server)`,
/// each with that server's URL, CA and credentials; the first is current.
pub fn kubeconfig(servers: &[(&str, &ApiServer)]) -> anyhow::Result<String> {
    let mut merged: Option<Kubeconfig> = None;
    for (name, server) in servers {
        let own = Kubeconfig::read_from(server.kubeconfig())
            .with_context(|| format!("reading {}", server.kubeconfig().display()))?;
        let credentials = Credentials::from_kubeconfig(&own, None)?;
        let next = credentials.kubeconfig(name);
        merged = Some(match merged {
            None => next,
            Some(so_far) => so_far.merge(next)?,
        });
    }
    Ok(serde_json::to_string_pretty(&merged.unwrap_or_default())?)
}

#[test]
fn ready_url_is_found_in_plain_and_coloured_lines() {
    let cases = [
        (
            "2026-01-01T00:00:00Z  INFO karmada::apiserver: apiserver ready url=http://127.0.0.1:4321",
            Some("http://127.0.0.1:4321"),
        ),
        (
            "\u{1b}[32m INFO\u{1b}[0m apiserver ready \u{1b}[3murl\u{1b}[0m\u{1b}[2m=\u{1b}[0mhttp://127.0.0.1:44787",
            Some("http://127.0.0.1:44787"),
        ),
        ("INFO storage opened url=http://127.0.0.1:1", None),
        (
            "INFO karmada::member: member ready name=m1 url=http://127.0.0.1:9",
            Some("http://127.0.0.1:9"),
        ),
        ("INFO apiserver ready", None),
    ];
    for (line, want) in cases {
        assert_eq!(ready_url(line).as_deref(), want, "line: {line:?}");
    }
}
