//! RBAC's upkeep inside the apiserver: the default roles and bindings exist from the start,
//! aggregated ClusterRoles (`view`, `edit`, `admin`) follow the roles labelled into them, and
//! expired bootstrap tokens are deleted.

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

/// RBAC enforced on requests (kube-rs sends bearer tokens over plain HTTP; kubectl only over
/// HTTPS): the admin token may do anything, no credentials get 401 except for health, and a
/// service account bound to `view` reads but gets Kubernetes' 403 when it writes.
#[tokio::test]
async fn requests_are_authenticated_and_authorized() -> anyhow::Result<()> {
    use k8s_openapi::api::authentication::v1::TokenRequest;
    use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
    use k8s_openapi::api::rbac::v1::RoleBinding;
    use karmada_apiserver::auth::authorizer::Mode;
    use karmada_apiserver::server::Config;
    use support::server::client_with_token;

    let config = Config {
        authorization: Mode::Rbac,
        admin_token: Some("admin-s3cret".into()),
        ..Config::new("127.0.0.1:0".parse()?, Backend::Memory)
    };
    let server = TestServer::start_with(config).await?;
    let url = server.url();
    let config_maps: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    let settings: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "settings"}, "data": {"mode": "fast"}}))?;
    config_maps
        .create(&PostParams::default(), &settings)
        .await?;

    let status = |result: Result<ConfigMap, kube::Error>| match result {
        Err(kube::Error::Api(s)) => (s.code, s.message),
        Ok(_) => (200, String::new()),
        Err(other) => (0, other.to_string()),
    };
    let anonymous: Api<ConfigMap> = Api::namespaced(client_with_token(&url, None)?, "default");
    assert_eq!(
        status(anonymous.get("settings").await),
        (401, "Unauthorized".into())
    );
    let forged: Api<ConfigMap> =
        Api::namespaced(client_with_token(&url, Some("forged"))?, "default");
    assert_eq!(status(forged.get("settings").await).0, 401);
    let health = client_with_token(&url, None)?
        .request_text(http::Request::get("/healthz").body(Vec::new())?)
        .await?;
    assert_eq!(health, "ok");

    let accounts: Api<ServiceAccount> = Api::namespaced(server.client.clone(), "default");
    let viewer: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "viewer"}}))?;
    accounts.create(&PostParams::default(), &viewer).await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "viewer-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": "default"}]}))?;
    Api::<RoleBinding>::namespaced(server.client.clone(), "default")
        .create(&PostParams::default(), &binding)
        .await?;
    let request: TokenRequest = serde_json::from_value(json!({"spec": {"audiences": []}}))?;
    let issued = accounts
        .create_token_request("viewer", &PostParams::default(), &request)
        .await?;
    let token = issued.status.map(|s| s.token).unwrap_or_default();
    let as_viewer: Api<ConfigMap> =
        Api::namespaced(client_with_token(&url, Some(&token))?, "default");
    eventually("the viewer reading settings", || async {
        Ok(match status(as_viewer.get("settings").await) {
            (200, _) => Ok(()),
            other => Err(format!("{other:?}")),
        })
    })
    .await?;
    let denied = status(as_viewer.create(&PostParams::default(), &settings).await);
    assert_eq!(
        denied,
        (
            403,
            "configmaps is forbidden: User \"system:serviceaccount:default:viewer\" cannot create \
             resource \"configmaps\" in API group \"\" in the namespace \"default\""
                .into()
        )
    );
    let elsewhere: Api<ConfigMap> =
        Api::namespaced(client_with_token(&url, Some(&token))?, "kube-system");
    assert_eq!(status(elsewhere.get("anything").await).0, 403);
    // A deleted account's token stops working.
    accounts.delete("viewer", &DeleteParams::default()).await?;
    eventually("the deleted account's token refused", || async {
        Ok(match status(as_viewer.get("settings").await) {
            (401, _) => Ok(()),
            other => Err(format!("{other:?}")),
        })
    })
    .await?;
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn expired_bootstrap_tokens_are_deleted_and_live_ones_kept() -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::Secret;
    let server = TestServer::start(Backend::Memory).await?;
    let secrets: Api<Secret> = Api::namespaced(server.client.clone(), "kube-system");
    let token = |id: &str, expiration: &str| -> anyhow::Result<Secret> {
        Ok(serde_json::from_value(json!({
            "metadata": {"name": format!("bootstrap-token-{id}")},
            "type": "bootstrap.kubernetes.io/token",
            "stringData": {"token-id": id, "token-secret": "0123456789abcdef",
                           "usage-bootstrap-authentication": "true", "expiration": expiration},
        }))?)
    };
    let live = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    secrets
        .create(&PostParams::default(), &token("live00", &live.to_string())?)
        .await?;
    secrets
        .create(
            &PostParams::default(),
            &token("old000", "2020-01-01T00:00:00Z")?,
        )
        .await?;
    eventually("the expired token deleted", || async {
        Ok(match secrets.get_opt("bootstrap-token-old000").await? {
            None => Ok(()),
            Some(_) => Err("still there".to_string()),
        })
    })
    .await?;
    let kept = secrets.get("bootstrap-token-live00").await?;
    assert!(
        kept.data.unwrap_or_default().contains_key("token-secret"),
        "stringData is stored as data"
    );
    Ok(())
}
