//! `karmada bench`: end-to-end benchmarks that print a table and write their figures as JSON.

mod apiserver;
mod ceiling;
mod driver;
mod fanout;
mod machine;
mod member;
mod propagation;
mod report;
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
    /// One member cluster with many simulated nodes: how long the nodes take to register and
    /// Deployments' pods take to be scheduled, run and turn Ready, and the member's CPU and
    /// memory.
    Member(member::Args),
    /// A whole federation of member clusters with agents: how long Deployments take to reach
    /// every member and to show all replicas Ready on the federation, and each component's
    /// CPU and peak memory.
    Propagation(propagation::Args),
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Apiserver(args) => apiserver::run(args).await,
        Command::Member(args) => member::run(args).await,
        Command::Propagation(args) => propagation::run(args).await,
    }
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
