//! `karmada schedule` through the built binary: every sample scenario's exact JSON, the table's
//! reasons for filtered clusters, exit codes for unschedulable and malformed scenarios, and the
//! README examples checked against real output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::Context as _;
use serde_json::{Value, json};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `karmada schedule -f <file> -o <format>` from the repository root.
fn schedule(file: &str, format: &str) -> anyhow::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_karmada"))
        .args(["schedule", "-f", file, "-o", format])
        .current_dir(root())
        .output()
        .context("cannot run karmada schedule")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What each sample schedules to, and the cluster it filters out with the reason.
fn expected(sample: &str) -> Option<(Value, &'static str, &'static str)> {
    Some(match sample {
        "static-weights.yaml" => (
            json!({"clusters": [{"name": "member1", "replicas": 2},
                                {"name": "member2", "replicas": 4}]}),
            "member3",
            "cluster(s) had untolerated taint {maintenance=planned:NoSchedule}",
        ),
        "dynamic-weights.yaml" => (
            json!({"clusters": [{"name": "member1", "replicas": 7},
                                {"name": "member2", "replicas": 2},
                                {"name": "member3", "replicas": 3}]}),
            "member4",
            "cluster(s) did not match the placement cluster affinity constraint",
        ),
        "region-spread.yaml" => (
            json!({"clusters": [{"name": "eu-west-1", "replicas": 3},
                                {"name": "eu-west-2", "replicas": 1},
                                {"name": "us-east-1", "replicas": 4}]}),
            "edge-1",
            "cluster(s) did not have region property",
        ),
        _ => return None,
    })
}

fn samples() -> anyhow::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root().join("samples/schedule"))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    found.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    found.sort();
    Ok(found)
}

#[test]
fn every_sample_prints_its_exact_placement() -> anyhow::Result<()> {
    let samples = samples()?;
    assert!(samples.len() >= 3, "samples/schedule has {samples:?}");
    for path in samples {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let (want, _, _) = expected(&name)
            .with_context(|| format!("sample {name} has no expected placement in this test"))?;
        let output = schedule(&format!("samples/schedule/{name}"), "json")?;
        assert!(
            output.status.success(),
            "{name}: {:?}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            stdout(&output),
            serde_json::to_string_pretty(&want)? + "\n",
            "{name}"
        );
        assert!(output.stderr.is_empty(), "{name} warns: {output:?}");
    }
    Ok(())
}

#[test]
fn the_table_says_why_each_filtered_cluster_was_left_out() -> anyhow::Result<()> {
    for path in samples()? {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let (want, filtered, reason) =
            expected(&name).with_context(|| format!("no expectation for {name}"))?;
        let output = schedule(&format!("samples/schedule/{name}"), "table")?;
        assert!(output.status.success(), "{name}: {output:?}");
        let table = stdout(&output);
        let line = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(filtered))
            .with_context(|| format!("{name}: no line for {filtered} in\n{table}"))?;
        assert!(
            line.ends_with(&format!("filtered out: {reason}")),
            "{name}: {line}"
        );
        for target in want["clusters"].as_array().into_iter().flatten() {
            let cluster = target["name"].as_str().unwrap_or_default();
            let replicas = target["replicas"].to_string();
            assert!(
                table.lines().any(|l| {
                    let cells: Vec<&str> = l.split_whitespace().collect();
                    cells.len() >= 4
                        && cells[0] == cluster
                        && cells[1] == replicas
                        && cells[3] == "scheduled"
                }),
                "{name}: {cluster} with {replicas} replicas is missing from\n{table}"
            );
        }
    }
    Ok(())
}

#[test]
fn an_unschedulable_scenario_exits_1_with_the_reason() -> anyhow::Result<()> {
    let output = schedule("tests/fixtures/schedule/unschedulable.yaml", "json")?;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let error: Value = serde_json::from_str(&stdout(&output))?;
    assert_eq!(error["error"]["reason"], "Unschedulable", "{error}");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{error}");

    let table = schedule("tests/fixtures/schedule/unschedulable.yaml", "table")?;
    assert_eq!(table.status.code(), Some(1));
    let table = stdout(&table);
    assert!(
        table.contains(&format!("cannot schedule (Unschedulable): {message}")),
        "{table}"
    );
    Ok(())
}

#[test]
fn a_malformed_scenario_is_a_usage_error() -> anyhow::Result<()> {
    let file = "tests/fixtures/schedule/malformed.yaml";
    let output = schedule(file, "json")?;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr,
        format!(
            "error: {file}: placement: cannot be set with `policy:`; give either a policy or a \
             bare placement\n"
        )
    );

    let missing = schedule("tests/fixtures/schedule/no-such-file.yaml", "json")?;
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    Ok(())
}

/// An example in a document: the sample, the output format and the fenced block showing it.
struct Example {
    sample: String,
    format: String,
    block: String,
}

/// The fenced blocks after each `<!-- schedule: samples/schedule/X.yaml -->` line of `text`
/// (JSON output, or the table with `-o table` before the `-->`).
fn examples(text: &str) -> Vec<Example> {
    let mut found = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(sample) = line
            .trim()
            .strip_prefix("<!-- schedule:")
            .and_then(|rest| rest.strip_suffix("-->"))
        else {
            continue;
        };
        let mut block = String::new();
        let mut inside = false;
        for line in lines.by_ref() {
            if line.starts_with("```") {
                if inside {
                    break;
                }
                inside = true;
            } else if inside {
                block.push_str(line);
                block.push('\n');
            }
        }
        let mut words = sample.split_whitespace();
        let sample = words.next().unwrap_or_default().to_string();
        let format = match (words.next(), words.next()) {
            (Some("-o"), Some(format)) => format.to_string(),
            _ => "json".to_string(),
        };
        found.push(Example {
            sample,
            format,
            block,
        });
    }
    found
}

#[test]
fn readme_examples_match_real_output() -> anyhow::Result<()> {
    let readme = std::fs::read_to_string(root().join("README.md"))?;
    let found = examples(&readme);
    assert!(
        !found.is_empty(),
        "README.md has no `<!-- schedule: ... -->` examples"
    );
    for example in found {
        let Example {
            sample,
            format,
            block,
        } = example;
        let output = schedule(&sample, &format)?;
        assert!(output.status.success(), "README.md: {sample}: {output:?}");
        assert_eq!(
            block,
            stdout(&output),
            "README.md: the {format} example for {sample} is out of date"
        );
    }
    Ok(())
}
