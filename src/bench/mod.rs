//! `karmada bench`: end-to-end benchmarks that print a table and write their figures as JSON.

mod apiserver;
mod ceiling;
mod driver;
mod fanout;
mod machine;
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
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Apiserver(args) => apiserver::run(args).await,
    }
}
