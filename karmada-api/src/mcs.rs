//! ServiceExport and ServiceImport (`multicluster.x-k8s.io/v1alpha1`, the Kubernetes
//! multi-cluster services API): a Service offered to, and consumed from, the cluster set.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::SessionAffinityConfig;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::validation::{Admit, FieldError, Reason};

/// Label of an EndpointSlice naming the cluster its endpoints live in (MCS API).
pub const LABEL_SOURCE_CLUSTER: &str = "multicluster.kubernetes.io/source-cluster";
/// Label of an EndpointSlice naming the exported Service it belongs to (MCS API).
pub const LABEL_SERVICE_NAME: &str = "multicluster.kubernetes.io/service-name";
/// Label of a reported EndpointSlice naming the exported Service's namespace (the slice itself
/// lives in the cluster's execution namespace, `karmada-es-<cluster>`).
pub const LABEL_SERVICE_NAMESPACE: &str = "multicluster.karmada.io/service-namespace";
/// Annotation of a reported EndpointSlice: the comma-separated ClusterIPs of the Service in
/// its source cluster (absent for a headless Service).
pub const ANNOTATION_SERVICE_IPS: &str = "multicluster.karmada.io/service-ips";
/// `endpointslice.kubernetes.io/managed-by` of the slices an agent reports.
pub const REPORTER: &str = "agent.karmada.io";
/// `endpointslice.kubernetes.io/managed-by` of the slices the federation imports for consumer
/// clusters: copies of the reported slices, under the derived Service.
pub const IMPORTER: &str = "service-import-controller.karmada.io";
/// The Service a ServiceImport `<name>` makes in the federation and in consumer clusters:
/// `derived-<name>`, without a selector, its endpoints being the imported slices.
pub const DERIVED_SERVICE_PREFIX: &str = "derived-";
/// Imported slices are named `imported-<source cluster>-<member slice>`.
pub const IMPORTED_SLICE_PREFIX: &str = "imported-";
/// The Kubernetes label tying an EndpointSlice to its Service.
pub const LABEL_KUBERNETES_SERVICE_NAME: &str = "kubernetes.io/service-name";

/// The name of the Service derived from the ServiceImport `import`.
pub fn derived_service_name(import: &str) -> String {
    format!("{DERIVED_SERVICE_PREFIX}{import}")
}

/// Annotations of a ServiceExport that choose how DNS answers for the Service; the
/// ServiceImport derived from it carries them too.
pub mod dns {
    /// `round-robin` (default), `weighted` (by ready endpoints), `failover` or `nearest`.
    pub const POLICY: &str = "dns.karmada.io/policy";
    /// For `failover`: the clusters in order of preference, comma-separated; the first Ready
    /// one with ready endpoints is answered.
    pub const FAILOVER_ORDER: &str = "dns.karmada.io/failover-order";
    /// On a Service (template): also publish it as `<value>.<global zone>`.
    pub const GLOBAL_NAME: &str = "dns.karmada.io/global-name";
}

/// The name of the slice an agent reports for the member slice `slice` of namespace
/// `namespace`: namespaces cannot contain dots, so the pair stays unique.
pub fn reported_slice_name(namespace: &str, slice: &str) -> String {
    format!("{namespace}.{slice}")
}

/// Marks the same-named Service in its namespace as exported to the cluster set. Has no spec:
/// existence is the request.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "multicluster.x-k8s.io",
    version = "v1alpha1",
    kind = "ServiceExport",
    plural = "serviceexports",
    shortname = "svcex",
    namespaced,
    no_spec,
    status = "ServiceExportStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
pub struct ServiceExportSpec {}

/// Whether the export is valid and in use.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceExportStatus {
    /// `Valid`, `Conflict`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A Service as the cluster set offers it to this cluster: ports, virtual IP and the clusters
/// backing it.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "multicluster.x-k8s.io",
    version = "v1alpha1",
    kind = "ServiceImport",
    plural = "serviceimports",
    shortname = "svcim",
    namespaced,
    status = "ServiceImportStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Type","type":"string","jsonPath":".spec.type"}"#,
    printcolumn = r#"{"name":"IP","type":"string","jsonPath":".spec.ips"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ServiceImportSpec {
    pub ports: Vec<ServicePort>,
    /// The cluster-set virtual IP (at most one); empty for `Headless`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1))]
    pub ips: Vec<String>,
    #[serde(rename = "type")]
    pub type_: ServiceImportType,
    /// `ClientIP` or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity_config: Option<SessionAffinityConfig>,
}

