//! The resource verbs: get, list, create, update, patch, delete and deletecollection.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::{Value, json};

use super::path::ResourcePath;
use super::request::{self, FieldValidation, Output, Query};
use super::{Api, json_response, scale, watch};
use crate::auth::attributes::User;
use crate::patch;
use crate::registry::catalog::Resource;
use crate::registry::error::{Error, Result};
use crate::registry::list::{ListOptions, Page};
use crate::registry::object::{Meta, now_rfc3339};
use crate::registry::store::WriteOptions;
use crate::registry::strategy::Subresource;
use crate::registry::table;

/// A resolved resource request.
pub(super) struct Ctx<'a> {
    pub api: &'a Arc<Api>,
    pub resource: Arc<Resource>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub query: Query,
    pub headers: HeaderMap,
    /// Who sent the request (anonymous when authorization is off).
    pub user: User,
}

impl Ctx<'_> {
    pub fn ns(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }
}

pub(super) async fn handle(
    api: &Arc<Api>,
    path: ResourcePath,
    request: Request,
) -> Result<Response> {
    let resource = api
        .store
        .catalog()
        .get(&path.group, &path.version, &path.plural)
        .ok_or(Error::NotFoundPath)?;
    if path.namespace.is_some() && !resource.namespaced {
        return Err(Error::NotFoundPath);
    }
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let ctx = Ctx {
        api,
        namespace: path.namespace.clone(),
        name: path.name.clone(),
        query: Query::parse(parts.uri.query()),
        user: parts
            .extensions
            .get::<User>()
            .cloned()
            .unwrap_or_else(User::anonymous),
        headers: parts.headers,
        resource,
    };
    let body = match method {
        Method::GET | Method::HEAD => bytes::Bytes::new(),
        _ => {
            let read = axum::body::to_bytes(body, request::MAX_BODY_BYTES);
            tokio::time::timeout(api.body_read_timeout, read)
                .await
                .map_err(|_| {
                    Error::RequestTimeout(format!(
                        "the request body did not arrive within {:?}",
                        api.body_read_timeout
                    ))
                })?
                .map_err(|_| {
                    Error::RequestEntityTooLarge(format!(
                        "the request body is larger than the limit of {} bytes",
                        request::MAX_BODY_BYTES
                    ))
                })?
        }
    };
    let sub = path.subresource.as_deref();
    if crate::registry::native::is_review(&ctx.resource.group, &ctx.resource.kind) {
        return match (&method, ctx.name.is_some(), sub) {
            (&Method::POST, false, None) => super::review::create(&ctx, &body),
            _ => Err(Error::MethodNotAllowed(format!(
                "{} can only be created: it is a question to the server, not a stored object",
                ctx.resource.plural
            ))),
        };
    }
    match (&method, ctx.name.is_some(), sub) {
        (&Method::GET, false, None) if ctx.query.flag("watch") => watch::serve(&ctx).await,
        (&Method::GET, false, None) => list(&ctx).await,
        (&Method::GET, true, None | Some("status")) => get(&ctx).await,
        (&Method::GET, true, Some("scale")) if ctx.resource.scale.is_some() => {
            scale::get(&ctx).await
        }
        (&Method::POST, false, None) => create(&ctx, &body).await,
        (&Method::POST, true, Some("token")) if super::token::serves(&ctx.resource) => {
            super::token::create(&ctx, &body).await
        }
        (&Method::PUT, true, None) => update(&ctx, &body, Subresource::Main).await,
        (&Method::PUT, true, Some("status")) if ctx.resource.status_subresource => {
            update(&ctx, &body, Subresource::Status).await
        }
        (&Method::PUT, true, Some("scale")) if ctx.resource.scale.is_some() => {
            scale::update(&ctx, &body).await
        }
        (&Method::POST, true, Some("binding")) if is_pod(&ctx.resource) => {
            super::binding::create(&ctx, &body).await
        }
        (&Method::PUT, true, Some("finalize")) if is_namespace(&ctx.resource) => {
            finalize(&ctx, &body).await
        }
        (&Method::PUT, true, Some("approval")) if is_csr(&ctx.resource) => {
            approval(&ctx, &body).await
        }
        (&Method::PATCH, true, None) => patch(&ctx, &body, Subresource::Main).await,
        (&Method::PATCH, true, Some("status")) if ctx.resource.status_subresource => {
            patch(&ctx, &body, Subresource::Status).await
        }
        (&Method::PATCH, true, Some("scale")) if ctx.resource.scale.is_some() => {
            scale::patch(&ctx, &body).await
        }
        (&Method::DELETE, true, None) => delete(&ctx, &body).await,
        (&Method::DELETE, false, None) => delete_collection(&ctx, &body).await,
        (_, _, Some(sub))
            if !matches!(
                sub,
                "status" | "scale" | "finalize" | "binding" | "approval"
            ) =>
        {
            Err(Error::NotFoundPath)
        }
        _ => Err(Error::MethodNotAllowed(format!(
            "the server does not allow this method on the requested resource ({method} {})",
            ctx.resource.plural
        ))),
    }
}

