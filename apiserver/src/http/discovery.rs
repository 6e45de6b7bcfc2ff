//! API discovery documents: legacy (`/api`, `/apis`, per group-version) and aggregated v2.

use serde_json::{Value, json};

use crate::registry::catalog::{Catalog, Resource, api_version};

/// The media type kubectl and kube-rs ask for to get aggregated discovery.
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether an `Accept` header asks for aggregated discovery v2.
pub fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let params: Vec<&str> = part.split(';').map(str::trim).collect();
        params.first() == Some(&"application/json")
            && params.contains(&"g=apidiscovery.k8s.io")
            && params.contains(&"v=v2")
            && params.contains(&"as=APIGroupDiscoveryList")
    })
}

/// `/api` (legacy): `APIVersions`.
pub fn legacy_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]})
}

fn group_entry(catalog: &Catalog, group: &str) -> Value {
    let versions: Vec<Value> = catalog
        .group_versions(group)
        .iter()
        .map(|v| json!({"groupVersion": api_version(group, v), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": versions, "preferredVersion": preferred})
}

/// `/apis` (legacy): `APIGroupList` of every non-core group.
pub fn group_list(catalog: &Catalog) -> Value {
    let groups: Vec<Value> = catalog
        .groups()
        .iter()
        .filter(|g| !g.is_empty())
        .map(|g| group_entry(catalog, g))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`: `APIGroup`, or `None` when the group is not served.
pub fn group(catalog: &Catalog, group: &str) -> Option<Value> {
    if group.is_empty() || !catalog.groups().iter().any(|g| g == group) {
        return None;
    }
    let mut entry = group_entry(catalog, group);
    entry["kind"] = json!("APIGroup");
    entry["apiVersion"] = json!("v1");
    Some(entry)
}

fn resources_of(catalog: &Catalog, group: &str, version: &str) -> Vec<std::sync::Arc<Resource>> {
    catalog
        .all()
        .into_iter()
        .filter(|r| r.group == group && r.version == version)
        .collect()
}

/// `/api/v1`, `/apis/<g>/<v>`: `APIResourceList`, or `None` when not served.
pub fn resource_list(catalog: &Catalog, group: &str, version: &str) -> Option<Value> {
    let resources = resources_of(catalog, group, version);
    if resources.is_empty() {
        return None;
    }
    let mut entries = Vec::new();
    for r in &resources {
        entries.push(json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs(),
            "shortNames": r.short_names,
            "categories": r.categories,
        }));
        if r.status_subresource {
            entries.push(json!({"name": format!("{}/status", r.plural), "singularName": "", "namespaced": r.namespaced, "kind": r.kind, "verbs": ["get", "patch", "update"]}));
        }
        if r.scale.is_some() {
            entries.push(json!({"name": format!("{}/scale", r.plural), "singularName": "", "namespaced": r.namespaced, "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}));
        }
        if r.group.is_empty() && r.kind == "Namespace" {
            entries.push(json!({"name": "namespaces/finalize", "singularName": "", "namespaced": false, "kind": "Namespace", "verbs": ["update"]}));
        }
        if has_token(r) {
            entries.push(json!({"name": "serviceaccounts/token", "singularName": "", "namespaced": true, "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest", "verbs": ["create"]}));
        }
    }
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version(group, version), "resources": entries}),
    )
}

/// ServiceAccounts issue tokens through their `token` subresource (a TokenRequest).
fn has_token(r: &Resource) -> bool {
    r.group.is_empty() && r.kind == "ServiceAccount"
}

fn aggregated_resource(r: &Resource) -> Value {
    let mut subresources = Vec::new();
    if r.status_subresource {
        subresources.push(json!({"subresource": "status", "responseKind": {"group": r.group, "version": r.version, "kind": r.kind}, "verbs": ["get", "patch", "update"]}));
    }
    if r.scale.is_some() {
        subresources.push(json!({"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get", "patch", "update"]}));
    }
    if has_token(r) {
        subresources.push(json!({"subresource": "token", "responseKind": {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}, "verbs": ["create"]}));
    }
    let mut entry = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": r.verbs(),
    });
    if !r.short_names.is_empty() {
        entry["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        entry["categories"] = json!(r.categories);
    }
    if !subresources.is_empty() {
        entry["subresources"] = json!(subresources);
    }
    entry
}

fn aggregated_group(catalog: &Catalog, group: &str) -> Value {
    let versions: Vec<Value> = catalog
        .group_versions(group)
        .iter()
        .map(|v| {
            let resources: Vec<Value> = resources_of(catalog, group, v)
                .iter()
                .map(|r| aggregated_resource(r))
                .collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group}, "versions": versions})
}

/// Aggregated discovery: for `/api` only the core group, for `/apis` every other group.
pub fn aggregated(catalog: &Catalog, core: bool) -> Value {
    let items: Vec<Value> = catalog
        .groups()
        .iter()
        .filter(|g| g.is_empty() == core)
        .map(|g| aggregated_group(catalog, g))
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_kubectl_accept_header() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert!(wants_aggregated(kubectl));
        assert!(!wants_aggregated("application/json"));
    }

    #[test]
    fn aggregated_core_group_lists_pods_with_scale_kinds() {
        let catalog = Catalog::with_native();
        let core = aggregated(&catalog, true);
        assert_eq!(core["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(core["items"][0]["metadata"]["name"], "");
        let apis = aggregated(&catalog, false);
        let apps = apis["items"]
            .as_array()
            .and_then(|i| i.iter().find(|g| g["metadata"]["name"] == "apps"))
            .expect("apps");
        let deploy = apps["versions"][0]["resources"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["resource"] == "deployments"))
            .expect("deployments");
        assert_eq!(deploy["subresources"][1]["responseKind"]["kind"], "Scale");
        assert_eq!(deploy["categories"][0], "all");
    }

    #[test]
    fn legacy_lists_have_subresources() {
        let catalog = Catalog::with_native();
        let list = resource_list(&catalog, "apps", "v1").expect("apps/v1");
        let names: Vec<&str> = list["resources"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(names.contains(&"deployments/scale") && names.contains(&"deployments/status"));
        assert_eq!(
            group(&catalog, "autoscaling").expect("served")["preferredVersion"]["version"],
            "v2"
        );
        assert!(resource_list(&catalog, "nope", "v1").is_none());
        let core = resource_list(&catalog, "", "v1").expect("core");
        let token = core["resources"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["name"] == "serviceaccounts/token"))
            .expect("serviceaccounts/token");
        assert_eq!(
            (&token["group"], &token["kind"], &token["verbs"]),
            (
                &json!("authentication.k8s.io"),
                &json!("TokenRequest"),
                &json!(["create"])
            )
        );
    }

    #[test]
    fn aggregated_service_accounts_have_the_token_subresource() {
        let core = aggregated(&Catalog::with_native(), true);
        let accounts = core["items"][0]["versions"][0]["resources"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["resource"] == "serviceaccounts"))
            .expect("serviceaccounts");
        assert_eq!(
            accounts["subresources"],
            json!([{"subresource": "token", "responseKind": {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}, "verbs": ["create"]}])
        );
    }
}
