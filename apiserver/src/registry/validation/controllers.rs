//! Checks for workload controllers: Deployment, ReplicaSet, StatefulSet, DaemonSet, ReplicationController, Job, CronJob, HPA.

use serde_json::{Map, Value};

use super::pods::{long_running_template, pod_template};
use super::{Cause, label_selector, non_negative, one_of, positive, str_at};
use crate::registry::selector::LabelSelector;

pub(super) fn workload(kind: &str, spec: &Value, out: &mut Vec<Cause>) {
    if kind != "DaemonSet" {
        non_negative(spec, "replicas", "spec", out);
    }
    non_negative(spec, "minReadySeconds", "spec", out);
    non_negative(spec, "revisionHistoryLimit", "spec", out);
    let template = spec.get("template").unwrap_or(&Value::Null);
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => out.push(Cause::required("spec.selector", "")),
        Some(sel) => {
            label_selector(sel, "spec.selector", out);
            let parsed = LabelSelector::from_label_selector(sel);
            match parsed {
                Ok(s) if s.is_empty() => {
                    let detail = format!(
                        "empty selector is invalid for {}",
                        kind.to_ascii_lowercase()
                    );
                    out.push(Cause::invalid("spec.selector", sel, &detail));
                }
                Ok(s) => selector_matches_template(&s, template, out),
                Err(_) => out.push(Cause::invalid(
                    "spec.selector",
                    sel,
                    "invalid label selector",
                )),
            }
        }
    }
    long_running_template(kind, template, "spec.template", out);
    match kind {
        "Deployment" => deployment_strategy(spec, out),
        "StatefulSet" => {
            one_of(
                spec,
                "podManagementPolicy",
                "spec",
                &["OrderedReady", "Parallel"],
                out,
            );
            let strategy = spec.get("updateStrategy").unwrap_or(&Value::Null);
            one_of(
                strategy,
                "type",
                "spec.updateStrategy",
                &["RollingUpdate", "OnDelete"],
                out,
            );
        }
        "DaemonSet" => {
            let strategy = spec.get("updateStrategy").unwrap_or(&Value::Null);
            one_of(
                strategy,
                "type",
                "spec.updateStrategy",
                &["RollingUpdate", "OnDelete"],
                out,
            );
        }
        _ => {}
    }
}

fn selector_matches_template(selector: &LabelSelector, template: &Value, out: &mut Vec<Cause>) {
    let labels = template.pointer("/metadata/labels");
    let empty = Map::new();
    let map = labels.and_then(Value::as_object).unwrap_or(&empty);
    if !selector.matches(map) {
        out.push(Cause::invalid(
            "spec.template.metadata.labels",
            labels.unwrap_or(&Value::Object(Map::new())),
            "`selector` does not match template `labels`",
        ));
    }
}

fn deployment_strategy(spec: &Value, out: &mut Vec<Cause>) {
    let Some(strategy) = spec.get("strategy") else {
        return;
    };
    one_of(
        strategy,
        "type",
        "spec.strategy",
        &["Recreate", "RollingUpdate"],
        out,
    );
    let rolling = strategy.get("rollingUpdate").filter(|r| !r.is_null());
    if str_at(strategy, "type") == "Recreate" && rolling.is_some() {
        out.push(Cause::forbidden(
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'",
        ));
    }
    let Some(rolling) = rolling else {
        return;
    };
    let is_zero = |key: &str| match rolling.get(key) {
        Some(Value::Number(n)) => n.as_i64() == Some(0),
        Some(Value::String(s)) => s == "0%" || s == "0",
        _ => false,
    };
    if is_zero("maxUnavailable") && is_zero("maxSurge") {
        out.push(Cause::invalid(
            "spec.strategy.rollingUpdate.maxUnavailable",
            &rolling["maxUnavailable"],
            "may not be 0 when `maxSurge` is 0",
        ));
    }
}

