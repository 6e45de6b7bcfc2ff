//! The HTTP surface: routing, discovery, OpenAPI, resource verbs and watch streams.

pub mod audit;
mod authz;
mod binding;
pub mod discovery;
mod handlers;
pub mod inflight;
pub mod metrics;
pub mod path;
pub mod request;
mod review;
mod scale;
mod token;
mod watch;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use crate::openapi::OpenApi;
use crate::registry::error::Error;
use crate::registry::store::Store;
use path::Target;

/// The Kubernetes version this server reports (kubectl picks a matching client by it).
pub const KUBERNETES_VERSION: (&str, &str, &str) = ("1", "33", "v1.33.0");

/// Shared state of one API server.
pub struct Api {
    pub store: Store,
    pub openapi: OpenApi,
    pub metrics: metrics::Metrics,
    /// Signs service-account tokens (`serviceaccounts/token`) and publishes its public key.
    pub tokens: crate::auth::tokens::TokenIssuer,
    /// Who may do what: the authorization mode, static tokens and the RBAC policy.
    pub auth: Arc<crate::auth::authorizer::Auth>,
    /// Where mutating requests are recorded, if anywhere.
    pub audit: Option<audit::AuditLog>,
    /// Requests in flight, per client and in all.
    pub in_flight: Arc<inflight::InFlight>,
    /// How long a client may take to send a request body.
    pub body_read_timeout: std::time::Duration,
    /// Cancelled when the server shuts down; ends long-running watches.
    pub shutdown: tokio_util::sync::CancellationToken,
}

/// The router serving the whole API.
pub fn router(api: Arc<Api>) -> axum::Router {
    axum::Router::new().fallback(dispatch).with_state(api)
}

async fn dispatch(State(api): State<Arc<Api>>, mut request: Request) -> Response {
    let started = Instant::now();
    let target = path::parse(request.uri().path());
    let (verb, resource) = metric_labels(request.method(), request.uri().query(), target.as_ref());
    let path = request.uri().path().to_string();
    let agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    // When and what was asked, kept only for the audit log.
    let audited = api
        .audit
        .as_ref()
        .map(|audit| (audit, jiff::Timestamp::now(), request.uri().to_string()));
    let admission = authz::admit(
        &api,
        request.method(),
        request.uri(),
        request.headers(),
        request.extensions(),
        target.as_ref(),
    );
    let response = match (target, &admission.verdict) {
        (_, Err(refused)) => error(refused),
        (Some(target), Ok(())) => {
            // Watches and streams stay open by design; everything else holds a place while it
            // runs.
            let place = if long_running(&verb, &target) {
                None
            } else {
                // Without authentication, every local component is the same anonymous caller.
                let user = &admission.attributes.user;
                let client = (user.name != crate::auth::attributes::ANONYMOUS)
                    .then(|| format!("user {}", user.name));
                Some(api.in_flight.enter(client.as_deref()))
            };
            match place {
                Some(Err(full)) => error(&Error::TooManyRequests(full.to_string())),
                _ => {
                    request
                        .extensions_mut()
                        .insert(admission.attributes.user.clone());
                    route(&api, target, request)
                        .await
                        .unwrap_or_else(|e| error(&e))
                }
            }
        }
        (None, Ok(())) => error(&Error::NotFoundPath),
    };
    let status = response.status().as_u16();
    if let Some((audit, received, uri)) = audited {
        audit.record(&audit::Event {
            attributes: &admission.attributes,
            uri: &uri,
            user_agent: &agent,
            code: status,
            received,
            completed: jiff::Timestamp::now(),
        });
    }
    let elapsed = started.elapsed();
    api.metrics.observe(&verb, &resource, status, elapsed);
    // Watches log when they start; their stream goes on long after this line.
    tracing::debug!(
        verb = %verb,
        path = %path,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        user_agent = %agent,
        "request"
    );
    response
}

/// Requests that stay open by design (kube-apiserver's long-running requests): watches, and
/// logs, exec, attach, port forwarding and proxying.
fn long_running(verb: &str, target: &Target) -> bool {
    const STREAMS: [&str; 5] = ["log", "exec", "attach", "portforward", "proxy"];
    verb == "WATCH"
        || matches!(target, Target::Resource(r)
            if r.subresource.as_deref().is_some_and(|s| STREAMS.contains(&s)))
}

