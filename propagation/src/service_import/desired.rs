//! The ServiceImport an exported Service should have, the clusters backing it, and the
//! ServiceExport's `Valid` condition: pure decisions of the ServiceImport controller.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta, OwnerReference, Time};
use karmada_api::EXECUTION_NAMESPACE_PREFIX;
use karmada_api::mcs::{
    ClusterStatus, LABEL_SERVICE_NAME, LABEL_SERVICE_NAMESPACE, LABEL_SOURCE_CLUSTER,
    ServiceExport, ServiceImport, ServiceImportSpec, ServiceImportStatus, ServiceImportType,
    ServicePort,
};
use kube::{Resource, ResourceExt};

/// The prefix of the ServiceExport annotations that choose DNS behaviour; they are copied onto
/// the ServiceImport, which is what the DNS reads.
pub const DNS_ANNOTATION_PREFIX: &str = "dns.karmada.io/";
/// The ServiceExport condition telling whether the export is usable.
pub const CONDITION_VALID: &str = "Valid";
pub const REASON_EXPORTED: &str = "ServiceExported";
pub const REASON_NO_SERVICE: &str = "NoService";

/// The cluster a reported slice comes from: its source-cluster label, or else the cluster of
/// the execution namespace it sits in; `None` for a slice outside every execution namespace.
pub fn source_cluster(slice: &EndpointSlice) -> Option<String> {
    let namespace = slice.metadata.namespace.as_deref()?;
    let from_namespace = namespace.strip_prefix(EXECUTION_NAMESPACE_PREFIX)?;
    Some(
        slice
            .labels()
            .get(LABEL_SOURCE_CLUSTER)
            .cloned()
            .unwrap_or_else(|| from_namespace.to_string()),
    )
}

/// The clusters among `known` that report slices for the Service `namespace`/`name`, sorted.
pub fn reporting_clusters<'a>(
    namespace: &str,
    name: &str,
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
    known: &BTreeSet<String>,
) -> Vec<String> {
    slices
        .into_iter()
        .filter(|s| {
            s.labels().get(LABEL_SERVICE_NAMESPACE).map(String::as_str) == Some(namespace)
                && s.labels().get(LABEL_SERVICE_NAME).map(String::as_str) == Some(name)
        })
        .filter_map(source_cluster)
        .filter(|c| known.contains(c))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The ServiceImport for `export` of `service`, backed by `clusters`.
pub fn desired_import(
    export: &ServiceExport,
    service: &Service,
    clusters: Vec<String>,
) -> ServiceImport {
    let spec = service.spec.clone().unwrap_or_default();
    let type_ = if spec.cluster_ip.as_deref() == Some("None") {
        ServiceImportType::Headless
    } else {
        ServiceImportType::ClusterSetIP
    };
    let ports = spec
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| ServicePort {
            name: p.name,
            protocol: p.protocol,
            app_protocol: p.app_protocol,
            port: p.port,
        })
        .collect();
    let dns: BTreeMap<String, String> = dns_annotations(export.annotations());
    ServiceImport {
        metadata: ObjectMeta {
            name: export.metadata.name.clone(),
            namespace: export.metadata.namespace.clone(),
            annotations: (!dns.is_empty()).then_some(dns),
            owner_references: Some(vec![owner_reference(export)]),
            ..ObjectMeta::default()
        },
        spec: ServiceImportSpec {
            ports,
            // No cluster-set virtual IP is allocated: the federation's DNS answers a ClusterSetIP
            // import with the exporting clusters' own ClusterIPs (and a Headless one with the
            // endpoints), so there is nothing an extra address would route to.
            ips: Vec::new(),
            type_,
            session_affinity: spec.session_affinity,
            session_affinity_config: spec.session_affinity_config,
        },
        status: Some(ServiceImportStatus {
            clusters: clusters
                .into_iter()
                .map(|cluster| ClusterStatus { cluster })
                .collect(),
        }),
    }
}