fn is_pod(resource: &Resource) -> bool {
    resource.group.is_empty() && resource.kind == "Pod"
}

fn is_namespace(resource: &Resource) -> bool {
    resource.group.is_empty() && resource.kind == "Namespace"
}

fn is_csr(resource: &Resource) -> bool {
    resource.group == "certificates.k8s.io" && resource.kind == "CertificateSigningRequest"
}

async fn get(ctx: &Ctx<'_>) -> Result<Response> {
    let output = request::output(&ctx.headers, &ctx.query)?;
    let object = ctx
        .api
        .store
        .get(&ctx.resource, ctx.ns(), ctx.name())
        .await?;
    Ok(respond(
        StatusCode::OK,
        &render_one(&ctx.resource, object, output),
        &[],
    ))
}

async fn list(ctx: &Ctx<'_>) -> Result<Response> {
    let output = request::output(&ctx.headers, &ctx.query)?;
    let options = ListOptions {
        filter: ctx.query.filter(ctx.ns())?,
        limit: ctx.query.limit()?,
        continue_token: ctx
            .query
            .get("continue")
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        read_at: ctx.query.read_at()?,
    };
    let page = ctx.api.store.list(&ctx.resource, &options).await?;
    Ok(render_list(&ctx.resource, &page, output))
}

/// A list as the client asked for it.
/// A list body that serialises the shared cached objects without copying them.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ListBody<'a> {
    kind: String,
    api_version: String,
    metadata: Value,
    items: &'a [Arc<Value>],
}

fn render_list(resource: &Resource, page: &Page, output: Output) -> Response {
    let mut list_meta = json!({"resourceVersion": page.revision.to_string()});
    if let Some(c) = &page.continue_token {
        list_meta["continue"] = json!(c);
    }
    if let Some(n) = page.remaining {
        list_meta["remainingItemCount"] = json!(n);
    }
    let body = match output {
        Output::Table { include } => {
            let objects: Vec<Value> = page.items.iter().map(|o| (**o).clone()).collect();
            table::table(
                resource,
                &objects,
                list_meta,
                include,
                false,
                jiff::Timestamp::now(),
            )
        }
        Output::PartialMetadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": list_meta,
            "items": page.items.iter().map(|o| partial_metadata(o)).collect::<Vec<_>>(),
        }),
        Output::Object => {
            let list = ListBody {
                kind: resource.list_kind(),
                api_version: resource.api_version(),
                metadata: list_meta,
                items: &page.items,
            };
            return respond(StatusCode::OK, &list, &[]);
        }
    };
    respond(StatusCode::OK, &body, &[])
}

