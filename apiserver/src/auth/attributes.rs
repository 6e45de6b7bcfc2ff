//! Who is asking and what for: the user a request was authenticated as, and the attributes an
//! authorizer decides on (Kubernetes' `authorizer.Attributes`).

use std::collections::BTreeMap;

/// Members of this group may do anything; no authorizer is consulted.
pub const SYSTEM_MASTERS: &str = "system:masters";
/// Every authenticated user is in this group.
pub const AUTHENTICATED: &str = "system:authenticated";
/// Every request without credentials is in this group.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// The user of a request without credentials.
pub const ANONYMOUS: &str = "system:anonymous";
/// Service accounts authenticate as `system:serviceaccount:<namespace>:<name>`.
pub const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";
/// Every service account is in this group, and in `system:serviceaccounts:<namespace>`.
pub const SERVICE_ACCOUNTS: &str = "system:serviceaccounts";

/// An authenticated (or anonymous) user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl User {
    /// A user with `groups` (plus `system:authenticated`).
    pub fn new(name: &str, groups: &[&str]) -> User {
        let mut groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.to_string());
        }
        User {
            name: name.to_string(),
            groups,
            ..User::default()
        }
    }

    /// The user of a request without credentials.
    pub fn anonymous() -> User {
        User {
            name: ANONYMOUS.to_string(),
            groups: vec![UNAUTHENTICATED.to_string()],
            ..User::default()
        }
    }

    /// The service account `namespace`/`name`, in the groups Kubernetes puts them in.
    pub fn service_account(namespace: &str, name: &str, uid: &str) -> User {
        User {
            name: format!("{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"),
            uid: uid.to_string(),
            groups: vec![
                SERVICE_ACCOUNTS.to_string(),
                format!("{SERVICE_ACCOUNTS}:{namespace}"),
                AUTHENTICATED.to_string(),
            ],
            ..User::default()
        }
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// The user named by the verified client certificate of the connection a request came on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate(pub User);

/// What a request does to a resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceAttributes {
    /// Empty for cluster-scoped resources and for requests across all namespaces.
    pub namespace: String,
    /// Empty for the core group.
    pub group: String,
    pub version: String,
    /// The plural name, e.g. `deployments`.
    pub resource: String,
    pub subresource: String,
    /// Empty for collections (list, watch, create, deletecollection).
    pub name: String,
}

impl ResourceAttributes {
    /// `resource` or `resource/subresource`, as RBAC rules name it.
    pub fn combined(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// What is asked, and by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub user: User,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or
    /// for a non-resource path the lower-case HTTP method.
    pub verb: String,
    pub target: Target,
}

/// A resource, or a path outside the resource API (`/version`, `/metrics`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Resource(ResourceAttributes),
    Path(String),
}

impl Attributes {
    /// The message of a 403, in Kubernetes' words, e.g. `deployments.apps "web" is forbidden:
    /// User "jane" cannot delete resource "deployments" in API group "apps" in the namespace
    /// "default"`; `reason` (why no rule allowed it), when given, follows after a colon.
    pub fn forbidden_message(&self, reason: &str) -> String {
        let user = &self.user.name;
        let verb = &self.verb;
        let message = match &self.target {
            Target::Path(path) => {
                format!("forbidden: User \"{user}\" cannot {verb} path \"{path}\"")
            }
            Target::Resource(r) => {
                let mut what = r.resource.clone();
                if !r.group.is_empty() {
                    what = format!("{what}.{}", r.group);
                }
                if !r.name.is_empty() {
                    what = format!("{what} \"{}\"", r.name);
                }
                let scope = if r.namespace.is_empty() {
                    "at the cluster scope".to_string()
                } else {
                    format!("in the namespace \"{}\"", r.namespace)
                };
                format!(
                    "{what} is forbidden: User \"{user}\" cannot {verb} resource \"{}\" in API \
                     group \"{}\" {scope}",
                    r.combined(),
                    r.group
                )
            }
        };
        if reason.is_empty() {
            message
        } else {
            format!("{message}: {reason}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(namespace: &str, group: &str, resource: &str, sub: &str, name: &str) -> Target {
        Target::Resource(ResourceAttributes {
            namespace: namespace.into(),
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
        })
    }

    #[test]
    fn forbidden_messages_read_like_kubernetes() {
        let jane = User::new("jane", &[]);
        let cases = [
            (
                "get",
                resource("default", "apps", "deployments", "", "web"),
                "deployments.apps \"web\" is forbidden: User \"jane\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"default\"",
            ),
            (
                "list",
                resource("default", "", "pods", "", ""),
                "pods is forbidden: User \"jane\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"",
            ),
            (
                "list",
                resource("", "", "nodes", "", ""),
                "nodes is forbidden: User \"jane\" cannot list resource \"nodes\" in API group \"\" at the cluster scope",
            ),
            (
                "update",
                resource("", "cluster.karmada.io", "clusters", "status", "member2"),
                "clusters.cluster.karmada.io \"member2\" is forbidden: User \"jane\" cannot update resource \"clusters/status\" in API group \"cluster.karmada.io\" at the cluster scope",
            ),
            (
                "get",
                Target::Path("/metrics".into()),
                "forbidden: User \"jane\" cannot get path \"/metrics\"",
            ),
        ];
        for (verb, target, want) in cases {
            let attributes = Attributes {
                user: jane.clone(),
                verb: verb.into(),
                target,
            };
            assert_eq!(attributes.forbidden_message(""), want);
        }
    }

    #[test]
    fn users_carry_the_groups_kubernetes_gives_them() {
        assert!(User::new("jane", &["dev"]).in_group(AUTHENTICATED));
        assert!(User::anonymous().in_group(UNAUTHENTICATED));
        assert!(!User::anonymous().in_group(AUTHENTICATED));
        let sa = User::service_account("shop", "builder", "u-1");
        assert_eq!(sa.name, "system:serviceaccount:shop:builder");
        assert!(sa.in_group("system:serviceaccounts:shop") && sa.in_group(SERVICE_ACCOUNTS));
    }
}
