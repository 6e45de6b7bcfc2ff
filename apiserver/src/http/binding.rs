//! `pods/binding`: how a scheduler assigns a pod to a node.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::handlers::{Ctx, respond};
use super::request;
use crate::registry::error::{Error, Result};
use crate::registry::object::Meta;
use crate::registry::strategy::Subresource;

/// Binds the pod named in the URL to the node named in the `Binding` body. A pod that is
/// already bound, or being deleted, cannot be bound again (409), as in Kubernetes.
pub(super) async fn create(ctx: &Ctx<'_>, body: &[u8]) -> Result<Response> {
    let binding = request::decode_object(&ctx.headers, body)?;
    let pod = ctx.name().to_string();
    if let Some(name) = binding.name()
        && name != pod
    {
        return Err(Error::BadRequest(format!(
            "the name of the binding ({name}) does not match the name of the pod ({pod})"
        )));
    }
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            Error::invalid(
                "",
                "Binding",
                &pod,
                "target.name",
                "Required value: a node name is required",
            )
        })?
        .to_string();
    if binding
        .pointer("/target/kind")
        .and_then(Value::as_str)
        .is_some_and(|k| !k.is_empty() && k != "Node")
    {
        return Err(Error::invalid(
            "",
            "Binding",
            &pod,
            "target.kind",
            "Unsupported value: only Node is supported",
        ));
    }
    let options = ctx.query.write_options(&ctx.headers)?;
    let conflict = |message: String| Error::Conflict {
        group: String::new(),
        resource: "pods/binding".into(),
        name: pod.clone(),
        message,
    };
    ctx.api
        .store
        .update_with(
            &ctx.resource,
            ctx.ns(),
            &pod,
            Subresource::Main,
            &options,
            false,
            |current| {
                let mut new = current.cloned().unwrap_or_default();
                if new.is_deleting() {
                    return Err(conflict(format!(
                        "pod {pod} is being deleted, cannot be assigned to a host"
                    )));
                }
                match new
                    .pointer("/spec/nodeName")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                {
                    Some(existing) => Err(conflict(format!(
                        "pod {pod} is already assigned to node \"{existing}\""
                    ))),
                    None => {
                        new["spec"]["nodeName"] = json!(node);
                        if let Some(annotations) = binding
                            .pointer("/metadata/annotations")
                            .and_then(Value::as_object)
                        {
                            let meta = crate::registry::object::meta_mut(&mut new);
                            let target = meta.entry("annotations").or_insert_with(|| json!({}));
                            if let Some(target) = target.as_object_mut() {
                                target.extend(annotations.clone());
                            }
                        }
                        Ok(new)
                    }
                }
            },
        )
        .await?;
    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
    Ok(respond(StatusCode::CREATED, &status, &[]))
}
