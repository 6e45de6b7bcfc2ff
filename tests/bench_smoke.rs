//! Smoke tests of `karmada bench`: quick runs through the built binary report every figure,
//! as a table and as JSON.

use std::process::Command;

use anyhow::Context as _;
use serde_json::Value;

const OPERATIONS: [&str; 9] = [
    "create",
    "get",
    "list",
    "list-page500",
    "update",
    "delete",
    "watch-open",
    "watch-event",
    "raw-put",
];

#[test]
fn quick_embedded_run_reports_every_operation() -> anyhow::Result<()> {
    let (stdout, report) = run_bench(&["apiserver", "--quick", "--backend", "embedded"])?;
    let results = report["results"]
        .as_array()
        .context("the report has no results")?;
    for operation in OPERATIONS {
        let row = results
            .iter()
            .find(|r| r["backend"] == "embedded" && r["operation"] == operation)
            .with_context(|| format!("no embedded {operation} row in {report:#}"))?;
        let ops_per_sec = row["ops_per_sec"]
            .as_f64()
            .context("ops_per_sec is not a number")?;
        assert!(ops_per_sec > 0.0, "{operation} has no throughput: {row:#}");
        assert!(
            row["count"].as_u64().unwrap_or(0) > 0,
            "{operation} made no calls: {row:#}"
        );
        assert!(
            row["latency_ms"]["max"].as_f64().is_some(),
            "{operation} has no latency: {row:#}"
        );
        assert!(
            stdout.lines().any(
                |l| l.starts_with("embedded") && l.split_whitespace().nth(1) == Some(operation)
            ),
            "the table has no {operation} line:\n{stdout}"
        );
    }
    assert_eq!(
        results.len(),
        OPERATIONS.len(),
        "one row per operation: {report:#}"
    );

    let backend = &report["backends"][0];
    assert_eq!(
        backend["watch_events_delivered"], backend["watch_events_expected"],
        "{backend:#}"
    );
    assert!(report["machine"]["cores"].as_u64().unwrap_or(0) >= 1);
    assert_eq!(report["params"]["objects"], 50);
    Ok(())
}

#[test]
fn quick_member_run_times_every_pod_step() -> anyhow::Result<()> {
    let (stdout, report) = run_bench(&["member", "--quick", "--timeout-seconds", "120"])?;
    assert_eq!(report["params"]["pods"], 40, "{report:#}");
    let milestones = report["milestones"]
        .as_array()
        .context("the report has no milestones")?;
    let steps: Vec<&str> = milestones
        .iter()
        .filter_map(|m| m["step"].as_str())
        .collect();
    assert_eq!(steps, ["created", "scheduled", "running", "ready"]);
    for m in milestones {
        assert!(m["pods_per_sec"].as_f64().unwrap_or(0.0) > 0.0, "{m:#}");
        let step = m["step"].as_str().unwrap_or_default();
        assert!(
            stdout
                .lines()
                .any(|l| l.split_whitespace().next() == Some(step)),
            "the table has no {step} line:\n{stdout}"
        );
    }
    assert!(report["member_peak_rss_bytes"].as_u64().unwrap_or(0) > 0);
    assert!(report["member_cpu_seconds"].as_f64().is_some());
    Ok(())
}

#[test]
fn quick_propagation_run_times_every_workload_and_component() -> anyhow::Result<()> {
    let (stdout, report) = run_bench(&["propagation", "--quick", "--timeout-seconds", "120"])?;
    assert_eq!(report["params"]["workloads"], 5, "{report:#}");
    let steps: Vec<&str> = report["milestones"]
        .as_array()
        .context("the report has no milestones")?
        .iter()
        .filter_map(|m| m["step"].as_str())
        .collect();
    assert_eq!(steps, ["in every member", "Ready on federation"]);
    for m in report["milestones"].as_array().into_iter().flatten() {
        assert!(m["per_sec"].as_f64().unwrap_or(0.0) > 0.0, "{m:#}");
        assert!(
            m["latency_ms"]["max"].as_f64().unwrap_or(0.0) > 0.0,
            "{m:#}"
        );
    }
    let components: Vec<&str> = report["footprints"]
        .as_array()
        .context("the report has no footprints")?
        .iter()
        .filter_map(|f| f["component"].as_str())
        .collect();
    for component in [
        "apiserver",
        "controller-manager",
        "scheduler",
        "member1",
        "agent member2",
    ] {
        assert!(
            components.contains(&component),
            "{component} missing: {components:?}"
        );
        assert!(
            stdout.contains(component),
            "the table has no {component} line:\n{stdout}"
        );
    }
    Ok(())
}

