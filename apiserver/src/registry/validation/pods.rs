//! Pod spec and pod template checks: containers, ports, volumes, resources.

use std::collections::HashSet;

use serde_json::Value;

use super::names::{dns1123_label, port_name, port_number};
use super::{Cause, items, one_of, quantity_text, str_at, validate_labels};
use crate::registry::quantity::Quantity;

pub(super) fn pod_template(template: &Value, path: &str, out: &mut Vec<Cause>) {
    let meta = template.get("metadata").unwrap_or(&Value::Null);
    validate_labels(meta.get("labels"), &format!("{path}.metadata.labels"), out);
    pod_spec(
        template.get("spec").unwrap_or(&Value::Null),
        &format!("{path}.spec"),
        out,
    );
}

/// The template of a controller that restarts pods forever (Deployment, ReplicaSet, ...).
pub(super) fn long_running_template(
    kind: &str,
    template: &Value,
    path: &str,
    out: &mut Vec<Cause>,
) {
    pod_template(template, path, out);
    let spec = template.get("spec").unwrap_or(&Value::Null);
    let policy = spec
        .get("restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Always");
    if policy != "Always" {
        out.push(Cause::not_supported(
            format!("{path}.spec.restartPolicy"),
            policy,
            &["Always"],
        ));
    }
    if spec
        .get("activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null())
    {
        let detail = format!("activeDeadlineSeconds in {kind} is not Supported");
        out.push(Cause::forbidden(
            format!("{path}.spec.activeDeadlineSeconds"),
            &detail,
        ));
    }
}

pub(super) fn pod_spec(spec: &Value, path: &str, out: &mut Vec<Cause>) {
    let mut volumes = HashSet::new();
    for (i, volume) in items(spec, "volumes").iter().enumerate() {
        let name = str_at(volume, "name");
        let p = format!("{path}.volumes[{i}].name");
        if name.is_empty() {
            out.push(Cause::required(p, ""));
        } else if !volumes.insert(name) {
            out.push(Cause::duplicate(p, &name.into()));
        } else {
            out.extend(
                dns1123_label(name)
                    .iter()
                    .map(|m| Cause::invalid_str(&p, name, m)),
            );
        }
    }
    if items(spec, "containers").is_empty() {
        out.push(Cause::required(format!("{path}.containers"), ""));
    }
    let mut names = HashSet::new();
    for list in ["initContainers", "containers"] {
        for (i, c) in items(spec, list).iter().enumerate() {
            container(c, &format!("{path}.{list}[{i}]"), &volumes, &mut names, out);
        }
    }
    one_of(
        spec,
        "restartPolicy",
        path,
        &["Always", "OnFailure", "Never"],
        out,
    );
}

fn container<'a>(
    c: &'a Value,
    path: &str,
    volumes: &HashSet<&str>,
    names: &mut HashSet<&'a str>,
    out: &mut Vec<Cause>,
) {
    let name = str_at(c, "name");
    if name.is_empty() {
        out.push(Cause::required(format!("{path}.name"), ""));
    } else if !names.insert(name) {
        out.push(Cause::duplicate(format!("{path}.name"), &name.into()));
    } else {
        out.extend(
            dns1123_label(name)
                .iter()
                .map(|m| Cause::invalid_str(format!("{path}.name"), name, m)),
        );
    }
    if str_at(c, "image").trim().is_empty() {
        out.push(Cause::required(format!("{path}.image"), ""));
    }
    let mut port_names = HashSet::new();
    for (i, port) in items(c, "ports").iter().enumerate() {
        let p = format!("{path}.ports[{i}]");
        match port.get("containerPort").and_then(Value::as_i64) {
            None | Some(0) => out.push(Cause::required(format!("{p}.containerPort"), "")),
            Some(n) => {
                for msg in port_number(n) {
                    out.push(Cause::invalid(
                        format!("{p}.containerPort"),
                        &n.into(),
                        &msg,
                    ));
                }
            }
        }
        if let Some(n) = port
            .get("hostPort")
            .and_then(Value::as_i64)
            .filter(|n| *n != 0)
        {
            for msg in port_number(n) {
                out.push(Cause::invalid(format!("{p}.hostPort"), &n.into(), &msg));
            }
        }
        let port_name_value = str_at(port, "name");
        if !port_name_value.is_empty() {
            for msg in port_name(port_name_value) {
                out.push(Cause::invalid_str(
                    format!("{p}.name"),
                    port_name_value,
                    &msg,
                ));
            }
            if !port_names.insert(port_name_value) {
                out.push(Cause::duplicate(
                    format!("{p}.name"),
                    &port_name_value.into(),
                ));
            }
        }
        one_of(port, "protocol", &p, &["SCTP", "TCP", "UDP"], out);
    }
    for (i, env) in items(c, "env").iter().enumerate() {
        if str_at(env, "name").is_empty() {
            out.push(Cause::required(format!("{path}.env[{i}].name"), ""));
        }
    }
    for (i, mount) in items(c, "volumeMounts").iter().enumerate() {
        let name = str_at(mount, "name");
        if name.is_empty() {
            out.push(Cause::required(
                format!("{path}.volumeMounts[{i}].name"),
                "",
            ));
        } else if !volumes.contains(name) {
            out.push(Cause::not_found(
                format!("{path}.volumeMounts[{i}].name"),
                &name.into(),
            ));
        }
        if str_at(mount, "mountPath").is_empty() {
            out.push(Cause::required(
                format!("{path}.volumeMounts[{i}].mountPath"),
                "",
            ));
        }
    }
    resources(
        c.get("resources").unwrap_or(&Value::Null),
        &format!("{path}.resources"),
        out,
    );
}

