//! `POST .../serviceaccounts/<name>/token`: issues a token for a service account (TokenRequest).
//!
//! Nothing is stored: the answer is the request with its defaults filled in and the signed
//! token in `status`, as `kubectl create token` and the kubelet expect.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::handlers::{Ctx, respond};
use super::request;
use crate::auth::tokens::{Claims, ObjectRef, rfc3339};
use crate::registry::catalog::Resource;
use crate::registry::error::{Error, Result};
use crate::registry::object::{Meta, now_rfc3339};

const GROUP: &str = "authentication.k8s.io";
const KIND: &str = "TokenRequest";
/// Lifetime of a token whose request names none, as kube-apiserver defaults it.
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// Kubernetes refuses shorter lifetimes: clients refresh tokens at 80% of their life.
const MIN_EXPIRATION_SECONDS: i64 = 600;
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

/// Whether `resource` has the `token` subresource (core ServiceAccounts only).
pub(super) fn serves(resource: &Resource) -> bool {
    resource.group.is_empty() && resource.kind == "ServiceAccount"
}

/// The kinds a token can be bound to, and where they are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BoundKind {
    Pod,
    Secret,
    Node,
}

impl BoundKind {
    fn plural(self) -> &'static str {
        match self {
            BoundKind::Pod => "pods",
            BoundKind::Secret => "secrets",
            BoundKind::Node => "nodes",
        }
    }
}

/// An object the token's validity is tied to (`spec.boundObjectRef`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct BoundRef {
    kind: BoundKind,
    name: String,
    uid: Option<String>,
}

/// The validated `spec` of a TokenRequest, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TokenSpec {
    audiences: Vec<String>,
    expiration_seconds: i64,
    bound: Option<BoundRef>,
}

fn invalid(account: &str, field: &str, message: String) -> Error {
    Error::invalid(GROUP, KIND, account, field, message)
}

/// Checks a TokenRequest addressed to `account` in `namespace` and fills in its defaults.
fn parse_spec(
    request: &Value,
    namespace: &str,
    account: &str,
    default_audience: &str,
) -> Result<TokenSpec> {
    for (field, want, what) in [
        ("name", account, "name"),
        ("namespace", namespace, "namespace"),
    ] {
        if let Some(given) = request.meta_str(field).filter(|s| !s.is_empty())
            && given != want
        {
            return Err(invalid(
                account,
                &format!("metadata.{field}"),
                format!(
                    "Invalid value: \"{given}\": must match the service account {what} if specified"
                ),
            ));
        }
    }
    let spec = request.get("spec").cloned().unwrap_or(Value::Null);
    let audiences = match spec.get("audiences") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|a| a.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::BadRequest("spec.audiences must be a list of strings".into()))?,
        Some(_) => {
            return Err(Error::BadRequest(
                "spec.audiences must be a list of strings".into(),
            ));
        }
    };
    let audiences = if audiences.is_empty() {
        vec![default_audience.to_string()]
    } else {
        audiences
    };
    let expiration_seconds = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
        Some(v) => v.as_i64().ok_or_else(|| {
            Error::BadRequest(format!(
                "spec.expirationSeconds must be an integer number of seconds, not {v}"
            ))
        })?,
    };
    if expiration_seconds < MIN_EXPIRATION_SECONDS {
        return Err(invalid(
            account,
            "spec.expirationSeconds",
            format!(
                "Invalid value: {expiration_seconds}: may not specify a duration less than 10 minutes"
            ),
        ));
    }
    if expiration_seconds > MAX_EXPIRATION_SECONDS {
        return Err(invalid(
            account,
            "spec.expirationSeconds",
            format!(
                "Invalid value: {expiration_seconds}: may not specify a duration larger than 2^32 seconds"
            ),
        ));
    }
    let bound = match spec.get("boundObjectRef") {
        None | Some(Value::Null) => None,
        Some(reference) => Some(parse_bound(reference, account)?),
    };
    Ok(TokenSpec {
        audiences,
        expiration_seconds,
        bound,
    })
}

