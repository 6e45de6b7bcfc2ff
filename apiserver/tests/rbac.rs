//! RBAC's upkeep inside the apiserver: the default roles and bindings exist from the start,
//! and aggregated ClusterRoles (`view`, `edit`, `admin`) follow the roles labelled into them.

mod support;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use karmada_apiserver::server::Backend;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use support::server::{TestServer, eventually};

/// Whether ClusterRole `role` has a rule naming `resource`.
fn names_resource(role: &ClusterRole, resource: &str) -> bool {
    role.rules
        .iter()
        .flatten()
        .any(|r| r.resources.iter().flatten().any(|x| x == resource))
}

/// Waits until `role` names `resource` in a rule (or no longer does, when `present` is false).
async fn until_aggregated(
    roles: &Api<ClusterRole>,
    role: &str,
    resource: &str,
    present: bool,
) -> anyhow::Result<()> {
    eventually(&format!("{role} naming {resource}: {present}"), || async {
        let found = names_resource(&roles.get(role).await?, resource);
        Ok(if found == present {
            Ok(())
        } else {
            Err(format!("{found}"))
        })
    })
    .await
}

#[tokio::test]
async fn defaults_exist_and_aggregated_roles_follow_their_sources() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let roles: Api<ClusterRole> = Api::all(server.client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(server.client.clone());

    let admin = bindings.get("cluster-admin").await?;
    let subjects = admin.subjects.unwrap_or_default();
    assert_eq!(
        (subjects[0].kind.as_str(), subjects[0].name.as_str()),
        ("Group", "system:masters")
    );
    assert_eq!(admin.role_ref.name, "cluster-admin");
    for name in [
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
    ] {
        bindings.get(name).await?;
    }
    // view, edit and admin hold the rules of the roles labelled into them, transitively.
    until_aggregated(&roles, "view", "deployments", true).await?;
    until_aggregated(&roles, "edit", "secrets", true).await?;
    until_aggregated(&roles, "admin", "rolebindings", true).await?;
    until_aggregated(&roles, "admin", "pods/log", true).await?;
    assert!(!names_resource(&roles.get("view").await?, "secrets"));

    // A role labelled aggregate-to-view extends view, and so edit and admin.
    let widgets: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "widgets-view",
                     "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"verbs": ["get", "list"], "apiGroups": ["example.com"], "resources": ["widgets"]}],
    }))?;
    roles.create(&PostParams::default(), &widgets).await?;
    for role in ["view", "edit", "admin"] {
        until_aggregated(&roles, role, "widgets", true).await?;
    }
    roles
        .delete("widgets-view", &DeleteParams::default())
        .await?;
    until_aggregated(&roles, "admin", "widgets", false).await?;
    until_aggregated(&roles, "view", "widgets", false).await?;
    server.shutdown().await;
    Ok(())
}
