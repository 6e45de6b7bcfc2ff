//! Granting each pull agent's own identity in the federation the RBAC that confines it to its
//! cluster (defined in `karmada_apiserver::auth::agents`): its Cluster object and status, its
//! heartbeat Lease, and the Works and reported EndpointSlices of its execution namespace. A
//! compromised member's agent can then neither read nor change another cluster's work.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use karmada_api::execution_namespace;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};

use super::cluster::lease::LEASE_NAMESPACE;

pub use karmada_apiserver::auth::agents::{GROUP as AGENTS_GROUP, Grants, grants, user};

/// Written into every object [`grant`] applies.
const FIELD_MANAGER: &str = "karmada-agent-identity";

/// Why the agent's access could not be granted.
#[derive(Debug, thiserror::Error)]
#[error("cannot grant the agent of cluster {cluster} its access ({what}): {source}")]
pub struct Error {
    cluster: String,
    what: String,
    #[source]
    source: kube::Error,
}

/// Creates the namespaces the agent of `cluster` works in and applies its [`grants`], with a
/// client that may (the federation's admin). Applying again changes nothing.
pub async fn grant(federation: &Client, cluster: &str) -> Result<(), Error> {
    let err = |what: String| {
        move |source| Error {
            cluster: cluster.to_string(),
            what,
            source,
        }
    };
    let namespaces: Api<Namespace> = Api::all(federation.clone());
    for namespace in [LEASE_NAMESPACE.to_string(), execution_namespace(cluster)] {
        let object = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        match namespaces.create(&PostParams::default(), &object).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(source) => return Err(err(format!("namespace {namespace}"))(source)),
        }
    }
    let grants = grants(cluster);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let name = user(cluster);
    Api::<ClusterRole>::all(federation.clone())
        .patch(&name, &params, &Patch::Apply(&grants.cluster_role))
        .await
        .map_err(err(format!("ClusterRole {name}")))?;
    Api::<ClusterRoleBinding>::all(federation.clone())
        .patch(&name, &params, &Patch::Apply(&grants.cluster_role_binding))
        .await
        .map_err(err(format!("ClusterRoleBinding {name}")))?;
    for (role, binding) in &grants.roles {
        let namespace = role.metadata.namespace.clone().unwrap_or_default();
        Api::<Role>::namespaced(federation.clone(), &namespace)
            .patch(&name, &params, &Patch::Apply(role))
            .await
            .map_err(err(format!("Role {namespace}/{name}")))?;
        Api::<RoleBinding>::namespaced(federation.clone(), &namespace)
            .patch(&name, &params, &Patch::Apply(binding))
            .await
            .map_err(err(format!("RoleBinding {namespace}/{name}")))?;
    }
    Ok(())
}
