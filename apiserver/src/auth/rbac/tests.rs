use serde_json::json;

use super::*;
use crate::auth::attributes::ResourceAttributes;

fn cluster_role(name: &str, rules: Value) -> Value {
    let mut role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                          "metadata": {"name": name}});
    role["rules"] = rules;
    role
}

fn role(namespace: &str, name: &str, rules: Value) -> Value {
    let mut role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                          "metadata": {"name": name, "namespace": namespace}});
    role["rules"] = rules;
    role
}

fn binding(
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    role: (&str, &str),
    subjects: Value,
) -> Value {
    let mut metadata = json!({"name": name});
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    let mut binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role.0, "name": role.1}});
    binding["subjects"] = subjects;
    binding
}

fn request(
    user: &User,
    verb: &str,
    namespace: &str,
    group: &str,
    resource: &str,
    name: &str,
) -> Attributes {
    let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
    Attributes {
        user: user.clone(),
        verb: verb.into(),
        target: Target::Resource(ResourceAttributes {
            namespace: namespace.into(),
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            subresource: subresource.into(),
            name: name.into(),
        }),
    }
}

fn path(user: &User, verb: &str, path: &str) -> Attributes {
    Attributes {
        user: user.clone(),
        verb: verb.into(),
        target: Target::Path(path.into()),
    }
}

/// A policy where `view` reads pods and deployments, `edit-shop` writes in shop, and
/// `metrics` reads `/metrics` and everything under `/debug/`.
fn policy() -> Policy {
    Policy::from_objects(
        [
            cluster_role(
                "view",
                json!([
                {"verbs": ["get", "list", "watch"], "apiGroups": ["", "apps"],
                 "resources": ["pods", "deployments", "pods/log"]}]),
            ),
            cluster_role(
                "metrics",
                json!([
                {"verbs": ["get"], "nonResourceURLs": ["/metrics", "/debug/*"]}]),
            ),
            cluster_role(
                "status-writer",
                json!([
                {"verbs": ["update", "patch"], "apiGroups": ["cluster.karmada.io"],
                 "resources": ["*/status"], "resourceNames": ["member1"]}]),
            ),
        ],
        [role(
            "shop",
            "edit-shop",
            json!([
            {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]),
        )],
        [
            binding(
                "ClusterRoleBinding",
                None,
                "viewers",
                ("ClusterRole", "view"),
                json!([{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "viewers"}]),
            ),
            binding(
                "ClusterRoleBinding",
                None,
                "scrapers",
                ("ClusterRole", "metrics"),
                json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "prometheus"}]),
            ),
            binding(
                "ClusterRoleBinding",
                None,
                "agent1",
                ("ClusterRole", "status-writer"),
                json!([{"kind": "ServiceAccount", "name": "agent", "namespace": "karmada-es-member1"}]),
            ),
            binding(
                "ClusterRoleBinding",
                None,
                "dangling",
                ("ClusterRole", "gone"),
                json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}]),
            ),
        ],
        [
            binding(
                "RoleBinding",
                Some("shop"),
                "shop-editors",
                ("Role", "edit-shop"),
                json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"},
                           {"kind": "ServiceAccount", "name": "builder"}]),
            ),
            binding(
                "RoleBinding",
                Some("shop"),
                "shop-viewers",
                ("ClusterRole", "view"),
                json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"}]),
            ),
        ],
    )
}

#[test]
fn cluster_role_bindings_allow_what_their_role_says_everywhere() {
    let p = policy();
    let viewer = User::new("ann", &["viewers"]);
    for (verb, ns, group, resource, allowed) in [
        ("get", "default", "", "pods", true),
        ("list", "", "apps", "deployments", true),
        ("watch", "shop", "apps", "deployments", true),
        ("get", "default", "", "pods/log", true),
        ("delete", "default", "", "pods", false),
        ("get", "default", "", "secrets", false),
        ("get", "default", "batch", "pods", false),
        ("get", "default", "", "pods/exec", false),
    ] {
        let decision = p.authorize(&request(&viewer, verb, ns, group, resource, "x"));
        assert_eq!(
            decision.allowed, allowed,
            "{verb} {group}/{resource} in {ns}: {decision:?}"
        );
    }
    let allowed = p.authorize(&request(&viewer, "get", "default", "", "pods", "x"));
    assert_eq!(
        allowed.reason,
        "RBAC: allowed by ClusterRoleBinding \"viewers\" of ClusterRole \"view\" to User \"ann\""
    );
}

#[test]
fn role_bindings_allow_only_in_their_namespace() {
    let p = policy();
    let jane = User::new("jane", &[]);
    assert!(
        p.authorize(&request(
            &jane,
            "delete",
            "shop",
            "apps",
            "deployments",
            "web"
        ))
        .allowed
    );
    assert!(
        p.authorize(&request(&jane, "create", "shop", "", "secrets", ""))
            .allowed
    );
    let elsewhere = p.authorize(&request(
        &jane,
        "delete",
        "default",
        "apps",
        "deployments",
        "web",
    ));
    assert!(!elsewhere.allowed);
    assert!(
        elsewhere
            .reason
            .contains("clusterrole.rbac.authorization.k8s.io \"gone\" not found"),
        "a binding to a missing role is reported: {elsewhere:?}"
    );
    assert!(
        !p.authorize(&request(&jane, "list", "", "apps", "deployments", ""))
            .allowed
    );
    // A RoleBinding to a ClusterRole grants that role's rules in the binding's namespace only.
    let bob = User::new("bob", &[]);
    assert!(
        p.authorize(&request(&bob, "get", "shop", "", "pods", "x"))
            .allowed
    );
    assert!(
        !p.authorize(&request(&bob, "get", "default", "", "pods", "x"))
            .allowed
    );
    let decision = p.authorize(&request(&bob, "get", "shop", "", "pods", "x"));
    assert!(
        decision.reason.ends_with("in namespace \"shop\""),
        "{decision:?}"
    );
}

