//! Admission of Clusters: the defaults and validation Karmada's aggregated apiserver applies.

use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::quantity::{self, MAX_INT64};
use super::{Cluster, ClusterSpec, LocalSecretReference, ResourceModel, ResourceModelRange};
use crate::names;
use crate::validation::{Admit, FieldError, Reason};

/// Longest cluster name: the name is embedded in execution namespaces and label values.
pub const CLUSTER_NAME_MAX_LENGTH: usize = 48;

const GI: i64 = 1 << 30;

impl Admit for Cluster {
    /// Moves the deprecated `zone` into `zones`, and fills in (or normalises) resource models.
    fn default_fields(&mut self) {
        let spec = &mut self.spec;
        if spec.zones.is_empty()
            && let Some(zone) = spec.zone.take().filter(|z| !z.is_empty())
        {
            spec.zones.push(zone);
        }
        if spec.resource_models.is_empty() {
            spec.resource_models = default_resource_models();
        } else {
            standardize_resource_models(&mut spec.resource_models);
        }
    }

    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let name = self.metadata.name.as_deref().unwrap_or_default();
        if let Err(e) = cluster_name(name) {
            errs.push(FieldError::invalid(
                "metadata.name",
                format!("cluster name {name:?} {e}"),
            ));
        }
        spec(&self.spec, &mut errs);
        errs
    }
}

/// Whether `name` may name a cluster: a DNS-1123 label of at most 48 characters.
fn cluster_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must be not empty".to_string());
    }
    if name.len() > CLUSTER_NAME_MAX_LENGTH {
        return Err(format!(
            "must be no more than {CLUSTER_NAME_MAX_LENGTH} characters"
        ));
    }
    names::dns1123_label(name)
}

fn spec(spec: &ClusterSpec, errs: &mut Vec<FieldError>) {
    if let Some(endpoint) = spec.api_endpoint.as_deref().filter(|e| !e.is_empty()) {
        for e in api_endpoint(endpoint) {
            errs.push(FieldError::invalid("spec.apiEndpoint", e));
        }
    }
    secret_ref(spec.secret_ref.as_ref(), "spec.secretRef", errs);
    secret_ref(
        spec.impersonator_secret_ref.as_ref(),
        "spec.impersonatorSecretRef",
        errs,
    );
    if let Some(proxy) = spec.proxy_url.as_deref().filter(|p| !p.is_empty()) {
        let scheme = proxy.split_once("://").map(|(s, _)| s).unwrap_or_default();
        if !matches!(scheme, "http" | "https" | "socks5") {
            errs.push(FieldError::invalid(
                "spec.proxyURL",
                format!("unsupported scheme {scheme:?}, must be http, https, or socks5"),
            ));
        }
    }
    for (field, value) in [
        ("provider", &spec.provider),
        ("region", &spec.region),
        ("zone", &spec.zone),
    ] {
        if let Some(value) = value
            && let Err(e) = names::label_value(value)
        {
            errs.push(FieldError::invalid(format!("spec.{field}"), e));
        }
    }
    if spec.zone.as_deref().is_some_and(|z| !z.is_empty()) && !spec.zones.is_empty() {
        errs.push(FieldError::invalid(
            "spec.zones",
            "zone and zones cannot co-exist; list every zone in zones",
        ));
    }
    for (i, zone) in spec.zones.iter().enumerate() {
        if let Err(e) = names::label_value(zone) {
            errs.push(FieldError::invalid(format!("spec.zones[{i}]"), e));
        }
    }
    let taints: Vec<_> = spec
        .taints
        .iter()
        .map(|t| {
            (
                t.key.as_str(),
                t.value.as_deref().unwrap_or_default(),
                t.effect.as_str(),
            )
        })
        .collect();
    validate_taints(&taints, "spec.taints", errs);
    if let Err(e) = resource_models(&spec.resource_models) {
        errs.push(FieldError::invalid("spec.resourceModels", e));
    }
}

fn secret_ref(reference: Option<&LocalSecretReference>, path: &str, errs: &mut Vec<FieldError>) {
    let Some(reference) = reference else {
        return;
    };
    if reference.namespace.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.namespace"),
            "namespace of the Secret is required",
        ));
    }
    if reference.name.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.name"),
            "name of the Secret is required",
        ));
    }
}

/// Problems with an API endpoint URL: it needs a host and may not carry user info, a query or
/// a fragment.
fn api_endpoint(endpoint: &str) -> Vec<String> {
    const FORM: &str =
        "; desired format: https://hostname, https://hostname:port, https://IP or https://IP:port";
    let mut problems = Vec::new();
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("", ""));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if scheme.is_empty() || authority.is_empty() {
        problems.push(format!("host must be provided{FORM}"));
    }
    if authority.contains('@') {
        problems.push("user information is not permitted in the URL".to_string());
    }
    if endpoint.split_once('#').is_some_and(|(_, f)| !f.is_empty()) {
        problems.push("fragments are not permitted in the URL".to_string());
    }
    let before_fragment = endpoint.split('#').next().unwrap_or_default();
    if before_fragment
        .split_once('?')
        .is_some_and(|(_, q)| !q.is_empty())
    {
        problems.push("query parameters are not permitted in the URL".to_string());
    }
    problems
}

