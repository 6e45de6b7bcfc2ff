//! The component schemas of every native kind, generated once from k8s-openapi's JSON schemas.

use std::collections::BTreeSet;

use k8s_openapi::api::{
    apps, authentication, authorization, autoscaling, batch, certificates, coordination, core,
    discovery, events, networking, policy, rbac, scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

/// Where `$ref`s point in an OpenAPI v3 document.
pub(super) const REF_PREFIX: &str = "#/components/schemas/";

pub(super) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
pub(super) const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
pub(super) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(super) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(super) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub(super) const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this \
    representation of an object. Servers should convert recognized schemas to the latest \
    internal value, and may reject unrecognized values.";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this \
    object represents. Servers may infer this from the endpoint the client submits requests \
    to. In CamelCase.";

/// One native kind and the name of its component schema.
struct Kind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    schema: String,
}

type Register = fn(&mut SchemaGenerator) -> Kind;

/// Adds `T`'s schema (and everything it references) to the generator.
fn register<T: k8s_openapi::Resource + JsonSchema>(generator: &mut SchemaGenerator) -> Kind {
    generator.subschema_for::<T>();
    Kind {
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
        schema: T::schema_name().into_owned(),
    }
}

/// Every kind of `registry::native`, as k8s-openapi types; group, version and kind come from
/// the types themselves so the table cannot disagree with them.
const KINDS: &[Register] = &[
    register::<core::v1::Pod>,
    register::<core::v1::Service>,
    register::<core::v1::Endpoints>,
    register::<core::v1::Namespace>,
    register::<core::v1::Node>,
    register::<core::v1::ConfigMap>,
    register::<core::v1::Secret>,
    register::<core::v1::ServiceAccount>,
    register::<core::v1::PersistentVolume>,
    register::<core::v1::PersistentVolumeClaim>,
    register::<core::v1::Event>,
    register::<core::v1::LimitRange>,
    register::<core::v1::ResourceQuota>,
    register::<core::v1::ReplicationController>,
    register::<core::v1::PodTemplate>,
    register::<apps::v1::Deployment>,
    register::<apps::v1::ReplicaSet>,
    register::<apps::v1::StatefulSet>,
    register::<apps::v1::DaemonSet>,
    register::<apps::v1::ControllerRevision>,
    register::<batch::v1::Job>,
    register::<batch::v1::CronJob>,
    register::<autoscaling::v2::HorizontalPodAutoscaler>,
    register::<autoscaling::v1::HorizontalPodAutoscaler>,
    register::<networking::v1::Ingress>,
    register::<networking::v1::IngressClass>,
    register::<networking::v1::NetworkPolicy>,
    register::<discovery::v1::EndpointSlice>,
    register::<rbac::v1::Role>,
    register::<rbac::v1::RoleBinding>,
    register::<rbac::v1::ClusterRole>,
    register::<rbac::v1::ClusterRoleBinding>,
    register::<coordination::v1::Lease>,
    register::<certificates::v1::CertificateSigningRequest>,
    register::<events::v1::Event>,
    register::<policy::v1::PodDisruptionBudget>,
    register::<storage::v1::StorageClass>,
    register::<storage::v1::VolumeAttachment>,
    register::<storage::v1::CSIDriver>,
    register::<storage::v1::CSINode>,
    register::<scheduling::v1::PriorityClass>,
    register::<apiextensions::CustomResourceDefinition>,
    register::<authorization::v1::SelfSubjectAccessReview>,
    register::<authorization::v1::SelfSubjectRulesReview>,
    register::<authorization::v1::SubjectAccessReview>,
    register::<authorization::v1::LocalSubjectAccessReview>,
    register::<authentication::v1::SelfSubjectReview>,
    register::<autoscaling::v1::Scale>,
];

/// The component schemas of all native kinds and the meta types their operations use.
pub(super) struct NativeSchemas {
    /// Component name -> schema, with `x-kubernetes-group-version-kind` on every kind.
    components: Map<String, Value>,
    /// Every native kind (not Scale, which is only a subresource body).
    kinds: Vec<Kind>,
}

impl NativeSchemas {
    /// Generates every schema; takes a few milliseconds.
    pub(super) fn generate() -> Self {
        let mut generator = SchemaSettings::openapi3().into_generator();
        let kinds: Vec<Kind> = KINDS
            .iter()
            .map(|register| register(&mut generator))
            .collect();
        generator.subschema_for::<meta::DeleteOptions>();
        generator.subschema_for::<meta::Status>();
        generator.subschema_for::<meta::Patch>();
        generator.subschema_for::<meta::ListMeta>();
        let mut components = generator.take_definitions(true);

        for kind in &kinds {
            set_gvk(
                &mut components,
                &kind.schema,
                &[(kind.group, kind.version, kind.kind)],
            );
            // Scale is only a subresource's body: nothing is listed as a ScaleList.
            if kind.schema != SCALE {
                let list = list_schema(&kind.schema, kind.group, kind.version, kind.kind);
                components.insert(format!("{}List", kind.schema), list);
            }
        }
        // DeleteOptions is accepted by every group-version, as upstream declares.
        let group_versions: BTreeSet<(&str, &str)> =
            kinds.iter().map(|k| (k.group, k.version)).collect();
        let delete_gvks: Vec<_> = group_versions
            .iter()
            .map(|(g, v)| (*g, *v, "DeleteOptions"))
            .collect();
        set_gvk(&mut components, DELETE_OPTIONS, &delete_gvks);
        set_gvk(&mut components, STATUS, &[("", "v1", "Status")]);

        let kinds = kinds.into_iter().filter(|k| k.schema != SCALE).collect();
        NativeSchemas { components, kinds }
    }

