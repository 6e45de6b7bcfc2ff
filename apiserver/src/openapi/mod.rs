//! OpenAPI v3 documents (`/openapi/v3`) and schema-based field validation of request bodies.
//!
//! kubectl needs the documents to create or apply anything: it reads a group-version's
//! document to learn that the server validates fields itself (a PATCH operation with the
//! object's GVK and a `fieldValidation` parameter), and `kubectl explain` walks its schemas.

mod custom;
mod document;
mod fields;
mod parameters;
mod schemas;
pub mod v2;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::registry::catalog::{Catalog, Origin, Resource};
use schemas::NativeSchemas;

/// Generated OpenAPI documents, cached per group-version; cheap to clone and share.
#[derive(Clone)]
pub struct OpenApi {
    inner: Arc<Inner>,
}

struct Inner {
    native: NativeSchemas,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    /// The catalog generation the documents were last checked against.
    generation: Option<u64>,
    documents: HashMap<(String, String), Cached>,
    /// The encoded `/openapi/v2` document and the generation it was built for.
    v2: Option<(u64, Bytes)>,
}

/// One group-version's document and what it was built from.
struct Cached {
    resources: Vec<Arc<Resource>>,
    document: Arc<Value>,
    json: Bytes,
    hash: String,
}

impl Default for OpenApi {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenApi {
    /// Generates the schemas of every native kind (a few milliseconds).
    pub fn new() -> Self {
        OpenApi {
            inner: Arc::new(Inner {
                native: NativeSchemas::generate(),
                cache: Mutex::new(Cache::default()),
            }),
        }
    }

    /// The `/openapi/v3` discovery document: every served group-version and the URL of its
    /// document, which carries a content hash so it changes whenever the document does.
    pub fn root(&self, catalog: &Catalog) -> Value {
        let cache = self.refreshed(catalog);
        let mut entries: Vec<(String, String)> = cache
            .documents
            .iter()
            .map(|((group, version), cached)| {
                let path = gv_path(group, version);
                let url = format!("/openapi/v3/{path}?hash={}", cached.hash);
                (path, url)
            })
            .collect();
        entries.sort();
        let paths: Map<String, Value> = entries
            .into_iter()
            .map(|(path, url)| (path, serde_json::json!({ "serverRelativeURL": url })))
            .collect();
        serde_json::json!({ "paths": paths })
    }

    /// The document of `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`; `None`
    /// when the group-version is not served.
    pub fn group_version(
        &self,
        catalog: &Catalog,
        group: &str,
        version: &str,
    ) -> Option<Arc<Value>> {
        let cache = self.refreshed(catalog);
        cache
            .documents
            .get(&(group.to_string(), version.to_string()))
            .map(|c| c.document.clone())
    }

    /// The same document already serialized as JSON, with its content hash (the `hash` query
    /// parameter of its URL in [`OpenApi::root`]).
    pub fn group_version_json(
        &self,
        catalog: &Catalog,
        group: &str,
        version: &str,
    ) -> Option<(Bytes, String)> {
        let cache = self.refreshed(catalog);
        cache
            .documents
            .get(&(group.to_string(), version.to_string()))
            .map(|c| (c.json.clone(), c.hash.clone()))
    }