/// Requests and limits must be non-negative quantities, and no request above its limit.
fn resources(res: &Value, path: &str, out: &mut Vec<Cause>) {
    let parse_all = |key: &str, out: &mut Vec<Cause>| -> Vec<(String, Quantity)> {
        let Some(map) = res.get(key).and_then(Value::as_object) else {
            return Vec::new();
        };
        let mut parsed = Vec::new();
        for (name, raw) in map {
            let p = format!("{path}.{key}[{name}]");
            let text = quantity_text(raw).unwrap_or_default();
            match Quantity::parse(&text) {
                Ok(q) if q.is_negative() => {
                    out.push(Cause::invalid_str(
                        p,
                        &q.to_string(),
                        "must be greater than or equal to 0",
                    ));
                }
                Ok(q) => parsed.push((name.clone(), q)),
                Err(e) => out.push(Cause::invalid(p, raw, &e.to_string())),
            }
        }
        parsed
    };
    let limits = parse_all("limits", out);
    for (name, request) in parse_all("requests", out) {
        if let Some((_, limit)) = limits
            .iter()
            .find(|(n, _)| *n == name)
            .filter(|(_, l)| request > *l)
        {
            out.push(Cause::invalid_str(
                format!("{path}.requests[{name}]"),
                &request.to_string(),
                &format!("must be less than or equal to {name} limit of {limit}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::validate_native;

    fn pod_errors(spec: &serde_json::Value) -> Vec<String> {
        validate_native("", "Pod", &json!({ "spec": spec }))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn pod_spec_essentials() {
        let cases: &[(serde_json::Value, &[&str])] = &[
            (
                json!({"containers": [{"name": "web", "image": "nginx"}]}),
                &[],
            ),
            (json!({}), &["spec.containers: Required value"]),
            (
                json!({"containers": [{"image": "nginx"}]}),
                &["spec.containers[0].name: Required value"],
            ),
            (
                json!({"containers": [{"name": "web"}]}),
                &["spec.containers[0].image: Required value"],
            ),
            (
                json!({"containers": [{"name": "Web", "image": "x"}]}),
                &["spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label"],
            ),
            (
                json!({"initContainers": [{"name": "a", "image": "x"}], "containers": [{"name": "a", "image": "x"}]}),
                &["spec.containers[0].name: Duplicate value: \"a\""],
            ),
            (
                json!({"containers": [{"name": "a", "image": "x"}], "restartPolicy": "Sometimes"}),
                &[
                    "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                ],
            ),
            (
                json!({"containers": [{"name": "a", "image": "x", "ports": [
                    {"containerPort": 80, "name": "http"},
                    {"containerPort": 70000, "name": "http", "protocol": "HTTP"},
                    {"containerPort": 0, "hostPort": 0}
                ]}]}),
                &[
                    "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                    "spec.containers[0].ports[1].name: Duplicate value: \"http\"",
                    "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                    "spec.containers[0].ports[2].containerPort: Required value",
                ],
            ),
            (
                json!({"volumes": [{"name": "data"}], "containers": [{"name": "a", "image": "x",
                    "volumeMounts": [{"name": "data", "mountPath": "/d"}, {"name": "logs", "mountPath": "/l"}],
                    "env": [{"value": "1"}]}]}),
                &[
                    "spec.containers[0].env[0].name: Required value",
                    "spec.containers[0].volumeMounts[1].name: Not found: \"logs\"",
                ],
            ),
        ];
        for (spec, want) in cases {
            let got = pod_errors(spec);
            assert_eq!(got.len(), want.len(), "{spec}: {got:?}");
            for (g, w) in got.iter().zip(want.iter()) {
                assert!(g.starts_with(w), "{g}");
            }
        }
    }

    #[test]
    fn resources_parse_and_requests_fit_limits() {
        let with = |resources: serde_json::Value| {
            pod_errors(
                &json!({"containers": [{"name": "a", "image": "x", "resources": resources}]}),
            )
        };
        assert!(with(json!({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": 1, "memory": "1Gi"}})).is_empty());
        assert_eq!(
            with(json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1500m"}})),
            [
                "spec.containers[0].resources.requests[cpu]: Invalid value: \"2\": must be less than or equal to cpu limit of 1500m"
            ]
        );
        assert_eq!(
            with(json!({"limits": {"memory": "lots"}})),
            [
                "spec.containers[0].resources.limits[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            ]
        );
        assert_eq!(
            with(json!({"requests": {"cpu": "-1"}})),
            [
                "spec.containers[0].resources.requests[cpu]: Invalid value: \"-1\": must be greater than or equal to 0"
            ]
        );
    }

    #[test]
    fn pod_template_checks_labels_and_spec() {
        let got: Vec<String> = validate_native(
            "",
            "PodTemplate",
            &json!({"template": {"metadata": {"labels": {"a": "-"}}, "spec": {}}}),
        )
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].starts_with("template.metadata.labels: Invalid value: \"-\""));
        assert_eq!(got[1], "template.spec.containers: Required value");
    }
}