pub(super) fn replication_controller(spec: &Value, out: &mut Vec<Cause>) {
    non_negative(spec, "replicas", "spec", out);
    non_negative(spec, "minReadySeconds", "spec", out);
    let Some(template) = spec.get("template").filter(|t| !t.is_null()) else {
        out.push(Cause::required("spec.template", ""));
        return;
    };
    // An absent selector is defaulted from the template's labels, so only a given one can miss.
    if let Some(selector) = spec
        .get("selector")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty())
    {
        let as_label_selector = serde_json::json!({ "matchLabels": selector });
        if let Ok(s) = LabelSelector::from_label_selector(&as_label_selector) {
            selector_matches_template(&s, template, out);
        }
    }
    long_running_template("ReplicationController", template, "spec.template", out);
}

pub(super) fn job_spec(spec: &Value, path: &str, out: &mut Vec<Cause>) {
    for key in ["parallelism", "completions", "backoffLimit"] {
        non_negative(spec, key, path, out);
    }
    positive(spec, "activeDeadlineSeconds", path, out);
    let template = spec.get("template").unwrap_or(&Value::Null);
    let template_path = format!("{path}.template");
    pod_template(template, &template_path, out);
    // Pod defaulting makes an unset policy `Always`, which a Job cannot run.
    let policy = template
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Always");
    if policy != "OnFailure" && policy != "Never" {
        out.push(Cause::not_supported(
            format!("{template_path}.spec.restartPolicy"),
            policy,
            &["OnFailure", "Never"],
        ));
    }
}

pub(super) fn cron_job(spec: &Value, out: &mut Vec<Cause>) {
    if str_at(spec, "schedule").trim().is_empty() {
        out.push(Cause::required("spec.schedule", ""));
    }
    one_of(
        spec,
        "concurrencyPolicy",
        "spec",
        &["Allow", "Forbid", "Replace"],
        out,
    );
    for key in [
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ] {
        non_negative(spec, key, "spec", out);
    }
    let job = spec.pointer("/jobTemplate/spec").unwrap_or(&Value::Null);
    job_spec(job, "spec.jobTemplate.spec", out);
}

