//! The child processes of `karmada up`. Each component runs as `karmada <command>` in its own
//! process group (so Ctrl-C reaches only the supervisor, which then stops them in order), logs
//! to a file of its own, stops when its standard input closes, and is restarted when it dies.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::AsyncReadExt as _;
use tokio::process::{Child, ChildStdin, Command};
use tokio_util::sync::CancellationToken;

/// How long a component may take to stop once asked before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Restart delays: doubling from the first to the last, back to the first after a long run.
const RESTART_FIRST: Duration = Duration::from_secs(1);
const RESTART_MAX: Duration = Duration::from_secs(30);
const LONG_RUN: Duration = Duration::from_secs(60);

/// How to start one component.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The component's name in progress lines, e.g. `member1` or `member1-agent`.
    pub name: String,
    /// The arguments after `karmada`.
    pub args: Vec<String>,
    /// Its log file (appended to).
    pub log: PathBuf,
}

/// One running component.
pub struct Process {
    child: Child,
    /// Closing it asks the component to stop.
    stdin: Option<ChildStdin>,
    started: Instant,
}

impl Process {
    pub fn spawn(spec: &Spec) -> anyhow::Result<Process> {
        let exe = std::env::current_exe().context("cannot find the karmada binary")?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .with_context(|| format!("cannot open {}", spec.log.display()))?;
        let mut command = Command::new(exe);
        command
            .args(&spec.args)
            .env(super::SUPERVISED_ENV, "1")
            .env("KARMADA_LOG_FORMAT", "text")
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .process_group(0)
            .kill_on_drop(true);
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "info");
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", spec.name))?;
        let stdin = child.stdin.take();
        Ok(Process {
            child,
            stdin,
            started: Instant::now(),
        })
    }

    /// The exit status, if the component has exited.
    pub fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// Asks the component to stop, and kills it if it has not within the grace period.
    pub async fn stop(mut self) {
        self.stdin.take();
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Keeps a component running until `cancel`, then stops it. A component that exits is
/// restarted after a delay that doubles while it keeps failing.
pub async fn supervise(spec: Spec, mut process: Process, cancel: CancellationToken) {
    let mut delay = RESTART_FIRST;
    loop {
        let status = tokio::select! {
            status = process.child.wait() => status,
            () = cancel.cancelled() => {
                process.stop().await;
                return;
            }
        };
        if process.started.elapsed() >= LONG_RUN {
            delay = RESTART_FIRST;
        }
        let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
        tracing::warn!(
            component = %spec.name,
            %status,
            log = %spec.log.display(),
            "component exited; restarting in {delay:?}. Its last words:\n{}",
            failure_excerpt(&spec.log)
        );
        loop {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cancel.cancelled() => return,
            }
            delay = (delay * 2).min(RESTART_MAX);
            match Process::spawn(&spec) {
                Ok(restarted) => {
                    process = restarted;
                    break;
                }
                Err(e) => tracing::warn!(
                    component = %spec.name,
                    error = format!("{e:#}"),
                    "cannot restart; trying again in {delay:?}"
                ),
            }
        }
    }
}

/// The last `lines` lines of a log file (empty when it cannot be read).
pub fn log_tail(path: &Path, lines: usize) -> String {
    const WINDOW: u64 = 64 * 1024;
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if file
        .seek(SeekFrom::Start(len.saturating_sub(WINDOW)))
        .is_err()
    {
        return String::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// What a component said last before it failed: from its last `Error:` line on (a backtrace,
/// when enabled, follows the error and would otherwise fill the tail), else the last lines.
pub fn failure_excerpt(path: &Path) -> String {
    const LINES: usize = 10;
    let tail = log_tail(path, 400);
    let lines: Vec<&str> = tail.lines().collect();
    match lines.iter().rposition(|l| l.starts_with("Error: ")) {
        Some(start) => lines[start..]
            .iter()
            .take(LINES)
            .copied()
            .collect::<Vec<_>>()
            .join("\n"),
        None => lines[lines.len().saturating_sub(LINES)..].join("\n"),
    }
}

/// Returns when standard input reaches its end or fails: the supervisor closed it, or died.
pub async fn wait_for_stdin_to_close() {
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 256];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        assert_eq!(log_tail(&path, 3), "");
        let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        assert_eq!(log_tail(&path, 3), "line 98\nline 99\nline 100");
        assert_eq!(log_tail(&path, 0), "");
    }

    #[test]
    fn the_failure_excerpt_starts_at_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut text = String::from(
            "INFO starting\nError: cannot listen on 127.0.0.1:1\n\nCaused by:\n    Address already in use\n\nStack backtrace:\n",
        );
        for i in 0..50 {
            text.push_str(&format!("  {i}: frame\n"));
        }
        std::fs::write(&path, &text).unwrap();
        let excerpt = failure_excerpt(&path);
        assert!(excerpt.starts_with("Error: cannot listen"), "{excerpt}");
        assert!(excerpt.contains("Address already in use"), "{excerpt}");
        assert_eq!(excerpt.lines().count(), 10);
        std::fs::write(&path, "a\nb\n").unwrap();
        assert_eq!(failure_excerpt(&path), "a\nb");
    }
}