    /// Every component schema by name.
    pub(super) fn components(&self) -> &Map<String, Value> {
        &self.components
    }

    /// The component name of a native kind's schema.
    pub(super) fn kind(&self, group: &str, version: &str, kind: &str) -> Option<&str> {
        self.kinds
            .iter()
            .find(|k| k.group == group && k.version == version && k.kind == kind)
            .map(|k| k.schema.as_str())
    }
}

/// Sets `x-kubernetes-group-version-kind` on a component, which is how kubectl explain finds
/// the schema of a kind.
fn set_gvk(components: &mut Map<String, Value>, name: &str, gvks: &[(&str, &str, &str)]) {
    if let Some(Value::Object(schema)) = components.get_mut(name) {
        schema.insert("x-kubernetes-group-version-kind".into(), gvk_list(gvks));
    }
}

/// The value of a schema's `x-kubernetes-group-version-kind` extension.
pub(super) fn gvk_list(gvks: &[(&str, &str, &str)]) -> Value {
    gvks.iter()
        .map(|(group, version, kind)| json!({"group": group, "kind": kind, "version": version}))
        .collect()
}

/// A reference to a component schema.
pub(super) fn reference(name: &str) -> Value {
    json!({ "$ref": format!("{REF_PREFIX}{name}") })
}

/// A property that refers to a component and carries its own description, the way upstream
/// documents do it (`$ref` may not have siblings in OpenAPI 3.0).
pub(super) fn described_reference(name: &str, description: &str) -> Value {
    json!({ "description": description, "allOf": [reference(name)] })
}

/// The `apiVersion` property of every kind.
pub(super) fn api_version_property() -> Value {
    json!({ "description": API_VERSION_DESCRIPTION, "type": "string" })
}

/// The `kind` property of every kind.
pub(super) fn kind_property() -> Value {
    json!({ "description": KIND_DESCRIPTION, "type": "string" })
}

/// The schema of `<Kind>List`, whose items are the component `item_schema`.
pub(super) fn list_schema(item_schema: &str, group: &str, version: &str, kind: &str) -> Value {
    json!({
        "description": format!("{kind}List is a list of {kind}."),
        "type": "object",
        "properties": {
            "apiVersion": api_version_property(),
            "items": {
                "description": format!("List of {kind} objects."),
                "type": "array",
                "items": reference(item_schema),
            },
            "kind": kind_property(),
            "metadata": described_reference(LIST_META, "Standard list metadata."),
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": gvk_list(&[(group, version, &format!("{kind}List"))]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::native;

    #[test]
    fn every_native_resource_has_a_schema() {
        let schemas = NativeSchemas::generate();
        for r in native::resources() {
            let name = schemas.kind(&r.group, &r.version, &r.kind);
            let name =
                name.unwrap_or_else(|| panic!("no schema for {}/{}", r.api_version(), r.kind));
            let schema = &schemas.components()[name];
            assert_eq!(
                schema["x-kubernetes-group-version-kind"],
                json!([{"group": r.group, "kind": r.kind, "version": r.version}])
            );
            assert!(schemas.components().contains_key(&format!("{name}List")));
        }
    }

    #[test]
    fn kinds_keep_upstream_names_and_descriptions() {
        let schemas = NativeSchemas::generate();
        assert_eq!(
            schemas.kind("apps", "v1", "Deployment"),
            Some("io.k8s.api.apps.v1.Deployment")
        );
        assert_eq!(
            schemas.kind("", "v1", "Event"),
            Some("io.k8s.api.core.v1.Event")
        );
        assert_eq!(
            schemas.kind("events.k8s.io", "v1", "Event"),
            Some("io.k8s.api.events.v1.Event")
        );
        let spec = &schemas.components()["io.k8s.api.apps.v1.DeploymentSpec"];
        assert!(
            spec["properties"]["replicas"]["description"]
                .as_str()
                .is_some()
        );
        let scale = &schemas.components()[SCALE];
        assert_eq!(
            scale["x-kubernetes-group-version-kind"][0]["group"],
            "autoscaling"
        );
    }

    #[test]
    fn generating_all_schemas_is_fast() {
        let started = std::time::Instant::now();
        NativeSchemas::generate();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
