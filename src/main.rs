//! The `karmada` binary: parses flags, sets up logging and the runtime, and hands each
//! subcommand to its library.

mod agent;
mod apiserver;
mod bench;
mod controller_manager;
mod dns;
mod join;
mod kubeconfig;
mod member;
mod register;
mod schedule;
mod scheduler;
mod taint;
mod up;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "karmada",
    version,
    about = "A multi-cluster Kubernetes federation control plane"
)]
struct Cli {
    /// Log format: `text` for people, `json` for machines.
    #[arg(
        long,
        global = true,
        default_value = "text",
        env = "KARMADA_LOG_FORMAT"
    )]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the pull agent of one member cluster: registration, heartbeat, applying Works.
    Agent(agent::Args),
    /// Mark a cluster unschedulable: nothing new is placed there, what runs stays.
    Cordon(taint::CordonArgs),
    /// Run the federation API server: the Kubernetes API plus the Karmada API.
    Apiserver(apiserver::Args),
    /// Measure components end to end and report throughput and latency.
    Bench(bench::Args),
    /// Run the federation's controllers: detector, bindings to Works, status, namespaces.
    ControllerManager(controller_manager::Args),
    /// Serve the federation's global DNS: multi-cluster Services and global names.
    Dns(dns::Args),
    /// Register a member cluster in Push mode from its kubeconfig.
    Join(join::JoinArgs),
    /// Run one member cluster: apiserver, controllers, scheduler and simulated nodes.
    Member(Box<member::Args>),
    /// Enrol a pull cluster's agent with a bootstrap token: writes its own kubeconfig.
    Register(register::RegisterArgs),
    /// Preview offline where a scenario's replicas would land (clusters, policy, workload).
    Schedule(schedule::Args),
    /// Run the cross-cluster scheduler: places bindings' replicas on member clusters.
    Scheduler(scheduler::Args),
    /// Add (key[=value]:Effect) or remove (key[:Effect]-) taints of a cluster.
    Taint(taint::TaintArgs),
    /// Bootstrap tokens for `karmada register`.
    Token(register::TokenArgs),
    /// Make a cordoned cluster schedulable again.
    Uncordon(taint::CordonArgs),
    /// Remove a member cluster: its Works leave the member, then the Cluster goes.
    Unjoin(join::UnjoinArgs),
    /// Run a whole federation locally: apiserver, controllers, scheduler, member clusters.
    Up(up::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(&cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        match cli.command {
            Command::Agent(args) => agent::run(args).await,
            Command::Cordon(args) => taint::cordon(args).await,
            Command::Apiserver(args) => apiserver::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::ControllerManager(args) => controller_manager::run(args).await,
            Command::Dns(args) => dns::run(args).await,
            Command::Join(args) => join::join(args).await,
            Command::Member(args) => member::run(*args).await,
            Command::Register(args) => register::register(args).await,
            Command::Schedule(args) => schedule::run(&args),
            Command::Scheduler(args) => scheduler::run(args).await,
            Command::Taint(args) => taint::taint(args).await,
            Command::Token(args) => register::token(args).await,
            Command::Uncordon(args) => taint::uncordon(args).await,
            Command::Unjoin(args) => join::unjoin(args).await,
            Command::Up(args) => up::run(args).await,
        }
    });
    // Do not wait for blocking tasks: a supervised component's reader of its standard input
    // only ends when the supervisor closes it, and a component that failed must exit now.
    runtime.shutdown_background();
    result
}

fn init_tracing(format: &str) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // hickory-server logs every DNS response at info: far too much for a server under load,
    // unless asked for by name.
    let asked = std::env::var("RUST_LOG").is_ok_and(|v| v.contains("hickory"));
    if !asked && let Ok(quiet) = "hickory_server=warn".parse() {
        filter = filter.add_directive(quiet);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// A token cancelled on Ctrl-C or SIGTERM, so every component shuts down cleanly. A component
/// that `karmada up` supervises also stops when its standard input closes: that is how the
/// supervisor asks it to stop, and what happens when the supervisor dies.
pub(crate) fn shutdown_signal() -> tokio_util::sync::CancellationToken {
    let token = tokio_util::sync::CancellationToken::new();
    if std::env::var_os(up::SUPERVISED_ENV).is_some() {
        let cancel = token.clone();
        tokio::spawn(async move {
            up::supervisor::wait_for_stdin_to_close().await;
            tracing::info!("standard input closed by the supervisor; shutting down");
            cancel.cancel();
        });
    }
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot listen for SIGTERM");
                        let _ = ctrl_c.await;
                        cancel.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        cancel.cancel();
    });
    token
}