#[test]
fn service_accounts_match_by_namespace_defaulting_to_the_bindings() {
    let p = policy();
    let builder = User::service_account("shop", "builder", "u");
    assert!(
        p.authorize(&request(
            &builder,
            "create",
            "shop",
            "apps",
            "deployments",
            ""
        ))
        .allowed
    );
    let other = User::service_account("default", "builder", "u");
    assert!(
        !p.authorize(&request(
            &other,
            "create",
            "shop",
            "apps",
            "deployments",
            ""
        ))
        .allowed
    );
}

#[test]
fn subresource_wildcards_and_resource_names_narrow_a_rule() {
    let p = policy();
    let agent = User::service_account("karmada-es-member1", "agent", "u");
    let status = |name: &str, resource: &str| {
        p.authorize(&request(
            &agent,
            "update",
            "",
            "cluster.karmada.io",
            resource,
            name,
        ))
        .allowed
    };
    assert!(status("member1", "clusters/status"));
    assert!(
        !status("member2", "clusters/status"),
        "another cluster's status"
    );
    assert!(!status("member1", "clusters"), "the object itself");
    assert!(
        !p.authorize(&request(
            &agent,
            "update",
            "",
            "cluster.karmada.io",
            "clusters/status",
            ""
        ))
        .allowed,
        "a named rule never covers a request without a name"
    );
}

#[test]
fn non_resource_paths_match_exactly_or_by_prefix() {
    let p = policy();
    let prom = User::new("prometheus", &[]);
    assert!(p.authorize(&path(&prom, "get", "/metrics")).allowed);
    assert!(
        p.authorize(&path(&prom, "get", "/debug/pprof/heap"))
            .allowed
    );
    assert!(!p.authorize(&path(&prom, "post", "/metrics")).allowed);
    assert!(!p.authorize(&path(&prom, "get", "/metricsx")).allowed);
    assert!(!p.authorize(&path(&prom, "get", "/version")).allowed);
}

#[test]
fn system_masters_may_do_anything_and_strangers_nothing() {
    let p = Policy::default();
    let admin = User::new("admin", &[SYSTEM_MASTERS]);
    assert!(
        p.authorize(&request(
            &admin,
            "delete",
            "",
            "",
            "namespaces",
            "kube-system"
        ))
        .allowed
    );
    let stranger = p.authorize(&request(
        &User::anonymous(),
        "get",
        "",
        "",
        "namespaces",
        "x",
    ));
    assert_eq!(
        stranger,
        Decision {
            allowed: false,
            reason: String::new()
        }
    );
}

#[test]
fn aggregated_roles_collect_the_rules_of_the_roles_their_selectors_match() {
    let labelled = |name: &str, label: &str, verbs: Value| {
        let mut role = cluster_role(
            name,
            json!([{"verbs": verbs, "apiGroups": [""], "resources": ["pods"]}]),
        );
        role["metadata"]["labels"] = json!({label: "true"});
        role
    };
    let mut view = cluster_role("view", json!([]));
    view["aggregationRule"] = json!({"clusterRoleSelectors": [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]});
    let mut edit = cluster_role("edit", json!([{"stale": true}]));
    edit["aggregationRule"] = json!({"clusterRoleSelectors": [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]});
    let roles = [
        view,
        edit,
        labelled(
            "b-reader",
            "rbac.authorization.k8s.io/aggregate-to-view",
            json!(["get"]),
        ),
        labelled(
            "a-writer",
            "rbac.authorization.k8s.io/aggregate-to-edit",
            json!(["create"]),
        ),
        labelled(
            "c-reader",
            "rbac.authorization.k8s.io/aggregate-to-view",
            json!(["get"]),
        ),
        cluster_role(
            "plain",
            json!([{"verbs": ["delete"], "apiGroups": [""], "resources": ["pods"]}]),
        ),
    ];
    let aggregated = aggregated_rules(&roles);
    assert_eq!(aggregated.keys().collect::<Vec<_>>(), ["edit", "view"]);
    let verbs = |name: &str| -> Vec<Value> {
        aggregated[name]
            .iter()
            .map(|r| r["verbs"].clone())
            .collect()
    };
    assert_eq!(verbs("view"), [json!(["get"])], "identical rules once");
    assert_eq!(verbs("edit"), [json!(["create"]), json!(["get"])]);
}

#[test]
fn the_rules_of_a_user_gather_every_binding_that_names_them() {
    let p = policy();
    let jane = User::new("jane", &["viewers"]);
    let resources = |rules: &[PolicyRule]| -> Vec<Vec<String>> {
        rules
            .iter()
            .map(|r| r.resources.clone().unwrap_or_default())
            .collect()
    };
    assert_eq!(
        resources(&p.rules_for(&jane, "shop")),
        [
            vec!["pods".to_string(), "deployments".into(), "pods/log".into()],
            vec!["*".into()]
        ]
    );
    assert_eq!(resources(&p.rules_for(&jane, "default")).len(), 1);
    let master = User::new("root", &[SYSTEM_MASTERS]);
    assert_eq!(p.rules_for(&master, "x").len(), 2);
}
