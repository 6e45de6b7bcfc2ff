//! A cluster agent's identity: its user and group, the roles that confine it to its own
//! cluster ([`grants`]), and what it may create beyond RBAC ([`admit_create`], like
//! Kubernetes' NodeRestriction for kubelets: a create names no object for RBAC to check, so an
//! agent's right to register a Cluster and to create its heartbeat Lease would otherwise cover
//! every other cluster's too).

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use karmada_api::{CLUSTER_NAMESPACE as LEASE_NAMESPACE, execution_namespace};

use super::attributes::User;

/// The group of every agent's identity (Karmada's name for it).
pub const GROUP: &str = "system:karmada:agents";
/// An agent's user name is this followed by its cluster's name.
pub const USER_PREFIX: &str = "system:karmada:agent:";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The user name of `cluster`'s agent.
pub fn user(cluster: &str) -> String {
    format!("{USER_PREFIX}{cluster}")
}

/// The cluster whose agent `user` is, when it is one.
pub fn cluster_of(user: &User) -> Option<&str> {
    if !user.groups.iter().any(|g| g == GROUP) {
        return None;
    }
    user.name.strip_prefix(USER_PREFIX)
}

/// Refuses (with the reason) an agent's create of a Cluster or Lease named for another
/// cluster; everything else is RBAC's to decide.
pub fn admit_create(user: &User, group: &str, plural: &str, name: &str) -> Result<(), String> {
    let Some(cluster) = cluster_of(user) else {
        return Ok(());
    };
    let restricted = matches!(
        (group, plural),
        ("cluster.karmada.io", "clusters") | ("coordination.k8s.io", "leases")
    );
    if !restricted || name == cluster {
        return Ok(());
    }
    Err(format!(
        "{plural}.{group} {name:?} is forbidden: agent {:?} may only create the {} of its own \
         cluster, {cluster:?}",
        user.name,
        if plural == "clusters" {
            "Cluster"
        } else {
            "Lease"
        }
    ))
}

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
/// Clusters (its registration) and Leases in the Lease namespace, and [`admit_create`] lets
/// through only those named for its own cluster; every read and write of an existing Cluster or
/// Lease is limited to `cluster`'s own.
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

    fn agent(cluster: &str) -> User {
        User::new(&user(cluster), &[GROUP])
    }

    #[test]
    fn an_agent_creates_only_its_own_cluster_and_lease() {
        let member1 = agent("member1");
        let cases = [
            ("cluster.karmada.io", "clusters", "member1", true),
            ("cluster.karmada.io", "clusters", "member2", false),
            ("coordination.k8s.io", "leases", "member1", true),
            ("coordination.k8s.io", "leases", "member2", false),
            // RBAC decides everything else.
            ("discovery.k8s.io", "endpointslices", "web-abc", true),
        ];
        for (group, plural, name, allowed) in cases {
            let verdict = admit_create(&member1, group, plural, name);
            assert_eq!(verdict.is_ok(), allowed, "{plural} {name}: {verdict:?}");
        }
        let refused = admit_create(&member1, "cluster.karmada.io", "clusters", "member2");
        assert_eq!(
            refused.unwrap_err(),
            "clusters.cluster.karmada.io \"member2\" is forbidden: agent \
             \"system:karmada:agent:member1\" may only create the Cluster of its own cluster, \
             \"member1\""
        );
    }

    #[test]
    fn only_members_of_the_agents_group_are_agents() {
        let impostor = User::new("system:karmada:agent:member1", &["developers"]);
        assert_eq!(cluster_of(&impostor), None);
        assert!(admit_create(&impostor, "cluster.karmada.io", "clusters", "x").is_ok());
        assert_eq!(cluster_of(&agent("member1")), Some("member1"));
    }

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
