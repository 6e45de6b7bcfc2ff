//! What a cluster's agent may create, beyond RBAC: like Kubernetes' NodeRestriction for
//! kubelets. A create names no object for RBAC to check, so an agent's right to register a
//! Cluster and to create its heartbeat Lease would otherwise cover every other cluster's too.

use super::attributes::User;

/// The group of every agent's identity (Karmada's name for it).
pub const GROUP: &str = "system:karmada:agents";
/// An agent's user name is this followed by its cluster's name.
pub const USER_PREFIX: &str = "system:karmada:agent:";

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
}
