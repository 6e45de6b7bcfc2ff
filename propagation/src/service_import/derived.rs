//! What the federation derives from an import for consumer clusters, as Karmada does: the
//! Service `derived-<name>` (no selector; the import's ports, headless when the import is) and
//! one `imported-<cluster>-<slice>` EndpointSlice per slice a cluster reports, labelled for the
//! derived Service. A PropagationPolicy that selects the ServiceImport carries both along as
//! its dependencies, so clients inside a consumer cluster see every exporting cluster's
//! endpoints. Pure decisions; the ServiceImport controller writes them.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Service, ServicePort as CorePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use karmada_api::mcs::{
    IMPORTED_SLICE_PREFIX, IMPORTER, LABEL_KUBERNETES_SERVICE_NAME, LABEL_SERVICE_NAME,
    LABEL_SERVICE_NAMESPACE, LABEL_SOURCE_CLUSTER, ServiceImport, ServiceImportType,
    derived_service_name,
};
use kube::ResourceExt;

use super::MANAGED_BY_LABEL;
use super::desired::source_cluster;

/// Longest object name Kubernetes accepts (a DNS subdomain).
const MAX_NAME: usize = 253;

/// The derived Service of `import`, owned like the import by its export.
pub fn derived_service(import: &ServiceImport, owner: &OwnerReference) -> Service {
    let name = derived_service_name(&import.name_any());
    let headless = import.spec.type_ == ServiceImportType::Headless;
    let ports = import
        .spec
        .ports
        .iter()
        .map(|p| CorePort {
            name: p.name.clone(),
            protocol: p.protocol.clone(),
            app_protocol: p.app_protocol.clone(),
            port: p.port,
            ..CorePort::default()
        })
        .collect();
    Service {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: import.metadata.namespace.clone(),
            labels: Some(BTreeMap::from([(
                LABEL_SERVICE_NAME.to_string(),
                import.name_any(),
            )])),
            owner_references: Some(vec![owner.clone()]),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: headless.then(|| "None".to_string()),
            ports: Some(ports),
            session_affinity: import.spec.session_affinity.clone(),
            session_affinity_config: import.spec.session_affinity_config.clone(),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// How a derived Service that exists is brought to the one wanted.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceChange {
    /// Replace it with this: `have` with `want`'s ports, labels and owner, keeping the cluster
    /// IP the apiserver allocated.
    Update(Box<Service>),
    /// Delete it and create `want`: whether a Service is headless cannot change in place.
    Recreate,
}

/// What `have` needs to become `want`, or `None` when it already is.
pub fn updated_service(have: &Service, want: &Service) -> Option<ServiceChange> {
    let have_spec = have.spec.clone().unwrap_or_default();
    let want_spec = want.spec.clone().unwrap_or_default();
    let headless = |s: &ServiceSpec| s.cluster_ip.as_deref() == Some("None");
    let ports = |s: &ServiceSpec| {
        s.ports
            .iter()
            .flatten()
            .map(|p| {
                (
                    p.name.clone(),
                    p.protocol.clone(),
                    p.app_protocol.clone(),
                    p.port,
                )
            })
            .collect::<Vec<_>>()
    };
    let labels_held = want
        .labels()
        .iter()
        .all(|(k, v)| have.labels().get(k) == Some(v));
    let same = headless(&have_spec) == headless(&want_spec)
        && have_spec.selector.as_ref().is_none_or(BTreeMap::is_empty)
        && ports(&have_spec) == ports(&want_spec)
        && have_spec.session_affinity == want_spec.session_affinity
        && labels_held
        && have.metadata.owner_references == want.metadata.owner_references;
    if same {
        return None;
    }
    if headless(&have_spec) != headless(&want_spec) {
        return Some(ServiceChange::Recreate);
    }
    let mut updated = have.clone();
    let spec = updated.spec.get_or_insert_with(ServiceSpec::default);
    spec.selector = None;
    spec.ports = want_spec.ports;
    spec.session_affinity = want_spec.session_affinity;
    spec.session_affinity_config = want_spec.session_affinity_config;
    updated.labels_mut().extend(want.labels().clone());
    updated.metadata.owner_references = want.metadata.owner_references.clone();
    Some(ServiceChange::Update(Box::new(updated)))
}

/// The name of the slice imported from `cluster`'s reported slice `reported` (named
/// `<namespace>.<member slice>`); too long a name keeps a hash of the rest instead.
pub fn imported_slice_name(cluster: &str, reported: &str) -> String {
    let slice = reported.split_once('.').map_or(reported, |(_, s)| s);
    let name = format!("{IMPORTED_SLICE_PREFIX}{cluster}-{slice}");
    if name.len() <= MAX_NAME {
        return name;
    }
    let hash = crate::binding::name::fnv32a(name.as_bytes());
    let keep = MAX_NAME - 9;
    let mut cut = keep;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-{hash:08x}", name[..cut].trim_end_matches(['-', '.']))
}

/// The imported slices of the Service `namespace`/`name`, by name: one per slice reported by a
/// cluster among `clusters` (name -> Ready). Endpoints of a cluster that is not Ready are
/// imported not ready, so consumers stop using them without losing them. Pod references and
/// node names are dropped: they name objects of another cluster.
pub fn imported_slices<'a>(
    namespace: &str,
    name: &str,
    reported: impl IntoIterator<Item = &'a EndpointSlice>,
    clusters: &BTreeMap<String, bool>,
    owner: &OwnerReference,
) -> BTreeMap<String, EndpointSlice> {
    reported
        .into_iter()
        .filter(|s| {
            s.labels().get(LABEL_SERVICE_NAMESPACE).map(String::as_str) == Some(namespace)
                && s.labels().get(LABEL_SERVICE_NAME).map(String::as_str) == Some(name)
        })
        .filter_map(|s| {
            let cluster = source_cluster(s)?;
            let ready = *clusters.get(&cluster)?;
            let slice_name = imported_slice_name(&cluster, &s.name_any());
            let labels = BTreeMap::from([
                (
                    LABEL_KUBERNETES_SERVICE_NAME.to_string(),
                    derived_service_name(name),
                ),
                (LABEL_SOURCE_CLUSTER.to_string(), cluster),
                (LABEL_SERVICE_NAME.to_string(), name.to_string()),
                (MANAGED_BY_LABEL.to_string(), IMPORTER.to_string()),
            ]);
            let endpoints = s
                .endpoints
                .iter()
                .map(|e| Endpoint {
                    addresses: e.addresses.clone(),
                    conditions: Some(imported_conditions(e.conditions.as_ref(), ready)),
                    hostname: e.hostname.clone(),
                    zone: e.zone.clone(),
                    ..Endpoint::default()
                })
                .collect();
            let slice = EndpointSlice {
                metadata: ObjectMeta {
                    name: Some(slice_name.clone()),
                    namespace: Some(namespace.to_string()),
                    labels: Some(labels),
                    owner_references: Some(vec![owner.clone()]),
                    ..ObjectMeta::default()
                },
                address_type: s.address_type.clone(),
                endpoints,
                ports: s.ports.clone(),
            };
            Some((slice_name, slice))
        })
        .collect()
}

