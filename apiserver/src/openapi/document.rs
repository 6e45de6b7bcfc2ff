//! Builds the OpenAPI v3 document of one group-version: paths, operations and the component
//! schemas they reference.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::schemas::{
    DELETE_OPTIONS, NativeSchemas, PATCH, REF_PREFIX, SCALE, STATUS, list_schema, reference,
};
use super::{custom, parameters};
use crate::registry::catalog::Resource;

/// Patch bodies the server accepts. Strategic merge patch is left out on purpose: kubectl
/// would then compute SMPs from these schemas, which lack the patch-merge-key extensions, and
/// warn "error calculating patch from openapi v3 spec"; without it kubectl uses its compiled-in
/// types for built-in kinds.
const PATCH_CONTENT_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];

/// The OpenAPI v3 document of the group-version that `resources` belong to.
pub(super) fn build(
    group: &str,
    version: &str,
    resources: &[Arc<Resource>],
    native: &NativeSchemas,
) -> Value {
    let mut local: BTreeMap<String, Value> = BTreeMap::new();
    let mut paths = Map::new();
    let gv = GroupVersion::new(group, version);
    for resource in resources {
        let kind_schema = match native.kind(&resource.group, &resource.version, &resource.kind) {
            Some(name) if !resource.is_custom() => name.to_string(),
            _ => {
                let name = custom::schema_name(&resource.group, &resource.version, &resource.kind);
                let list = list_schema(&name, &resource.group, &resource.version, &resource.kind);
                local.insert(format!("{name}List"), list);
                local.insert(name.clone(), custom::kind_schema(resource));
                name
            }
        };
        add_paths(&mut paths, &gv, resource, &kind_schema);
    }
    let components = closure(&paths, &local, native.components());
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths,
        "components": {"schemas": components},
    })
}

/// Every schema the paths reference, directly or through other schemas, sorted by name.
fn closure(
    paths: &Map<String, Value>,
    local: &BTreeMap<String, Value>,
    native: &Map<String, Value>,
) -> Map<String, Value> {
    let mut pending: Vec<String> = Vec::new();
    for operations in paths.values() {
        collect_refs(operations, &mut pending);
    }
    let mut found: BTreeMap<String, Value> = BTreeMap::new();
    while let Some(name) = pending.pop() {
        if found.contains_key(&name) {
            continue;
        }
        if let Some(schema) = local.get(&name).or_else(|| native.get(&name)) {
            collect_refs(schema, &mut pending);
            found.insert(name, schema.clone());
        }
    }
    found.into_iter().collect()
}

/// Appends the component names of every `$ref` inside `value`.
fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => {
                        if let Some(name) = target.strip_prefix(REF_PREFIX) {
                            out.push(name.to_string());
                        }
                    }
                    _ => collect_refs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

/// Names derived from the group-version, used in every operation.
struct GroupVersion<'a> {
    group: &'a str,
    version: &'a str,
    /// `/api/v1` or `/apis/<group>/<version>`.
    prefix: String,
    /// `AppsV1`, `CoreV1`, `RbacAuthorizationV1`: the infix of upstream operation ids.
    op_infix: String,
    /// `apps_v1`, `core_v1`: the tag of every operation.
    tag: String,
}

