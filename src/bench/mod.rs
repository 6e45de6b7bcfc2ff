//! `karmada bench`: end-to-end benchmarks that print a table and write their figures as JSON.

mod apiserver;
mod ceiling;
mod component;
mod dns;
mod driver;
mod failover;
mod fanout;
mod federation;
mod footprint;
mod machine;
mod member;
mod propagation;
mod report;
mod scheduler;
mod workload;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Create/get/list/update/delete and watch fan-out throughput and latency of the API
    /// server on each storage backend, beside raw storage writes as the ceiling.
    Apiserver(apiserver::Args),
    /// The DNS: queries per second and latency beside BIND9 serving the same zone (both
    /// measured with dnsperf), and the time from an endpoint change to the changed answer.
    Dns(dns::Args),
    /// Cluster failover: a member and its agent are killed; how long until the federation
    /// calls it not Ready, moves every workload away, and shows all replicas Ready elsewhere.
    Failover(failover::Args),
    /// Memory at rest of a federation of N members with agents and M Deployments: per member
    /// control plane, per agent (beside Karmada's), the federation's own components, in all.
    Footprint(footprint::Args),
    /// One member cluster with many simulated nodes: how long the nodes take to register and
    /// Deployments' pods take to be scheduled, run and turn Ready, and the member's CPU and
    /// memory.
    Member(member::Args),
    /// A whole federation of member clusters with agents: how long Deployments take to reach
    /// every member and to show all replicas Ready on the federation, and each component's
    /// CPU and peak memory.
    Propagation(propagation::Args),
    /// The scheduler against a federation of simulated clusters: bindings scheduled per
    /// second end to end, each binding's create-to-Scheduled latency, and the scheduler's CPU
    /// and peak memory.
    Scheduler(scheduler::Args),
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Apiserver(args) => apiserver::run(args).await,
        Command::Dns(args) => dns::run(args).await,
        Command::Failover(args) => failover::run(args).await,
        Command::Footprint(args) => footprint::run(args).await,
        Command::Member(args) => member::run(args).await,
        Command::Propagation(args) => propagation::run(args).await,
        Command::Scheduler(args) => scheduler::run(args).await,
    }
}

/// Flags every scenario takes.
#[derive(clap::Args)]
struct Common {
    /// Tiny sizes for a smoke run in CI; explicit sizes still win.
    #[arg(long)]
    quick: bool,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

impl Common {
    /// A size: the explicit flag, else the `--quick` or the full default.
    fn pick(&self, explicit: Option<usize>, full: usize, quick: usize) -> usize {
        explicit.unwrap_or(if self.quick { quick } else { full })
    }
}

/// The machine a benchmark runs on; warns when this is a debug build and says what is measured.
fn start(params: &impl std::fmt::Debug) -> machine::Machine {
    let machine = machine::Machine::probe();
    if machine.build == "debug" {
        eprintln!("bench: this is a debug build; measure with `cargo build --release`");
    }
    eprintln!("bench: {params:?}");
    machine
}

/// Runs `bench` to its end or until Ctrl-C, which drops it: that stops the processes it started
/// and removes its data directories, which exiting from the signal would leave behind.
async fn interruptible<T>(bench: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let interrupted = crate::shutdown_signal();
    tokio::select! {
        result = bench => result,
        () = interrupted.cancelled() => anyhow::bail!("interrupted"),
    }
}

/// Runs one scenario: probes the machine, gives `bench` a data directory of its own (removed
/// afterwards), stops it on Ctrl-C, then prints `table` of its report and writes the JSON to
/// `out` when asked.
async fn execute<P, R, Fut>(
    params: &P,
    out: Option<&std::path::Path>,
    table: fn(&R) -> String,
    bench: impl FnOnce(std::path::PathBuf, machine::Machine) -> Fut,
) -> anyhow::Result<()>
where
    P: std::fmt::Debug,
    R: serde::Serialize,
    Fut: Future<Output = anyhow::Result<R>>,
{
    use anyhow::Context as _;
    let machine = start(params);
    let dir = tempfile::tempdir().context("cannot create a data directory")?;
    let report = interruptible(bench(dir.path().to_path_buf(), machine)).await?;
    publish(&table(&report), &report, out)
}

/// Prints the table and, when asked, writes the report as JSON.
fn publish(
    table: &str,
    report: &impl serde::Serialize,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    print!("{table}");
    if let Some(path) = out {
        let json = serde_json::to_vec_pretty(report).context("cannot encode the report")?;
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(())
}

/// Parses a benchmark's flags as the command line would, for the tests of each benchmark.
#[cfg(test)]
fn parse<A: clap::Args>(argv: &[&str]) -> Result<A, clap::Error> {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli<A: clap::Args> {
        #[command(flatten)]
        args: A,
    }
    Cli::<A>::try_parse_from(std::iter::once("bench").chain(argv.iter().copied())).map(|c| c.args)
}