fn metric_labels(
    method: &Method,
    query: Option<&str>,
    target: Option<&Target>,
) -> (String, String) {
    let resource = match target {
        Some(Target::Resource(r)) => match &r.subresource {
            Some(sub) => format!("{}/{sub}", r.plural),
            None => r.plural.clone(),
        },
        Some(Target::Version) => "version".into(),
        Some(Target::Metrics) => "metrics".into(),
        Some(Target::Health(h)) => (*h).into(),
        Some(Target::OpenIdConfiguration | Target::Jwks) => "openid".into(),
        Some(Target::OpenApiRoot | Target::OpenApiGroupVersion { .. } | Target::OpenApiV2) => {
            "openapi".into()
        }
        Some(_) => "discovery".into(),
        None => "unknown".into(),
    };
    let watching = query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .any(|(k, v)| k == "watch" && (v == "true" || v == "1"))
    });
    let verb = if watching {
        "WATCH".to_string()
    } else {
        method.as_str().to_string()
    };
    (verb, resource)
}

async fn route(api: &Arc<Api>, target: Target, request: Request) -> Result<Response, Error> {
    let catalog = api.store.catalog();
    let is_get = request.method() == Method::GET;
    if !is_get && !matches!(target, Target::Resource(_)) {
        return Err(Error::MethodNotAllowed(format!(
            "the server does not allow this method on the requested resource ({})",
            request.method()
        )));
    }
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Ok(match target {
        Target::Version => ok_json(&version()),
        Target::Health(_) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "ok",
        )
            .into_response(),
        Target::Metrics => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            api.metrics.render(),
        )
            .into_response(),
        Target::LegacyRoot if discovery::wants_aggregated(&accept) => {
            aggregated(&discovery::aggregated(catalog, true))
        }
        Target::GroupsRoot if discovery::wants_aggregated(&accept) => {
            aggregated(&discovery::aggregated(catalog, false))
        }
        Target::LegacyRoot => ok_json(&discovery::legacy_versions()),
        Target::GroupsRoot => ok_json(&discovery::group_list(catalog)),
        Target::Group(group) => {
            ok_json(&discovery::group(catalog, &group).ok_or(Error::NotFoundPath)?)
        }
        Target::GroupVersion { group, version } => ok_json(
            &discovery::resource_list(catalog, &group, &version).ok_or(Error::NotFoundPath)?,
        ),
        Target::OpenApiRoot => ok_json(&api.openapi.root(catalog)),
        Target::OpenApiGroupVersion { group, version } => {
            let doc = api
                .openapi
                .group_version(catalog, &group, &version)
                .ok_or(Error::NotFoundPath)?;
            ok_json(&doc)
        }
        Target::OpenApiV2 => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, crate::openapi::v2::CONTENT_TYPE)],
            api.openapi.v2_protobuf(catalog),
        )
            .into_response(),
        Target::OpenIdConfiguration => ok_json(&api.tokens.openid_configuration()),
        Target::Jwks => {
            let mut response = ok_json(&api.tokens.jwks());
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            );
            response
        }
        Target::Resource(path) => handlers::handle(api, path, request).await?,
    })
}

/// `/version`, reporting a Kubernetes 1.33 server.
fn version() -> Value {
    let (major, minor, git) = KUBERNETES_VERSION;
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": git,
        "gitCommit": env!("CARGO_PKG_VERSION"),
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

/// A 200 JSON response.
pub(crate) fn ok_json(value: &Value) -> Response {
    json_response(StatusCode::OK, value)
}

pub(crate) fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn aggregated(value: &Value) -> Response {
    let mut response = ok_json(value);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(discovery::AGGREGATED_CONTENT_TYPE),
    );
    response
}

/// A `Status` error response.
pub(crate) fn error(e: &Error) -> Response {
    let code = StatusCode::from_u16(e.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if code.is_server_error() {
        tracing::warn!(error = %e, "request failed");
    }
    let mut response = json_response(code, &e.to_status());
    if code == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}