    /// Paths of the fields in `object` that the kind's schema does not know, as kubectl prints
    /// them (`spec.template.spec.containers[0].imagee`). `apiVersion`, `kind` and the fields of
    /// ObjectMeta are always known; CRD schemas allow more where they say
    /// `x-kubernetes-preserve-unknown-fields`, and a CRD without a schema allows everything.
    pub fn unknown_fields(&self, resource: &Resource, object: &Value) -> Vec<String> {
        self.unknown_paths(resource, object)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Removes every field [`OpenApi::unknown_fields`] reports, as the server does for the
    /// Warn and Ignore field-validation directives.
    pub fn prune(&self, resource: &Resource, object: &mut Value) {
        let paths = self.unknown_paths(resource, object);
        fields::remove(object, &paths);
    }

    fn unknown_paths(&self, resource: &Resource, object: &Value) -> Vec<fields::FieldPath> {
        let native = &self.inner.native;
        let components = native.components();
        match &resource.origin {
            Origin::Custom {
                schema: Some(schema),
                ..
            } if !custom::preserves_everything(resource) => {
                fields::unknown_fields(schema, false, components, object)
            }
            Origin::Custom { .. } => preserved_root(components, object),
            Origin::Native => match native.kind(&resource.group, &resource.version, &resource.kind)
            {
                Some(name) => fields::unknown_fields(&components[name], true, components, object),
                None => Vec::new(),
            },
        }
    }

    /// The cache, with every group-version whose resources changed since the last look rebuilt.
    fn refreshed(&self, catalog: &Catalog) -> MutexGuard<'_, Cache> {
        let mut cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let generation = catalog.generation();
        if cache.generation == Some(generation) {
            return cache;
        }
        let mut served: BTreeMap<(String, String), Vec<Arc<Resource>>> = BTreeMap::new();
        for resource in catalog.all() {
            served
                .entry((resource.group.clone(), resource.version.clone()))
                .or_default()
                .push(resource);
        }
        cache.documents.retain(|gv, cached| {
            served
                .get(gv)
                .is_some_and(|now| same_resources(now, &cached.resources))
        });
        for (gv, resources) in served {
            if cache.documents.contains_key(&gv) {
                continue;
            }
            let document = document::build(&gv.0, &gv.1, &resources, &self.inner.native);
            let json =
                Bytes::from(serde_json::to_vec(&document).expect("a JSON value always serializes"));
            let hash = document::content_hash(&json);
            cache.documents.insert(
                gv,
                Cached {
                    resources,
                    document: Arc::new(document),
                    json,
                    hash,
                },
            );
        }
        cache.generation = Some(generation);
        cache
    }
}

/// Unknown fields of an object whose schema keeps every field: only metadata is checked.
fn preserved_root(components: &Map<String, Value>, object: &Value) -> Vec<fields::FieldPath> {
    let schema =
        serde_json::json!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true });
    fields::unknown_fields(&schema, false, components, object)
}

fn same_resources(a: &[Arc<Resource>], b: &[Arc<Resource>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| Arc::ptr_eq(a, b) || a == b)
}

