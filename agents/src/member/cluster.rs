//! One member cluster: starts the apiserver, then every controller, the scheduler and the
//! simulated kubelets against it through kube-rs.

use karmada_apiserver::server::{self, Running};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::controllers::{
    cronjob, daemonset, deployment, endpointslice, job, replicaset, root_ca, service,
    serviceaccount, statefulset,
};
use super::runtime::{self, Context};
use super::{kubelet, scheduler};

/// How to run a member.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    /// The member's apiserver: where it listens, its store, and who may use it.
    pub apiserver: server::Config,
    pub nodes: kubelet::Config,
    pub services: service::ServiceConfig,
    /// The cluster CA certificate (PEM) published as `kube-root-ca.crt` in every namespace.
    pub root_ca_pem: String,
}

/// Why a member could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot start the member's apiserver: {0}")]
    Apiserver(#[from] server::Error),
    #[error("cannot build a client for the member's apiserver: {0}")]
    Client(#[from] crate::push::credentials::Error),
}

/// A running member. Stop it by cancelling the token it was started with, then [`Member::wait`].
pub struct Member {
    pub apiserver: Running,
    tasks: JoinSet<()>,
}

impl Member {
    /// The apiserver's URL.
    pub fn url(&self) -> String {
        self.apiserver.url()
    }

    /// Waits until every component has stopped.
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
        self.apiserver.wait().await;
    }
}

/// Starts the member's apiserver and its components; returns once the apiserver serves.
pub async fn start(config: Config, cancel: CancellationToken) -> Result<Member, Error> {
    // A member serves the MCS API like a cluster with an MCS implementation installed, so
    // exported Services can be propagated to it.
    let apiserver = server::start(
        server::Config {
            mcs_api: true,
            ..config.apiserver
        },
        cancel.clone(),
    )
    .await?;
    // The member's own components act as its admin, as a kubeadm control plane's do.
    let credentials = crate::push::credentials::Credentials {
        server: apiserver.url(),
        ca_bundle: apiserver.ca_pem.clone().map(String::into_bytes),
        token: apiserver.admin_token.clone(),
        ..Default::default()
    };
    let client = credentials.client(&config.name).await?;
    // One pod cache for every controller that needs all pods.
    let (pods, fill) =
        runtime::pod_cache(&Context::new(client.clone(), "pod-cache", cancel.clone()));
    let ctx = |component: &str| {
        Context::with_pods(client.clone(), component, cancel.clone(), pods.clone())
    };
    let mut tasks = JoinSet::new();
    tasks.spawn(fill);
    tasks.spawn(scheduler::run(ctx("default-scheduler")));
    tasks.spawn(replicaset::run(ctx("replicaset-controller")));
    tasks.spawn(deployment::run(ctx("deployment-controller")));
    tasks.spawn(statefulset::run(ctx("statefulset-controller")));
    tasks.spawn(daemonset::run(ctx("daemonset-controller")));
    tasks.spawn(job::run(ctx("job-controller")));
    tasks.spawn(cronjob::run(ctx("cronjob-controller")));
    tasks.spawn(endpointslice::run(ctx("endpointslice-controller")));
    tasks.spawn(serviceaccount::run(ctx("serviceaccount-controller")));
    tasks.spawn(root_ca::run(
        ctx("root-ca-cert-publisher"),
        config.root_ca_pem,
    ));
    spawn_fallible(
        &mut tasks,
        "service-controller",
        service::run(ctx("service-controller"), config.services),
    );
    spawn_fallible(
        &mut tasks,
        "kubelet",
        kubelet::run(ctx("kubelet"), config.nodes),
    );
    Ok(Member { apiserver, tasks })
}

/// Runs a component that can fail at start, logging why it stopped.
fn spawn_fallible<E: std::fmt::Display + Send + 'static>(
    tasks: &mut JoinSet<()>,
    component: &'static str,
    work: impl std::future::Future<Output = Result<(), E>> + Send + 'static,
) {
    tasks.spawn(async move {
        if let Err(e) = work.await {
            tracing::error!(component, error = %e, "member component stopped");
        }
    });
}
