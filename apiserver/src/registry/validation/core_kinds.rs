//! Checks for Service, ConfigMap, Secret and PersistentVolumeClaim.

use std::collections::HashSet;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::names::{config_map_key, dns1123_label, dns1123_subdomain, port_name, port_number};
use super::{Cause, items, one_of, quantity_text, str_at};
use crate::registry::quantity::Quantity;

pub(super) fn service(spec: &Value, out: &mut Vec<Cause>) {
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    one_of(
        spec,
        "type",
        "spec",
        &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        out,
    );
    let ports = items(spec, "ports");
    if kind == "ExternalName" {
        let external = str_at(spec, "externalName");
        if external.is_empty() {
            out.push(Cause::required("spec.externalName", ""));
        } else {
            for msg in dns1123_subdomain(external.trim_end_matches('.')) {
                out.push(Cause::invalid_str("spec.externalName", external, &msg));
            }
        }
    } else if ports.is_empty() && str_at(spec, "clusterIP") != "None" {
        out.push(Cause::required("spec.ports", ""));
    }
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = format!("spec.ports[{i}]");
        let name = str_at(port, "name");
        if name.is_empty() && ports.len() > 1 {
            out.push(Cause::required(format!("{p}.name"), ""));
        } else if !name.is_empty() {
            out.extend(
                dns1123_label(name)
                    .iter()
                    .map(|m| Cause::invalid_str(format!("{p}.name"), name, m)),
            );
            if !names.insert(name) {
                out.push(Cause::duplicate(format!("{p}.name"), &name.into()));
            }
        }
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        for msg in port_number(number) {
            out.push(Cause::invalid(format!("{p}.port"), &number.into(), &msg));
        }
        one_of(port, "protocol", &p, &["SCTP", "TCP", "UDP"], out);
        match port.get("targetPort") {
            Some(Value::Number(n)) => {
                let n = n.as_i64().unwrap_or(0);
                for msg in port_number(n) {
                    out.push(Cause::invalid(format!("{p}.targetPort"), &n.into(), &msg));
                }
            }
            Some(Value::String(s)) => {
                for msg in port_name(s) {
                    out.push(Cause::invalid_str(format!("{p}.targetPort"), s, &msg));
                }
            }
            _ => {}
        }
        if let Some(n) = port
            .get("nodePort")
            .and_then(Value::as_i64)
            .filter(|n| *n != 0)
        {
            if kind == "ClusterIP" {
                out.push(Cause::forbidden(
                    format!("{p}.nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
            for msg in port_number(n) {
                out.push(Cause::invalid(format!("{p}.nodePort"), &n.into(), &msg));
            }
        }
    }
}

/// Total bytes of data a ConfigMap or Secret may hold.
pub const DATA_MAX_BYTES: usize = 1024 * 1024;

fn data_keys(map: &Map<String, Value>, path: &str, out: &mut Vec<Cause>) {
    for key in map.keys() {
        for msg in config_map_key(key) {
            out.push(Cause::invalid_str(format!("{path}[{key}]"), key, &msg));
        }
    }
}

pub(super) fn config_map(object: &Value, out: &mut Vec<Cause>) {
    let empty = Map::new();
    let data = object
        .get("data")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let binary = object
        .get("binaryData")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    data_keys(data, "data", out);
    data_keys(binary, "binaryData", out);
    let mut total = 0;
    for (key, value) in data {
        if binary.contains_key(key) {
            out.push(Cause::invalid_str(
                format!("data[{key}]"),
                key,
                "duplicate of key present in binaryData",
            ));
        }
        match value.as_str() {
            Some(s) => total += s.len(),
            None => out.push(Cause::invalid(
                format!("data[{key}]"),
                value,
                "must be a string",
            )),
        }
    }
    for (key, value) in binary {
        total += decoded_len(value, &format!("binaryData[{key}]"), out);
    }
    if total > DATA_MAX_BYTES {
        out.push(Cause::too_long("data", DATA_MAX_BYTES));
    }
}

/// The decoded size of a base64 value, reporting undecodable ones without echoing them.
fn decoded_len(value: &Value, path: &str, out: &mut Vec<Cause>) -> usize {
    let text = value.as_str().unwrap_or_default();
    match base64::engine::general_purpose::STANDARD.decode(text) {
        Ok(bytes) => bytes.len(),
        Err(e) => {
            let detail = format!("must be base64-encoded: {e}");
            out.push(Cause::invalid_str(path, "<data>", &detail));
            0
        }
    }
}

pub(super) fn secret(object: &Value, out: &mut Vec<Cause>) {
    let empty = Map::new();
    let data = object
        .get("data")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let string_data = object
        .get("stringData")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    data_keys(data, "data", out);
    data_keys(string_data, "stringData", out);
    let mut total: usize = data
        .iter()
        .map(|(key, value)| decoded_len(value, &format!("data[{key}]"), out))
        .sum();
    total += string_data
        .values()
        .filter_map(Value::as_str)
        .map(str::len)
        .sum::<usize>();
    if total > DATA_MAX_BYTES {
        out.push(Cause::too_long("data", DATA_MAX_BYTES));
    }
    let required: &[&str] = match str_at(object, "type") {
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        _ => &[],
    };
    for key in required {
        if !data.contains_key(*key) && !string_data.contains_key(*key) {
            out.push(Cause::required(format!("data[{key}]"), ""));
        }
    }
}

pub(super) fn pvc(spec: &Value, out: &mut Vec<Cause>) {
    let modes = items(spec, "accessModes");
    if modes.is_empty() {
        out.push(Cause::required(
            "spec.accessModes",
            "at least 1 access mode is required",
        ));
    }
    const MODES: &[&str] = &[
        "ReadOnlyMany",
        "ReadWriteMany",
        "ReadWriteOnce",
        "ReadWriteOncePod",
    ];
    for mode in modes {
        let m = mode.as_str().unwrap_or_default();
        if !MODES.contains(&m) {
            out.push(Cause::not_supported("spec.accessModes", m, MODES));
        }
    }
    match spec.pointer("/resources/requests/storage") {
        None => out.push(Cause::required("spec.resources[storage]", "")),
        Some(raw) => match Quantity::parse(&quantity_text(raw).unwrap_or_default()) {
            Ok(q) if q.as_nanos() <= 0 => {
                out.push(Cause::invalid_str(
                    "spec.resources[storage]",
                    &q.to_string(),
                    "must be greater than zero",
                ));
            }
            Ok(_) => {}
            Err(e) => out.push(Cause::invalid(
                "spec.resources[storage]",
                raw,
                &e.to_string(),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use serde_json::{Value, json};

    use super::super::validate_native;
    use super::DATA_MAX_BYTES;

    fn errors(kind: &str, object: &Value) -> Vec<String> {
        validate_native("", kind, object)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn service_ports_and_types() {
        let svc = |spec: Value| errors("Service", &json!({ "spec": spec }));
        assert!(svc(json!({"ports": [{"port": 80, "targetPort": 8080}]})).is_empty());
        assert!(svc(json!({"clusterIP": "None"})).is_empty());
        assert!(svc(json!({"type": "ExternalName", "externalName": "db.example.com."})).is_empty());
        let cases: &[(Value, &[&str])] = &[
            (json!({}), &["spec.ports: Required value"]),
            (
                json!({"type": "ExternalName"}),
                &["spec.externalName: Required value"],
            ),
            (
                json!({"type": "Magic", "ports": [{"port": 80}]}),
                &[
                    "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
                ],
            ),
            (
                json!({"ports": [{"port": 0}]}),
                &["spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"],
            ),
            (
                json!({"ports": [{"port": 80, "name": "http"}, {"port": 81}]}),
                &["spec.ports[1].name: Required value"],
            ),
            (
                json!({"ports": [{"port": 80, "name": "http"}, {"port": 81, "name": "http"}]}),
                &["spec.ports[1].name: Duplicate value: \"http\""],
            ),
            (
                json!({"ports": [{"port": 80, "targetPort": "Web"}]}),
                &[
                    "spec.ports[0].targetPort: Invalid value: \"Web\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                ],
            ),
            (
                json!({"ports": [{"port": 80, "nodePort": 30080}]}),
                &["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
            ),
        ];
        for (spec, want) in cases {
            let got = svc(spec.clone());
            assert_eq!(got, *want, "{spec}");
        }
    }

    #[test]
    fn config_map_keys_and_size() {
        assert!(
            errors(
                "ConfigMap",
                &json!({"data": {"app.properties": "a=b"}, "binaryData": {"logo": "aGk="}})
            )
            .is_empty()
        );
        assert_eq!(
            errors(
                "ConfigMap",
                &json!({"data": {"a/b": "x", "k": "v"}, "binaryData": {"k": "aGk="}})
            ),
            [
                "data[a/b]: Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                "data[k]: Invalid value: \"k\": duplicate of key present in binaryData"
            ]
        );
        let big = "x".repeat(DATA_MAX_BYTES + 1);
        assert_eq!(
            errors("ConfigMap", &json!({"data": {"big": big}})),
            ["data: Too long: may not be more than 1048576 bytes"]
        );
    }

    #[test]
    fn secret_data_encoding_and_type_keys() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert!(errors("Secret", &json!({"data": {"password": b64("hunter2")}})).is_empty());
        assert!(errors("Secret", &json!({"type": "kubernetes.io/tls", "data": {"tls.crt": b64("c")}, "stringData": {"tls.key": "k"}})).is_empty());
        assert_eq!(
            errors(
                "Secret",
                &json!({"type": "kubernetes.io/tls", "data": {"tls.crt": b64("c")}})
            ),
            ["data[tls.key]: Required value"]
        );
        let bad = errors("Secret", &json!({"data": {"password": "not base64!"}}));
        assert_eq!(bad.len(), 1);
        assert!(
            bad[0].starts_with("data[password]: Invalid value: \"<data>\": must be base64-encoded"),
            "{}",
            bad[0]
        );
        assert!(
            !bad[0].contains("not base64!"),
            "secret values are never echoed"
        );
    }

    #[test]
    fn persistent_volume_claim_essentials() {
        let pvc = |spec: Value| errors("PersistentVolumeClaim", &json!({ "spec": spec }));
        assert!(pvc(json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}})).is_empty());
        assert_eq!(
            pvc(
                json!({"accessModes": ["ReadWriteSometimes"], "resources": {"requests": {"storage": "0"}}})
            ),
            [
                "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
                "spec.resources[storage]: Invalid value: \"0\": must be greater than zero"
            ]
        );
        assert_eq!(
            pvc(json!({})),
            [
                "spec.accessModes: Required value: at least 1 access mode is required",
                "spec.resources[storage]: Required value"
            ]
        );
    }
}