/// Taint rules shared with cluster taint policies: key a qualified name, value a label value,
/// effect NoSchedule or NoExecute, and one taint per key and effect. Each taint is given as
/// `(key, value, effect)`.
pub(crate) fn validate_taints(
    taints: &[(&str, &str, &str)],
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    for (i, &(key, value, effect)) in taints.iter().enumerate() {
        let item = format!("{path}[{i}]");
        if let Err(e) = names::qualified_name(key) {
            errs.push(FieldError::invalid(format!("{item}.key"), e));
        }
        if let Err(e) = names::label_value(value) {
            errs.push(FieldError::invalid(format!("{item}.value"), e));
        }
        match effect {
            "NoSchedule" | "NoExecute" => {}
            "" => errs.push(FieldError::required(
                format!("{item}.effect"),
                "effect is required: NoSchedule or NoExecute",
            )),
            other => errs.push(FieldError::new(
                format!("{item}.effect"),
                Reason::NotSupported,
                format!("unsupported effect {other:?}, must be NoSchedule or NoExecute"),
            )),
        }
        if taints[..i].iter().any(|&(k, _, e)| k == key && e == effect) {
            errs.push(FieldError::new(
                item,
                Reason::Duplicate,
                format!("taints must be unique by key and effect pair; {key:?}/{effect} repeats"),
            ));
        }
    }
}

/// Resource models must be contiguous grades over the same resources: the first starts at 0,
/// each range is non-empty, each starts where the previous grade ended, the last is unbounded.
fn resource_models(models: &[ResourceModel]) -> Result<(), String> {
    let value = |q: &Quantity| {
        quantity::nanos(q).ok_or_else(|| format!("{:?} is not a valid quantity", q.0))
    };
    for (i, model) in models.iter().enumerate() {
        let previous = i.checked_sub(1).map(|p| &models[p]);
        if let Some(previous) = previous {
            if model.grade == previous.grade {
                return Err(format!(
                    "the grade of each model must differ; grade {} repeats",
                    model.grade
                ));
            }
            if model.ranges.len() != previous.ranges.len() {
                return Err("every model must list the same number of resource types".to_string());
            }
        }
        for (j, range) in model.ranges.iter().enumerate() {
            let (min, max) = (value(&range.min)?, value(&range.max)?);
            if max <= min {
                return Err(format!(
                    "max of {:?} in grade {} must be greater than its min",
                    range.name, model.grade
                ));
            }
            match previous {
                None if min != 0 => {
                    return Err(format!(
                        "min of {:?} in the first model must be 0",
                        range.name
                    ));
                }
                Some(previous) if previous.ranges[j].name != range.name => {
                    return Err(format!(
                        "the resource types of every model must be the same and in the same order; grade {} has {:?} where the previous has {:?}",
                        model.grade, range.name, previous.ranges[j].name
                    ));
                }
                Some(previous) if value(&previous.ranges[j].max)? != min => {
                    return Err(format!(
                        "model intervals must be contiguous and non-overlapping: min of {:?} in grade {} must equal the max of the previous grade",
                        range.name, model.grade
                    ));
                }
                _ => {}
            }
            if i == models.len() - 1 && max != i128::from(MAX_INT64) * 1_000_000_000 {
                return Err(format!(
                    "max of {:?} in the last model must be {MAX_INT64} (unbounded)",
                    range.name
                ));
            }
        }
    }
    Ok(())
}

/// Sorts models by grade and opens their ends: the first grade starts at 0, the last never ends.
pub fn standardize_resource_models(models: &mut [ResourceModel]) {
    models.sort_by_key(|m| m.grade);
    if let Some(first) = models.first_mut() {
        for range in &mut first.ranges {
            range.min = quantity::from_int(0);
        }
    }
    if let Some(last) = models.last_mut() {
        for range in &mut last.ranges {
            range.max = quantity::from_int(MAX_INT64);
        }
    }
}

/// Karmada's default grades: CPU 0-1-2-4-...-128 cores against memory 0-4-16-32-...-1024 GiB.
pub fn default_resource_models() -> Vec<ResourceModel> {
    const CPU: [i64; 10] = [0, 1, 2, 4, 8, 16, 32, 64, 128, MAX_INT64];
    const MEMORY_GI: [i64; 9] = [0, 4, 16, 32, 64, 128, 256, 512, 1024];
    let memory = |i: usize| match MEMORY_GI.get(i) {
        Some(0) => Quantity("0".to_string()),
        Some(gi) => Quantity(format_binary(gi * GI)),
        None => quantity::from_int(MAX_INT64),
    };
    (0..9)
        .map(|grade| ResourceModel {
            grade: grade as u32,
            ranges: vec![
                ResourceModelRange {
                    name: "cpu".into(),
                    min: quantity::from_int(CPU[grade]),
                    max: quantity::from_int(CPU[grade + 1]),
                },
                ResourceModelRange {
                    name: "memory".into(),
                    min: memory(grade),
                    max: memory(grade + 1),
                },
            ],
        })
        .collect()
}

/// A byte count in the binary-suffix form Kubernetes serializes (`4Gi`, `1Ti`).
fn format_binary(bytes: i64) -> String {
    const TI: i64 = 1 << 40;
    if bytes % TI == 0 {
        format!("{}Ti", bytes / TI)
    } else {
        format!("{}Gi", bytes / GI)
    }
}

/// Records when each `NoExecute` taint without a time was added (`now`), as Karmada does on
/// create and update so eviction grace periods can be measured.
pub fn stamp_no_execute_taints(taints: &mut [Taint], now: &Time) {
    for taint in taints {
        if taint.effect == "NoExecute" && taint.time_added.is_none() {
            taint.time_added = Some(now.clone());
        }
    }
}

#[cfg(test)]
mod tests;
