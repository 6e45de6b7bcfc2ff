//! The gate every request passes before it is served: who sent it (401 when its credentials do
//! not verify, or when it has none and asks for more than health or version) and whether RBAC
//! lets that user do it (403, in Kubernetes' words).

use http::{HeaderMap, Method, header};

use super::Api;
use super::path::Target;
use crate::auth::attributes::{
    Attributes, ClientCertificate, ResourceAttributes, Target as Asked, User,
};
use crate::auth::authn::Authenticator;
use crate::auth::authorizer::Mode;
use crate::registry::error::Error;

/// What a request asks and who asks it, and whether it may proceed.
pub struct Admission {
    /// The caller (anonymous when authorization is off or the credentials were refused) and
    /// what it asks.
    pub attributes: Attributes,
    pub verdict: Result<(), Error>,
}

/// Decides whether a request may proceed; `target` is `None` for a path the server does not
/// serve (which RBAC sees as a non-resource path).
pub fn admit(
    api: &Api,
    method: &Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    extensions: &http::Extensions,
    target: Option<&Target>,
) -> Admission {
    let refused = |error: Error| Admission {
        attributes: attributes(method, uri, target, User::anonymous()),
        verdict: Err(error),
    };
    if api.auth.mode == Mode::AlwaysAllow {
        return Admission {
            attributes: attributes(method, uri, target, User::anonymous()),
            verdict: Ok(()),
        };
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let authenticator = Authenticator {
        tokens: &api.auth.tokens,
        issuer: &api.tokens,
        store: &api.store,
    };
    // A verified client certificate comes first, as in Kubernetes' union of authenticators.
    let certificate = extensions.get::<ClientCertificate>().map(|c| c.0.clone());
    let authenticated = match certificate {
        Some(user) => Ok(Some(user)),
        None => authenticator.authenticate(authorization),
    };
    let user = match authenticated {
        Ok(Some(user)) => user,
        Ok(None) if matches!(target, Some(Target::Health(_) | Target::Version)) => {
            User::anonymous()
        }
        Ok(None) => return refused(Error::Unauthorized),
        Err(reason) => {
            tracing::debug!(%reason, path = %uri.path(), "refused credentials");
            return refused(Error::Unauthorized);
        }
    };
    let attributes = attributes(method, uri, target, user);
    let decision = api.auth.authorize(&attributes);
    let verdict = if decision.allowed {
        Ok(())
    } else {
        Err(Error::Forbidden(
            attributes.forbidden_message(&decision.reason),
        ))
    };
    Admission {
        attributes,
        verdict,
    }
}

/// What a request asks, as RBAC sees it: the verb from the method (and `watch=true`), and the
/// resource from the path, or the path itself outside the resource API.
pub fn attributes(
    method: &Method,
    uri: &http::Uri,
    target: Option<&Target>,
    user: User,
) -> Attributes {
    let Some(Target::Resource(path)) = target else {
        return Attributes {
            user,
            verb: method.as_str().to_lowercase(),
            target: Asked::Path(uri.path().to_string()),
        };
    };
    let named = path.name.is_some();
    let watching = uri.query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .any(|(k, v)| k == "watch" && (v == "true" || v == "1"))
    });
    let verb = match *method {
        Method::GET | Method::HEAD if watching => "watch",
        Method::GET | Method::HEAD if named => "get",
        Method::GET | Method::HEAD => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if named => "delete",
        Method::DELETE => "deletecollection",
        _ => {
            return Attributes {
                user,
                verb: method.as_str().to_lowercase(),
                target: Asked::Path(uri.path().to_string()),
            };
        }
    };
    Attributes {
        user,
        verb: verb.to_string(),
        target: Asked::Resource(ResourceAttributes {
            namespace: path.namespace.clone().unwrap_or_default(),
            group: path.group.clone(),
            version: path.version.clone(),
            resource: path.plural.clone(),
            subresource: path.subresource.clone().unwrap_or_default(),
            name: path.name.clone().unwrap_or_default(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(method: &Method, uri: &str) -> (String, Asked) {
        let uri: http::Uri = uri.parse().unwrap();
        let target = super::super::path::parse(uri.path()).unwrap();
        let a = attributes(method, &uri, Some(&target), User::anonymous());
        (a.verb, a.target)
    }

    fn resource(ns: &str, group: &str, plural: &str, sub: &str, name: &str) -> Asked {
        Asked::Resource(ResourceAttributes {
            namespace: ns.into(),
            group: group.into(),
            version: "v1".into(),
            resource: plural.into(),
            subresource: sub.into(),
            name: name.into(),
        })
    }

    #[test]
    fn verbs_and_resources_come_from_the_method_and_path() {
        let cases = [
            (
                Method::GET,
                "/api/v1/namespaces/default/pods",
                "list",
                resource("default", "", "pods", "", ""),
            ),
            (
                Method::GET,
                "/api/v1/pods?watch=true",
                "watch",
                resource("", "", "pods", "", ""),
            ),
            (
                Method::GET,
                "/apis/apps/v1/namespaces/shop/deployments/web",
                "get",
                resource("shop", "apps", "deployments", "", "web"),
            ),
            (
                Method::POST,
                "/api/v1/namespaces/shop/configmaps",
                "create",
                resource("shop", "", "configmaps", "", ""),
            ),
            (
                Method::PUT,
                "/apis/cluster.karmada.io/v1alpha1/clusters/m1/status",
                "update",
                Asked::Resource(ResourceAttributes {
                    group: "cluster.karmada.io".into(),
                    version: "v1alpha1".into(),
                    resource: "clusters".into(),
                    subresource: "status".into(),
                    name: "m1".into(),
                    ..ResourceAttributes::default()
                }),
            ),
            (
                Method::PATCH,
                "/api/v1/namespaces/a/pods/p",
                "patch",
                resource("a", "", "pods", "", "p"),
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/a/pods/p",
                "delete",
                resource("a", "", "pods", "", "p"),
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/a/pods",
                "deletecollection",
                resource("a", "", "pods", "", ""),
            ),
            (
                Method::GET,
                "/apis/apps/v1",
                "get",
                Asked::Path("/apis/apps/v1".into()),
            ),
            (
                Method::GET,
                "/version",
                "get",
                Asked::Path("/version".into()),
            ),
        ];
        for (method, uri, verb, target) in cases {
            assert_eq!(asked(&method, uri), (verb.to_string(), target), "{uri}");
        }
    }
}
