//! End-to-end decode tests: bodies built the way client-go writes them, checked as the JSON the registry receives.

use std::collections::BTreeMap;

use k8s_pb::api::apps::v1 as apps_v1;
use k8s_pb::api::core::v1 as core_v1;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_v1;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{Value, json};

use super::*;

/// Wraps an encoded object the way client-go's protobuf serializer does.
fn envelope(api_version: &str, kind: &str, object: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.to_owned()),
            kind: Some(kind.to_owned()),
        }),
        raw: Some(object.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut body = MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

fn s(text: &str) -> Option<String> {
    Some(text.to_owned())
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `ObjectMeta` as Go marshals a freshly built object: every non-pointer field present.
fn new_meta(name: &str, namespace: &str, labels: BTreeMap<String, String>) -> meta_v1::ObjectMeta {
    meta_v1::ObjectMeta {
        name: s(name),
        generate_name: s(""),
        namespace: s(namespace),
        self_link: s(""),
        uid: s(""),
        resource_version: s(""),
        generation: Some(0),
        creation_timestamp: Some(meta_v1::Time::default()),
        labels,
        ..Default::default()
    }
}

#[test]
fn namespace() {
    let ns = core_v1::Namespace {
        metadata: Some(new_meta("x", "", BTreeMap::new())),
        spec: Some(core_v1::NamespaceSpec::default()),
        status: Some(core_v1::NamespaceStatus {
            phase: s(""),
            conditions: vec![],
        }),
    };
    let got = decode(&envelope("v1", "Namespace", &ns)).unwrap();
    let want = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}, "spec": {}, "status": {"phase": ""}});
    assert_eq!(got, want);
    let keys: Vec<_> = got.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys[..2], ["apiVersion", "kind"]);
}

#[test]
fn configmap_and_secret_data() {
    let cm = core_v1::ConfigMap {
        metadata: Some(new_meta("cfg", "default", BTreeMap::new())),
        data: labels(&[("a", "1"), ("empty", "")]),
        binary_data: [("bin".to_owned(), vec![0, 1, 2])].into(),
        immutable: None,
    };
    assert_eq!(
        decode(&envelope("v1", "ConfigMap", &cm)).unwrap(),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"},
               "data": {"a": "1", "empty": ""}, "binaryData": {"bin": "AAEC"}})
    );
    let secret = core_v1::Secret {
        metadata: Some(new_meta("creds", "default", BTreeMap::new())),
        immutable: None,
        data: [("password".to_owned(), b"s3cr3t".to_vec())].into(),
        string_data: BTreeMap::new(),
        r#type: s("Opaque"),
    };
    assert_eq!(
        decode(&envelope("v1", "Secret", &secret)).unwrap(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "default"},
               "data": {"password": "czNjcjN0"}, "type": "Opaque"})
    );
}

/// What `kubectl create deployment web --image=nginx --replicas=3 --port=80` builds, with the
/// zero values Go's marshaller writes for non-pointer fields.
fn kubectl_deployment() -> apps_v1::Deployment {
    let app = labels(&[("app", "web")]);
    let container = core_v1::Container {
        name: s("nginx"),
        image: s("nginx"),
        working_dir: s(""),
        ports: vec![core_v1::ContainerPort {
            name: s(""),
            host_port: Some(0),
            container_port: Some(80),
            protocol: s(""),
            host_ip: s(""),
        }],
        resources: Some(core_v1::ResourceRequirements::default()),
        termination_message_path: s(""),
        termination_message_policy: s(""),
        image_pull_policy: s(""),
        stdin: Some(false),
        stdin_once: Some(false),
        tty: Some(false),
        ..Default::default()
    };
    let pod_spec = core_v1::PodSpec {
        containers: vec![container],
        restart_policy: s(""),
        dns_policy: s(""),
        service_account_name: s(""),
        host_network: Some(false),
        scheduler_name: s(""),
        ..Default::default()
    };
    apps_v1::Deployment {
        metadata: Some(new_meta("web", "", app.clone())),
        spec: Some(apps_v1::DeploymentSpec {
            replicas: Some(3),
            selector: Some(meta_v1::LabelSelector {
                match_labels: app.clone(),
                match_expressions: vec![],
            }),
            template: Some(core_v1::PodTemplateSpec {
                metadata: Some(new_meta("", "", app)),
                spec: Some(pod_spec),
            }),
            strategy: Some(apps_v1::DeploymentStrategy {
                r#type: s(""),
                rolling_update: None,
            }),
            min_ready_seconds: Some(0),
            revision_history_limit: None,
            paused: Some(false),
            progress_deadline_seconds: None,
        }),
        status: Some(apps_v1::DeploymentStatus::default()),
    }
}