pub(super) fn hpa(spec: &Value, out: &mut Vec<Cause>) {
    let min = spec.get("minReplicas").and_then(Value::as_i64);
    let max = spec.get("maxReplicas").and_then(Value::as_i64).unwrap_or(0);
    if let Some(m) = min.filter(|m| *m < 1) {
        out.push(Cause::invalid(
            "spec.minReplicas",
            &m.into(),
            "must be greater than or equal to 1",
        ));
    }
    if max < 1 {
        out.push(Cause::invalid(
            "spec.maxReplicas",
            &max.into(),
            "must be greater than 0",
        ));
    } else if min.is_some_and(|m| max < m) {
        out.push(Cause::invalid(
            "spec.maxReplicas",
            &max.into(),
            "must be greater than or equal to `minReplicas`",
        ));
    }
    let target = spec.get("scaleTargetRef").unwrap_or(&Value::Null);
    for key in ["kind", "name"] {
        if str_at(target, key).is_empty() {
            out.push(Cause::required(format!("spec.scaleTargetRef.{key}"), ""));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::validate_native;

    fn errors(group: &str, kind: &str, object: &Value) -> Vec<String> {
        validate_native(group, kind, object)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn template(labels: &Value) -> Value {
        json!({"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}})
    }

    #[test]
    fn workload_selector_and_template() {
        let good = json!({"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template(&json!({"app": "web"}))});
        for kind in ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"] {
            assert!(
                errors("apps", kind, &json!({ "spec": good })).is_empty(),
                "{kind}"
            );
        }
        let cases: &[(Value, &[&str])] = &[
            (
                json!({"template": template(&json!({"app": "web"}))}),
                &["spec.selector: Required value"],
            ),
            (
                json!({"selector": {"matchLabels": {"app": "api"}}, "template": template(&json!({"app": "web"}))}),
                &[
                    "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
                ],
            ),
            (
                json!({"selector": {}, "template": template(&json!({"app": "web"}))}),
                &["spec.selector: Invalid value: {}: empty selector is invalid for deployment"],
            ),
            (
                json!({"replicas": -1, "selector": {"matchLabels": {"app": "web"}}, "template": template(&json!({"app": "web"}))}),
                &["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
            ),
            (
                json!({"selector": {"matchExpressions": [{"key": "app", "operator": "Near", "values": ["x"]}]}, "template": template(&json!({"app": "web"}))}),
                &[
                    "spec.selector.matchExpressions[0].operator: Invalid value: \"Near\": not a valid selector operator",
                    "spec.selector: Invalid value: ",
                ],
            ),
            (
                json!({"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "x"}]}}}),
                &[
                    "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                ],
            ),
            (
                json!({"selector": {"matchLabels": {"app": "web"}}, "template": template(&json!({"app": "web"})),
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}}),
                &[
                    "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 when `maxSurge` is 0",
                ],
            ),
            (
                json!({"selector": {"matchLabels": {"app": "web"}}, "template": template(&json!({"app": "web"})),
                    "strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}),
                &[
                    "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
                ],
            ),
        ];
        for (spec, want) in cases {
            let got = errors("apps", "Deployment", &json!({ "spec": spec }));
            assert_eq!(got.len(), want.len(), "{spec}: {got:?}");
            for (g, w) in got.iter().zip(want.iter()) {
                assert!(g.starts_with(w), "{g}");
            }
        }
        let sts = &json!({"spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template(&json!({"app": "web"})), "podManagementPolicy": "Random"}});
        assert_eq!(
            errors("apps", "StatefulSet", sts),
            [
                "spec.podManagementPolicy: Unsupported value: \"Random\": supported values: \"OrderedReady\", \"Parallel\""
            ]
        );
    }

    #[test]
    fn replication_controller_defaults_selector_from_template() {
        let rc = |spec: Value| errors("", "ReplicationController", &json!({ "spec": spec }));
        assert!(rc(json!({"template": template(&json!({"app": "web"}))})).is_empty());
        assert_eq!(
            rc(json!({"selector": {"app": "web"}})),
            ["spec.template: Required value"]
        );
        assert_eq!(
            rc(json!({"selector": {"app": "api"}, "template": template(&json!({"app": "web"}))})),
            [
                "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
    }

    #[test]
    fn jobs_and_cron_jobs() {
        let job_template = |policy: Option<&str>| {
            let mut t = template(&json!({}));
            if let Some(p) = policy {
                t["spec"]["restartPolicy"] = p.into();
            }
            t
        };
        assert!(
            errors(
                "batch",
                "Job",
                &json!({"spec": {"template": job_template(Some("Never"))}})
            )
            .is_empty()
        );
        assert_eq!(
            errors(
                "batch",
                "Job",
                &json!({"spec": {"template": job_template(None), "completions": -1}})
            ),
            [
                "spec.completions: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
            ]
        );
        let cron = &json!({"spec": {"concurrencyPolicy": "Sometimes", "jobTemplate": {"spec": {"template": job_template(Some("OnFailure"))}}}});
        assert_eq!(
            errors("batch", "CronJob", cron),
            [
                "spec.schedule: Required value",
                "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\""
            ]
        );
    }

    #[test]
    fn horizontal_pod_autoscaler_bounds() {
        let hpa = |spec: Value| {
            errors(
                "autoscaling",
                "HorizontalPodAutoscaler",
                &json!({ "spec": spec }),
            )
        };
        let target = json!({"kind": "Deployment", "name": "web"});
        assert!(
            hpa(json!({"scaleTargetRef": target, "minReplicas": 1, "maxReplicas": 3})).is_empty()
        );
        assert_eq!(
            hpa(json!({"scaleTargetRef": target, "minReplicas": 5, "maxReplicas": 3})),
            ["spec.maxReplicas: Invalid value: 3: must be greater than or equal to `minReplicas`"]
        );
        assert_eq!(
            hpa(json!({"minReplicas": 0})),
            [
                "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                "spec.maxReplicas: Invalid value: 0: must be greater than 0",
                "spec.scaleTargetRef.kind: Required value",
                "spec.scaleTargetRef.name: Required value"
            ]
        );
    }
}
