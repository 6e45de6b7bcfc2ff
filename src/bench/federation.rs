//! A whole federation as child processes for the end-to-end benches: the federation apiserver
//! (embedded store), controller-manager and scheduler, and N members each with its pull agent.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use karmada_api::cluster::Cluster;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use super::component::Component;
use super::member::connect;

/// The namespace the benches' workloads live in.
pub const NAMESPACE: &str = "bench";

/// The running federation; its processes are killed when it is dropped.
pub struct Federation {
    /// Every process, in start order: apiserver, controller-manager, scheduler, then each
    /// member followed by its agent (`memberN` and `agent memberN`).
    pub components: Vec<Component>,
    /// A client of the federation apiserver.
    pub client: Client,
    /// A client of each member, in order.
    pub members: Vec<Client>,
}

impl Federation {
    /// Starts everything in `dir` and returns once every member's Cluster is Ready.
    /// `manager_args` go to the controller-manager.
    pub async fn start(
        dir: &Path,
        members: usize,
        nodes_per_member: usize,
        manager_args: &[&str],
        deadline: Instant,
    ) -> anyhow::Result<Federation> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let mut components: Vec<Component> = Vec::new();
        let federation_dir = dir.join("federation");
        let federation = spawn(
            &mut components,
            "apiserver",
            &[
                "apiserver",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                &path(&federation_dir),
            ],
        )?;
        let kubeconfig = federation_dir.join("kubeconfig");
        let client = connect(federation, &kubeconfig, timeout).await?;
        let kubeconfig = path(&kubeconfig);
        let mut manager = vec!["controller-manager", "--kubeconfig", &kubeconfig];
        manager.extend_from_slice(manager_args);
        spawn(&mut components, "controller-manager", &manager)?;
        spawn(
            &mut components,
            "scheduler",
            &["scheduler", "--kubeconfig", &kubeconfig],
        )?;
        let nodes = nodes_per_member.to_string();
        let mut member_clients = Vec::new();
        for i in 1..=members {
            let name = format!("member{i}");
            let member_dir = dir.join(&name);
            let member = spawn(
                &mut components,
                &name,
                &[
                    "member",
                    "--name",
                    &name,
                    "--listen",
                    "127.0.0.1:0",
                    "--nodes",
                    &nodes,
                    "--data-dir",
                    &path(&member_dir),
                ],
            )?;
            let member_kubeconfig = member_dir.join("kubeconfig");
            member_clients.push(connect(member, &member_kubeconfig, timeout).await?);
            spawn(
                &mut components,
                &format!("agent {name}"),
                &[
                    "agent",
                    "--cluster",
                    &name,
                    "--karmada-kubeconfig",
                    &kubeconfig,
                    "--member-kubeconfig",
                    &path(&member_kubeconfig),
                ],
            )?;
        }
        wait_for_clusters(&client, members, deadline).await?;
        Ok(Federation {
            components,
            client,
            members: member_clients,
        })
    }
}

/// Starts a component and keeps it (for its footprint and to stop it with the bench).
fn spawn<'a>(
    components: &'a mut Vec<Component>,
    name: &str,
    args: &[&str],
) -> anyhow::Result<&'a mut tokio::process::Child> {
    components.push(Component::spawn(name, args)?);
    Ok(&mut components.last_mut().expect("just pushed").child)
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

async fn wait_for_clusters(client: &Client, want: usize, deadline: Instant) -> anyhow::Result<()> {
    let api: Api<Cluster> = Api::all(client.clone());
    loop {
        let ready = api
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|c| c.is_ready())
            .count();
        if ready >= want {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "only {ready} of {want} clusters turned Ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Creates the bench namespace and a policy placing every Deployment in it by
/// `replica_scheduling`, and waits until namespace sync made the namespace in every member, so
/// the measurement starts from a settled federation.
pub async fn prepare(
    client: &Client,
    members: &[Client],
    replica_scheduling: &Value,
    deadline: Instant,
) -> anyhow::Result<()> {
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?,
        )
        .await
        .context("cannot create the bench namespace")?;
    let policy = json!({
        "apiVersion": "policy.karmada.io/v1alpha1", "kind": "PropagationPolicy",
        "metadata": {"name": "bench", "namespace": NAMESPACE},
        "spec": {
            "resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment"}],
            "placement": {"replicaScheduling": replica_scheduling},
        },
    });
    let policies: Api<karmada_api::policy::propagation::PropagationPolicy> =
        Api::namespaced(client.clone(), NAMESPACE);
    policies
        .create(&PostParams::default(), &serde_json::from_value(policy)?)
        .await
        .context("cannot create the bench policy")?;
    for member in members {
        let api: Api<Namespace> = Api::all(member.clone());
        while api.get_opt(NAMESPACE).await?.is_none() {
            ensure!(
                Instant::now() < deadline,
                "namespace {NAMESPACE} never reached a member"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// A Deployment of `replicas` pause containers with small requests.
pub fn deployment(name: &str, replicas: usize) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "app",
                    "image": "registry.k8s.io/pause:3.10",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }]},
            },
        },
    }))
    .expect("the bench deployment is valid")
}
