//! The default roles and bindings every server starts with, as Kubernetes ships them (the
//! parts this federation serves), plus Karmada's namespaced policies in the user-facing roles:
//! `cluster-admin` for `system:masters`; `admin`, `edit` and `view`, aggregated from the
//! `aggregate-to-*` roles; discovery, self-review and public information for everyone.

use serde_json::{Value, json};

/// Label on every default object.
pub const BOOTSTRAPPING_LABEL: &str = "kubernetes.io/bootstrapping";
/// Annotation of default objects the server may bring back to their defaults on start; an
/// operator sets it to `false` to keep an edited default.
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";
const AGGREGATE_TO: &str = "rbac.authorization.k8s.io/aggregate-to-";
/// The role of bootstrap tokens' users: enrolling a cluster's agent.
const AGENT_BOOTSTRAPPER: &str = "system:karmada:agent-bootstrapper";

const READ: [&str; 3] = ["get", "list", "watch"];
const WRITE: [&str; 5] = ["create", "delete", "deletecollection", "patch", "update"];
const ALL: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn rule(verbs: &[&str], group: &str, resources: &[&str]) -> Value {
    json!({"verbs": verbs, "apiGroups": [group], "resources": resources})
}

fn paths(verbs: &[&str], urls: &[&str]) -> Value {
    json!({"verbs": verbs, "nonResourceURLs": urls})
}

fn metadata(name: &str, aggregate_to: Option<&str>) -> Value {
    let mut labels = json!({BOOTSTRAPPING_LABEL: "rbac-defaults"});
    if let Some(role) = aggregate_to {
        labels[format!("{AGGREGATE_TO}{role}")] = json!("true");
    }
    json!({"name": name, "labels": labels, "annotations": {AUTOUPDATE_ANNOTATION: "true"}})
}

fn cluster_role(name: &str, aggregate_to: Option<&str>, rules: Vec<Value>) -> Value {
    let mut role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                          "metadata": metadata(name, aggregate_to)});
    role["rules"] = Value::Array(rules);
    role
}

/// A role whose rules the aggregation controller collects from the `aggregate-to-<from>` roles.
fn aggregated(name: &str, aggregate_to: Option<&str>, from: &str) -> Value {
    let mut role = cluster_role(name, aggregate_to, Vec::new());
    role["aggregationRule"] = json!({"clusterRoleSelectors": [
        {"matchLabels": {format!("{AGGREGATE_TO}{from}"): "true"}}]});
    role
}

fn binding(name: &str, role: &str, groups: &[&str]) -> Value {
    let subjects: Vec<Value> = groups
        .iter()
        .map(|g| json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": g}))
        .collect();
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
           "metadata": metadata(name, None),
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
           "subjects": subjects})
}

