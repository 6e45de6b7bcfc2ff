//! `karmada schedule`: runs the scheduler core offline on a scenario file, a what-if preview
//! of where a workload's replicas would land under a policy.

mod render;
mod scenario;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use karmada_scheduler::{Error, Request, available};

/// Exit code when the scenario cannot be scheduled (the JSON or table says why).
const EXIT_UNSCHEDULABLE: i32 = 1;
/// Exit code when the scenario file is unreadable or malformed, as for bad flags.
const EXIT_USAGE: i32 = 2;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario file (YAML; `-` reads stdin): `clusters:`, `policy:` or `placement:`,
    /// `workload:` or `replicas:`, and optionally `previous:`, `availableReplicas:`, `uid:`.
    #[arg(short = 'f', long = "filename")]
    filename: PathBuf,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Json)]
    output: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// `{"clusters": [{"name", "replicas"}]}`, or `{"error": {"reason", "message"}}`.
    Json,
    /// Every cluster with its replicas, room and why it was left out.
    Table,
}

/// Prints the preview and exits with 1 when unschedulable, 2 when the scenario is malformed.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let shown = args.filename.display().to_string();
    let preview = match read(&args.filename) {
        Ok(text) => preview(&text, &shown, args.output),
        Err(e) => Preview::usage(&format!("cannot read {shown}: {e}")),
    };
    std::io::stderr().write_all(preview.stderr.as_bytes())?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(preview.stdout.as_bytes())?;
    stdout.flush()?;
    if preview.code != 0 {
        // Exit here rather than through an error: the message is already printed, and the
        // code tells scripts an unschedulable scenario from a broken one.
        std::process::exit(preview.code);
    }
    Ok(())
}

fn read(path: &std::path::Path) -> std::io::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        return Ok(text);
    }
    std::fs::read_to_string(path)
}

/// What one run prints and how it exits.
#[derive(Debug)]
struct Preview {
    stdout: String,
    stderr: String,
    code: i32,
}

impl Preview {
    fn usage(message: &str) -> Self {
        Preview {
            stdout: String::new(),
            stderr: format!("error: {message}\n"),
            code: EXIT_USAGE,
        }
    }
}

/// Schedules the scenario in `text` (read from `file`, for messages) and renders the outcome.
fn preview(text: &str, file: &str, format: Format) -> Preview {
    let scenario = match scenario::parse(text) {
        Ok(scenario) => scenario,
        Err(e) => return Preview::usage(&format!("{file}: {e}")),
    };
    let request = Request {
        spec: &scenario.spec,
        observed_affinity: None,
        available: scenario.available.as_ref(),
        fresh: false,
    };
    let result = karmada_scheduler::schedule(&scenario.clusters, &request);
    let stdout = match format {
        Format::Json => render::json(&result),
        Format::Table => {
            let filtered = match &result {
                Err(Error::NoClusterFit { reasons, .. }) => reasons.clone(),
                Ok(placement) => karmada_scheduler::explain(
                    &scenario.clusters,
                    &request,
                    placement.affinity_name.as_deref(),
                ),
                Err(_) => karmada_scheduler::explain(&scenario.clusters, &request, None),
            };
            let room = room(&scenario, &request, &filtered);
            let rows = render::rows(&scenario.clusters, &result, &filtered, &room);
            render::table(&rows, &result, &scenario.spec)
        }
    };
    let stderr = scenario
        .warnings
        .iter()
        .map(|w| format!("warning: {w}\n"))
        .collect();
    Preview {
        stdout,
        stderr,
        code: if result.is_ok() {
            0
        } else {
            EXIT_UNSCHEDULABLE
        },
    }
}

/// Replicas each cluster that passed the filters could still take, as the scheduler
/// estimates them; empty for resources without replicas, which are never capacity-bound.
fn room(
    scenario: &scenario::Scenario,
    request: &Request<'_>,
    filtered: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, i32> {
    let spec = request.spec;
    if spec.replicas.unwrap_or(0) == 0 && spec.components.is_empty() {
        return BTreeMap::new();
    }
    let feasible: Vec<_> = scenario
        .clusters
        .iter()
        .filter(|c| c.metadata.deletion_timestamp.is_none())
        .filter(|c| !filtered.contains_key(c.metadata.name.as_deref().unwrap_or_default()))
        .collect();
    let estimates = available::allocatable(&feasible, spec, request.available);
    feasible
        .iter()
        .zip(estimates)
        .map(|(c, n)| (c.metadata.name.clone().unwrap_or_default(), n))
        .collect()
}

#[cfg(test)]
mod tests;
