//! What an agent reports for its member's exported Services: each member EndpointSlice
//! translated into a slice of the cluster's execution namespace, and the writes that bring the
//! reported slices there.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use karmada_api::execution_namespace;
use karmada_api::mcs::{
    ANNOTATION_SERVICE_IPS, LABEL_SERVICE_NAME, LABEL_SERVICE_NAMESPACE, LABEL_SOURCE_CLUSTER,
    REPORTER, ServiceExport, reported_slice_name,
};
use kube::ResourceExt;

/// The label a member's EndpointSlice names its Service with.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming the controller that manages an EndpointSlice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";

/// A Service of the member by namespace and name.
pub type ServiceKey = (String, String);

/// How the member's Service is reached, which decides the slices' IP annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addressing {
    /// `clusterIP: None`: clients use the endpoints themselves; no annotation.
    Headless,
    /// The comma-separated ClusterIPs the annotation carries.
    ClusterIps(String),
    /// The member has not allocated the ClusterIP yet. Nothing is reported meanwhile, so a
    /// slice without the annotation always means headless to its readers.
    Pending,
}

/// How `service` is reached: `spec.clusterIPs` when set, else `spec.clusterIP`.
pub fn addressing(service: &Service) -> Addressing {
    let spec = service.spec.clone().unwrap_or_default();
    let ips: Vec<String> = match spec.cluster_ips {
        Some(ips) if !ips.is_empty() => ips,
        _ => spec.cluster_ip.into_iter().collect(),
    };
    if ips.iter().any(|ip| ip == "None") {
        return Addressing::Headless;
    }
    let ips: Vec<String> = ips.into_iter().filter(|ip| !ip.is_empty()).collect();
    if ips.is_empty() {
        Addressing::Pending
    } else {
        Addressing::ClusterIps(ips.join(","))
    }
}

/// The slice reported to the federation for the member slice `member` of Service `service`,
/// or `None` when `member` lacks a name, namespace or service label.
///
/// Only what a consumer in another cluster can use is kept: target references, topology hints
/// and the member's own labels mean something only inside the member.
pub fn reported_slice(
    cluster: &str,
    addressing: &Addressing,
    member: &EndpointSlice,
) -> Option<EndpointSlice> {
    let namespace = member.metadata.namespace.as_deref()?;
    let name = member.metadata.name.as_deref()?;
    let service = member.labels().get(SERVICE_NAME_LABEL)?;
    let labels = BTreeMap::from([
        (LABEL_SOURCE_CLUSTER.to_string(), cluster.to_string()),
        (LABEL_SERVICE_NAME.to_string(), service.clone()),
        (LABEL_SERVICE_NAMESPACE.to_string(), namespace.to_string()),
        (MANAGED_BY_LABEL.to_string(), REPORTER.to_string()),
    ]);
    let annotations = match addressing {
        Addressing::ClusterIps(ips) => Some(BTreeMap::from([(
            ANNOTATION_SERVICE_IPS.to_string(),
            ips.clone(),
        )])),
        Addressing::Headless | Addressing::Pending => None,
    };
    let endpoints = member
        .endpoints
        .iter()
        .map(|e| Endpoint {
            addresses: e.addresses.clone(),
            conditions: e.conditions.clone(),
            hostname: e.hostname.clone(),
            node_name: e.node_name.clone(),
            zone: e.zone.clone(),
            ..Endpoint::default()
        })
        .collect();
    Some(EndpointSlice {
        metadata: ObjectMeta {
            name: Some(reported_slice_name(namespace, name)),
            namespace: Some(execution_namespace(cluster)),
            labels: Some(labels),
            annotations,
            ..ObjectMeta::default()
        },
        address_type: member.address_type.clone(),
        endpoints,
        ports: member.ports.clone(),
    })
}

/// Every slice the cluster should report, by name: the member slices of each exported Service
/// whose addressing is known. Slices that carry a source cluster were imported from elsewhere
/// and are never reported back.
pub fn desired<'a>(
    cluster: &str,
    exports: impl IntoIterator<Item = &'a ServiceExport>,
    services: impl IntoIterator<Item = &'a Service>,
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
) -> BTreeMap<String, EndpointSlice> {
    let exported: BTreeSet<ServiceKey> = exports
        .into_iter()
        .filter(|e| e.metadata.deletion_timestamp.is_none())
        .map(|e| (e.namespace().unwrap_or_default(), e.name_any()))
        .collect();
    let addressings: BTreeMap<ServiceKey, Addressing> = services
        .into_iter()
        .map(|s| {
            (
                (s.namespace().unwrap_or_default(), s.name_any()),
                addressing(s),
            )
        })
        .filter(|(key, _)| exported.contains(key))
        .collect();
    slices
        .into_iter()
        .filter(|s| !s.labels().contains_key(LABEL_SOURCE_CLUSTER))
        .filter_map(|slice| {
            let service = slice.labels().get(SERVICE_NAME_LABEL)?;
            let key = (slice.namespace().unwrap_or_default(), service.clone());
            let addressing = addressings.get(&key)?;
            if *addressing == Addressing::Pending {
                return None;
            }
            let reported = reported_slice(cluster, addressing, slice)?;
            Some((reported.name_any(), reported))
        })
        .collect()
}

