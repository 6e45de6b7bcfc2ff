//! RBAC as Kubernetes decides it: a request is allowed when a ClusterRoleBinding, or a
//! RoleBinding in the request's namespace, binds the user (by name, group or service account)
//! to a role with a rule covering the verb and the resource (or path). Nothing is ever denied
//! explicitly; what no rule allows is forbidden. Members of `system:masters` are allowed
//! everything without looking. Pure: the caller hands in the roles and bindings it holds.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use serde_json::Value;

use super::attributes::{Attributes, ResourceAttributes, SYSTEM_MASTERS, Target, User};
use crate::registry::selector::LabelSelector;

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Why: the binding and role that allowed it, or what went wrong looking (a role a
    /// binding refers to that does not exist); empty when nothing applied.
    pub reason: String,
}

/// The roles and bindings in force, as of one moment.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    cluster_roles: HashMap<String, Vec<PolicyRule>>,
    roles: HashMap<(String, String), Vec<PolicyRule>>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
    role_bindings: HashMap<String, Vec<RoleBinding>>,
}

impl Policy {
    /// A policy from stored objects; ones that do not parse are left out (the apiserver
    /// validated them on the way in, so that means they were written by something else).
    pub fn from_objects(
        cluster_roles: impl IntoIterator<Item = Value>,
        roles: impl IntoIterator<Item = Value>,
        cluster_role_bindings: impl IntoIterator<Item = Value>,
        role_bindings: impl IntoIterator<Item = Value>,
    ) -> Policy {
        let mut policy = Policy::default();
        for role in parsed::<ClusterRole>(cluster_roles) {
            let name = role.metadata.name.unwrap_or_default();
            policy
                .cluster_roles
                .insert(name, role.rules.unwrap_or_default());
        }
        for role in parsed::<Role>(roles) {
            let key = (
                role.metadata.namespace.unwrap_or_default(),
                role.metadata.name.unwrap_or_default(),
            );
            policy.roles.insert(key, role.rules.unwrap_or_default());
        }
        policy.cluster_role_bindings = parsed(cluster_role_bindings).collect();
        for binding in parsed::<RoleBinding>(role_bindings) {
            let namespace = binding.metadata.namespace.clone().unwrap_or_default();
            policy
                .role_bindings
                .entry(namespace)
                .or_default()
                .push(binding);
        }
        policy
    }

    /// Whether `attributes` are allowed, and why.
    pub fn authorize(&self, attributes: &Attributes) -> Decision {
        let user = &attributes.user;
        if user.in_group(SYSTEM_MASTERS) {
            return Decision {
                allowed: true,
                reason: format!("member of {SYSTEM_MASTERS}"),
            };
        }
        let mut problems = Vec::new();
        for binding in &self.cluster_role_bindings {
            if !applies(binding.subjects.as_deref(), user, "") {
                continue;
            }
            match self.rules(&binding.role_ref, None) {
                Ok(rules) if rules.iter().any(|r| allows(r, attributes)) => {
                    return allowed_by(
                        "ClusterRoleBinding",
                        binding.metadata.name.as_deref(),
                        &binding.role_ref,
                        user,
                    );
                }
                Ok(_) => {}
                Err(problem) => problems.push(problem),
            }
        }
        let namespace = match &attributes.target {
            Target::Resource(r) => r.namespace.as_str(),
            Target::Path(_) => "",
        };
        if !namespace.is_empty() {
            for binding in self.role_bindings.get(namespace).into_iter().flatten() {
                if !applies(binding.subjects.as_deref(), user, namespace) {
                    continue;
                }
                match self.rules(&binding.role_ref, Some(namespace)) {
                    Ok(rules) if rules.iter().any(|r| allows(r, attributes)) => {
                        let name = binding.metadata.name.as_deref();
                        let mut decision = allowed_by("RoleBinding", name, &binding.role_ref, user);
                        decision.reason =
                            format!("{} in namespace \"{namespace}\"", decision.reason);
                        return decision;
                    }
                    Ok(_) => {}
                    Err(problem) => problems.push(problem),
                }
            }
        }
        Decision {
            allowed: false,
            reason: if problems.is_empty() {
                String::new()
            } else {
                format!("RBAC: {}", problems.join(", "))
            },
        }
    }

    /// Every rule granted to `user` in `namespace` (cluster-wide ones included), as
    /// `kubectl auth can-i --list` shows them; a `system:masters` member gets `*`.
    pub fn rules_for(&self, user: &User, namespace: &str) -> Vec<PolicyRule> {
        if user.in_group(SYSTEM_MASTERS) {
            let all = vec!["*".to_string()];
            return vec![
                PolicyRule {
                    verbs: all.clone(),
                    api_groups: Some(all.clone()),
                    resources: Some(all.clone()),
                    ..PolicyRule::default()
                },
                PolicyRule {
                    verbs: all.clone(),
                    non_resource_urls: Some(all),
                    ..PolicyRule::default()
                },
            ];
        }
        let mut rules: Vec<PolicyRule> = Vec::new();
        let cluster = self
            .cluster_role_bindings
            .iter()
            .filter(|b| applies(b.subjects.as_deref(), user, ""))
            .filter_map(|b| self.rules(&b.role_ref, None).ok());
        let namespaced = self
            .role_bindings
            .get(namespace)
            .into_iter()
            .flatten()
            .filter(|b| applies(b.subjects.as_deref(), user, namespace))
            .filter_map(|b| self.rules(&b.role_ref, Some(namespace)).ok());
        for rule in cluster.chain(namespaced).flatten() {
            if !rules.contains(rule) {
                rules.push(rule.clone());
            }
        }
        rules
    }