#[test]
fn deployment_from_kubectl_create() {
    let got = decode(&envelope("apps/v1", "Deployment", &kubectl_deployment())).unwrap();
    let want = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "nginx", "image": "nginx", "workingDir": "",
                        "ports": [{"name": "", "hostPort": 0, "containerPort": 80, "protocol": "", "hostIP": ""}],
                        "resources": {}, "terminationMessagePath": "", "terminationMessagePolicy": "",
                        "imagePullPolicy": "", "stdin": false, "stdinOnce": false, "tty": false
                    }],
                    "restartPolicy": "", "dnsPolicy": "", "serviceAccountName": "",
                    "hostNetwork": false, "schedulerName": ""
                }
            },
            "strategy": {"type": ""},
            "minReadySeconds": 0,
            "paused": false
        },
        "status": {}
    });
    assert_eq!(got, want);
}

#[test]
fn zero_replicas_survive() {
    let mut deployment = kubectl_deployment();
    deployment.spec.as_mut().unwrap().replicas = Some(0);
    let got = decode(&envelope("apps/v1", "Deployment", &deployment)).unwrap();
    assert_eq!(got["spec"]["replicas"], json!(0));
}

#[test]
fn service_ports_with_int_or_string_target() {
    let port = |name: &str, port, target: IntOrString| core_v1::ServicePort {
        name: s(name),
        protocol: s("TCP"),
        port: Some(port),
        target_port: Some(target),
        node_port: Some(0),
        ..Default::default()
    };
    let svc = core_v1::Service {
        metadata: Some(new_meta("web", "default", labels(&[("app", "web")]))),
        spec: Some(core_v1::ServiceSpec {
            ports: vec![
                port(
                    "http",
                    80,
                    IntOrString {
                        r#type: Some(0),
                        int_val: Some(8080),
                        str_val: s(""),
                    },
                ),
                port(
                    "metrics",
                    9090,
                    IntOrString {
                        r#type: Some(1),
                        int_val: Some(0),
                        str_val: s("metrics"),
                    },
                ),
            ],
            selector: labels(&[("app", "web")]),
            cluster_ip: s(""),
            r#type: s("ClusterIP"),
            ..Default::default()
        }),
        status: Some(core_v1::ServiceStatus {
            load_balancer: Some(core_v1::LoadBalancerStatus::default()),
            conditions: vec![],
        }),
    };
    let got = decode(&envelope("v1", "Service", &svc)).unwrap();
    assert_eq!(
        got["spec"],
        json!({
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 0},
                {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": "metrics", "nodePort": 0}
            ],
            "selector": {"app": "web"}, "clusterIP": "", "type": "ClusterIP"
        })
    );
    assert_eq!(got["status"], json!({"loadBalancer": {}}));
}