/// One write to the federation.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    Create(EndpointSlice),
    /// The observed slice with the reported fields replaced (its resourceVersion kept).
    Replace(EndpointSlice),
    Delete(String),
}

impl Write {
    /// The name of the slice written.
    pub fn name(&self) -> String {
        match self {
            Write::Create(s) | Write::Replace(s) => s.name_any(),
            Write::Delete(name) => name.clone(),
        }
    }
}

/// The writes that turn `observed` (the reported slices in the federation, by name) into
/// `desired`; none for a slice that already matches.
pub fn plan(
    desired: BTreeMap<String, EndpointSlice>,
    observed: &BTreeMap<String, EndpointSlice>,
) -> Vec<Write> {
    let mut writes: Vec<Write> = observed
        .keys()
        .filter(|name| !desired.contains_key(*name))
        .map(|name| Write::Delete(name.clone()))
        .collect();
    for (name, want) in desired {
        match observed.get(&name) {
            None => writes.push(Write::Create(want)),
            Some(have) if !matches(&want, have) => writes.push(Write::Replace(updated(have, want))),
            Some(_) => {}
        }
    }
    writes
}

/// Whether `have` carries everything of `want`; labels and annotations others add are theirs.
fn matches(want: &EndpointSlice, have: &EndpointSlice) -> bool {
    let labels_match = want
        .labels()
        .iter()
        .all(|(k, v)| have.labels().get(k) == Some(v));
    labels_match
        && want.annotations().get(ANNOTATION_SERVICE_IPS)
            == have.annotations().get(ANNOTATION_SERVICE_IPS)
        && want.address_type == have.address_type
        && want.endpoints == have.endpoints
        && want.ports == have.ports
}