/// An endpoint's conditions in a consumer: as reported while its cluster is Ready, not ready
/// (and not serving) otherwise. Kubernetes reads an absent `ready` as ready.
fn imported_conditions(
    reported: Option<&EndpointConditions>,
    cluster_ready: bool,
) -> EndpointConditions {
    let mut conditions = reported.cloned().unwrap_or_default();
    if !cluster_ready {
        conditions.ready = Some(false);
        conditions.serving = Some(false);
    }
    conditions
}

/// Whether `have` already holds what `want` says (labels this controller sets, owner and
/// content); other labels and annotations are left to whoever set them.
pub fn slice_up_to_date(have: &EndpointSlice, want: &EndpointSlice) -> bool {
    want.labels()
        .iter()
        .all(|(k, v)| have.labels().get(k) == Some(v))
        && have.metadata.owner_references == want.metadata.owner_references
        && have.address_type == want.address_type
        && have.endpoints == want.endpoints
        && have.ports == want.ports
}

/// The imported slices among `existing` of the Service `namespace`/`name` that `want` no
/// longer has, by name.
pub fn surplus_slices<'a>(
    namespace: &str,
    name: &str,
    existing: impl IntoIterator<Item = &'a EndpointSlice>,
    want: &BTreeMap<String, EndpointSlice>,
) -> BTreeSet<String> {
    existing
        .into_iter()
        .filter(|s| {
            s.namespace().as_deref() == Some(namespace)
                && s.labels().get(LABEL_SERVICE_NAME).map(String::as_str) == Some(name)
                && s.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some(IMPORTER)
        })
        .map(ResourceExt::name_any)
        .filter(|n| !want.contains_key(n))
        .collect()
}

#[cfg(test)]
mod tests;
