//! The `scale` subresource: an `autoscaling/v1 Scale` view of a workload's replicas.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::handlers::{Ctx, patch_error, respond};
use super::request;
use crate::patch;
use crate::registry::catalog::{Resource, ScalePaths};
use crate::registry::error::{Error, Result};
use crate::registry::object::Meta;
use crate::registry::selector::LabelSelector;
use crate::registry::strategy::Subresource;

fn paths(resource: &Resource) -> Result<&ScalePaths> {
    resource.scale.as_ref().ok_or(Error::NotFoundPath)
}

/// Reads a dotted path such as `.spec.replicas`.
fn get_path<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    path.trim_start_matches('.')
        .split('.')
        .try_fold(object, |v, k| v.get(k))
}

/// Writes a dotted path, creating intermediate objects.
fn set_path(object: &mut Value, path: &str, value: Value) {
    let mut cursor = object;
    let keys: Vec<&str> = path.trim_start_matches('.').split('.').collect();
    for (i, key) in keys.iter().enumerate() {
        if !cursor.is_object() {
            *cursor = json!({});
        }
        let map = cursor.as_object_mut().expect("object");
        if i == keys.len() - 1 {
            map.insert((*key).to_string(), value);
            return;
        }
        cursor = map.entry((*key).to_string()).or_insert_with(|| json!({}));
    }
}

/// The selector string of a Scale: a string field as is, a LabelSelector object rendered.
fn selector(resource: &Resource, object: &Value) -> String {
    let native_selector = (!resource.is_custom())
        .then(|| object.pointer("/spec/selector"))
        .flatten();
    let found = match paths(resource)
        .ok()
        .and_then(|p| p.label_selector.as_deref())
    {
        Some(path) => get_path(object, path).or(native_selector),
        None => native_selector,
    };
    match found {
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Object(_)) => LabelSelector::from_label_selector(v)
            .map(|s| s.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn to_scale(resource: &Resource, object: &Value) -> Result<Value> {
    let p = paths(resource)?;
    let meta = object.meta().cloned().unwrap_or_default();
    let mut scale_meta = serde_json::Map::new();
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(field) {
            scale_meta.insert(field.into(), v.clone());
        }
    }
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": get_path(object, &p.spec_replicas).and_then(Value::as_i64).unwrap_or(0)},
        "status": {
            "replicas": get_path(object, &p.status_replicas).and_then(Value::as_i64).unwrap_or(0),
            "selector": selector(resource, object),
        },
    }))
}

pub(super) async fn get(ctx: &Ctx<'_>) -> Result<Response> {
    let object = ctx
        .api
        .store
        .get(&ctx.resource, ctx.ns(), ctx.name())
        .await?;
    Ok(respond(
        StatusCode::OK,
        &to_scale(&ctx.resource, &object)?,
        &[],
    ))
}

/// Writes the replicas of a Scale to the parent object.
async fn write(
    ctx: &Ctx<'_>,
    mut scale_of: impl FnMut(Value) -> Result<Value>,
) -> Result<Response> {
    let p = paths(&ctx.resource)?.clone();
    let options = ctx.query.write_options(&ctx.headers)?;
    let resource = ctx.resource.clone();
    let (updated, _) = ctx
        .api
        .store
        .update_with(
            &ctx.resource,
            ctx.ns(),
            ctx.name(),
            Subresource::Main,
            &options,
            false,
            |current| {
                let current = current.cloned().unwrap_or_default();
                let scale = scale_of(to_scale(&resource, &current)?)?;
                let replicas = scale
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if replicas < 0 {
                    return Err(Error::invalid(
                        "autoscaling",
                        "Scale",
                        current.name().unwrap_or_default(),
                        "spec.replicas",
                        format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                    ));
                }
                let mut new = current;
                set_path(&mut new, &p.spec_replicas, json!(replicas));
                // The Scale's resourceVersion is a precondition on the parent.
                match scale
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                {
                    Some(rv) => set_path(&mut new, ".metadata.resourceVersion", json!(rv)),
                    None => {
                        if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                            m.remove("resourceVersion");
                        }
                    }
                }
                Ok(new)
            },
        )
        .await?;
    Ok(respond(
        StatusCode::OK,
        &to_scale(&ctx.resource, &updated)?,
        &[],
    ))
}

pub(super) async fn update(ctx: &Ctx<'_>, body: &[u8]) -> Result<Response> {
    let scale = request::decode_object(&ctx.headers, body)?;
    write(ctx, |_| Ok(scale.clone())).await
}

pub(super) async fn patch(ctx: &Ctx<'_>, body: &[u8]) -> Result<Response> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| {
        Error::BadRequest(format!("the patch body could not be decoded as JSON: {e}"))
    })?;
    let json_patch = request::content_type(&ctx.headers) == "application/json-patch+json";
    write(ctx, |current| {
        if json_patch {
            patch::json_patch(&current, &doc).map_err(patch_error)
        } else {
            Ok(patch::merge_patch(&current, &doc))
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::catalog::Catalog;

    #[test]
    fn deployment_scale_view() {
        let deployments = Catalog::with_native()
            .get("apps", "v1", "deployments")
            .expect("served");
        let d = json!({"metadata": {"name": "web", "namespace": "default", "resourceVersion": "9"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}}, "status": {"replicas": 2}});
        let s = to_scale(&deployments, &d).expect("scale");
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["status"]["replicas"], 2);
        assert_eq!(s["status"]["selector"], "app=web");
        assert_eq!(s["metadata"]["resourceVersion"], "9");
    }

    #[test]
    fn dotted_paths() {
        let mut v = json!({});
        set_path(&mut v, ".spec.replicas", json!(4));
        assert_eq!(get_path(&v, ".spec.replicas"), Some(&json!(4)));
    }
}
