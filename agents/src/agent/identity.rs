//! Each pull agent's own identity in the federation, and the RBAC that confines it to its
//! cluster: its Cluster object and status, its heartbeat Lease, and the Works and reported
//! EndpointSlices of its execution namespace. A compromised member's agent can then neither
//! read nor change another cluster's work.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use karmada_api::execution_namespace;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};

use super::cluster::lease::LEASE_NAMESPACE;

pub use karmada_apiserver::auth::agents::{GROUP as AGENTS_GROUP, user};
/// Written into every object [`grant`] applies.
const FIELD_MANAGER: &str = "karmada-agent-identity";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// What the agent of `cluster` may do, as the roles and bindings that say it (named after its
/// user).
#[derive(Debug, Clone, PartialEq)]
pub struct Grants {
    pub cluster_role: ClusterRole,
    pub cluster_role_binding: ClusterRoleBinding,
    /// One role and binding in the Lease namespace, one in the execution namespace.
    pub roles: Vec<(Role, RoleBinding)>,
}

/// The roles and bindings of `cluster`'s agent.
///
/// A create carries no object name for RBAC to check, so the roles let the agent create
/// Clusters (its registration) and Leases in the Lease namespace, and the apiserver admits only
/// those named for its own cluster (`karmada_apiserver::auth::agents`); every read and write of
/// an existing Cluster or Lease is limited to `cluster`'s own.
pub fn grants(cluster: &str) -> Grants {
    let name = user(cluster);
    let own = || vec![cluster.to_string()];
    let cluster_role = ClusterRole {
        metadata: meta(&name, None),
        rules: Some(vec![
            rule("cluster.karmada.io", &["clusters"], &["create"], None),
            rule(
                "cluster.karmada.io",
                &["clusters", "clusters/status"],
                &["get", "update", "patch"],
                Some(own()),
            ),
        ]),
        aggregation_rule: None,
    };
    let cluster_role_binding = ClusterRoleBinding {
        metadata: meta(&name, None),
        role_ref: role_ref("ClusterRole", &name),
        subjects: Some(vec![subject(&name)]),
    };
    let lease_rules = vec![
        rule("coordination.k8s.io", &["leases"], &["create"], None),
        rule(
            "coordination.k8s.io",
            &["leases"],
            &["get", "update", "patch"],
            Some(own()),
        ),
    ];
    let work_rules = vec![
        rule(
            "work.karmada.io",
            &["works"],
            &["get", "list", "watch", "update", "patch"],
            None,
        ),
        rule(
            "work.karmada.io",
            &["works/status"],
            &["get", "update", "patch"],
            None,
        ),
        // The member's endpoints of exported Services, reported for the ServiceImport.
        rule(
            "discovery.k8s.io",
            &["endpointslices"],
            &[
                "get", "list", "watch", "create", "update", "patch", "delete",
            ],
            None,
        ),
    ];
    let roles = [
        (LEASE_NAMESPACE.to_string(), lease_rules),
        (execution_namespace(cluster), work_rules),
    ]
    .into_iter()
    .map(|(namespace, rules)| {
        let role = Role {
            metadata: meta(&name, Some(&namespace)),
            rules: Some(rules),
        };
        let binding = RoleBinding {
            metadata: meta(&name, Some(&namespace)),
            role_ref: role_ref("Role", &name),
            subjects: Some(vec![subject(&name)]),
        };
        (role, binding)
    })
    .collect();
    Grants {
        cluster_role,
        cluster_role_binding,
        roles,
    }
}

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
            metadata: meta(&namespace, None),
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

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        ..ObjectMeta::default()
    }
}

fn rule(group: &str, resources: &[&str], verbs: &[&str], names: Option<Vec<String>>) -> PolicyRule {
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(strings(resources)),
        verbs: strings(verbs),
        resource_names: names,
        non_resource_urls: None,
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef {
        api_group: RBAC_GROUP.to_string(),
        kind: kind.to_string(),
        name: name.to_string(),
    }
}

fn subject(user: &str) -> Subject {
    Subject {
        api_group: Some(RBAC_GROUP.to_string()),
        kind: "User".to_string(),
        name: user.to_string(),
        namespace: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_is_bound_to_its_own_roles_in_its_own_namespaces() {
        let grants = grants("member1");
        let name = "system:karmada:agent:member1";
        assert_eq!(grants.cluster_role.metadata.name.as_deref(), Some(name));
        let binding = &grants.cluster_role_binding;
        assert_eq!(binding.role_ref.name, name);
        assert_eq!(binding.role_ref.kind, "ClusterRole");
        assert_eq!(binding.subjects.as_ref().unwrap()[0].name, name);
        let namespaces: Vec<_> = grants
            .roles
            .iter()
            .map(|(role, binding)| {
                assert_eq!(role.metadata.namespace, binding.metadata.namespace);
                assert_eq!(binding.role_ref.kind, "Role");
                assert_eq!(binding.subjects.as_ref().unwrap()[0].name, name);
                role.metadata.namespace.clone().unwrap()
            })
            .collect();
        assert_eq!(namespaces, ["karmada-cluster", "karmada-es-member1"]);
    }

    #[test]
    fn reads_and_writes_of_existing_clusters_and_leases_name_the_agents_own() {
        let grants = grants("member1");
        let rules = grants
            .cluster_role
            .rules
            .iter()
            .flatten()
            .chain(grants.roles[0].0.rules.iter().flatten());
        for rule in rules {
            let creates_only = rule.verbs == ["create"];
            assert_eq!(
                rule.resource_names.as_deref(),
                (!creates_only).then_some(&["member1".to_string()][..]),
                "{rule:?}"
            );
        }
    }

    #[test]
    fn no_rule_reaches_secrets_or_other_namespaces_kinds() {
        let grants = grants("member1");
        let all = grants.cluster_role.rules.iter().flatten().chain(
            grants
                .roles
                .iter()
                .flat_map(|(r, _)| r.rules.iter().flatten()),
        );
        for rule in all {
            for resource in rule.resources.iter().flatten() {
                assert!(
                    [
                        "clusters",
                        "clusters/status",
                        "leases",
                        "works",
                        "works/status",
                        "endpointslices"
                    ]
                    .contains(&resource.as_str()),
                    "{resource}"
                );
            }
            assert!(!rule.verbs.iter().any(|v| v == "*"), "{rule:?}");
        }
    }
}
