//! `serviceaccounts/<name>/token` issues tokens that verify with the signing key kept in the
//! server's storage, and the key is published for others to verify them.

mod support;

use std::sync::Arc;

use anyhow::{Context, ensure};
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use karmada_apiserver::auth::tokens::TokenIssuer;
use karmada_apiserver::server::Backend;
use karmada_apiserver::storage::Storage;
use karmada_apiserver::storage::embedded::Embedded;
use kube::api::{Api, ObjectMeta, PostParams};
use serde_json::Value;
use support::server::TestServer;

const NS: &str = "default";

fn named<K: kube::Resource<DynamicType = ()> + Default>(name: &str) -> K {
    let mut object = K::default();
    *object.meta_mut() = ObjectMeta {
        name: Some(name.into()),
        ..Default::default()
    };
    object
}

fn token_request(expiration_seconds: Option<i64>, audiences: &[&str]) -> TokenRequest {
    TokenRequest {
        spec: TokenRequestSpec {
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
            expiration_seconds,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Checks that a call failed with `code` and a message containing `text`.
fn expect_error<T: std::fmt::Debug>(
    result: kube::Result<T>,
    code: u16,
    text: &str,
) -> anyhow::Result<()> {
    match result {
        Err(kube::Error::Api(status)) if status.code == code && status.message.contains(text) => {
            Ok(())
        }
        other => anyhow::bail!("expected {code} with {text:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn tokens_are_issued_verified_and_refused_like_kubernetes() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start(Backend::Embedded(data.path().into())).await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(server.client.clone(), NS);
    let pp = PostParams::default();
    let account = accounts
        .create(&pp, &named::<ServiceAccount>("builder"))
        .await?;
    let account_uid = account.metadata.uid.context("account uid")?;

    let issued = accounts
        .create_token_request("builder", &pp, &token_request(Some(1200), &[]))
        .await?;
    ensure!(
        issued.metadata.name.as_deref() == Some("builder")
            && issued.metadata.namespace.as_deref() == Some(NS),
        "the answer names the account: {:?}",
        issued.metadata
    );
    ensure!(
        issued.spec.expiration_seconds == Some(1200)
            && issued.spec.audiences == ["https://kubernetes.default.svc.cluster.local"],
        "defaults are echoed: {:?}",
        issued.spec
    );
    let status = issued.status.context("a token in status")?;
    let plain = status.token.clone();
    let lifetime = status.expiration_timestamp.0 - jiff::Timestamp::now();
    ensure!(
        (1100..=1200).contains(&lifetime.get_seconds()),
        "expirationTimestamp is about 20 minutes ahead: {:?}",
        status.expiration_timestamp
    );

    let secrets: Api<Secret> = Api::namespaced(server.client.clone(), NS);
    let secret = secrets.create(&pp, &named::<Secret>("bound")).await?;
    let mut bound_request = token_request(None, &["vault"]);
    bound_request.spec.bound_object_ref = Some(BoundObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Secret".into()),
        name: Some("bound".into()),
        uid: None,
    });
    let bound = accounts
        .create_token_request("builder", &pp, &bound_request)
        .await?
        .status
        .context("a bound token")?
        .token;

    let missing = accounts
        .create_token_request("nobody", &pp, &token_request(None, &[]))
        .await;
    expect_error(missing, 404, "serviceaccounts \"nobody\" not found")?;
    let short = accounts
        .create_token_request("builder", &pp, &token_request(Some(10), &[]))
        .await;
    expect_error(
        short,
        422,
        "may not specify a duration less than 10 minutes",
    )?;
    bound_request.spec.bound_object_ref = Some(BoundObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Secret".into()),
        name: Some("gone".into()),
        uid: None,
    });
    let unbound = accounts
        .create_token_request("builder", &pp, &bound_request)
        .await;
    expect_error(unbound, 404, "secrets \"gone\" not found")?;

    let jwks = get_json(&server, "/openid/v1/jwks").await?;
    let discovery = get_json(&server, "/.well-known/openid-configuration").await?;
    ensure!(
        discovery["jwks_uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("/openid/v1/jwks")),
        "openid-configuration points at the key set: {discovery}"
    );
    server.shutdown().await;

    // Any server on this storage verifies with the same key: load it as the next one would.
    let storage: Arc<dyn Storage> = Arc::new(Embedded::open(data.path())?);
    let issuer = TokenIssuer::load_or_create(&storage).await?;
    ensure!(jwks == issuer.jwks(), "the published key is the stored one");
    let claims = issuer.verify(&plain)?;
    ensure!(
        claims.sub == "system:serviceaccount:default:builder"
            && claims.kubernetes.namespace == NS
            && claims.kubernetes.serviceaccount.uid == account_uid
            && claims.aud == ["https://kubernetes.default.svc.cluster.local"]
            && claims.exp - claims.iat == 1200,
        "claims of the plain token: {claims:?}"
    );
    let claims = issuer.verify(&bound)?;
    ensure!(
        claims.aud == ["vault"]
            && claims.exp - claims.iat == 3600
            && claims.kubernetes.secret.as_ref().map(|s| &s.uid) == secret.metadata.uid.as_ref(),
        "claims of the secret-bound token: {claims:?}"
    );
    Ok(())
}

async fn get_json(server: &TestServer, path: &str) -> anyhow::Result<Value> {
    let request = http::Request::get(path).body(Vec::new())?;
    let text = server
        .client
        .request_text(request)
        .await
        .with_context(|| format!("GET {path}"))?;
    serde_json::from_str(&text).with_context(|| format!("GET {path} answered {text}"))
}
