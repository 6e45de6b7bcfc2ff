//! The objects a template depends on, as Karmada's default interpreter finds them: what a
//! workload's pod template refers to by name (ConfigMaps, Secrets, its ServiceAccount and
//! PersistentVolumeClaims), and for a ServiceImport its derived Service by name and the
//! EndpointSlices of that Service by label.

use std::collections::{BTreeMap, BTreeSet};

use karmada_api::mcs::{LABEL_KUBERNETES_SERVICE_NAME, derived_service_name};
use serde_json::Value;

/// One object a template depends on; always in the template's namespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dependency {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// Objects a template depends on by label: every object of the kind in the template's
/// namespace whose labels include `labels`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Selection {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
}

impl Selection {
    /// Whether the object `kind` `namespace`/… with `labels` is selected.
    pub fn selects(&self, kind: &str, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        self.kind == kind
            && self.namespace == namespace
            && self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    }

    /// The selection as a Kubernetes label selector.
    pub fn label_selector(&self) -> String {
        self.labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Whether `template` is an MCS ServiceImport.
fn is_service_import(template: &Value) -> bool {
    template["kind"] == "ServiceImport"
        && template["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("multicluster.x-k8s.io/"))
}

/// The objects `template` depends on by label: for a ServiceImport, the EndpointSlices of its
/// derived Service.
pub fn selections(template: &Value) -> Vec<Selection> {
    if !is_service_import(template) {
        return Vec::new();
    }
    let (Some(namespace), Some(name)) = (
        template["metadata"]["namespace"].as_str(),
        template["metadata"]["name"].as_str(),
    ) else {
        return Vec::new();
    };
    vec![Selection {
        api_version: "discovery.k8s.io/v1".to_string(),
        kind: "EndpointSlice".to_string(),
        namespace: namespace.to_string(),
        labels: BTreeMap::from([(
            LABEL_KUBERNETES_SERVICE_NAME.to_string(),
            derived_service_name(name),
        )]),
    }]
}

/// The dependencies of `template` by name, sorted and without duplicates.
///
/// Kinds the default interpreter does not cover (and templates without a pod spec) have none.
/// A StatefulSet's `volumeClaimTemplates` are not dependencies: the member's StatefulSet
/// controller creates those claims, so a volume naming one is dropped too. A ServiceImport
/// depends on its derived Service.
pub fn dependencies(template: &Value) -> Vec<Dependency> {
    let namespace = template["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    if is_service_import(template) {
        return template["metadata"]["name"]
            .as_str()
            .map(|name| Dependency {
                api_version: "v1".to_string(),
                kind: "Service".to_string(),
                namespace: namespace.to_string(),
                name: derived_service_name(name),
            })
            .into_iter()
            .collect();
    }
    let Some(pod) = pod_spec(template) else {
        return Vec::new();
    };
    let mut found = Found::default();
    visit_pod(pod, &mut found);
    if template["kind"] == "StatefulSet" {
        let claimed: BTreeSet<&str> = items(&template["spec"]["volumeClaimTemplates"])
            .filter_map(|claim| claim["metadata"]["name"].as_str())
            .collect();
        found.claims.retain(|name| !claimed.contains(name.as_str()));
    }
    let mut out: Vec<Dependency> = [
        ("ConfigMap", found.config_maps),
        ("Secret", found.secrets),
        ("ServiceAccount", found.service_accounts),
        ("PersistentVolumeClaim", found.claims),
    ]
    .into_iter()
    .flat_map(|(kind, names)| {
        names.into_iter().map(move |name| Dependency {
            api_version: "v1".to_string(),
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name,
        })
    })
    .collect();
    out.sort();
    out
}

/// The pod spec of a kind the default interpreter covers.
fn pod_spec(template: &Value) -> Option<&Value> {
    let api_version = template["apiVersion"].as_str()?;
    let spec = &template["spec"];
    let pod = match (api_version, template["kind"].as_str()?) {
        ("v1", "Pod") => spec,
        ("apps/v1", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch/v1", "Job") => &spec["template"]["spec"],
        ("batch/v1", "CronJob") => &spec["jobTemplate"]["spec"]["template"]["spec"],
        _ => return None,
    };
    pod.is_object().then_some(pod)
}

#[derive(Default)]
struct Found {
    config_maps: BTreeSet<String>,
    secrets: BTreeSet<String>,
    service_accounts: BTreeSet<String>,
    claims: BTreeSet<String>,
}

fn visit_pod(pod: &Value, found: &mut Found) {
    if let Some(account) = name(&pod["serviceAccountName"]).filter(|a| *a != "default") {
        found.service_accounts.insert(account.to_string());
    }
    for secret in items(&pod["imagePullSecrets"]) {
        insert(&mut found.secrets, &secret["name"]);
    }
    let containers = ["containers", "initContainers", "ephemeralContainers"]
        .into_iter()
        .flat_map(|field| items(&pod[field]));
    for container in containers {
        for source in items(&container["envFrom"]) {
            insert(&mut found.config_maps, &source["configMapRef"]["name"]);
            insert(&mut found.secrets, &source["secretRef"]["name"]);
        }
        for env in items(&container["env"]) {
            let from = &env["valueFrom"];
            insert(&mut found.config_maps, &from["configMapKeyRef"]["name"]);
            insert(&mut found.secrets, &from["secretKeyRef"]["name"]);
        }
    }
    for volume in items(&pod["volumes"]) {
        insert(&mut found.config_maps, &volume["configMap"]["name"]);
        insert(&mut found.secrets, &volume["secret"]["secretName"]);
        insert(
            &mut found.claims,
            &volume["persistentVolumeClaim"]["claimName"],
        );
        for source in items(&volume["projected"]["sources"]) {
            insert(&mut found.config_maps, &source["configMap"]["name"]);
            insert(&mut found.secrets, &source["secret"]["name"]);
        }
        // Volume plugins that read their credentials from a Secret, as Kubernetes'
        // own secret visitor lists them.
        insert(&mut found.secrets, &volume["azureFile"]["secretName"]);
        for plugin in [
            "cephfs",
            "cinder",
            "flexVolume",
            "rbd",
            "scaleIO",
            "iscsi",
            "storageos",
        ] {
            insert(&mut found.secrets, &volume[plugin]["secretRef"]["name"]);
        }
        insert(
            &mut found.secrets,
            &volume["csi"]["nodePublishSecretRef"]["name"],
        );
    }
}

fn items(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_array().into_iter().flatten()
}

fn name(value: &Value) -> Option<&str> {
    value.as_str().filter(|name| !name.is_empty())
}

fn insert(set: &mut BTreeSet<String>, value: &Value) {
    if let Some(name) = name(value) {
        set.insert(name.to_string());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A core-group dependency in namespace `shop`, for the tests here and in the controller.
    pub(crate) fn dep(kind: &str, name: &str) -> Dependency {
        Dependency {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: "shop".into(),
            name: name.into(),
        }
    }

    /// A template of `kind` whose pod spec is `pod`, nested where that kind keeps it.
    fn wrap(api_version: &str, kind: &str, pod: Value) -> Value {
        let spec = match kind {
            "Pod" => pod,
            "CronJob" => json!({"jobTemplate": {"spec": {"template": {"spec": pod}}}}),
            _ => json!({"template": {"spec": pod}}),
        };
        json!({"apiVersion": api_version, "kind": kind,
               "metadata": {"name": "app", "namespace": "shop"}, "spec": spec})
    }

    #[test]
    fn every_covered_kind_finds_its_pod_template() {
        let pod =
            json!({"containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "cfg"}}]}]});
        for (api_version, kind) in [
            ("apps/v1", "Deployment"),
            ("apps/v1", "ReplicaSet"),
            ("apps/v1", "StatefulSet"),
            ("apps/v1", "DaemonSet"),
            ("batch/v1", "Job"),
            ("batch/v1", "CronJob"),
            ("v1", "Pod"),
        ] {
            let template = wrap(api_version, kind, pod.clone());
            assert_eq!(dependencies(&template), [dep("ConfigMap", "cfg")], "{kind}");
        }
        for (api_version, kind) in [("v1", "ConfigMap"), ("apps/v1beta9", "Deployment")] {
            let template = wrap(api_version, kind, pod.clone());
            assert!(dependencies(&template).is_empty(), "{api_version} {kind}");
        }
    }

    #[test]
    fn references_are_found_wherever_a_pod_spec_holds_them() {
        let cases = [
            (
                "volumes of every flavour",
                json!({"volumes": [
                    {"name": "a", "configMap": {"name": "cm-vol"}},
                    {"name": "b", "secret": {"secretName": "s-vol"}},
                    {"name": "c", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "d", "projected": {"sources": [
                        {"configMap": {"name": "cm-proj"}}, {"secret": {"name": "s-proj"}},
                        {"serviceAccountToken": {"path": "token"}}]}},
                    {"name": "e", "csi": {"driver": "x", "nodePublishSecretRef": {"name": "s-csi"}}},
                    {"name": "f", "rbd": {"monitors": [], "image": "i", "secretRef": {"name": "s-rbd"}}},
                    {"name": "g", "emptyDir": {}}]}),
                vec![
                    dep("ConfigMap", "cm-proj"),
                    dep("ConfigMap", "cm-vol"),
                    dep("PersistentVolumeClaim", "data"),
                    dep("Secret", "s-csi"),
                    dep("Secret", "s-proj"),
                    dep("Secret", "s-rbd"),
                    dep("Secret", "s-vol"),
                ],
            ),
            (
                "env and envFrom in every container list",
                json!({
                    "containers": [{"name": "a",
                        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm-env", "key": "k"}}},
                                {"name": "Y", "valueFrom": {"secretKeyRef": {"name": "s-env", "key": "k"}}},
                                {"name": "Z", "value": "plain"}]}],
                    "initContainers": [{"name": "b", "envFrom": [{"secretRef": {"name": "s-init"}}]}],
                    "ephemeralContainers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "cm-debug"}}]}]
                }),
                vec![
                    dep("ConfigMap", "cm-debug"),
                    dep("ConfigMap", "cm-env"),
                    dep("Secret", "s-env"),
                    dep("Secret", "s-init"),
                ],
            ),
            (
                "pull secrets and a named service account",
                json!({"serviceAccountName": "robot", "imagePullSecrets": [{"name": "registry"}],
                       "containers": []}),
                vec![dep("Secret", "registry"), dep("ServiceAccount", "robot")],
            ),
            (
                "the default service account is no dependency",
                json!({"serviceAccountName": "default", "containers": []}),
                vec![],
            ),
            (
                "one object referenced twice is listed once",
                json!({"containers": [
                        {"name": "a", "envFrom": [{"configMapRef": {"name": "cfg"}}]},
                        {"name": "b", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]}],
                       "volumes": [{"name": "v", "configMap": {"name": "cfg"}}]}),
                vec![dep("ConfigMap", "cfg")],
            ),
            (
                "empty names are ignored",
                json!({"serviceAccountName": "", "containers": [{"name": "a", "envFrom": [{"configMapRef": {"name": ""}}]}]}),
                vec![],
            ),
        ];
        for (case, pod, want) in cases {
            let template = wrap("apps/v1", "Deployment", pod);
            assert_eq!(dependencies(&template), want, "{case}");
        }
    }

    #[test]
    fn volume_claim_templates_of_a_stateful_set_are_not_dependencies() {
        let mut template = wrap(
            "apps/v1",
            "StatefulSet",
            json!({"volumes": [
                {"name": "a", "persistentVolumeClaim": {"claimName": "www"}},
                {"name": "b", "persistentVolumeClaim": {"claimName": "shared"}}]}),
        );
        template["spec"]["volumeClaimTemplates"] = json!([{"metadata": {"name": "www"}}]);
        assert_eq!(
            dependencies(&template),
            [dep("PersistentVolumeClaim", "shared")]
        );
    }

    #[test]
    fn a_service_import_depends_on_its_derived_service_and_that_services_slices() {
        let import = json!({
            "apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"type": "ClusterSetIP", "ports": [{"port": 80}]},
        });
        assert_eq!(
            dependencies(&import),
            [Dependency {
                api_version: "v1".into(),
                kind: "Service".into(),
                namespace: "shop".into(),
                name: "derived-web".into(),
            }]
        );
        let selected = selections(&import);
        assert_eq!(selected.len(), 1);
        let slices = &selected[0];
        assert_eq!(
            (slices.api_version.as_str(), slices.kind.as_str()),
            ("discovery.k8s.io/v1", "EndpointSlice")
        );
        assert_eq!(
            slices.label_selector(),
            "kubernetes.io/service-name=derived-web"
        );
        let labels = |v: &str| {
            BTreeMap::from([
                ("kubernetes.io/service-name".to_string(), v.to_string()),
                ("other".to_string(), "x".to_string()),
            ])
        };
        assert!(slices.selects("EndpointSlice", "shop", &labels("derived-web")));
        assert!(!slices.selects("EndpointSlice", "shop", &labels("web")));
        assert!(!slices.selects("EndpointSlice", "other", &labels("derived-web")));
        assert!(!slices.selects("Service", "shop", &labels("derived-web")));

        let mut service = import;
        service["apiVersion"] = json!("v1");
        service["kind"] = json!("Service");
        assert!(dependencies(&service).is_empty() && selections(&service).is_empty());
    }
}