#[test]
fn embedded_go_structs_are_flattened() {
    let volume = core_v1::Volume {
        name: s("config"),
        volume_source: Some(core_v1::VolumeSource {
            config_map: Some(core_v1::ConfigMapVolumeSource {
                local_object_reference: Some(core_v1::LocalObjectReference { name: s("cfg") }),
                default_mode: Some(0o644),
                ..Default::default()
            }),
            ..Default::default()
        }),
    };
    let probe = core_v1::Probe {
        handler: Some(core_v1::ProbeHandler {
            http_get: Some(core_v1::HttpGetAction {
                path: s("/healthz"),
                port: Some(IntOrString {
                    r#type: Some(0),
                    int_val: Some(80),
                    str_val: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        period_seconds: Some(10),
        ..Default::default()
    };
    let pod = core_v1::Pod {
        metadata: Some(new_meta("p", "default", BTreeMap::new())),
        spec: Some(core_v1::PodSpec {
            volumes: vec![volume],
            containers: vec![core_v1::Container {
                name: s("c"),
                liveness_probe: Some(probe),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    };
    let got = decode(&envelope("v1", "Pod", &pod)).unwrap();
    assert_eq!(
        got["spec"]["volumes"],
        json!([{"name": "config", "configMap": {"name": "cfg", "defaultMode": 420}}])
    );
    assert_eq!(
        got["spec"]["containers"][0]["livenessProbe"],
        json!({"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 10})
    );
}

#[test]
fn fields_unknown_to_the_schema_are_refused() {
    // A newer client's Namespace whose spec carries field 99, which prost would skip silently.
    let mut raw = core_v1::Namespace {
        metadata: Some(new_meta("x", "", BTreeMap::new())),
        spec: None,
        status: None,
    }
    .encode_to_vec();
    // field 2 (spec), length 3: field 99 varint 1
    raw.extend([0x12, 0x03, 0x98, 0x06, 0x01]);
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("Namespace"),
        }),
        raw: Some(raw),
        ..Default::default()
    };
    let mut body = MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    let err = decode(&body).unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedField { message, .. } if message == "Namespace"),
        "{err}"
    );
    assert!(err.to_string().contains("[2, 99]"), "{err}");
}

#[test]
fn envelope_errors() {
    assert!(matches!(
        decode(br#"{"kind":"Namespace"}"#),
        Err(Error::NotProtobuf)
    ));
    let mut truncated = MAGIC.to_vec();
    truncated.extend([0x0a, 0x10, 0x0a]);
    assert!(matches!(decode(&truncated), Err(Error::Malformed(_))));
    let crd = envelope("example.com/v1", "Widget", &core_v1::Namespace::default());
    let err = decode(&crd).unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedKind { api_version, kind } if api_version == "example.com/v1" && kind == "Widget")
    );
    assert!(err.to_string().contains("application/json"));
}

#[test]
fn delete_options_under_any_group_version() {
    let options = meta_v1::DeleteOptions {
        grace_period_seconds: Some(0),
        propagation_policy: s("Foreground"),
        dry_run: vec!["All".to_owned()],
        ..Default::default()
    };
    let got = decode(&envelope("apps/v1", "DeleteOptions", &options)).unwrap();
    assert_eq!(
        got,
        json!({"apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
               "propagationPolicy": "Foreground", "dryRun": ["All"]})
    );
}

/// Drops Go zero values (`""`, `0`, `false`, `{}`, `[]`, `null`) recursively. Go's JSON encoder
/// omits most of them (`omitempty`) while its protobuf encoder writes every non-pointer field,
/// so this is the part on which both encodings of one Go object must agree.
fn without_zero_values(value: Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, without_zero_values(v)))
                .filter(|(_, v)| match v {
                    Value::Null => false,
                    Value::Bool(b) => *b,
                    Value::Number(n) => n.as_f64() != Some(0.0),
                    Value::String(s) => !s.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    Value::Object(o) => !o.is_empty(),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_zero_values).collect()),
        other => other,
    }
}

#[test]
fn recorded_kubectl_bodies_decode_like_their_json_twins() {
    for capture in fixtures::KUBECTL {
        let decoded =
            decode(capture.protobuf).unwrap_or_else(|e| panic!("kubectl {}: {e}", capture.command));
        assert!(
            decoded["metadata"].is_object(),
            "kubectl {}: {decoded}",
            capture.command
        );
        if let Some(json) = capture.json_1_31 {
            let twin: Value = serde_json::from_str(json).unwrap();
            assert_eq!(
                without_zero_values(decoded),
                without_zero_values(twin),
                "kubectl {}",
                capture.command
            );
        }
    }
}

#[test]
fn recorded_token_request_and_access_review() {
    let find = |prefix: &str| {
        let capture = fixtures::KUBECTL
            .iter()
            .find(|c| c.command.starts_with(prefix))
            .unwrap();
        decode(capture.protobuf).unwrap()
    };
    assert_eq!(
        find("create token")["spec"],
        json!({"audiences": ["api"], "expirationSeconds": 600,
               "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "123"}})
    );
    assert_eq!(
        find("auth can-i create")["spec"],
        json!({"resourceAttributes": {"namespace": "kube-system", "verb": "create", "group": "apps", "version": "",
               "resource": "deployments", "subresource": "scale", "name": ""}})
    );
    let hpa = find("autoscale deployment web --min=1");
    assert_eq!(hpa["apiVersion"], json!("autoscaling/v2"));
    assert_eq!(
        hpa["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}])
    );
}
