//! The OpenAPI v2 (Swagger 2.0) document of `/openapi/v2`, in gnostic's protobuf encoding,
//! converted from the per-group-version v3 documents.
//!
//! kubectl 1.27 and 1.28 download and parse it before every `create -f`/`apply -f` (their
//! validator needs its definitions even when the server validates fields itself) and fail
//! when it is missing. They then read three things from it: a PATCH operation carrying the
//! object's `x-kubernetes-group-version-kind` and a `fieldValidation` query parameter (server
//! side validation is supported), the definitions with `x-kubernetes-group-version-kind`
//! (client-side validation, when the check above says unsupported), and the PATCH operation's
//! `consumes` (client-side apply builds a strategic merge patch from the definitions only when
//! it lists `application/strategic-merge-patch+json`; it does not, as in v3, so kubectl uses
//! its compiled-in types and never warns "error calculating patch from openapi spec").

mod proto;
mod schema;
mod yaml;

use std::collections::BTreeMap;

use bytes::Bytes;
use prost::Message;
use serde_json::Value;

use super::OpenApi;
use crate::registry::catalog::Catalog;
use proto::{
    BodyParameter, Definitions, Document, Info, NamedPathItem, NamedResponseValue, NamedSchema,
    NonBodyParameter, Operation, Parameter, ParametersItem, PathItem, PathParameterSubSchema,
    Paths, QueryParameterSubSchema, Response, ResponseValue, Responses, SchemaItem,
    non_body_parameter, parameter,
};

/// The media type the document is served with. Clients ask for the older spelling
/// `...spec.v2@v1.0+protobuf`, but Go's media-type parser rejects the `@` in a response (client-go
/// then fails with "mime: unexpected content after media subtype"), so upstream answers with
/// this one.
pub const CONTENT_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

impl OpenApi {
    /// The `/openapi/v2` document: every served path and definition, encoded as gnostic's
    /// `openapi.v2.Document`. Rebuilt only when the catalog changed.
    pub fn v2_protobuf(&self, catalog: &Catalog) -> Bytes {
        let mut cache = self.refreshed(catalog);
        if let (Some((built, bytes)), Some(now)) = (&cache.v2, cache.generation)
            && *built == now
        {
            return bytes.clone();
        }
        let mut documents: Vec<_> = cache.documents.iter().collect();
        documents.sort_by(|a, b| a.0.cmp(b.0));
        let document = document(documents.iter().map(|(_, c)| c.document.as_ref()));
        let bytes = Bytes::from(document.encode_to_vec());
        if let Some(now) = cache.generation {
            cache.v2 = Some((now, bytes.clone()));
        }
        bytes
    }
}

/// One v2 document holding the paths and component schemas of all the v3 `documents`.
fn document<'a>(documents: impl IntoIterator<Item = &'a Value>) -> Document {
    let mut paths: BTreeMap<&str, PathItem> = BTreeMap::new();
    let mut definitions: BTreeMap<&str, &Value> = BTreeMap::new();
    for document in documents {
        if let Some(items) = document["paths"].as_object() {
            for (path, item) in items {
                paths.entry(path).or_insert_with(|| path_item(item));
            }
        }
        // Native schemas appear in several group-versions' documents, always the same.
        if let Some(schemas) = document["components"]["schemas"].as_object() {
            for (name, schema) in schemas {
                definitions.entry(name).or_insert(schema);
            }
        }
    }
    Document {
        swagger: "2.0".into(),
        info: Some(Info {
            title: "Kubernetes".into(),
            version: "unversioned".into(),
        }),
        paths: Some(Paths {
            path: paths
                .into_iter()
                .map(|(name, item)| NamedPathItem {
                    name: name.to_string(),
                    value: Some(item),
                })
                .collect(),
        }),
        definitions: Some(Definitions {
            additional_properties: definitions
                .into_iter()
                .map(|(name, value)| NamedSchema {
                    name: name.to_string(),
                    value: Some(schema::convert(value)),
                })
                .collect(),
        }),
    }
}

fn path_item(item: &Value) -> PathItem {
    let operation = |method: &str| item.get(method).map(operation);
    PathItem {
        get: operation("get"),
        put: operation("put"),
        post: operation("post"),
        delete: operation("delete"),
        patch: operation("patch"),
        parameters: parameters(&item["parameters"]),
    }
}

fn operation(op: &Value) -> Operation {
    let text = |key: &str| op[key].as_str().unwrap_or_default().to_string();
    let body = &op["requestBody"];
    let consumes: Vec<String> = keys(&body["content"]);
    let mut params = Vec::new();
    if let Some(schema) = first_schema(&body["content"]) {
        params.push(ParametersItem {
            parameter: Some(Parameter {
                oneof: Some(parameter::Oneof::BodyParameter(BodyParameter {
                    name: "body".into(),
                    r#in: "body".into(),
                    required: body["required"].as_bool().unwrap_or(false),
                    schema: Some(Box::new(schema::convert(schema))),
                    ..BodyParameter::default()
                })),
            }),
        });
    }
    params.extend(parameters(&op["parameters"]));
    let mut produces: Vec<String> = Vec::new();
    let mut responses = Vec::new();
    for (code, response) in op["responses"].as_object().into_iter().flatten() {
        for media in keys(&response["content"]) {
            if !produces.contains(&media) {
                produces.push(media);
            }
        }
        responses.push(NamedResponseValue {
            name: code.clone(),
            value: Some(ResponseValue {
                response: Some(Response {
                    description: response["description"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    schema: first_schema(&response["content"]).map(|s| SchemaItem {
                        schema: Some(schema::convert(s)),
                    }),
                }),
            }),
        });
    }
    Operation {
        tags: op["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect(),
        description: text("description"),
        operation_id: text("operationId"),
        produces,
        consumes,
        parameters: params,
        responses: Some(Responses {
            response_code: responses,
        }),
        schemes: vec!["https".into()],
        vendor_extension: op.as_object().map(schema::extensions).unwrap_or_default(),
    }
}

/// The media types of a v3 `content` map, in order.
fn keys(content: &Value) -> Vec<String> {
    content
        .as_object()
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default()
}

/// The schema of the first media type of a v3 `content` map (they all share it).
fn first_schema(content: &Value) -> Option<&Value> {
    content.as_object()?.values().next()?.get("schema")
}

/// The path and query parameters of a v3 parameter list.
fn parameters(list: &Value) -> Vec<ParametersItem> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(non_body)
        .map(|oneof| ParametersItem {
            parameter: Some(Parameter {
                oneof: Some(parameter::Oneof::NonBodyParameter(NonBodyParameter {
                    oneof: Some(oneof),
                })),
            }),
        })
        .collect()
}

fn non_body(param: &Value) -> Option<non_body_parameter::Oneof> {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    let name = text(&param["name"]);
    let description = text(&param["description"]);
    let r#type = text(&param["schema"]["type"]);
    let required = param["required"].as_bool().unwrap_or(false);
    match param["in"].as_str()? {
        "query" => Some(non_body_parameter::Oneof::QueryParameterSubSchema(
            QueryParameterSubSchema {
                required,
                r#in: "query".into(),
                description,
                name,
                r#type,
                unique_items: true,
            },
        )),
        "path" => Some(non_body_parameter::Oneof::PathParameterSubSchema(
            PathParameterSubSchema {
                required: true,
                r#in: "path".into(),
                description,
                name,
                r#type,
                unique_items: true,
            },
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
