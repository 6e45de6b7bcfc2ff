//! `karmada up`: a whole federation on this machine with one command. It runs the federation
//! apiserver (embedded store, or etcd), the controller-manager, the scheduler, and N member
//! clusters each with its pull agent (or joined in Push mode), as supervised child processes of
//! this binary. It writes `DIR/kubeconfig` (contexts `karmada`, `member1`..) and
//! `DIR/endpoints.json`, logs one `ready` line, stops everything in order on Ctrl-C or SIGTERM,
//! and resumes the same federation when started again with the same data directory.

pub mod plan;
pub mod supervisor;

use std::collections::BTreeMap;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use k8s_openapi::api::coordination::v1::Lease;
use karmada_agents::agent::cluster::lease::LEASE_NAMESPACE;
use karmada_agents::push::credentials::Credentials;
use karmada_api::cluster::{Cluster, ClusterSyncMode};
use karmada_apiserver::kubeconfig;
use kube::Api;
use kube::api::ListParams;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use plan::{Layout, Mode};
use supervisor::{Process, Spec};

/// Set on the components `karmada up` runs: they stop when their standard input closes.
pub const SUPERVISED_ENV: &str = "KARMADA_SUPERVISED";
/// The zone of the global names `karmada up`'s DNS serves.
const GLOBAL_ZONE: &str = "karmada.global";
/// How often start-up conditions are checked.
const POLL: Duration = Duration::from_millis(100);

#[derive(clap::Args)]
pub struct Args {
    /// Member clusters to run, each with its agent (0 is allowed) [default: 3, or the data
    /// directory's].
    #[arg(long)]
    members: Option<usize>,
    /// Where every component keeps its data and log, and where `kubeconfig`, `endpoints.json`
    /// and `up.json` (the layout a restart resumes) are written.
    #[arg(long, default_value = ".karmada")]
    data_dir: PathBuf,
    /// The federation apiserver's port on 127.0.0.1; 0 picks a free one [default: 0 on a new
    /// data directory, the last run's port otherwise].
    #[arg(long)]
    port: Option<u16>,
    /// The DNS's port on 127.0.0.1, UDP and TCP; 0 picks a free one [default: 0 on a new data
    /// directory, the last run's port otherwise].
    #[arg(long)]
    dns_port: Option<u16>,
    /// Store the federation in this etcd (comma-separated client URLs) instead of the embedded
    /// store; members keep theirs in the data directory.
    #[arg(long, value_delimiter = ',')]
    etcd_endpoints: Option<Vec<String>>,
    /// Simulated nodes per member (8 CPU, 32Gi each) [default: 3, 2, 1, 3, 2, 1, ...].
    #[arg(long)]
    member_nodes: Option<usize>,
    /// Members joined in Push mode (the controller-manager applies their Works; no agent),
    /// e.g. `member3` or `member2,member3`.
    #[arg(long, value_delimiter = ',')]
    push_members: Option<Vec<String>>,
    /// Give up when the federation is not ready within this many seconds.
    #[arg(long, default_value_t = 180)]
    timeout_seconds: u64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cancel = crate::shutdown_signal();
    let dir = std::path::absolute(&args.data_dir)
        .with_context(|| format!("--data-dir {} is not usable", args.data_dir.display()))?;
    std::fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let _lock = lock(&dir)?;
    let request = plan::Request {
        members: args.members,
        member_nodes: args.member_nodes,
        push_members: args.push_members.clone(),
        port: args.port,
        dns_port: args.dns_port,
        etcd_endpoints: args.etcd_endpoints.clone(),
    };
    let previous = plan::load(&dir)?;
    let resumed = previous.is_some();
    let mut layout = plan::plan(&request, previous)?;
    tracing::info!(
        data_dir = %dir.display(),
        members = layout.members.len(),
        "{} the federation",
        if resumed { "resuming" } else { "starting" }
    );

    let mut federation = Federation::new(dir);
    let deadline = Instant::now() + Duration::from_secs(args.timeout_seconds);
    let started = tokio::select! {
        started = federation.start(&mut layout, deadline) => started,
        () = cancel.cancelled() => Err(anyhow::anyhow!("interrupted while starting")),
    };
    if let Err(e) = started {
        federation.stop().await;
        return Err(e);
    }
    cancel.cancelled().await;
    tracing::info!("stopping the federation");
    federation.stop().await;
    tracing::info!(
        "stopped; `karmada up --data-dir {}` resumes it",
        args.data_dir.display()
    );
    Ok(())
}