/// One object as the client asked for it.
pub(super) fn render_one(resource: &Resource, object: Value, output: Output) -> Value {
    match output {
        Output::Object => object,
        Output::PartialMetadata => partial_metadata(&object),
        Output::Table { include } => {
            let rv = object.resource_version().unwrap_or_default().to_string();
            table::table(
                resource,
                &[object],
                json!({"resourceVersion": rv}),
                include,
                false,
                jiff::Timestamp::now(),
            )
        }
    }
}

pub(super) fn partial_metadata(object: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object.get("metadata").cloned().unwrap_or(json!({}))})
}

/// A JSON response with `Warning` headers.
pub(super) fn respond(
    status: StatusCode,
    value: &impl serde::Serialize,
    warnings: &[String],
) -> Response {
    let mut response = json_response(status, value);
    for w in warnings {
        let text = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(v) = HeaderValue::from_str(&text) {
            response.headers_mut().append(http::header::WARNING, v);
        }
    }
    response
}

/// Checks a body against the kind's schema: unknown fields are refused (Strict), reported
/// (Warn) or dropped silently (Ignore); they are never stored.
pub(super) fn check_fields(ctx: &Ctx<'_>, object: &mut Value) -> Result<Vec<String>> {
    let mode = ctx.query.field_validation()?;
    let unknown = ctx.api.openapi.unknown_fields(&ctx.resource, object);
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let described: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    match mode {
        FieldValidation::Strict => Err(Error::BadRequest(format!(
            "strict decoding error: {}",
            described.join(", ")
        ))),
        FieldValidation::Warn => {
            ctx.api.openapi.prune(&ctx.resource, object);
            Ok(described)
        }
        FieldValidation::Ignore => {
            ctx.api.openapi.prune(&ctx.resource, object);
            Ok(Vec::new())
        }
    }
}

async fn create(ctx: &Ctx<'_>, body: &[u8]) -> Result<Response> {
    if ctx.resource.namespaced && ctx.namespace.is_none() {
        return Err(Error::NotFoundPath);
    }
    let output = request::output(&ctx.headers, &ctx.query)?;
    let mut object = request::decode_object(&ctx.headers, body)?;
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let resource = &ctx.resource;
    crate::auth::agents::admit_create(&ctx.user, &resource.group, &resource.plural, name)
        .map_err(Error::Forbidden)?;
    if is_csr(resource) {
        crate::auth::csr::record_requester(&ctx.user, &mut object);
    }
    let warnings = check_fields(ctx, &mut object)?;
    let options = ctx.query.write_options(&ctx.headers)?;
    let created = ctx
        .api
        .store
        .create(&ctx.resource, ctx.ns(), object, &options)
        .await?;
    Ok(respond(
        StatusCode::CREATED,
        &render_one(&ctx.resource, created, output),
        &warnings,
    ))
}

async fn update(ctx: &Ctx<'_>, body: &[u8], sub: Subresource) -> Result<Response> {
    let output = request::output(&ctx.headers, &ctx.query)?;
    let mut object = request::decode_object(&ctx.headers, body)?;
    let warnings = check_fields(ctx, &mut object)?;
    let options = ctx.query.write_options(&ctx.headers)?;
    let updated = ctx
        .api
        .store
        .update(&ctx.resource, ctx.ns(), ctx.name(), object, sub, &options)
        .await?;
    Ok(respond(
        StatusCode::OK,
        &render_one(&ctx.resource, updated, output),
        &warnings,
    ))
}

/// `PUT /api/v1/namespaces/<ns>/finalize`: only `spec.finalizers` changes.
async fn finalize(ctx: &Ctx<'_>, body: &[u8]) -> Result<Response> {
    let object = request::decode_object(&ctx.headers, body)?;
    let finalizers = object
        .pointer("/spec/finalizers")
        .cloned()
        .unwrap_or(json!([]));
    rewrite(ctx, Subresource::Main, |current| {
        let mut new = current.cloned().unwrap_or_default();
        new["spec"]["finalizers"] = finalizers.clone();
        Ok(new)
    })
    .await
}

