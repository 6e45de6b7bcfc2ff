//! Running real kubectl binaries against a test server, each with its own discovery cache.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use super::apiserver::ApiServer;

/// The Cloud SDK dispatcher: asks the server's version and runs the matching `kubectl.1.N`.
pub const DISPATCHER: &str = "/usr/bin/kubectl";
/// Longest a single kubectl command may take before the test fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The kubectl binary built for Kubernetes 1.`minor`, called without the dispatcher.
pub fn versioned(minor: u32) -> PathBuf {
    PathBuf::from(format!("/usr/lib/google-cloud-sdk/bin/kubectl.1.{minor}"))
}

/// What a finished kubectl command printed.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The exit code; a kill by signal counts as -1.
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
}

/// One kubectl binary bound to one server through `--kubeconfig` and a private `--cache-dir`,
/// so discovery cached for another server (or another test) is never reused.
pub struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
}

impl Kubectl {
    /// The dispatcher `kubectl`, as a user would call it.
    pub fn new(server: &ApiServer) -> anyhow::Result<Kubectl> {
        Kubectl::with_binary(server, Path::new(DISPATCHER))
    }

    /// A specific kubectl binary; fails if it is not installed.
    pub fn with_binary(server: &ApiServer, binary: &Path) -> anyhow::Result<Kubectl> {
        Kubectl::build(binary, server.kubeconfig())
    }

    /// The dispatcher `kubectl` with any kubeconfig file (pick a context with `--context`).
    pub fn for_kubeconfig(kubeconfig: &Path) -> anyhow::Result<Kubectl> {
        Kubectl::build(Path::new(DISPATCHER), kubeconfig)
    }

    fn build(binary: &Path, kubeconfig: &Path) -> anyhow::Result<Kubectl> {
        ensure!(
            binary.exists(),
            "{} not found: the kubectl tests need the Google Cloud SDK kubectl bundle",
            binary.display()
        );
        Ok(Kubectl {
            binary: binary.to_owned(),
            kubeconfig: kubeconfig.to_owned(),
            cache: tempfile::tempdir().context("creating kubectl's cache directory")?,
        })
    }

    /// Runs `kubectl ARGS` to completion, whatever its exit code.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.run_with(args, &[], None)
    }

    /// Runs `kubectl ARGS` with extra environment variables and, if given, `stdin` as input.
    pub fn run_with(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&str>,
    ) -> anyhow::Result<Output> {
        let mut child = self
            .command(args)
            .envs(env.iter().copied())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.describe(args)))?;
        if let Some(input) = stdin {
            let mut pipe = child
                .stdin
                .take()
                .context("kubectl's stdin was not piped")?;
            // Manifests are far smaller than a pipe buffer, so this cannot block on kubectl.
            pipe.write_all(input.as_bytes())
                .with_context(|| format!("writing stdin of {}", self.describe(args)))?;
        }
        let stdout = read_all(child.stdout.take());
        let stderr = read_all(child.stderr.take());
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "{} did not finish within {COMMAND_TIMEOUT:?}\nstdout:\n{}\nstderr:\n{}",
                    self.describe(args),
                    join(stdout),
                    join(stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Ok(Output {
            status,
            stdout: join(stdout),
            stderr: join(stderr),
        })
    }

    /// Runs `kubectl ARGS`, requires success and returns stdout.
    pub fn ok(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.run(args)?;
        self.expect_success(args, out)
    }

    /// Runs `kubectl ARGS` until it succeeds printing `want` (surrounding space aside), failing
    /// after `timeout` with what it printed last.
    pub fn until_prints(
        &self,
        what: &str,
        timeout: std::time::Duration,
        args: &[&str],
        want: &str,
    ) -> anyhow::Result<()> {
        super::poll::until(what, timeout, || {
            let out = self.ok(args).map_err(|e| e.to_string())?;
            if out.trim() == want { Ok(()) } else { Err(out) }
        })
    }

    /// Runs `kubectl ARGS` with `manifest` on stdin (use `-f -`), requires success, returns stdout.
    pub fn ok_stdin(&self, args: &[&str], manifest: &str) -> anyhow::Result<String> {
        let out = self.run_with(args, &[], Some(manifest))?;
        self.expect_success(args, out)
    }

    /// Runs `kubectl ARGS`, requires a non-zero exit and returns what it printed.
    pub fn fails(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<Output> {
        let out = self.run_with(args, &[], stdin)?;
        ensure!(
            !out.status.success(),
            "{} was expected to fail but succeeded\nstdout:\n{}",
            self.describe(args),
            out.stdout
        );
        Ok(out)
    }

    /// Starts a long-running `kubectl ARGS` (e.g. `get -w`) whose output can be read while it runs.
    pub fn spawn(&self, args: &[&str]) -> anyhow::Result<Background> {
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.describe(args)))?;
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take(), Arc::clone(&stdout));
        collect(child.stderr.take(), Arc::clone(&stderr));
        Ok(Background {
            child,
            stdout,
            stderr,
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .args(args)
            // Keep the caller's cluster settings out of the test.
            .env_remove("KUBECONFIG");
        command
    }

    fn expect_success(&self, args: &[&str], out: Output) -> anyhow::Result<String> {
        ensure!(
            out.status.success(),
            "{} failed with exit code {}\nstdout:\n{}\nstderr:\n{}",
            self.describe(args),
            out.code(),
            out.stdout,
            out.stderr
        );
        Ok(out.stdout)
    }

    fn describe(&self, args: &[&str]) -> String {
        format!("`{} {}`", self.binary.display(), args.join(" "))
    }
}

/// A kubectl process left running; killed (and reaped) on drop.
pub struct Background {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Background {
    /// Everything printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Everything printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Whether the process already ended (a watch that ends early is a failure in itself).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_all(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<String>> {
    let mut pipe = pipe?;
    Some(std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    }))
}

/// Waits for a reader started by `read_all`; only called once the process has ended, so the
/// pipe is closed and the reader finishes.
fn join(reader: Option<JoinHandle<String>>) -> String {
    reader
        .map(|r| r.join().unwrap_or_else(|_| "(reader panicked)".into()))
        .unwrap_or_default()
}

/// Appends everything `pipe` yields to `sink` as it arrives.
fn collect(pipe: Option<impl Read + Send + 'static>, sink: Arc<Mutex<String>>) {
    let Some(mut pipe) = pipe else { return };
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut s) = sink.lock() {
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
}