/// How an imported Service is reached.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ServiceImportType {
    /// Through a cluster-set virtual IP.
    ClusterSetIP,
    /// Directly at the backing pods' IPs.
    Headless,
}

/// One port of an imported Service.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Required when the Service has more than one port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `TCP` (default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
    pub port: i32,
}

/// Which clusters back the imported Service.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceImportStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<ClusterStatus>,
}

/// One cluster exporting the Service.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    pub cluster: String,
}

impl Admit for ServiceImport {
    /// The rules of a Service's ports and IPs that carry over to an import.
    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let spec = &self.spec;
        let mut errs = Vec::new();
        for (i, port) in spec.ports.iter().enumerate() {
            let path = format!("spec.ports[{i}]");
            if !(1..=65535).contains(&port.port) {
                errs.push(FieldError::invalid(
                    format!("{path}.port"),
                    format!("port {} must be between 1 and 65535", port.port),
                ));
            }
            if let Some(protocol) = &port.protocol
                && !matches!(protocol.as_str(), "TCP" | "UDP" | "SCTP")
            {
                errs.push(FieldError::new(
                    format!("{path}.protocol"),
                    Reason::NotSupported,
                    format!("unsupported protocol {protocol:?}, must be TCP, UDP or SCTP"),
                ));
            }
            if spec.ports.len() > 1 && port.name.as_deref().is_none_or(str::is_empty) {
                errs.push(FieldError::required(
                    format!("{path}.name"),
                    "every port needs a name when there is more than one",
                ));
            }
        }
        if spec.ips.len() > 1 {
            errs.push(FieldError::invalid(
                "spec.ips",
                "at most one IP may be given",
            ));
        }
        for (i, ip) in spec.ips.iter().enumerate() {
            if ip.parse::<IpAddr>().is_err() {
                errs.push(FieldError::invalid(
                    format!("spec.ips[{i}]"),
                    format!("{ip:?} is not an IP address"),
                ));
            }
        }
        if spec.type_ == ServiceImportType::Headless && !spec.ips.is_empty() {
            errs.push(FieldError::forbidden(
                "spec.ips",
                "a Headless import has no virtual IP; remove ips or use ClusterSetIP",
            ));
        }
        if let Some(affinity) = &spec.session_affinity
            && !matches!(affinity.as_str(), "ClientIP" | "None")
        {
            errs.push(FieldError::new(
                "spec.sessionAffinity",
                Reason::NotSupported,
                format!("unsupported session affinity {affinity:?}, must be ClientIP or None"),
            ));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::structural::assert_structural;
    use kube::CustomResourceExt;
    use serde_json::json;

    fn import_json() -> serde_json::Value {
        json!({
            "apiVersion": "multicluster.x-k8s.io/v1alpha1",
            "kind": "ServiceImport",
            "metadata": {"name": "serve", "namespace": "demo"},
            "spec": {
                "type": "ClusterSetIP",
                "ips": ["10.96.0.10"],
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "appProtocol": "http"}],
                "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}
            },
            "status": {"clusters": [{"cluster": "member1"}, {"cluster": "member2"}]}
        })
    }

    #[test]
    fn service_import_round_trips() {
        let value = import_json();
        let import: ServiceImport = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(import.spec.type_, ServiceImportType::ClusterSetIP);
        assert_eq!(serde_json::to_value(&import).unwrap(), value);
        assert!(import.validate(None).is_empty());
    }

    #[test]
    fn service_export_has_no_spec_on_the_wire() {
        let value = json!({
            "apiVersion": "multicluster.x-k8s.io/v1alpha1",
            "kind": "ServiceExport",
            "metadata": {"name": "serve", "namespace": "demo"},
            "status": {"conditions": [{"type": "Valid", "status": "True", "reason": "ServiceExported",
                                       "message": "", "lastTransitionTime": "2026-01-02T03:04:05Z"}]}
        });
        let export: ServiceExport = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&export).unwrap(), value);
        let bare = ServiceExport::new("serve", ServiceExportSpec {});
        assert!(serde_json::to_value(&bare).unwrap().get("spec").is_none());
    }

    #[test]
    fn service_import_validation_table() {
        let port = |name: Option<&str>, port: i32, protocol: Option<&str>| ServicePort {
            name: name.map(Into::into),
            protocol: protocol.map(Into::into),
            app_protocol: None,
            port,
        };
        let spec =
            |ports: Vec<ServicePort>, ips: &[&str], type_: ServiceImportType| ServiceImportSpec {
                ports,
                ips: ips.iter().map(|s| s.to_string()).collect(),
                type_,
                session_affinity: None,
                session_affinity_config: None,
            };
        use ServiceImportType::{ClusterSetIP, Headless};
        let cases = vec![
            (
                "valid headless",
                spec(vec![port(None, 80, None)], &[], Headless),
                vec![],
            ),
            (
                "port range",
                spec(vec![port(None, 0, None)], &[], Headless),
                vec![("spec.ports[0].port", Reason::Invalid)],
            ),
            (
                "protocol",
                spec(vec![port(None, 53, Some("ICMP"))], &[], Headless),
                vec![("spec.ports[0].protocol", Reason::NotSupported)],
            ),
            (
                "names with several ports",
                spec(
                    vec![port(Some("a"), 80, None), port(None, 81, None)],
                    &[],
                    Headless,
                ),
                vec![("spec.ports[1].name", Reason::Required)],
            ),
            (
                "two ips",
                spec(vec![], &["10.0.0.1", "10.0.0.2"], ClusterSetIP),
                vec![("spec.ips", Reason::Invalid)],
            ),
            (
                "bad ip",
                spec(vec![], &["ten"], ClusterSetIP),
                vec![("spec.ips[0]", Reason::Invalid)],
            ),
            (
                "headless with ip",
                spec(vec![], &["fd00::1"], Headless),
                vec![("spec.ips", Reason::Forbidden)],
            ),
            (
                "session affinity",
                ServiceImportSpec {
                    session_affinity: Some("Cookie".into()),
                    ..spec(vec![], &[], ClusterSetIP)
                },
                vec![("spec.sessionAffinity", Reason::NotSupported)],
            ),
        ];
        for (name, spec, want) in cases {
            crate::validation::assert_fields(
                name,
                ServiceImport::new("s", spec).validate(None),
                &want,
            );
        }
    }

    #[test]
    fn crds_match_the_mcs_api() {
        for (crd, plural, short, columns) in [
            (ServiceExport::crd(), "serviceexports", "svcex", vec!["Age"]),
            (
                ServiceImport::crd(),
                "serviceimports",
                "svcim",
                vec!["Type", "IP", "Age"],
            ),
        ] {
            assert_eq!(crd.spec.group, "multicluster.x-k8s.io");
            assert_eq!(crd.spec.names.plural, plural);
            assert_eq!(crd.spec.names.short_names, Some(vec![short.to_string()]));
            assert_eq!(crd.spec.scope, "Namespaced");
            let version = &crd.spec.versions[0];
            assert!(version.subresources.as_ref().unwrap().status.is_some());
            let names: Vec<_> = version
                .additional_printer_columns
                .iter()
                .flatten()
                .map(|c| c.name.as_str())
                .collect();
            assert_eq!(names, columns);
            let schema = serde_json::to_value(version.schema.as_ref().unwrap()).unwrap();
            assert_structural(&schema["openAPIV3Schema"]);
        }
        let schema = serde_json::to_value(
            ServiceImport::crd().spec.versions[0]
                .schema
                .clone()
                .unwrap(),
        )
        .unwrap();
        let spec = &schema["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(
            spec["properties"]["type"]["enum"],
            json!(["ClusterSetIP", "Headless"])
        );
        assert_eq!(spec["properties"]["ips"]["maxItems"], json!(1));
        let export = serde_json::to_value(
            ServiceExport::crd().spec.versions[0]
                .schema
                .clone()
                .unwrap(),
        )
        .unwrap();
        assert!(
            export["openAPIV3Schema"]["properties"]
                .get("spec")
                .is_none()
        );
    }
}