/// `PUT .../certificatesigningrequests/<name>/approval`: only the decisions change
/// (`kubectl certificate approve` and `deny`).
async fn approval(ctx: &Ctx<'_>, body: &[u8]) -> Result<Response> {
    let submitted = request::decode_object(&ctx.headers, body)?;
    rewrite(ctx, Subresource::Status, |current| {
        let current = current.cloned().unwrap_or_default();
        crate::auth::csr::with_decisions(&current, &submitted).map_err(|reason| {
            let resource = &ctx.resource;
            Error::invalid(
                &resource.group,
                &resource.kind,
                ctx.name(),
                "status.conditions",
                reason,
            )
        })
    })
    .await
}

/// Rewrites the addressed object with `change` (given what is stored) and answers with it.
async fn rewrite(
    ctx: &Ctx<'_>,
    subresource: Subresource,
    change: impl FnMut(Option<&Value>) -> Result<Value>,
) -> Result<Response> {
    let options = ctx.query.write_options(&ctx.headers)?;
    let (updated, _) = ctx
        .api
        .store
        .update_with(
            &ctx.resource,
            ctx.ns(),
            ctx.name(),
            subresource,
            &options,
            false,
            change,
        )
        .await?;
    Ok(respond(StatusCode::OK, &updated, &[]))
}

/// The patch body types Kubernetes accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

fn patch_type(headers: &HeaderMap, resource: &Resource) -> Result<PatchType> {
    let media = request::content_type(headers);
    let kind = match media.as_str() {
        "application/json-patch+json" => PatchType::Json,
        "application/merge-patch+json" => PatchType::Merge,
        "application/strategic-merge-patch+json" if !resource.is_custom() => PatchType::Strategic,
        "application/apply-patch+yaml" | "application/apply-patch+json" => PatchType::Apply,
        other => {
            return Err(Error::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format ({other}) - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml{}",
                if resource.is_custom() {
                    ""
                } else {
                    ", application/strategic-merge-patch+json"
                }
            )));
        }
    };
    Ok(kind)
}

pub(super) fn patch_error(e: patch::Error) -> Error {
    match e {
        patch::Error::Conflict { ref conflicts } => Error::ApplyConflict {
            message: e.to_string(),
            causes: conflicts
                .iter()
                .map(|c| crate::registry::error::Cause {
                    reason: "FieldManagerConflict".into(),
                    message: c.message(),
                    field: c.field.clone(),
                })
                .collect(),
        },
        patch::Error::InvalidPatch(msg) => Error::BadRequest(msg),
        other => Error::Invalid {
            group: String::new(),
            kind: String::new(),
            name: String::new(),
            causes: vec![crate::registry::error::Cause {
                reason: "FieldValueInvalid".into(),
                message: other.to_string(),
                field: String::new(),
            }],
        },
    }
}

