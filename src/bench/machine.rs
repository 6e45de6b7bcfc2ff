//! What machine and build a benchmark ran on, and how much memory a process holds, read from
//! /proc so figures from different runs can be compared honestly.

use std::process::Command;

use serde::Serialize;

/// The machine and build behind a set of figures.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_bytes: Option<u64>,
    pub cpu_model: Option<String>,
    /// When the run started, RFC 3339 in UTC.
    pub date: String,
    pub git_commit: Option<String>,
    /// `release` or `debug`: debug figures are not comparable with release ones.
    pub build: &'static str,
}

impl Machine {
    pub fn probe() -> Machine {
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes: std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|s| mem_total(&s)),
            cpu_model: std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|s| cpu_model(&s)),
            date: jiff::Timestamp::now().to_string(),
            git_commit: git_commit(),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        }
    }
}

/// The commit of the working directory's repository, when there is one and git is installed.
fn git_commit() -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !commit.is_empty()).then_some(commit)
}

/// Resident memory of a process, from `/proc/<pid>/status`.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    kib_field(&status, "VmRSS:")
}

/// Peak resident memory of a process (its high-water mark), from `/proc/<pid>/status`.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    kib_field(&status, "VmHWM:")
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = cpu_ticks(&stat)?;
    Some(ticks as f64 / clock_ticks_per_second())
}

/// utime + stime of a `/proc/<pid>/stat` line. The command name may hold spaces and
/// parentheses, so fields are counted from the last `)`: utime and stime are the 14th and
/// 15th fields of the line, the 12th and 13th after the name.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `getconf CLK_TCK`; 100 on every Linux we run on when getconf is missing.
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|t: &f64| *t > 0.0)
        .unwrap_or(100.0)
}

/// `MemTotal` from /proc/meminfo, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    kib_field(meminfo, "MemTotal:")
}

/// A `Name:   1234 kB` line of a /proc file, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let mut words = line[name.len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(kib * 1024)
}

/// The first `model name` of /proc/cpuinfo.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(key, _)| key.trim() == "model name")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The soft limit on open files from /proc/self/limits; each watcher holds two sockets
/// (client and server end) in this one process.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    soft_open_files(&limits)
}

fn soft_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kib_fields_become_bytes() {
        let meminfo = "MemTotal:       24590436 kB\nMemFree:        11000000 kB\n";
        let cases = [
            (meminfo, "MemTotal:", Some(24_590_436 * 1024)),
            (meminfo, "MemFree:", Some(11_000_000 * 1024)),
            (meminfo, "SwapTotal:", None),
            ("VmRSS:\t  5120 kB\n", "VmRSS:", Some(5120 * 1024)),
            ("VmRSS: lots kB\n", "VmRSS:", None),
            ("VmRSS: 12 pages\n", "VmRSS:", None),
        ];
        for (text, name, want) in cases {
            assert_eq!(kib_field(text, name), want, "{name} in {text:?}");
        }
        assert_eq!(mem_total(meminfo), Some(24_590_436 * 1024));
    }

    #[test]
    fn cpu_ticks_add_user_and_system_time() {
        let stat = "4242 (karmada (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 731 269 0 0 20 0 9 0";
        assert_eq!(cpu_ticks(stat), Some(1000));
        assert_eq!(cpu_ticks("4242 (short) S 1"), None);
        let own = cpu_seconds(std::process::id()).expect("this process has a stat file");
        assert!(own >= 0.0);
        assert!(peak_rss_bytes(std::process::id()).is_some_and(|b| b > 0));
    }

    #[test]
    fn cpu_model_is_the_first_model_name() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n\nprocessor\t: 1\nmodel name\t: Other\n";
        assert_eq!(
            cpu_model(cpuinfo).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        assert_eq!(cpu_model("processor\t: 0\nmodel\t\t: 1\n"), None);
        assert_eq!(cpu_model("model name\t:\n"), None);
    }

    #[test]
    fn open_files_limit_is_the_soft_column() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(soft_open_files(limits), Some(1024));
        assert_eq!(soft_open_files("Max processes 10 10 processes\n"), None);
    }

    #[test]
    fn probing_this_machine_finds_at_least_one_core() {
        let machine = Machine::probe();
        assert!(machine.cores >= 1);
        assert!(!machine.date.is_empty());
    }
}