/// Refuses to run two federations on one data directory at once.
fn lock(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join("up.lock");
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another `karmada up` is running with the data directory {}; stop it first or use \
             another --data-dir",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Supervised components that stop together.
struct Group {
    cancel: CancellationToken,
    tasks: JoinSet<()>,
}

impl Group {
    fn new() -> Group {
        Group {
            cancel: CancellationToken::new(),
            tasks: JoinSet::new(),
        }
    }

    fn supervise(&mut self, spec: Spec, process: Process) {
        self.tasks
            .spawn(supervisor::supervise(spec, process, self.cancel.clone()));
    }

    async fn stop(&mut self) {
        self.cancel.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// The running federation.
struct Federation {
    dir: PathBuf,
    /// Apiservers (federation and members): stopped last, so the others can finish cleanly.
    servers: Group,
    /// Controller-manager, scheduler and agents.
    workers: Group,
}

impl Federation {
    fn new(dir: PathBuf) -> Federation {
        Federation {
            dir,
            servers: Group::new(),
            workers: Group::new(),
        }
    }

    async fn stop(&mut self) {
        self.workers.stop().await;
        self.servers.stop().await;
    }

    fn spec(&self, name: &str, args: Vec<String>) -> Spec {
        Spec {
            name: name.to_string(),
            args,
            log: self.dir.join("logs").join(format!("{name}.log")),
        }
    }

    /// Starts every component in dependency order and returns once every member cluster is
    /// Ready in the federation. Ports picked on the way are recorded in `layout`.
    async fn start(&mut self, layout: &mut Layout, deadline: Instant) -> anyhow::Result<()> {
        let started = Instant::now();
        let federation_dir = self.dir.join("federation");
        let mut apiserver_args = command("apiserver", [("--data-dir", path(&federation_dir))]);
        if !layout.etcd_endpoints.is_empty() {
            apiserver_args.extend(["--etcd-endpoints".into(), layout.etcd_endpoints.join(",")]);
        }
        let (apiserver, port) = self
            .start_server("apiserver", apiserver_args, layout.apiserver_port, deadline)
            .await?;
        layout.apiserver_port = port;
        tracing::info!(url = %apiserver.server, store = %store(layout, &federation_dir), "federation apiserver serving");

        let mut member_servers = BTreeMap::new();
        let starts = layout.members.iter().enumerate().map(|(index, member)| {
            let networks = plan::networks(index);
            let args = command(
                "member",
                [
                    ("--name", member.name.clone()),
                    ("--data-dir", path(&self.dir.join(&member.name))),
                    ("--nodes", member.nodes.to_string()),
                    ("--node-cpu", member.node_cpu.clone()),
                    ("--node-memory", member.node_memory.clone()),
                    ("--region", member.region.clone()),
                    ("--zone", member.zone.clone()),
                    ("--provider", member.provider.clone()),
                    ("--pod-cidr", networks.pods),
                    ("--service-cidr", networks.services),
                    ("--load-balancer-pool", networks.load_balancers),
                ],
            );
            let spec = self.spec(&member.name, args);
            let port = member.port;
            async move { (spec.clone(), start_server(spec, port, deadline).await) }
        });
        let mut served = Vec::new();
        for (spec, result) in futures::future::join_all(starts).await {
            // Keep the members that did start supervised, so they are stopped cleanly.
            match result {
                Ok(server) => served.push((spec, server)),
                Err(e) => {
                    for (spec, (process, ..)) in served {
                        self.servers.supervise(spec, process);
                    }
                    return Err(e);
                }
            }
        }
        for ((spec, (process, server, port)), member) in served.into_iter().zip(&mut layout.members)
        {
            tracing::info!(
                member = %member.name,
                url = %server.server,
                "member serving: {}, {} nodes x {} CPU / {}, {:?} mode",
                member.region,
                member.nodes,
                member.node_cpu,
                member.node_memory,
                member.mode
            );
            member.port = port;
            member_servers.insert(member.name.clone(), server);
            self.servers.supervise(with_port(spec, port), process);
        }
        if layout.dns_port == 0 {
            layout.dns_port = crate::dns::free_port(Ipv4Addr::LOCALHOST.into()).await?;
        }
        let dns = SocketAddr::from((Ipv4Addr::LOCALHOST, layout.dns_port));
        plan::save(&self.dir, layout)?;
        self.write_client_files(&apiserver, &member_servers, dns)?;

        let federation_kubeconfig = path(&federation_dir.join("kubeconfig"));
        for name in ["controller-manager", "scheduler"] {
            let args = command(name, [("--kubeconfig", federation_kubeconfig.clone())]);
            let spec = self.spec(name, args);
            let process = Process::spawn(&spec)?;
            self.workers.supervise(spec, process);
        }
        let args = command(
            "dns",
            [
                ("--kubeconfig", federation_kubeconfig.clone()),
                ("--listen", dns.to_string()),
                ("--global-zone", GLOBAL_ZONE.into()),
            ],
        );
        let spec = self.spec("dns", args);
        let process = Process::spawn(&spec)?;
        self.workers.supervise(spec.clone(), process);
        let client = crate::kubeconfig::client(&federation_dir.join("kubeconfig")).await?;
        // A resumed federation holds the last run's Ready conditions: a pull cluster counts
        // once its agent of this run has renewed the heartbeat.
        let agents_started = jiff::Timestamp::now();
        for member in &layout.members {
            let member_kubeconfig = self.dir.join(&member.name).join("kubeconfig");
            match member.mode {
                Mode::Pull => {
                    let agent_kubeconfig =
                        agent_identity(&client, &apiserver, &self.dir, &member.name, deadline)
                            .await?;
                    let args = command(
                        "agent",
                        [
                            ("--cluster", member.name.clone()),
                            ("--karmada-kubeconfig", path(&agent_kubeconfig)),
                            ("--member-kubeconfig", path(&member_kubeconfig)),
                            ("--region", member.region.clone()),
                            ("--zone", member.zone.clone()),
                            ("--provider", member.provider.clone()),
                            ("--estimator-listen", "127.0.0.1:0".into()),
                        ],
                    );
                    let spec = self.spec(&format!("{}-agent", member.name), args);
                    let process = Process::spawn(&spec)?;
                    self.workers.supervise(spec, process);
                }
                Mode::Push => {
                    join_push_member(&client, member, &federation_dir, &member_kubeconfig).await?;
                }
            }
        }
        wait_for_clusters(&client, layout, &self.dir, agents_started, deadline).await?;
        wait_for_dns(&spec, dns, deadline).await?;
        tracing::info!(listen = %dns, zone = "clusterset.local", global_zone = GLOBAL_ZONE, "dns serving");
        let kubeconfig = self.dir.join("kubeconfig");
        tracing::info!(
            "ready: a federation of {} member clusters{} in {:.1}s. Next: export KUBECONFIG={} \
             && kubectl get clusters",
            layout.members.len(),
            describe_members(layout),
            started.elapsed().as_secs_f64(),
            kubeconfig.display()
        );
        Ok(())
    }

    /// Starts one apiserver-bearing component (see [`start_server`]) and supervises it.
    async fn start_server(
        &mut self,
        name: &str,
        args: Vec<String>,
        port: u16,
        deadline: Instant,
    ) -> anyhow::Result<(Credentials, u16)> {
        let spec = self.spec(name, args);
        let (process, server, port) = start_server(spec.clone(), port, deadline).await?;
        self.servers.supervise(with_port(spec, port), process);
        Ok((server, port))
    }

    /// `DIR/kubeconfig` (contexts `karmada`, then every member; `karmada` current, each with
    /// its server's CA and admin credentials) and `DIR/endpoints.json`.
    fn write_client_files(
        &self,
        apiserver: &Credentials,
        members: &BTreeMap<String, Credentials>,
        dns: SocketAddr,
    ) -> anyhow::Result<()> {
        let mut contexts = vec![crate::kubeconfig::context("karmada", apiserver)?];
        for (name, server) in members {
            contexts.push(crate::kubeconfig::context(name, server)?);
        }
        // Sorted by name, member10 would come before member2.
        contexts[1..].sort_by_key(|c| member_index(&c.name));
        let path = self.dir.join("kubeconfig");
        kubeconfig::write(&path, &contexts)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let urls: BTreeMap<&String, &String> =
            members.iter().map(|(name, m)| (name, &m.server)).collect();
        let endpoints = serde_json::json!({
            "apiserver": apiserver.server,
            "dns": dns.to_string(),
            "kubeconfig": path,
            "members": urls,
        });
        plan::write_atomically(
            &self.dir.join("endpoints.json"),
            &serde_json::to_vec_pretty(&endpoints).expect("endpoints serialize"),
        )
    }
}

/// Gives the agent of `cluster` its own identity, as `karmada register` does but approved by
/// the admin: a client certificate for user `system:karmada:agent:<cluster>` in group
/// `system:karmada:agents`, which the federation signs while granting that agent its own
/// cluster's roles, in `DIR/agents/<cluster>.kubeconfig`. Returns that kubeconfig's path.
async fn agent_identity(
    admin: &kube::Client,
    apiserver: &Credentials,
    dir: &Path,
    cluster: &str,
    deadline: Instant,
) -> anyhow::Result<PathBuf> {
    let ca_pem = apiserver
        .ca_bundle
        .as_deref()
        .map(String::from_utf8_lossy)
        .context("the federation apiserver's kubeconfig has no CA")?;
    let agents = dir.join("agents");
    std::fs::create_dir_all(&agents)
        .with_context(|| format!("cannot create {}", agents.display()))?;
    let path = agents.join(format!("{cluster}.kubeconfig"));
    crate::register::enrol(
        admin.clone(),
        &apiserver.server,
        &ca_pem,
        cluster,
        crate::register::Approval::ByCaller,
        deadline.saturating_duration_since(Instant::now()),
        &path,
    )
    .await?;
    Ok(path)
}

/// Starts `karmada <args> --listen 127.0.0.1:<port>` (an apiserver or a member, with
/// `--data-dir`) and waits until it writes its kubeconfig and answers through it. Returns the
/// process, the credentials of that kubeconfig (URL, CA, admin token) and the port it took.
async fn start_server(
    spec: Spec,
    port: u16,
    deadline: Instant,
) -> anyhow::Result<(Process, Credentials, u16)> {
    let data_dir = spec
        .args
        .iter()
        .position(|a| a == "--data-dir")
        .and_then(|i| spec.args.get(i + 1))
        .map(PathBuf::from)
        .context("a server is started with --data-dir")?;
    let kubeconfig = data_dir.join("kubeconfig");
    // The file of the last run must not pass for this one's.
    match std::fs::remove_file(&kubeconfig) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", kubeconfig.display())),
    }
    let spec = with_port(spec, port);
    let mut process = Process::spawn(&spec)?;
    loop {
        if let Some(status) = process.exited()? {
            let hint = if port == 0 {
                String::new()
            } else {
                format!(" (it listens on port {port}: is another process using it?)")
            };
            bail!(
                "{} exited ({status}) before serving{hint}. From {}:\n{}",
                spec.name,
                spec.log.display(),
                supervisor::failure_excerpt(&spec.log)
            );
        }
        if kubeconfig.exists() {
            let server = crate::kubeconfig::credentials(&kubeconfig)?;
            let client = server.client(&spec.name).await?;
            if client.apiserver_version().await.is_ok() {
                let url = &server.server;
                let port = port_of(url)
                    .with_context(|| format!("{} serves at {url}, which has no port", spec.name))?;
                return Ok((process, server, port));
            }
        }
        if Instant::now() >= deadline {
            process.stop().await;
            bail!(
                "{} did not serve in time. The end of {}:\n{}",
                spec.name,
                spec.log.display(),
                supervisor::log_tail(&spec.log, 10)
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the DNS accepts TCP connections: it binds only once it has read the
/// federation, so that is when its answers are right.
async fn wait_for_dns(spec: &Spec, dns: SocketAddr, deadline: Instant) -> anyhow::Result<()> {
    loop {
        if tokio::net::TcpStream::connect(dns).await.is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "the DNS did not serve at {dns} in time (is the port taken?). The end of {}:\n{}",
                spec.log.display(),
                supervisor::log_tail(&spec.log, 10)
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The arguments of `karmada <subcommand> --flag value...`.
fn command<const N: usize>(subcommand: &str, flags: [(&str, String); N]) -> Vec<String> {
    std::iter::once(subcommand.to_string())
        .chain(
            flags
                .into_iter()
                .flat_map(|(flag, value)| [flag.to_string(), value]),
        )
        .collect()
}

/// `spec` listening on 127.0.0.1:`port`.
fn with_port(mut spec: Spec, port: u16) -> Spec {
    let listen = format!("127.0.0.1:{port}");
    match spec.args.iter().position(|a| a == "--listen") {
        Some(i) => spec.args[i + 1] = listen,
        None => spec.args.extend(["--listen".into(), listen]),
    }
    spec
}

fn port_of(url: &str) -> Option<u16> {
    url.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

/// The number in `memberN`, to order members as people count them.
fn member_index(name: &str) -> (usize, String) {
    let number = name
        .strip_prefix("member")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    (number, name.to_string())
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn store(layout: &Layout, federation_dir: &Path) -> String {
    if layout.etcd_endpoints.is_empty() {
        format!("embedded in {}", federation_dir.display())
    } else {
        format!("etcd at {}", layout.etcd_endpoints.join(","))
    }
}

fn describe_members(layout: &Layout) -> String {
    if layout.members.is_empty() {
        return String::new();
    }
    let names: Vec<String> = layout
        .members
        .iter()
        .map(|m| format!("{} {}", m.name, m.region))
        .collect();
    format!(" ({})", names.join(", "))
}

/// Registers a Push member with the federation, unless a run before did.
async fn join_push_member(
    client: &kube::Client,
    member: &plan::Member,
    federation_dir: &Path,
    member_kubeconfig: &Path,
) -> anyhow::Result<()> {
    let clusters: Api<Cluster> = Api::all(client.clone());
    if let Some(existing) = clusters.get_opt(&member.name).await? {
        if existing.spec.sync_mode == ClusterSyncMode::Push {
            return Ok(());
        }
        bail!(
            "cluster {} is registered in {:?} mode, but this federation runs it in Push mode; \
             `karmada unjoin {}` it first",
            member.name,
            existing.spec.sync_mode,
            member.name
        );
    }
    let joined = crate::join::register(&crate::join::JoinArgs {
        name: member.name.clone(),
        kubeconfig: federation_dir.join("kubeconfig"),
        cluster_kubeconfig: member_kubeconfig.to_path_buf(),
        cluster_context: None,
        cluster_namespace: crate::join::DEFAULT_CREDENTIALS_NAMESPACE.into(),
        cluster_provider: Some(member.provider.clone()),
        cluster_region: Some(member.region.clone()),
        cluster_zone: Some(member.zone.clone()),
    })
    .await?;
    tracing::info!(member = %member.name, "{joined}");
    Ok(())
}

/// Waits until every member's Cluster is Ready in the federation (and, for a pull member, its
/// agent has renewed the heartbeat since `agents_started`), saying so for each.
async fn wait_for_clusters(
    client: &kube::Client,
    layout: &Layout,
    dir: &Path,
    agents_started: jiff::Timestamp,
    deadline: Instant,
) -> anyhow::Result<()> {
    let clusters: Api<Cluster> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let mut ready = std::collections::BTreeSet::new();
    loop {
        let list = clusters.list(&ListParams::default()).await?;
        let heartbeats: BTreeMap<String, jiff::Timestamp> =
            match leases.list(&ListParams::default()).await {
                Ok(list) => list
                    .items
                    .into_iter()
                    .filter_map(|l| {
                        let renewed = l.spec?.renew_time?.0;
                        Some((l.metadata.name?, renewed))
                    })
                    .collect(),
                Err(kube::Error::Api(s)) if s.code == 404 => BTreeMap::new(),
                Err(e) => return Err(e).context("cannot list the clusters' heartbeat Leases"),
            };
        for cluster in list.items.iter().filter(|c| c.is_ready()) {
            let name = kube::ResourceExt::name_any(cluster);
            let Some(member) = layout.members.iter().find(|m| m.name == name) else {
                continue;
            };
            let alive = match member.mode {
                Mode::Pull => heartbeats.get(&name).is_some_and(|t| *t >= agents_started),
                Mode::Push => true,
            };
            if alive && ready.insert(name.clone()) {
                tracing::info!(
                    cluster = %name,
                    "cluster Ready ({}/{})",
                    ready.len(),
                    layout.members.len()
                );
            }
        }
        if ready.len() == layout.members.len() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let waiting: Vec<String> = layout
                .members
                .iter()
                .filter(|m| !ready.contains(&m.name))
                .map(|m| {
                    let log = match m.mode {
                        Mode::Pull => format!("{}-agent.log", m.name),
                        Mode::Push => "controller-manager.log".into(),
                    };
                    format!("{} (see {})", m.name, dir.join("logs").join(log).display())
                })
                .collect();
            bail!(
                "clusters not Ready in time: {}; raise --timeout-seconds on a slow machine",
                waiting.join(", ")
            );
        }
        tokio::time::sleep(POLL * 2).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_listens_on_the_given_port() {
        let spec = Spec {
            name: "m".into(),
            args: vec!["member".into()],
            log: PathBuf::from("m.log"),
        };
        let spec = with_port(spec, 0);
        assert_eq!(spec.args, ["member", "--listen", "127.0.0.1:0"]);
        let spec = with_port(spec, 7001);
        assert_eq!(spec.args, ["member", "--listen", "127.0.0.1:7001"]);
    }

    #[test]
    fn ports_and_member_order() {
        assert_eq!(port_of("http://127.0.0.1:6443"), Some(6443));
        assert_eq!(port_of("http://127.0.0.1:6443/"), Some(6443));
        assert_eq!(port_of("http://localhost"), None);
        let mut names = vec!["member10", "member2", "member1"];
        names.sort_by_key(|n| member_index(n));
        assert_eq!(names, ["member1", "member2", "member10"]);
    }
}