/// The key of a group-version in `/openapi/v3`: `api/v1` or `apis/<group>/<version>`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Follows `$ref` and single-element `allOf` the way kubectl explain does.
    fn resolve<'a>(document: &'a Value, mut schema: &'a Value) -> &'a Value {
        loop {
            let target = schema["$ref"]
                .as_str()
                .or_else(|| schema["allOf"][0]["$ref"].as_str());
            match target.and_then(|t| t.strip_prefix("#/components/schemas/")) {
                Some(name) => schema = &document["components"]["schemas"][name],
                None => return schema,
            }
        }
    }

    /// The PATCH operations that kubectl's field-validation check would look at for a GVK.
    fn patch_operations<'a>(document: &'a Value, gvk: &Value) -> Vec<&'a Value> {
        let paths = document["paths"].as_object().expect("paths");
        paths
            .values()
            .filter_map(|item| item.get("patch"))
            .filter(|op| op["x-kubernetes-group-version-kind"] == *gvk)
            .collect()
    }

    fn deployment(spec: &Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "labels": {"app": "web"}, "managedFields": [
                   {"manager": "kubectl", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]},
               "spec": spec})
    }

    fn crontab_resource(schema: Option<Value>) -> Resource {
        custom::tests::crontab(schema)
    }

    fn crontab_schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "cronSpec": {"type": "string", "description": "When to run."},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        }}}})
    }

    #[test]
    fn root_lists_every_group_version_with_a_hashed_url() {
        let openapi = OpenApi::new();
        let root = openapi.root(&Catalog::with_native());
        for path in [
            "api/v1",
            "apis/apps/v1",
            "apis/autoscaling/v2",
            "apis/apiextensions.k8s.io/v1",
        ] {
            let url = root["paths"][path]["serverRelativeURL"]
                .as_str()
                .expect(path);
            assert!(
                url.starts_with(&format!("/openapi/v3/{path}?hash=")),
                "{url}"
            );
        }
        let (_, hash) = openapi
            .group_version_json(&Catalog::with_native(), "apps", "v1")
            .expect("apps/v1");
        assert_eq!(
            root["paths"]["apis/apps/v1"]["serverRelativeURL"],
            format!("/openapi/v3/apis/apps/v1?hash={hash}")
        );
    }

    #[test]
    fn deployment_patch_declares_field_validation_without_strategic_merge() {
        let catalog = Catalog::with_native();
        let document = OpenApi::new()
            .group_version(&catalog, "apps", "v1")
            .expect("apps/v1 served");
        assert_eq!(document["openapi"], "3.0.0");
        let gvk = json!({"group": "apps", "kind": "Deployment", "version": "v1"});
        let patches = patch_operations(&document, &gvk);
        assert_eq!(patches.len(), 2, "item and status");
        for op in patches {
            let params: Vec<_> = op["parameters"]
                .as_array()
                .expect("params")
                .iter()
                .map(|p| (p["name"].as_str(), p["in"].as_str()))
                .collect();
            for name in ["dryRun", "fieldManager", "fieldValidation", "force"] {
                assert!(
                    params.contains(&(Some(name), Some("query"))),
                    "{name} missing in {params:?}"
                );
            }
            assert_eq!(op["x-kubernetes-action"], "patch");
            let content = op["requestBody"]["content"].as_object().expect("content");
            assert!(content.contains_key("application/merge-patch+json"));
            assert!(!content.contains_key("application/strategic-merge-patch+json"));
        }
        let scale = json!({"group": "autoscaling", "kind": "Scale", "version": "v1"});
        assert_eq!(
            patch_operations(&document, &scale).len(),
            3,
            "deployments, replicasets, statefulsets"
        );
        let item = &document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
        assert_eq!(item["get"]["operationId"], "readAppsV1NamespacedDeployment");
        assert!(document["paths"]["/apis/apps/v1/deployments"]["get"].is_object());
    }

    #[test]
    fn explain_reaches_spec_replicas_with_a_description() {
        let catalog = Catalog::with_native();
        let document = OpenApi::new()
            .group_version(&catalog, "apps", "v1")
            .expect("apps/v1 served");
        let deployment = &document["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            deployment["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        let spec = resolve(&document, &deployment["properties"]["spec"]);
        let replicas = &spec["properties"]["replicas"];
        assert!(
            replicas["description"]
                .as_str()
                .is_some_and(|d| d.contains("desired pods"))
        );
        let container = resolve(
            &document,
            &resolve(
                &document,
                &resolve(&document, &spec["properties"]["template"])["properties"]["spec"],
            )["properties"]["containers"]["items"],
        );
        assert_eq!(container["properties"]["image"]["type"], "string");
    }

    #[test]
    fn every_reference_resolves_inside_its_document() {
        let catalog = Catalog::with_native();
        catalog.insert(crontab_resource(Some(crontab_schema())));
        let openapi = OpenApi::new();
        for resource in catalog.all() {
            let document = openapi
                .group_version(&catalog, &resource.group, &resource.version)
                .expect("served");
            let names = document::component_names(&document);
            let mut refs = Vec::new();
            collect(&document, &mut refs);
            for r in refs {
                let name = r
                    .strip_prefix("#/components/schemas/")
                    .expect("component ref");
                assert!(
                    names.contains(name),
                    "{} lacks {name}",
                    resource.api_version()
                );
            }
        }
        fn collect(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => map.iter().for_each(|(k, v)| match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect(v, out),
                }),
                Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
                _ => {}
            }
        }
    }

    #[test]
    fn unknown_deployment_fields_are_found_and_pruned() {
        let openapi = OpenApi::new();
        let catalog = Catalog::with_native();
        let resource = catalog
            .get("apps", "v1", "deployments")
            .expect("deployments");
        let template = json!({"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "imagee": "nginx", "ports": [{"containerPort": 80}]}]}});
        let mut object = deployment(
            &json!({"replica": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template}),
        );
        assert_eq!(
            openapi.unknown_fields(&resource, &object),
            ["spec.replica", "spec.template.spec.containers[0].imagee"]
        );
        openapi.prune(&resource, &mut object);
        assert!(openapi.unknown_fields(&resource, &object).is_empty());
        assert_eq!(
            object["spec"]["template"]["spec"]["containers"][0],
            json!({"name": "web", "ports": [{"containerPort": 80}]})
        );
        let valid =
            deployment(&json!({"replicas": 1, "strategy": {"rollingUpdate": {"maxSurge": "25%"}}}));
        assert!(openapi.unknown_fields(&resource, &valid).is_empty());
        let pod = catalog.get("", "v1", "pods").expect("pods");
        let resources = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "c", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}, "status": {"phase": "Running"}});
        assert!(openapi.unknown_fields(&pod, &resources).is_empty());
    }

    #[test]
    fn realistic_manifests_have_no_unknown_fields() {
        let openapi = OpenApi::new();
        let catalog = Catalog::with_native();
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {"group": "stable.example.com", "scope": "Namespaced",
            "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab", "shortNames": ["ct"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                        "statusReplicasPath": ".status.replicas"}},
                "additionalPrinterColumns": [{"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"}],
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                    "required": ["cronSpec"],
                    "properties": {
                        "cronSpec": {"type": "string", "pattern": "^\\S+$", "default": "* * * * *"},
                        "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "open": {"type": "object", "additionalProperties": true},
                        "mode": {"type": "string", "enum": ["a", "b"]},
                    },
                    "x-kubernetes-validations": [{"rule": "self.cronSpec != ''", "message": "empty"}],
                }}}}}],
        }});
        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http", "protocol": "TCP"}]}});
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "type": "Opaque", "stringData": {"a": "b"}, "data": {"c": "ZA=="}});
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "annotations": {"kwok.x-k8s.io/node": "fake"}},
            "status": {"capacity": {"cpu": "1k", "pods": "1M"}, "conditions": [{"type": "Ready", "status": "True"}]}});
        let cases = [
            (
                ("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
                crd,
            ),
            (("", "v1", "services"), service),
            (("", "v1", "secrets"), secret),
            (("", "v1", "nodes"), node),
        ];
        for ((group, version, plural), object) in &cases {
            let resource = catalog.get(group, version, plural).expect("served");
            assert_eq!(
                openapi.unknown_fields(&resource, object),
                Vec::<String>::new(),
                "{plural}"
            );
        }
        let mut typo = cases[0].1.clone();
        typo["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["tpye"] =
            json!("object");
        let crds = catalog
            .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .expect("served");
        assert_eq!(
            openapi.unknown_fields(&crds, &typo),
            ["spec.versions[0].schema.openAPIV3Schema.properties.spec.tpye"]
        );
    }

    #[test]
    fn custom_resources_validate_against_their_crd_schema() {
        let openapi = OpenApi::new();
        let object = json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
                            "metadata": {"name": "c", "nmae": "x"},
                            "spec": {"cronSpec": "* * * * *", "image": "x", "extra": {"any": {"thing": 1}}}});
        let typed = crontab_resource(Some(crontab_schema()));
        assert_eq!(
            openapi.unknown_fields(&typed, &object),
            ["metadata.nmae", "spec.image"]
        );
        let schemaless = crontab_resource(None);
        assert_eq!(
            openapi.unknown_fields(&schemaless, &object),
            ["metadata.nmae"]
        );
        let mut root_preserving = crontab_schema();
        root_preserving["x-kubernetes-preserve-unknown-fields"] = json!(true);
        // Preserving applies to one level only: `spec` below it still has a closed schema.
        let mut pruned = object;
        pruned["top"] = json!({"level": true});
        openapi.prune(&crontab_resource(Some(root_preserving)), &mut pruned);
        assert_eq!(pruned["top"], json!({"level": true}));
        assert!(pruned["spec"].get("image").is_none());
        assert!(pruned["metadata"].get("nmae").is_none());
    }

    #[test]
    fn crd_documents_follow_the_catalog() {
        let openapi = OpenApi::new();
        let catalog = Catalog::with_native();
        let apps_before = openapi
            .group_version(&catalog, "apps", "v1")
            .expect("apps/v1");
        assert!(
            openapi
                .group_version(&catalog, "stable.example.com", "v1")
                .is_none()
        );

        catalog.insert(crontab_resource(Some(crontab_schema())));
        let root = openapi.root(&catalog);
        let first_url = root["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"].clone();
        assert!(first_url.is_string());
        let document = openapi
            .group_version(&catalog, "stable.example.com", "v1")
            .expect("CRD served");
        let schema = &document["components"]["schemas"]["com.example.stable.v1.CronTab"];
        assert_eq!(
            schema["x-kubernetes-group-version-kind"][0]["kind"],
            "CronTab"
        );
        assert_eq!(
            schema["properties"]["spec"]["properties"]["cronSpec"]["description"],
            "When to run."
        );
        assert!(
            document["components"]["schemas"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
                .is_object()
        );
        let gvk = json!({"group": "stable.example.com", "kind": "CronTab", "version": "v1"});
        let patches = patch_operations(&document, &gvk);
        assert_eq!(patches.len(), 1);
        assert!(
            patches[0]["parameters"]
                .as_array()
                .expect("params")
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        let apps_after = openapi
            .group_version(&catalog, "apps", "v1")
            .expect("apps/v1");
        assert!(
            Arc::ptr_eq(&apps_before, &apps_after),
            "native documents are not rebuilt"
        );

        let mut changed = crontab_schema();
        changed["properties"]["spec"]["properties"]["timezone"] = json!({"type": "string"});
        catalog.insert(crontab_resource(Some(changed)));
        let root = openapi.root(&catalog);
        assert_ne!(
            root["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"],
            first_url
        );

        catalog.remove_crd("crontabs.stable.example.com");
        assert!(
            openapi.root(&catalog)["paths"]
                .get("apis/stable.example.com/v1")
                .is_none()
        );
        assert!(
            openapi
                .group_version(&catalog, "stable.example.com", "v1")
                .is_none()
        );
    }
}