    /// The rules of the role `role_ref` points at (a Role only within `namespace`).
    fn rules(&self, role_ref: &RoleRef, namespace: Option<&str>) -> Result<&[PolicyRule], String> {
        let found = match (role_ref.kind.as_str(), namespace) {
            ("ClusterRole", _) => self.cluster_roles.get(&role_ref.name),
            ("Role", Some(namespace)) => self
                .roles
                .get(&(namespace.to_string(), role_ref.name.clone())),
            _ => None,
        };
        found.map(Vec::as_slice).ok_or_else(|| {
            let kind = role_ref.kind.to_lowercase();
            format!(
                "{kind}.rbac.authorization.k8s.io \"{}\" not found",
                role_ref.name
            )
        })
    }
}

fn parsed<T: serde::de::DeserializeOwned>(
    objects: impl IntoIterator<Item = Value>,
) -> impl Iterator<Item = T> {
    objects
        .into_iter()
        .filter_map(|o| serde_json::from_value(o).ok())
}

fn allowed_by(kind: &str, name: Option<&str>, role_ref: &RoleRef, user: &User) -> Decision {
    Decision {
        allowed: true,
        reason: format!(
            "RBAC: allowed by {kind} \"{}\" of {} \"{}\" to User \"{}\"",
            name.unwrap_or_default(),
            role_ref.kind,
            role_ref.name,
            user.name
        ),
    }
}

/// Whether a binding with `subjects` in `namespace` ("" for a ClusterRoleBinding) names the
/// user. A ServiceAccount subject without a namespace means the binding's own.
fn applies(subjects: Option<&[Subject]>, user: &User, namespace: &str) -> bool {
    subjects
        .into_iter()
        .flatten()
        .any(|subject| match subject.kind.as_str() {
            "User" => subject.name == user.name,
            "Group" => user.in_group(&subject.name),
            "ServiceAccount" => {
                let sa_namespace = subject
                    .namespace
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .unwrap_or(namespace);
                !sa_namespace.is_empty()
                    && user.name
                        == format!(
                            "{}{sa_namespace}:{}",
                            super::attributes::SERVICE_ACCOUNT_PREFIX,
                            subject.name
                        )
            }
            _ => false,
        })
}

/// Whether `rule` allows `attributes`.
pub fn allows(rule: &PolicyRule, attributes: &Attributes) -> bool {
    if !matches_any(&rule.verbs, &attributes.verb) {
        return false;
    }
    match &attributes.target {
        Target::Resource(r) => allows_resource(rule, r),
        Target::Path(path) => rule
            .non_resource_urls
            .iter()
            .flatten()
            .any(|url| url_matches(url, path)),
    }
}

fn allows_resource(rule: &PolicyRule, r: &ResourceAttributes) -> bool {
    let groups = rule.api_groups.as_deref().unwrap_or_default();
    if !groups.iter().any(|g| g == "*" || *g == r.group) {
        return false;
    }
    let combined = r.combined();
    let resource_matches = rule.resources.iter().flatten().any(|resource| {
        resource == "*"
            || *resource == combined
            || (!r.subresource.is_empty()
                && resource.strip_prefix("*/") == Some(r.subresource.as_str()))
    });
    if !resource_matches {
        return false;
    }
    match rule.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => names.contains(&r.name),
    }
}

fn matches_any(values: &[String], wanted: &str) -> bool {
    values.iter().any(|v| v == "*" || v == wanted)
}

/// `*` matches every path, `/apis/*` every path under `/apis/`, anything else itself.
fn url_matches(rule: &str, path: &str) -> bool {
    match rule.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => rule == path,
    }
}

/// The rules each aggregated ClusterRole should hold: those of every other ClusterRole whose
/// labels match one of its `aggregationRule.clusterRoleSelectors`, in the order of their
/// names, without duplicates. Roles without an aggregation rule are not in the result.
pub fn aggregated_rules(cluster_roles: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut sorted: Vec<&Value> = cluster_roles.iter().collect();
    sorted.sort_by(|a, b| name(a).cmp(name(b)));
    let mut out = BTreeMap::new();
    for role in &sorted {
        let Some(selectors) = role
            .pointer("/aggregationRule/clusterRoleSelectors")
            .and_then(Value::as_array)
        else {
            continue;
        };
        let selectors: Vec<LabelSelector> = selectors
            .iter()
            .filter_map(|s| LabelSelector::from_label_selector(s).ok())
            .collect();
        let mut rules: Vec<Value> = Vec::new();
        for source in &sorted {
            if name(source) == name(role) || !selectors.iter().any(|s| s.matches_object(source)) {
                continue;
            }
            for rule in source["rules"].as_array().into_iter().flatten() {
                if !rules.contains(rule) {
                    rules.push(rule.clone());
                }
            }
        }
        out.insert(name(role).to_string(), rules);
    }
    out
}

fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

#[cfg(test)]
mod tests;