impl<'a> GroupVersion<'a> {
    fn new(group: &'a str, version: &'a str) -> Self {
        let prefix = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let group_words: Vec<&str> = if group.is_empty() {
            vec!["core"]
        } else {
            group
                .trim_end_matches(".k8s.io")
                .split(['.', '-'])
                .filter(|w| !w.is_empty())
                .collect()
        };
        let camel: String = group_words.iter().map(|w| capitalize(w)).collect();
        let op_infix = format!("{camel}{}", capitalize(version));
        let mut tag = group_words
            .first()
            .map(|w| w.to_string())
            .unwrap_or_default();
        tag.extend(group_words.iter().skip(1).map(|w| capitalize(w)));
        GroupVersion {
            group,
            version,
            prefix,
            op_infix,
            tag: format!("{tag}_{version}"),
        }
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Which operation an entry in a path item is.
#[derive(Clone, Copy, PartialEq)]
enum Verb {
    List,
    Create,
    DeleteCollection,
    Read,
    Replace,
    Patch,
    Delete,
}

impl Verb {
    fn method(self) -> &'static str {
        match self {
            Verb::List | Verb::Read => "get",
            Verb::Create => "post",
            Verb::Replace => "put",
            Verb::Patch => "patch",
            Verb::Delete | Verb::DeleteCollection => "delete",
        }
    }

    /// The `x-kubernetes-action` value.
    fn action(self) -> &'static str {
        match self {
            Verb::List => "list",
            Verb::Create => "post",
            Verb::DeleteCollection => "deletecollection",
            Verb::Read => "get",
            Verb::Replace => "put",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }

    /// The operation-id prefix and the words of the description.
    fn words(self) -> (&'static str, &'static str) {
        match self {
            Verb::List => ("list", "list or watch objects of kind"),
            Verb::Create => ("create", "create a"),
            Verb::DeleteCollection => ("deleteCollection", "delete collection of"),
            Verb::Read => ("read", "read the specified"),
            Verb::Replace => ("replace", "replace the specified"),
            Verb::Patch => ("patch", "partially update the specified"),
            Verb::Delete => ("delete", "delete a"),
        }
    }
}

/// The body of one operation.
struct Operation<'a> {
    verb: Verb,
    /// The GVK the operation reads or writes (Scale for `/scale`).
    gvk: (&'a str, &'a str, &'a str),
    /// The component schema of the request and response objects.
    schema: &'a str,
    /// `Namespaced`, `Status`, `ForAllNamespaces`... parts of the operation id.
    id_words: (&'a str, &'a str),
}

/// Adds the collection, item, subresource and all-namespaces paths of one resource.
fn add_paths(
    paths: &mut Map<String, Value>,
    gv: &GroupVersion<'_>,
    resource: &Resource,
    kind_schema: &str,
) {
    let kind = resource.kind.as_str();
    let gvk = (gv.group, gv.version, kind);
    let list = format!("{kind_schema}List");
    let scope = if resource.namespaced {
        "Namespaced"
    } else {
        ""
    };
    let base = if resource.namespaced {
        format!("{}/namespaces/{{namespace}}/{}", gv.prefix, resource.plural)
    } else {
        format!("{}/{}", gv.prefix, resource.plural)
    };
    let mut item_params = vec![parameters::path("name", &format!("name of the {kind}"))];
    let mut collection_params = Vec::new();
    if resource.namespaced {
        let namespace = parameters::path(
            "namespace",
            "object name and auth scope, such as for teams and projects",
        );
        item_params.push(namespace.clone());
        collection_params.push(namespace);
    }
    item_params.push(parameters::pretty());
    collection_params.push(parameters::pretty());

    let op = |verb, schema, id_words| Operation {
        verb,
        gvk,
        schema,
        id_words,
    };
    let collection = [
        op(Verb::List, list.as_str(), (scope, "")),
        op(Verb::Create, kind_schema, (scope, "")),
        op(Verb::DeleteCollection, STATUS, (scope, "")),
    ];
    paths.insert(
        base.clone(),
        path_item(gv, kind, &collection, &collection_params),
    );
    let item = [Verb::Read, Verb::Replace, Verb::Patch, Verb::Delete].map(|verb| {
        op(
            verb,
            if verb == Verb::Delete {
                STATUS
            } else {
                kind_schema
            },
            (scope, ""),
        )
    });
    paths.insert(
        format!("{base}/{{name}}"),
        path_item(gv, kind, &item, &item_params),
    );
    if resource.status_subresource {
        let status = [Verb::Read, Verb::Replace, Verb::Patch]
            .map(|verb| op(verb, kind_schema, (scope, "Status")));
        paths.insert(
            format!("{base}/{{name}}/status"),
            path_item(gv, kind, &status, &item_params),
        );
    }
    if resource.scale.is_some() {
        let scale = [Verb::Read, Verb::Replace, Verb::Patch].map(|verb| Operation {
            verb,
            gvk: ("autoscaling", "v1", "Scale"),
            schema: SCALE,
            id_words: (scope, "Scale"),
        });
        paths.insert(
            format!("{base}/{{name}}/scale"),
            path_item(gv, kind, &scale, &item_params),
        );
    }
    if resource.namespaced {
        let all = [op(Verb::List, list.as_str(), ("", "ForAllNamespaces"))];
        paths.insert(
            format!("{}/{}", gv.prefix, resource.plural),
            path_item(gv, kind, &all, &[parameters::pretty()]),
        );
    }
}

/// A path item: its operations keyed by HTTP method, and the parameters they share.
fn path_item(
    gv: &GroupVersion<'_>,
    kind: &str,
    operations: &[Operation<'_>],
    parameters: &[Value],
) -> Value {
    let mut item = Map::new();
    for operation in operations {
        item.insert(
            operation.verb.method().into(),
            operation_object(gv, kind, operation),
        );
    }
    item.insert("parameters".into(), Value::Array(parameters.to_vec()));
    Value::Object(item)
}

fn operation_object(gv: &GroupVersion<'_>, kind: &str, operation: &Operation<'_>) -> Value {
    let verb = operation.verb;
    let (id_verb, description) = verb.words();
    let (scope, suffix) = operation.id_words;
    let operation_id = format!("{id_verb}{}{scope}{kind}{suffix}", gv.op_infix);
    let target = match suffix {
        "Status" => format!("status of the specified {kind}"),
        "Scale" => format!("scale of the specified {kind}"),
        _ => kind.to_string(),
    };
    let description = if suffix.is_empty() {
        format!("{description} {target}")
    } else {
        format!(
            "{} {target}",
            description
                .trim_end_matches(" the specified")
                .trim_end_matches(" a")
        )
    };
    let (group, version, gvk_kind) = operation.gvk;
    let mut object = json!({
        "tags": [gv.tag],
        "description": description,
        "operationId": operation_id,
        "parameters": query_params(verb),
        "responses": responses(verb, operation.schema),
        "x-kubernetes-action": verb.action(),
        "x-kubernetes-group-version-kind": {"group": group, "kind": gvk_kind, "version": version},
    });
    let body = match verb {
        Verb::Create | Verb::Replace => Some(content(&["*/*"], operation.schema)),
        Verb::Patch => Some(content(PATCH_CONTENT_TYPES, PATCH)),
        Verb::Delete | Verb::DeleteCollection => Some(content(&["*/*"], DELETE_OPTIONS)),
        Verb::List | Verb::Read => None,
    };
    if let (Some(body), Value::Object(map)) = (body, &mut object) {
        let required = matches!(verb, Verb::Create | Verb::Replace | Verb::Patch);
        map.insert(
            "requestBody".into(),
            json!({"content": body, "required": required}),
        );
    }
    object
}

fn content(media_types: &[&str], schema: &str) -> Value {
    media_types
        .iter()
        .map(|media| (media.to_string(), json!({"schema": reference(schema)})))
        .collect::<Map<_, _>>()
        .into()
}

fn responses(verb: Verb, schema: &str) -> Value {
    let ok = |description: &str| json!({"description": description, "content": content(&["application/json"], schema)});
    let mut responses = Map::new();
    responses.insert("200".into(), ok("OK"));
    match verb {
        Verb::Create => {
            responses.insert("201".into(), ok("Created"));
            responses.insert("202".into(), ok("Accepted"));
        }
        Verb::Replace | Verb::Patch => {
            responses.insert("201".into(), ok("Created"));
        }
        Verb::Delete => {
            responses.insert("202".into(), ok("Accepted"));
        }
        Verb::List | Verb::Read | Verb::DeleteCollection => {}
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    Value::Object(responses)
}

/// The query parameters of an operation.
fn query_params(verb: Verb) -> Vec<Value> {
    match verb {
        Verb::List => parameters::list(),
        Verb::Read => Vec::new(),
        Verb::Create | Verb::Replace => parameters::write(),
        Verb::Patch => parameters::patch(),
        Verb::Delete => parameters::delete(),
        Verb::DeleteCollection => parameters::delete_collection(),
    }
}

/// Names of every schema a document holds.
#[cfg(test)]
pub(super) fn component_names(document: &Value) -> std::collections::BTreeSet<&str> {
    document["components"]["schemas"]
        .as_object()
        .map(|s| s.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// A 128-bit FNV-1a digest in upper-case hex: a stable content hash for the document URLs,
/// so clients' HTTP caches see a new URL whenever a document changes.
pub(super) fn content_hash(bytes: &[u8]) -> String {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let hash = bytes.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u128::from(*byte)).wrapping_mul(PRIME)
    });
    format!("{hash:032X}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_versions_name_operations_like_upstream() {
        let cases = [
            ("", "v1", "/api/v1", "CoreV1", "core_v1"),
            ("apps", "v1", "/apis/apps/v1", "AppsV1", "apps_v1"),
            (
                "rbac.authorization.k8s.io",
                "v1",
                "/apis/rbac.authorization.k8s.io/v1",
                "RbacAuthorizationV1",
                "rbacAuthorization_v1",
            ),
            (
                "stable.example.com",
                "v1beta1",
                "/apis/stable.example.com/v1beta1",
                "StableExampleComV1beta1",
                "stableExampleCom_v1beta1",
            ),
        ];
        for (group, version, prefix, infix, tag) in cases {
            let gv = GroupVersion::new(group, version);
            assert_eq!(
                (gv.prefix.as_str(), gv.op_infix.as_str(), gv.tag.as_str()),
                (prefix, infix, tag)
            );
        }
    }

    #[test]
    fn content_hash_is_fnv1a_128() {
        assert_eq!(content_hash(b""), "6C62272E07BB014262B821756295C58D");
        assert_eq!(content_hash(b"a"), "D228CB696F1A8CAF78912B704E4A8964");
        assert_ne!(content_hash(b"{\"a\":1}"), content_hash(b"{\"a\":2}"));
    }

    #[test]
    fn closure_follows_references_transitively() {
        let native = NativeSchemas::generate();
        let mut paths = Map::new();
        paths.insert(
            "/x".into(),
            json!({"get": {"schema": reference("io.k8s.api.apps.v1.Deployment")}}),
        );
        let components = closure(&paths, &BTreeMap::new(), native.components());
        for name in [
            "io.k8s.api.apps.v1.Deployment",
            "io.k8s.api.core.v1.Container",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        ] {
            assert!(components.contains_key(name), "{name} missing");
        }
        assert!(!components.contains_key("io.k8s.api.core.v1.Node"));
    }
}
