//! A whole federation as child processes: the federation apiserver with its controller-manager
//! and scheduler, and member clusters each with its pull agent, for end-to-end tests.

use super::apiserver::{ApiServer, Store};

/// Karmada's nginx sample Deployment (two replicas).
pub const NGINX: &str = include_str!("../../samples/karmada/nginx/deployment.yaml");
/// A policy putting nginx on member1 only.
pub const NGINX_ON_MEMBER1: &str = "apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: nginx}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: nginx}]
  placement:
    clusterAffinity: {clusterNames: [member1]}
";
use super::component::Component;
use super::kubectl::Kubectl;

/// The federation's control plane.
pub struct Federation {
    pub apiserver: ApiServer,
    pub manager: Component,
    pub scheduler: Component,
    pub kubectl: Kubectl,
}

impl Federation {
    /// Starts the apiserver (in memory), then the controller-manager (with `manager_args`
    /// added) and the scheduler against it.
    pub fn start(manager_args: &[&str]) -> anyhow::Result<Federation> {
        let apiserver = ApiServer::start(Store::Memory)?;
        let kubeconfig = apiserver.kubeconfig().to_string_lossy().into_owned();
        let mut args = vec!["controller-manager", "--kubeconfig", &kubeconfig];
        args.extend_from_slice(manager_args);
        let manager = Component::start(&args)?;
        let scheduler = Component::start(&["scheduler", "--kubeconfig", &kubeconfig])?;
        let kubectl = Kubectl::new(&apiserver)?;
        Ok(Federation {
            apiserver,
            manager,
            scheduler,
            kubectl,
        })
    }

    /// The control plane's logs followed by each member agent's, for failure messages.
    pub fn logs(&self, members: &[&Member]) -> String {
        let mut all = format!(
            "--- controller-manager\n{}\n--- scheduler\n{}\n",
            self.manager.log(),
            self.scheduler.log()
        );
        for m in members {
            all.push_str(&format!("--- {} agent\n{}\n", m.name, m.agent.log()));
        }
        all
    }
}

/// A member cluster (simulated nodes, embedded store) with its agent.
pub struct Member {
    pub name: String,
    pub server: ApiServer,
    pub agent: Component,
    pub kubectl: Kubectl,
    _data: tempfile::TempDir,
}

impl Member {
    /// Starts member `name` with two nodes and its agent, reporting status every second.
    pub fn start(name: &str, federation: &Federation) -> anyhow::Result<Member> {
        let (server, data) = Self::control_plane(name)?;
        let agent = Self::agent(name, federation, &server)?;
        let kubectl = Kubectl::new(&server)?;
        Ok(Member {
            name: name.to_string(),
            server,
            agent,
            kubectl,
            _data: data,
        })
    }

    /// Starts the control plane of member `name` (two nodes, embedded store in the returned
    /// directory) without an agent.
    pub fn control_plane(name: &str) -> anyhow::Result<(ApiServer, tempfile::TempDir)> {
        let data = tempfile::tempdir()?;
        let server = ApiServer::start_command(
            &["member", "--name", name, "--nodes", "2"],
            Store::Embedded(data.path()),
        )?;
        Ok((server, data))
    }

    /// Starts (again) the agent of member `name`.
    pub fn agent(
        name: &str,
        federation: &Federation,
        member: &ApiServer,
    ) -> anyhow::Result<Component> {
        Component::start(&[
            "agent",
            "--cluster",
            name,
            "--karmada-kubeconfig",
            &federation.apiserver.kubeconfig().to_string_lossy(),
            "--member-kubeconfig",
            &member.kubeconfig().to_string_lossy(),
            "--status-seconds",
            "1",
        ])
    }
}