fn dns_annotations(annotations: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    annotations
        .iter()
        .filter(|(k, _)| k.starts_with(DNS_ANNOTATION_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub fn owner_reference(export: &ServiceExport) -> OwnerReference {
    OwnerReference {
        api_version: ServiceExport::api_version(&()).into_owned(),
        kind: ServiceExport::kind(&()).into_owned(),
        name: export.name_any(),
        uid: export.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// `have` with the spec, DNS annotations and owner of `want`, or `None` when it already has
/// them. Annotations outside the DNS prefix belong to others and are kept.
pub fn updated_import(have: &ServiceImport, want: &ServiceImport) -> Option<ServiceImport> {
    let mut annotations: BTreeMap<String, String> = have
        .annotations()
        .iter()
        .filter(|(k, _)| !k.starts_with(DNS_ANNOTATION_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    annotations.extend(want.annotations().clone());
    let same = have.spec == want.spec
        && *have.annotations() == annotations
        && have.metadata.owner_references == want.metadata.owner_references;
    if same {
        return None;
    }
    let mut updated = have.clone();
    updated.spec = want.spec.clone();
    updated.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    updated.metadata.owner_references = want.metadata.owner_references.clone();
    Some(updated)
}

/// The export's conditions with `Valid` set for whether its Service exists, or `None` when
/// they already say so. An unchanged status keeps its transition time.
pub fn valid_conditions(
    export: &ServiceExport,
    service_exists: bool,
    now: Time,
) -> Option<Vec<Condition>> {
    let (status, reason, message) = if service_exists {
        (
            "True",
            REASON_EXPORTED,
            "the Service is exported".to_string(),
        )
    } else {
        (
            "False",
            REASON_NO_SERVICE,
            format!(
                "Service {} does not exist in namespace {}; create it or delete this ServiceExport",
                export.name_any(),
                export.namespace().unwrap_or_default()
            ),
        )
    };
    let mut conditions = export
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let current = conditions.iter().position(|c| c.type_ == CONDITION_VALID);
    let generation = export.metadata.generation;
    if let Some(i) = current {
        let c = &conditions[i];
        if c.status == status
            && c.reason == reason
            && c.message == message
            && c.observed_generation == generation
        {
            return None;
        }
    }
    let last_transition_time = match current {
        Some(i) if conditions[i].status == status => conditions[i].last_transition_time.clone(),
        _ => now,
    };
    let condition = Condition {
        type_: CONDITION_VALID.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time,
    };
    match current {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
    Some(conditions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use karmada_api::mcs::{ANNOTATION_SERVICE_IPS, REPORTER, dns};
    use serde_json::{Value, json};

    fn export(annotations: Value, status: Value) -> ServiceExport {
        let mut object = json!({
            "apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport",
            "metadata": {"name": "web", "namespace": "shop", "uid": "export-uid", "generation": 1},
        });
        object["metadata"]["annotations"] = annotations;
        object["status"] = status;
        serde_json::from_value(object).unwrap()
    }

    fn service(spec: Value) -> Service {
        let mut object = json!({"metadata": {"name": "web", "namespace": "shop"}});
        object["spec"] = spec;
        serde_json::from_value(object).unwrap()
    }

    fn reported(namespace: &str, labels: Value) -> EndpointSlice {
        let mut object = json!({
            "metadata": {"name": "shop.web-slice", "namespace": namespace,
                         "annotations": {ANNOTATION_SERVICE_IPS: "10.96.0.5"}},
            "addressType": "IPv4", "endpoints": [],
        });
        object["metadata"]["labels"] = labels;
        serde_json::from_value(object).unwrap()
    }

    fn labels(cluster: Option<&str>, namespace: &str, name: &str) -> Value {
        let mut labels = json!({LABEL_SERVICE_NAMESPACE: namespace, LABEL_SERVICE_NAME: name,
                                "endpointslice.kubernetes.io/managed-by": REPORTER});
        if let Some(cluster) = cluster {
            labels[LABEL_SOURCE_CLUSTER] = json!(cluster);
        }
        labels
    }

    fn at(seconds: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap())
    }

    #[test]
    fn source_clusters_come_from_the_label_or_the_namespace() {
        for (namespace, cluster, want) in [
            ("karmada-es-member1", Some("member1"), Some("member1")),
            ("karmada-es-member2", None, Some("member2")),
            ("shop", Some("member1"), None),
        ] {
            let slice = reported(namespace, labels(cluster, "shop", "web"));
            assert_eq!(source_cluster(&slice).as_deref(), want, "{namespace}");
        }
    }

    #[test]
    fn reporting_clusters_are_known_sorted_and_unique() {
        let slices = [
            reported("karmada-es-member2", labels(Some("member2"), "shop", "web")),
            reported("karmada-es-member1", labels(Some("member1"), "shop", "web")),
            reported("karmada-es-member1", labels(Some("member1"), "shop", "web")),
            reported("karmada-es-gone", labels(Some("gone"), "shop", "web")),
            reported("karmada-es-member3", labels(Some("member3"), "shop", "db")),
            reported(
                "karmada-es-member3",
                labels(Some("member3"), "other", "web"),
            ),
        ];
        let known: BTreeSet<String> = ["member1", "member2", "member3"].map(String::from).into();
        assert_eq!(
            reporting_clusters("shop", "web", &slices, &known),
            ["member1", "member2"]
        );
        assert!(reporting_clusters("shop", "api", &slices, &known).is_empty());
    }

    #[test]
    fn the_import_follows_the_service_and_the_export() {
        let annotations = json!({dns::POLICY: "failover", dns::FAILOVER_ORDER: "member2,member1",
                                 "team": "blue"});
        for (spec, want_type, want_ports) in [
            (
                json!({"ports": [{"name": "http", "port": 80, "targetPort": 8080,
                                  "protocol": "TCP", "appProtocol": "http"}]}),
                "ClusterSetIP",
                json!([{"name": "http", "port": 80, "protocol": "TCP", "appProtocol": "http"}]),
            ),
            (
                json!({"clusterIP": "None", "ports": [{"port": 53, "protocol": "UDP"}]}),
                "Headless",
                json!([{"port": 53, "protocol": "UDP"}]),
            ),
            (
                json!({"clusterIP": "10.0.0.7", "sessionAffinity": "ClientIP"}),
                "ClusterSetIP",
                json!([]),
            ),
        ] {
            let import = desired_import(
                &export(annotations.clone(), json!({})),
                &service(spec.clone()),
                vec!["member1".into(), "member2".into()],
            );
            let got = serde_json::to_value(&import).unwrap();
            assert_eq!(got["spec"]["type"], want_type, "{spec}");
            assert_eq!(got["spec"]["ports"], want_ports, "{spec}");
            assert_eq!(got["spec"].get("ips"), None, "{spec}");
            assert_eq!(
                got["metadata"]["annotations"],
                json!({dns::POLICY: "failover", dns::FAILOVER_ORDER: "member2,member1"})
            );
            assert_eq!(
                got["metadata"]["ownerReferences"],
                json!([{"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport",
                        "name": "web", "uid": "export-uid", "controller": true,
                        "blockOwnerDeletion": true}])
            );
            assert_eq!(
                got["status"],
                json!({"clusters": [{"cluster": "member1"}, {"cluster": "member2"}]})
            );
            assert_eq!(
                (
                    got["metadata"]["name"].clone(),
                    got["metadata"]["namespace"].clone()
                ),
                (json!("web"), json!("shop"))
            );
        }
        let affinity = desired_import(
            &export(json!({}), json!({})),
            &service(json!({"sessionAffinity": "ClientIP"})),
            vec![],
        );
        assert_eq!(affinity.spec.session_affinity.as_deref(), Some("ClientIP"));
        assert_eq!(affinity.metadata.annotations, None);
    }

    #[test]
    fn an_import_is_updated_only_when_what_the_controller_owns_differs() {
        let ports = json!({"ports": [{"name": "http", "port": 80}]});
        let want = desired_import(
            &export(json!({dns::POLICY: "weighted"}), json!({})),
            &service(ports),
            vec![],
        );
        let mut have = want.clone();
        have.metadata.resource_version = Some("9".into());
        have.annotations_mut().insert("note".into(), "kept".into());
        assert_eq!(updated_import(&have, &want), None, "in sync");

        have.annotations_mut()
            .insert(dns::FAILOVER_ORDER.into(), "member1".into());
        have.spec.type_ = ServiceImportType::Headless;
        let updated = updated_import(&have, &want).unwrap();
        assert_eq!(updated.spec, want.spec);
        assert_eq!(
            updated.annotations(),
            &BTreeMap::from([
                ("note".to_string(), "kept".to_string()),
                (dns::POLICY.to_string(), "weighted".to_string()),
            ])
        );
        assert_eq!(updated.metadata.resource_version.as_deref(), Some("9"));
    }

    #[test]
    fn the_valid_condition_tracks_the_service() {
        let valid = json!({"conditions": [{"type": "Valid", "status": "True",
            "reason": "ServiceExported", "message": "the Service is exported",
            "observedGeneration": 1, "lastTransitionTime": "1970-01-01T00:00:05Z"}]});
        let cases = [
            (
                "fresh export, service present",
                json!({}),
                true,
                Some(("True", REASON_EXPORTED, 100)),
            ),
            ("in sync", valid.clone(), true, None),
            (
                "service gone",
                valid,
                false,
                Some(("False", REASON_NO_SERVICE, 100)),
            ),
        ];
        for (case, status, exists, want) in cases {
            let got = valid_conditions(&export(json!({}), status), exists, at(100));
            let got = got.map(|c| {
                assert_eq!(c.len(), 1, "{case}");
                let c = &c[0];
                (
                    c.status.clone(),
                    c.reason.clone(),
                    c.last_transition_time.0.as_second(),
                )
            });
            let want = want.map(|(s, r, t)| (s.to_string(), r.to_string(), t));
            assert_eq!(got, want, "{case}");
        }
        let missing = valid_conditions(&export(json!({}), json!({})), false, at(1)).unwrap();
        assert!(
            missing[0]
                .message
                .contains("Service web does not exist in namespace shop"),
            "{}",
            missing[0].message
        );
    }
}