#[test]
fn quick_scheduler_run_schedules_every_binding() -> anyhow::Result<()> {
    let (stdout, report) = run_bench(&["scheduler", "--quick", "--timeout-seconds", "120"])?;
    assert_eq!(report["params"]["bindings"], 20, "{report:#}");
    assert_eq!(report["bindings_scheduled"], 20, "{report:#}");
    let per_sec = report["bindings_per_sec"].as_f64().unwrap_or(0.0);
    assert!(per_sec > 0.0, "no throughput: {report:#}");
    let scheduled = report["milestones"]
        .as_array()
        .context("the report has no milestones")?
        .iter()
        .find(|m| m["step"] == "scheduled")
        .with_context(|| format!("no scheduled milestone in {report:#}"))?;
    assert!(
        scheduled["latency_ms"]["max"].as_f64().unwrap_or(0.0) > 0.0,
        "{scheduled:#}"
    );
    let scheduler = report["footprints"]
        .as_array()
        .context("the report has no footprints")?
        .iter()
        .find(|f| f["component"] == "scheduler")
        .with_context(|| format!("no scheduler footprint in {report:#}"))?;
    assert!(
        scheduler["peak_rss_bytes"].as_u64().unwrap_or(0) > 0,
        "{scheduler:#}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("scheduled"))
            && stdout.contains("bindings/s")
            && stdout.contains("anchor: Karmada"),
        "the table lacks the scheduled line or the anchor:\n{stdout}"
    );
    Ok(())
}

/// Runs `karmada bench ARGS --out FILE` and returns its stdout and the JSON report.
fn run_bench(args: &[&str]) -> anyhow::Result<(String, Value)> {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_karmada"))
        .arg("bench")
        .args(args)
        .arg("--out")
        .arg(&out)
        .current_dir(dir.path())
        .output()
        .context("cannot run the karmada binary")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(
        output.status.success(),
        "bench failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report =
        serde_json::from_slice(&std::fs::read(&out).context("the --out file is missing")?)?;
    Ok((stdout, report))
}

#[test]
fn quick_failover_run_times_detection_eviction_and_recovery() -> anyhow::Result<()> {
    let (stdout, report) = run_bench(&[
        "failover",
        "--quick",
        "--grace-seconds",
        "3",
        "--timeout-seconds",
        "120",
    ])?;
    assert_eq!(report["lost"], "member2", "{report:#}");
    assert_eq!(report["target_seconds"], 8.0, "{report:#}");
    // The loss is noticed once the last heartbeat is older than the grace period: at least
    // the grace period minus one heartbeat interval (2 s) after the kill.
    let detected = report["detected_seconds"].as_f64().unwrap_or(0.0);
    assert!(detected >= 1.0, "{report:#}");
    let steps: Vec<&str> = report["milestones"]
        .as_array()
        .context("the report has no milestones")?
        .iter()
        .filter_map(|m| m["step"].as_str())
        .collect();
    assert_eq!(steps, ["left the cluster", "Ready elsewhere"]);
    for m in report["milestones"].as_array().into_iter().flatten() {
        assert!(
            m["latency_ms"]["max"].as_f64().unwrap_or(0.0) >= 1000.0,
            "{m:#}"
        );
    }
    assert!(stdout.contains("member2 not Ready after"), "{stdout}");
    // The DNS stops answering the lost cluster once it is not Ready, not before.
    let dns = report["dns_seconds"].as_f64().unwrap_or(0.0);
    assert!(dns >= detected - 0.5, "{report:#}");
    assert!(
        stdout.contains("DNS stopped answering it after"),
        "{stdout}"
    );
    Ok(())
}

#[test]
fn quick_dns_run_measures_ours_beside_bind9_and_the_change_latency() -> anyhow::Result<()> {
    let (stdout, report) = run_bench(&["dns", "--quick"])?;
    let servers = report["servers"]
        .as_array()
        .context("the report has no servers")?;
    assert_eq!(servers.len(), 2, "ours and BIND9: {report:#}");
    assert_eq!(servers[0]["name"], "karmada dns");
    assert!(
        servers[1]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("BIND 9")),
        "{report:#}"
    );
    for server in servers {
        let qps = server["throughput"]["qps"].as_f64().unwrap_or(0.0);
        assert!(qps > 0.0, "no throughput: {server:#}");
        assert!(
            server["latency_ms"]["p99"].as_f64().unwrap_or(0.0) > 0.0,
            "no latency percentiles: {server:#}"
        );
    }
    assert!(report["qps_ratio"].as_f64().unwrap_or(0.0) > 0.0);
    let change = report["change_ms"]["max"].as_f64().unwrap_or(0.0);
    assert!(change > 0.0, "no change latency: {report:#}");
    assert!(
        stdout.contains("ours / BIND9 queries per second"),
        "the table has no ratio:\n{stdout}"
    );
    Ok(())
}

#[test]
fn quick_footprint_run_weighs_every_process() -> anyhow::Result<()> {
    let (stdout, report) = run_bench(&["footprint", "--quick", "--settle-seconds", "1"])?;
    let processes = report["processes"]
        .as_array()
        .context("the report has no processes")?;
    let names: Vec<&str> = processes
        .iter()
        .filter_map(|p| p["component"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "apiserver",
            "controller-manager",
            "scheduler",
            "member1",
            "agent member1"
        ]
    );
    for process in processes {
        assert!(
            process["rss_bytes"].as_u64().unwrap_or(0) > 0,
            "{process:#}"
        );
    }
    let total: u64 = processes
        .iter()
        .filter_map(|p| p["rss_bytes"].as_u64())
        .sum();
    assert_eq!(report["total_bytes"].as_u64(), Some(total), "{report:#}");
    assert_eq!(report["agent"]["count"], 1, "{report:#}");
    assert!(report["agent_vs_karmada"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(stdout.contains("agent vs Karmada's agent"), "{stdout}");
    Ok(())
}