async fn patch(ctx: &Ctx<'_>, body: &[u8], sub: Subresource) -> Result<Response> {
    let output = request::output(&ctx.headers, &ctx.query)?;
    let kind = patch_type(&ctx.headers, &ctx.resource)?;
    let patch_doc = match kind {
        PatchType::Apply => request::decode_yaml(body)?,
        _ => serde_json::from_slice::<Value>(body).map_err(|e| {
            Error::BadRequest(format!("the patch body could not be decoded as JSON: {e}"))
        })?,
    };
    let mut options: WriteOptions = ctx.query.write_options(&ctx.headers)?;
    // The apply engine records ownership itself; the store must not add an Update entry.
    options.applied = kind == PatchType::Apply;
    let force = ctx.query.flag("force");
    if kind == PatchType::Apply {
        if ctx.query.get("fieldManager").is_none_or(str::is_empty) {
            return Err(Error::BadRequest(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
                    .into(),
            ));
        }
    } else if force {
        return Err(Error::BadRequest(
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
                .into(),
        ));
    }
    let manager = options
        .field_manager
        .clone()
        .unwrap_or_else(|| "unknown".into());
    let gvk = ctx.resource.gvk();
    let mut warnings = Vec::new();
    let (result, created) = ctx
        .api
        .store
        .update_with(
            &ctx.resource,
            ctx.ns(),
            ctx.name(),
            sub,
            &options,
            kind == PatchType::Apply,
            |current| {
                let mut patched = match (kind, current) {
                    (PatchType::Json, Some(c)) => {
                        patch::json_patch(c, &patch_doc).map_err(patch_error)?
                    }
                    (PatchType::Merge, Some(c)) => patch::merge_patch(c, &patch_doc),
                    (PatchType::Strategic, Some(c)) => {
                        patch::strategic_merge_patch(c, &patch_doc, &gvk).map_err(patch_error)?
                    }
                    (PatchType::Apply, live) => {
                        let apply_ctx = patch::ApplyContext {
                            manager: manager.clone(),
                            force,
                            api_version: ctx.resource.api_version(),
                            kind_gvk: gvk.clone(),
                            now: now_rfc3339(),
                            subresource: sub.name().map(str::to_string),
                        };
                        patch::apply(live, &patch_doc, &apply_ctx).map_err(patch_error)?
                    }
                    (_, None) => {
                        return Err(Error::NotFound {
                            group: ctx.resource.group.clone(),
                            resource: ctx.resource.plural.clone(),
                            name: ctx.name().into(),
                        });
                    }
                };
                warnings = check_fields(ctx, &mut patched)?;
                Ok(patched)
            },
        )
        .await
        .map_err(|e| with_identity(e, ctx))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(respond(
        status,
        &render_one(&ctx.resource, result, output),
        &warnings,
    ))
}

/// Fills the resource and name into errors raised without them.
fn with_identity(e: Error, ctx: &Ctx<'_>) -> Error {
    match e {
        Error::Conflict {
            group,
            resource,
            name,
            message,
        } if resource.is_empty() => Error::Conflict {
            group: if group.is_empty() {
                ctx.resource.group.clone()
            } else {
                group
            },
            resource: ctx.resource.plural.clone(),
            name: if name.is_empty() {
                ctx.name().to_string()
            } else {
                name
            },
            message,
        },
        Error::Invalid { causes, kind, .. } if kind.is_empty() => Error::Invalid {
            group: ctx.resource.group.clone(),
            kind: ctx.resource.kind.clone(),
            name: ctx.name().to_string(),
            causes,
        },
        other => other,
    }
}

async fn delete(ctx: &Ctx<'_>, body: &[u8]) -> Result<Response> {
    let options = request::delete_options(&ctx.query, &ctx.headers, body)?;
    let deleted = ctx
        .api
        .store
        .delete(&ctx.resource, ctx.ns(), ctx.name(), &options)
        .await?;
    Ok(respond(StatusCode::OK, &deleted.object, &[]))
}

async fn delete_collection(ctx: &Ctx<'_>, body: &[u8]) -> Result<Response> {
    let options = request::delete_options(&ctx.query, &ctx.headers, body)?;
    let list_options = ListOptions {
        filter: ctx.query.filter(ctx.ns())?,
        ..Default::default()
    };
    let page = ctx.api.store.list(&ctx.resource, &list_options).await?;
    let mut items = Vec::new();
    for object in &page.items {
        let name = object.name().unwrap_or_default();
        match ctx
            .api
            .store
            .delete(&ctx.resource, object.namespace(), name, &options)
            .await
        {
            Ok(deleted) => items.push(deleted.object),
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({
        "kind": ctx.resource.list_kind(),
        "apiVersion": ctx.resource.api_version(),
        "metadata": {"resourceVersion": page.revision.to_string()},
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &list))
}

/// Builds a streaming response body.
pub(super) fn stream_response(body: Body, content_type: &'static str) -> Response {
    let mut response = Response::new(body);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    response
}