fn parse_bound(reference: &Value, account: &str) -> Result<BoundRef> {
    let text = |field: &str| {
        reference
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    let kind = match (api_version, kind) {
        ("v1", "Pod") => BoundKind::Pod,
        ("v1", "Secret") => BoundKind::Secret,
        ("v1", "Node") => BoundKind::Node,
        _ => {
            return Err(Error::BadRequest(format!(
                "cannot bind token to object of type {kind} (apiVersion {api_version:?}); \
                 only v1 Pod, Secret and Node are supported"
            )));
        }
    };
    if text("name").is_empty() {
        return Err(invalid(
            account,
            "spec.boundObjectRef.name",
            "Required value: the name of the object to bind the token to".into(),
        ));
    }
    Ok(BoundRef {
        kind,
        name: text("name").to_string(),
        uid: Some(text("uid"))
            .filter(|u| !u.is_empty())
            .map(str::to_string),
    })
}

/// The `{name, uid}` of an object, from its stored form.
fn object_ref(object: &Value) -> ObjectRef {
    ObjectRef {
        name: object.name().unwrap_or_default().to_string(),
        uid: object.uid().unwrap_or_default().to_string(),
    }
}

/// Reads an object the token may be bound to (or that a bound pod runs on).
async fn read(ctx: &Ctx<'_>, kind: BoundKind, namespace: &str, name: &str) -> Result<Value> {
    let resource = ctx
        .api
        .store
        .catalog()
        .get("", "v1", kind.plural())
        .ok_or_else(|| Error::Internal(format!("{} are not served", kind.plural())))?;
    let namespace = (kind != BoundKind::Node).then_some(namespace);
    ctx.api.store.get(&resource, namespace, name).await
}

/// Looks the bound object up and writes its reference into the claims, as Kubernetes does:
/// the object must exist (with the given uid, if any), a pod must run as this account, and a
/// pod's node is recorded when it has one that exists.
async fn bind(
    ctx: &Ctx<'_>,
    namespace: &str,
    account: &str,
    bound: &BoundRef,
    claims: &mut Claims,
) -> Result<String> {
    let object = read(ctx, bound.kind, namespace, &bound.name).await?;
    let reference = object_ref(&object);
    if let Some(uid) = &bound.uid
        && *uid != reference.uid
    {
        return Err(Error::Conflict {
            group: String::new(),
            resource: bound.kind.plural().into(),
            name: bound.name.clone(),
            message: format!(
                "the UID in the bound object reference ({uid}) does not match the UID in record; \
                 the object might have been deleted and then recreated"
            ),
        });
    }
    let uid = reference.uid.clone();
    match bound.kind {
        BoundKind::Pod => {
            let runs_as = object
                .pointer("/spec/serviceAccountName")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("default");
            if runs_as != account {
                return Err(Error::BadRequest(format!(
                    "cannot bind token for serviceaccount \"{account}\" to pod \"{}\" running with serviceaccount \"{runs_as}\"",
                    bound.name
                )));
            }
            let node_name = object.pointer("/spec/nodeName").and_then(Value::as_str);
            if let Some(node_name) = node_name.filter(|n| !n.is_empty()) {
                // The node is extra information: a pod whose node is gone still gets a token.
                claims.kubernetes.node =
                    match read(ctx, BoundKind::Node, namespace, node_name).await {
                        Ok(node) => Some(object_ref(&node)),
                        Err(Error::NotFound { .. }) => None,
                        Err(e) => return Err(e),
                    };
            }
            claims.kubernetes.pod = Some(reference);
        }
        BoundKind::Secret => claims.kubernetes.secret = Some(reference),
        BoundKind::Node => claims.kubernetes.node = Some(reference),
    }
    Ok(uid)
}

/// Issues a token for the ServiceAccount the path names.
pub(super) async fn create(ctx: &Ctx<'_>, body: &[u8]) -> Result<Response> {
    let namespace = ctx.ns().ok_or(Error::NotFoundPath)?.to_string();
    let name = ctx.name().to_string();
    let request = request::decode_object(&ctx.headers, body)?;
    let account = ctx
        .api
        .store
        .get(&ctx.resource, Some(&namespace), &name)
        .await?;
    let issuer = &ctx.api.tokens;
    let spec = parse_spec(&request, &namespace, &name, issuer.issuer())?;
    let now = jiff::Timestamp::now().as_second();
    let mut claims = Claims::for_service_account(
        issuer.issuer(),
        &namespace,
        object_ref(&account),
        spec.audiences.clone(),
        now,
        spec.expiration_seconds,
    );
    let mut echoed = json!({
        "audiences": spec.audiences,
        "expirationSeconds": spec.expiration_seconds,
    });
    if let Some(bound) = &spec.bound {
        let uid = bind(ctx, &namespace, &name, bound, &mut claims).await?;
        let mut reference = request["spec"]["boundObjectRef"].clone();
        reference["uid"] = json!(uid);
        echoed["boundObjectRef"] = reference;
    }
    let token = issuer
        .issue(&claims)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let answer = json!({
        "kind": KIND,
        "apiVersion": format!("{GROUP}/v1"),
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": now_rfc3339()},
        "spec": echoed,
        "status": {"token": token, "expirationTimestamp": rfc3339(claims.exp)},
    });
    Ok(respond(StatusCode::CREATED, &answer, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUD: &str = "https://kubernetes.default.svc.cluster.local";

    fn spec(request: &Value) -> Result<TokenSpec> {
        parse_spec(request, "ci", "builder", AUD)
    }

    #[test]
    fn defaults_fill_an_empty_request() {
        let parsed =
            spec(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": KIND})).expect("valid");
        assert_eq!(
            parsed,
            TokenSpec {
                audiences: vec![AUD.into()],
                expiration_seconds: 3600,
                bound: None
            }
        );
        let parsed = spec(&json!({"spec": {"audiences": ["vault"], "expirationSeconds": 600}}))
            .expect("valid");
        assert_eq!(
            (parsed.audiences, parsed.expiration_seconds),
            (vec!["vault".to_string()], 600)
        );
    }

    #[test]
    fn bad_requests_are_refused_with_the_right_reason() {
        let cases = [
            (
                json!({"spec": {"expirationSeconds": 10}}),
                422,
                "less than 10 minutes",
            ),
            (
                json!({"spec": {"expirationSeconds": 1_i64 << 33}}),
                422,
                "larger than 2^32",
            ),
            (json!({"spec": {"expirationSeconds": "1h"}}), 400, "integer"),
            (json!({"spec": {"audiences": [1]}}), 400, "list of strings"),
            (
                json!({"metadata": {"name": "other"}}),
                422,
                "service account name",
            ),
            (
                json!({"metadata": {"namespace": "x"}}),
                422,
                "service account namespace",
            ),
            (
                json!({"spec": {"boundObjectRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}}}),
                400,
                "cannot bind token to object of type Deployment",
            ),
            (
                json!({"spec": {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod"}}}),
                422,
                "boundObjectRef.name",
            ),
        ];
        for (request, code, text) in cases {
            let err = spec(&request).expect_err(text);
            assert_eq!(err.code(), code, "{request}: {err}");
            assert!(err.to_string().contains(text), "{request}: {err}");
        }
    }

    #[test]
    fn bound_references_are_parsed() {
        let parsed = spec(&json!({"spec": {"boundObjectRef": {
            "apiVersion": "v1", "kind": "Secret", "name": "s", "uid": "u-1"
        }}}))
        .expect("valid");
        assert_eq!(
            parsed.bound,
            Some(BoundRef {
                kind: BoundKind::Secret,
                name: "s".into(),
                uid: Some("u-1".into())
            })
        );
        let parsed = spec(&json!({"metadata": {"name": "builder", "namespace": "ci"},
            "spec": {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "p"}}}))
        .expect("valid");
        assert_eq!(
            parsed.bound.map(|b| (b.kind, b.uid)),
            Some((BoundKind::Pod, None))
        );
    }
}