/// Namespaced kinds users read (`view`) and, with secrets, write (`edit`).
fn workload_rules(verbs: &[&str]) -> Vec<Value> {
    vec![
        rule(
            verbs,
            "",
            &[
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
            ],
        ),
        rule(
            verbs,
            "apps",
            &[
                "daemonsets",
                "deployments",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
        ),
        rule(verbs, "autoscaling", &["horizontalpodautoscalers"]),
        rule(verbs, "batch", &["cronjobs", "jobs"]),
        rule(
            verbs,
            "networking.k8s.io",
            &["ingresses", "networkpolicies"],
        ),
        rule(verbs, "policy", &["poddisruptionbudgets"]),
        rule(
            verbs,
            "policy.karmada.io",
            &["propagationpolicies", "overridepolicies"],
        ),
        rule(
            verbs,
            "multicluster.x-k8s.io",
            &["serviceexports", "serviceimports"],
        ),
    ]
}

/// The default ClusterRoles.
pub fn cluster_roles() -> Vec<Value> {
    let mut view = workload_rules(&READ);
    view.extend([
        rule(
            &READ,
            "",
            &[
                "bindings",
                "events",
                "limitranges",
                "namespaces",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
                "persistentvolumeclaims/status",
                "services/status",
            ],
        ),
        rule(
            &READ,
            "apps",
            &[
                "controllerrevisions",
                "daemonsets/status",
                "deployments/status",
                "replicasets/status",
                "statefulsets/status",
            ],
        ),
        rule(&READ, "autoscaling", &["horizontalpodautoscalers/status"]),
        rule(&READ, "batch", &["cronjobs/status", "jobs/status"]),
        rule(&READ, "discovery.k8s.io", &["endpointslices"]),
        rule(&READ, "events.k8s.io", &["events"]),
        rule(&READ, "networking.k8s.io", &["ingresses/status"]),
        rule(&READ, "policy", &["poddisruptionbudgets/status"]),
        rule(
            &READ,
            "work.karmada.io",
            &["resourcebindings", "resourcebindings/status"],
        ),
    ]);
    let mut edit = workload_rules(&WRITE);
    edit.extend([
        rule(
            &READ,
            "",
            &[
                "secrets",
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
                "services/proxy",
            ],
        ),
        rule(
            &WRITE,
            "",
            &[
                "secrets",
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
                "services/proxy",
                "pods/eviction",
            ],
        ),
        rule(&["create"], "", &["serviceaccounts/token"]),
        rule(&["impersonate"], "", &["serviceaccounts"]),
        rule(&WRITE, "apps", &["deployments/rollback"]),
    ]);
    vec![
        cluster_role(
            "cluster-admin",
            None,
            vec![rule(&["*"], "*", &["*"]), paths(&["*"], &["*"])],
        ),
        aggregated("admin", None, "admin"),
        aggregated("edit", Some("admin"), "edit"),
        aggregated("view", Some("edit"), "view"),
        cluster_role(
            "system:aggregate-to-admin",
            Some("admin"),
            vec![
                rule(
                    &ALL,
                    "rbac.authorization.k8s.io",
                    &["rolebindings", "roles"],
                ),
                rule(
                    &["create"],
                    "authorization.k8s.io",
                    &["localsubjectaccessreviews"],
                ),
            ],
        ),
        cluster_role("system:aggregate-to-edit", Some("edit"), edit),
        cluster_role("system:aggregate-to-view", Some("view"), view),
        cluster_role(
            "system:discovery",
            None,
            vec![paths(
                &["get"],
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
            )],
        ),
        cluster_role(
            "system:basic-user",
            None,
            vec![
                rule(
                    &["create"],
                    "authorization.k8s.io",
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                rule(
                    &["create"],
                    "authentication.k8s.io",
                    &["selfsubjectreviews"],
                ),
            ],
        ),
        cluster_role(
            "system:public-info-viewer",
            None,
            vec![paths(
                &["get"],
                &["/healthz", "/livez", "/readyz", "/version", "/version/"],
            )],
        ),
        // What a bootstrap token may do: ask for (and then read) a client certificate.
        cluster_role(
            AGENT_BOOTSTRAPPER,
            None,
            vec![rule(
                &["create", "get", "list", "watch"],
                "certificates.k8s.io",
                &["certificatesigningrequests"],
            )],
        ),
        cluster_role(
            "system:service-account-issuer-discovery",
            None,
            vec![paths(
                &["get"],
                &["/.well-known/openid-configuration", "/openid/v1/jwks"],
            )],
        ),
    ]
}

/// The default ClusterRoleBindings.
pub fn cluster_role_bindings() -> Vec<Value> {
    use super::attributes::{AUTHENTICATED, SERVICE_ACCOUNTS, SYSTEM_MASTERS, UNAUTHENTICATED};
    vec![
        binding("cluster-admin", "cluster-admin", &[SYSTEM_MASTERS]),
        binding("system:discovery", "system:discovery", &[AUTHENTICATED]),
        binding("system:basic-user", "system:basic-user", &[AUTHENTICATED]),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            &[AUTHENTICATED, UNAUTHENTICATED],
        ),
        binding(
            "system:service-account-issuer-discovery",
            "system:service-account-issuer-discovery",
            &[SERVICE_ACCOUNTS],
        ),
        binding(
            AGENT_BOOTSTRAPPER,
            AGENT_BOOTSTRAPPER,
            &[super::bootstrap_token::GROUP],
        ),
    ]
}

/// What a stored default should become on start, or `None` to leave it: it is unchanged, or
/// its `autoupdate` annotation is no longer `true`. Rules an aggregation controller fills in
/// are not defaults and are kept.
pub fn reconciled(stored: &Value, default: &Value) -> Option<Value> {
    let autoupdate = stored
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(AUTOUPDATE_ANNOTATION))
        .and_then(Value::as_str);
    if autoupdate != Some("true") {
        return None;
    }
    let mut updated = stored.clone();
    let aggregated = default.get("aggregationRule").is_some();
    for field in ["rules", "aggregationRule", "roleRef", "subjects"] {
        if field == "rules" && aggregated {
            continue;
        }
        match default.get(field) {
            Some(value) => updated[field] = value.clone(),
            None => {
                if let Some(object) = updated.as_object_mut() {
                    object.remove(field);
                }
            }
        }
    }
    for (key, value) in default["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
    {
        updated["metadata"]["labels"][key] = value.clone();
    }
    (updated != *stored).then_some(updated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::attributes::{Attributes, ResourceAttributes, Target, User};
    use crate::auth::rbac::{Policy, aggregated_rules};

    /// The default roles as the server holds them once the aggregation controller has run.
    /// Aggregation reaches through labels (view's rules reach admin via edit), so the
    /// controller runs until nothing changes.
    fn aggregated_defaults() -> Vec<Value> {
        let mut roles = cluster_roles();
        loop {
            let aggregated = aggregated_rules(&roles);
            let mut changed = false;
            for role in &mut roles {
                if let Some(rules) = aggregated.get(role["metadata"]["name"].as_str().unwrap()) {
                    changed |= role["rules"] != json!(rules);
                    role["rules"] = json!(rules);
                }
            }
            if !changed {
                return roles;
            }
        }
    }

    fn policy() -> Policy {
        Policy::from_objects(aggregated_defaults(), [], cluster_role_bindings(), [])
    }

    fn can(policy: &Policy, user: &User, verb: &str, group: &str, resource: &str) -> bool {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        policy
            .authorize(&Attributes {
                user: user.clone(),
                verb: verb.into(),
                target: Target::Resource(ResourceAttributes {
                    namespace: "shop".into(),
                    group: group.into(),
                    version: "v1".into(),
                    resource: resource.into(),
                    subresource: subresource.into(),
                    name: "x".into(),
                }),
            })
            .allowed
    }

    fn bound_to(role: &str) -> Policy {
        let user = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "b", "namespace": "shop"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}]});
        Policy::from_objects(aggregated_defaults(), [], cluster_role_bindings(), [user])
    }

    #[test]
    fn view_reads_but_does_not_write_or_see_secrets() {
        let p = bound_to("view");
        let jane = User::new("jane", &[]);
        assert!(can(&p, &jane, "get", "apps", "deployments"));
        assert!(can(
            &p,
            &jane,
            "list",
            "policy.karmada.io",
            "propagationpolicies"
        ));
        assert!(can(&p, &jane, "get", "", "pods/log"));
        assert!(!can(&p, &jane, "create", "apps", "deployments"));
        assert!(!can(&p, &jane, "get", "", "secrets"));
        assert!(!can(
            &p,
            &jane,
            "list",
            "rbac.authorization.k8s.io",
            "roles"
        ));
    }

    #[test]
    fn edit_writes_workloads_and_secrets_and_admin_also_grants_roles() {
        let jane = User::new("jane", &[]);
        let edit = bound_to("edit");
        assert!(can(&edit, &jane, "create", "apps", "deployments"));
        assert!(
            can(&edit, &jane, "get", "apps", "deployments"),
            "view's rules too"
        );
        assert!(can(&edit, &jane, "delete", "", "secrets"));
        assert!(can(
            &edit,
            &jane,
            "update",
            "policy.karmada.io",
            "overridepolicies"
        ));
        assert!(!can(
            &edit,
            &jane,
            "create",
            "rbac.authorization.k8s.io",
            "rolebindings"
        ));
        let admin = bound_to("admin");
        assert!(can(
            &admin,
            &jane,
            "create",
            "rbac.authorization.k8s.io",
            "rolebindings"
        ));
        assert!(
            can(&admin, &jane, "get", "apps", "deployments"),
            "view's rules reach admin"
        );
    }

    #[test]
    fn masters_are_cluster_admins_and_everyone_may_discover() {
        let p = policy();
        let anyone = User::new("someone", &[]);
        let get = |user: &User, path: &str| {
            p.authorize(&Attributes {
                user: user.clone(),
                verb: "get".into(),
                target: Target::Path(path.into()),
            })
            .allowed
        };
        assert!(get(&anyone, "/apis/apps/v1"));
        assert!(get(&anyone, "/version"));
        assert!(!get(&anyone, "/metrics"));
        assert!(get(&User::anonymous(), "/healthz"));
        assert!(!get(&User::anonymous(), "/apis"));
        assert!(can(
            &p,
            &anyone,
            "create",
            "authorization.k8s.io",
            "selfsubjectaccessreviews"
        ));
        assert!(!can(&p, &anyone, "get", "", "pods"));
        let master = User::new("root", &["system:masters"]);
        assert!(can(&p, &master, "delete", "", "nodes"));
    }

    #[test]
    fn defaults_are_reconciled_only_while_autoupdate_is_true() {
        let default = &cluster_roles()[0];
        let mut stored = default.clone();
        stored["metadata"]["resourceVersion"] = json!("5");
        assert_eq!(reconciled(&stored, default), None, "unchanged");
        stored["rules"] = json!([]);
        let fixed = reconciled(&stored, default).expect("rules restored");
        assert_eq!(fixed["rules"], default["rules"]);
        assert_eq!(fixed["metadata"]["resourceVersion"], "5");
        stored["metadata"]["annotations"][AUTOUPDATE_ANNOTATION] = json!("false");
        assert_eq!(
            reconciled(&stored, default),
            None,
            "the operator keeps an edit"
        );

        let view = cluster_roles()
            .into_iter()
            .find(|r| r["metadata"]["name"] == "view")
            .unwrap();
        let mut filled = view.clone();
        filled["rules"] = json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]);
        assert_eq!(
            reconciled(&filled, &view),
            None,
            "aggregated rules are kept"
        );
    }
}