fn updated(have: &EndpointSlice, want: EndpointSlice) -> EndpointSlice {
    let mut slice = have.clone();
    slice.labels_mut().extend(want.labels().clone());
    match want.annotations().get(ANNOTATION_SERVICE_IPS) {
        Some(ips) => {
            slice
                .annotations_mut()
                .insert(ANNOTATION_SERVICE_IPS.to_string(), ips.clone());
        }
        None => {
            slice.annotations_mut().remove(ANNOTATION_SERVICE_IPS);
        }
    }
    slice.address_type = want.address_type;
    slice.endpoints = want.endpoints;
    slice.ports = want.ports;
    slice
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn service(name: &str, spec: Value) -> Service {
        let mut object = json!({"metadata": {"name": name, "namespace": "shop"}});
        object["spec"] = spec;
        serde_json::from_value(object).unwrap()
    }

    fn member_slice(name: &str, service: &str, ips: &[&str]) -> EndpointSlice {
        let endpoints: Vec<Value> = ips
            .iter()
            .map(|ip| {
                json!({"addresses": [ip], "conditions": {"ready": true}, "nodeName": "n1",
                       "zone": "z1", "hostname": "h",
                       "targetRef": {"kind": "Pod", "name": "p", "namespace": "shop"},
                       "hints": {"forZones": [{"name": "z1"}]}})
            })
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "shop", "resourceVersion": "7",
                         "labels": {SERVICE_NAME_LABEL: service, MANAGED_BY_LABEL: "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        }))
        .unwrap()
    }

    fn export(name: &str) -> ServiceExport {
        serde_json::from_value(json!({
            "apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport",
            "metadata": {"name": name, "namespace": "shop"},
        }))
        .unwrap()
    }

    #[test]
    fn addressing_follows_the_cluster_ips() {
        for (spec, want) in [
            (json!({"clusterIP": "None"}), Addressing::Headless),
            (
                json!({"clusterIP": "None", "clusterIPs": ["None"]}),
                Addressing::Headless,
            ),
            (
                json!({"clusterIP": "10.96.0.5"}),
                Addressing::ClusterIps("10.96.0.5".into()),
            ),
            (
                json!({"clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5", "fd00::5"]}),
                Addressing::ClusterIps("10.96.0.5,fd00::5".into()),
            ),
            (json!({"clusterIP": ""}), Addressing::Pending),
            (json!({}), Addressing::Pending),
        ] {
            assert_eq!(addressing(&service("web", spec.clone())), want, "{spec}");
        }
    }

    #[test]
    fn a_member_slice_is_relabelled_for_the_cluster_set() {
        let slice = member_slice("web-slice", "web", &["10.244.0.10"]);
        let ips = Addressing::ClusterIps("10.96.0.5".into());
        let reported = reported_slice("member1", &ips, &slice).unwrap();
        let got = serde_json::to_value(&reported).unwrap();
        assert_eq!(
            got,
            json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {
                    "name": "shop.web-slice", "namespace": "karmada-es-member1",
                    "labels": {LABEL_SOURCE_CLUSTER: "member1", LABEL_SERVICE_NAME: "web",
                               LABEL_SERVICE_NAMESPACE: "shop", MANAGED_BY_LABEL: REPORTER},
                    "annotations": {ANNOTATION_SERVICE_IPS: "10.96.0.5"},
                },
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["10.244.0.10"], "conditions": {"ready": true},
                               "hostname": "h", "nodeName": "n1", "zone": "z1"}],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            })
        );
        let headless = reported_slice("member1", &Addressing::Headless, &slice).unwrap();
        assert_eq!(headless.metadata.annotations, None);
        let mut unlabelled = slice;
        unlabelled.labels_mut().remove(SERVICE_NAME_LABEL);
        assert_eq!(reported_slice("member1", &ips, &unlabelled), None);
    }

    #[test]
    fn only_exported_services_with_known_addressing_are_reported() {
        let services = [
            service("web", json!({"clusterIP": "10.96.0.5"})),
            service("db", json!({"clusterIP": "None"})),
            service("new", json!({})),
            service("private", json!({"clusterIP": "10.96.0.9"})),
        ];
        let mut imported = member_slice("remote", "web", &["10.1.0.1"]);
        imported
            .labels_mut()
            .insert(LABEL_SOURCE_CLUSTER.into(), "member2".into());
        let slices = [
            member_slice("web-a", "web", &["10.244.0.1"]),
            member_slice("web-b", "web", &["10.244.0.2"]),
            member_slice("db-a", "db", &["10.244.0.3"]),
            member_slice("new-a", "new", &["10.244.0.4"]),
            member_slice("private-a", "private", &["10.244.0.5"]),
            member_slice("orphan-a", "orphan", &["10.244.0.6"]),
            imported,
        ];
        let exports = [export("web"), export("db"), export("new"), export("orphan")];
        let got = desired("member1", &exports, &services, &slices);
        let names: Vec<&str> = got.keys().map(String::as_str).collect();
        assert_eq!(names, ["shop.db-a", "shop.web-a", "shop.web-b"]);
        assert_eq!(got["shop.db-a"].metadata.annotations, None);

        let mut deleting = export("web");
        deleting.metadata.deletion_timestamp = Some(deletion_time());
        let got = desired("member1", [&deleting], &services, &slices);
        assert!(got.is_empty(), "{got:?}");
    }

    fn deletion_time() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
        serde_json::from_value(json!("2026-01-02T03:04:05Z")).unwrap()
    }

    #[test]
    fn plan_writes_only_what_differs() {
        let ips = Addressing::ClusterIps("10.96.0.5".into());
        let want = |name: &str, addrs: &[&str], a: &Addressing| {
            reported_slice("member1", a, &member_slice(name, "web", addrs)).unwrap()
        };
        let observed = |slice: EndpointSlice| {
            let mut slice = slice;
            slice.metadata.resource_version = Some("42".into());
            slice
                .labels_mut()
                .insert("added-by-someone".into(), "x".into());
            slice
        };
        let a = want("a", &["10.0.0.1"], &ips);
        let b_old = want("b", &["10.0.0.2"], &ips);
        let b_new = want("b", &["10.0.0.2", "10.0.0.3"], &ips);
        let c_headless = want("c", &["10.0.0.4"], &Addressing::Headless);
        let c_with_ips = want("c", &["10.0.0.4"], &ips);
        let stale = want("gone", &["10.0.0.9"], &ips);
        let desired: BTreeMap<String, EndpointSlice> = [a.clone(), b_new.clone(), c_headless]
            .into_iter()
            .chain([want("d", &["10.0.0.5"], &ips)])
            .map(|s| (s.name_any(), s))
            .collect();
        let observed: BTreeMap<String, EndpointSlice> = [
            observed(a),
            observed(b_old),
            observed(c_with_ips),
            observed(stale),
        ]
        .into_iter()
        .map(|s| (s.name_any(), s))
        .collect();
        let writes = plan(desired, &observed);
        let summary: Vec<(&str, String)> = writes
            .iter()
            .map(|w| match w {
                Write::Create(_) => ("create", w.name()),
                Write::Replace(_) => ("replace", w.name()),
                Write::Delete(_) => ("delete", w.name()),
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("delete", "shop.gone".to_string()),
                ("replace", "shop.b".to_string()),
                ("replace", "shop.c".to_string()),
                ("create", "shop.d".to_string()),
            ]
        );
        let Write::Replace(b) = &writes[1] else {
            unreachable!()
        };
        assert_eq!(b.endpoints, b_new.endpoints);
        assert_eq!(b.metadata.resource_version.as_deref(), Some("42"));
        assert_eq!(b.labels()["added-by-someone"], "x");
        let Write::Replace(c) = &writes[2] else {
            unreachable!()
        };
        assert!(!c.annotations().contains_key(ANNOTATION_SERVICE_IPS));
    }
}
