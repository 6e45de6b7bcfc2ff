//! The catalog of served resources: native kinds at start, custom resources added at run time.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Group, version and kind of an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Gvk {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        }
    }

    /// The `apiVersion` string: `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        api_version(&self.group, &self.version)
    }
}

/// The `apiVersion` of a group and version.
pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// Splits an `apiVersion` into group and version.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// A printer column of a custom resource (`additionalPrinterColumns`).
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// Where a custom resource's scale subresource reads and writes replicas.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
}

/// Where a resource's definition comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A kind compiled into the server.
    Native,
    /// A CustomResourceDefinition; `schema` is the version's `openAPIV3Schema`.
    Custom {
        crd_name: String,
        schema: Option<serde_json::Value>,
        printer_columns: Vec<PrinterColumn>,
        preserve_unknown_fields: bool,
    },
}

/// Everything the server knows about one resource at one version.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Plural lower-case name used in URLs (`deployments`).
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Whether `/status` is a subresource (writes to the main resource then ignore status).
    pub status_subresource: bool,
    /// Whether `/scale` is a subresource, and where replicas live.
    pub scale: Option<ScalePaths>,
    /// Whether the version is the group's preferred (storage) version.
    pub preferred: bool,
    pub origin: Origin,
}

impl Resource {
    pub fn gvk(&self) -> Gvk {
        Gvk::new(&self.group, &self.version, &self.kind)
    }

    pub fn api_version(&self) -> String {
        api_version(&self.group, &self.version)
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    pub fn is_custom(&self) -> bool {
        matches!(self.origin, Origin::Custom { .. })
    }

    /// The verbs served on the main resource.
    pub fn verbs(&self) -> &'static [&'static str] {
        if super::native::is_review(&self.group, &self.kind) {
            return &["create"];
        }
        &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }

    /// The storage key prefix of this resource: shared by every version of the kind.
    pub fn storage_prefix(&self) -> String {
        if let Some(shared) = super::native::shared_storage(&self.group, &self.plural) {
            return shared.to_string();
        }
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        format!("/registry/{group}/{}/", self.plural)
    }

    /// The storage key of one object.
    pub fn storage_key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/{name}", self.storage_prefix()),
            _ => format!("{}{name}", self.storage_prefix()),
        }
    }
}

/// The set of resources the server serves; cheap to clone, safe to share.
#[derive(Clone, Default)]
pub struct Catalog {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// (group, version, plural) -> resource
    resources: BTreeMap<(String, String, String), Arc<Resource>>,
    /// Bumped on every change, so discovery and OpenAPI documents can be cached by it.
    generation: u64,
}

impl Catalog {
    /// A catalog of every native kind.
    pub fn with_native() -> Self {
        let catalog = Catalog::default();
        for resource in super::native::resources() {
            catalog.insert(resource);
        }
        catalog
    }

    /// Adds or replaces a resource.
    pub fn insert(&self, resource: Resource) {
        let mut inner = self.inner.write().expect("catalog lock");
        let key = (
            resource.group.clone(),
            resource.version.clone(),
            resource.plural.clone(),
        );
        inner.resources.insert(key, Arc::new(resource));
        inner.generation += 1;
    }

    /// Removes every version of the custom resource defined by `crd_name`.
    pub fn remove_crd(&self, crd_name: &str) {
        self.replace_crd(crd_name, Vec::new());
    }

    /// Serves exactly `resources` for the CRD `crd_name`, in one step: a request never sees
    /// the kind missing while its versions are swapped. Unchanged entries leave the generation
    /// alone, so re-registering a CRD does not invalidate cached discovery.
    pub fn replace_crd(&self, crd_name: &str, resources: Vec<Resource>) {
        let key = |r: &Resource| (r.group.clone(), r.version.clone(), r.plural.clone());
        let defined_by =
            |r: &Resource| matches!(&r.origin, Origin::Custom { crd_name: n, .. } if n == crd_name);
        let mut inner = self.inner.write().expect("catalog lock");
        let current: Vec<&Arc<Resource>> =
            inner.resources.values().filter(|r| defined_by(r)).collect();
        let unchanged = current.len() == resources.len()
            && resources.iter().all(|new| {
                current
                    .iter()
                    .any(|old| key(old) == key(new) && old.as_ref() == new)
            });
        if unchanged {
            return;
        }
        inner.resources.retain(|_, r| !defined_by(r));
        for resource in resources {
            inner.resources.insert(key(&resource), Arc::new(resource));
        }
        inner.generation += 1;
    }

    pub fn generation(&self) -> u64 {
        self.inner.read().expect("catalog lock").generation
    }

    /// Looks a resource up by URL parts.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<Resource>> {
        let inner = self.inner.read().expect("catalog lock");
        inner
            .resources
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// Looks a resource up by group, version and kind.
    pub fn by_gvk(&self, gvk: &Gvk) -> Option<Arc<Resource>> {
        let inner = self.inner.read().expect("catalog lock");
        inner
            .resources
            .values()
            .find(|r| r.group == gvk.group && r.version == gvk.version && r.kind == gvk.kind)
            .cloned()
    }

    /// Every served resource, ordered by group, version and plural.
    pub fn all(&self) -> Vec<Arc<Resource>> {
        self.inner
            .read()
            .expect("catalog lock")
            .resources
            .values()
            .cloned()
            .collect()
    }

    /// Every version of one group, preferred version first, then in Kubernetes version order.
    pub fn group_versions(&self, group: &str) -> Vec<String> {
        let inner = self.inner.read().expect("catalog lock");
        let mut versions: Vec<(bool, String)> = Vec::new();
        for r in inner.resources.values().filter(|r| r.group == group) {
            match versions.iter_mut().find(|(_, v)| *v == r.version) {
                Some(entry) => entry.0 |= r.preferred,
                None => versions.push((r.preferred, r.version.clone())),
            }
        }
        versions.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| compare_versions(&a.1, &b.1)));
        versions.into_iter().map(|(_, v)| v).collect()
    }

    /// Every group with at least one resource, in discovery order (core `""` first).
    pub fn groups(&self) -> Vec<String> {
        let inner = self.inner.read().expect("catalog lock");
        let mut groups: Vec<String> = Vec::new();
        for r in inner.resources.values() {
            if !groups.contains(&r.group) {
                groups.push(r.group.clone());
            }
        }
        groups.sort_by_key(|g| (super::native::group_rank(g), g.clone()));
        groups
    }

    /// The version objects of `resource` are stored at: the preferred version among the
    /// resources sharing its storage location, the native group's first.
    pub fn storage_version(&self, resource: &Resource) -> (String, String) {
        if let Some(shared) =
            super::native::shared_storage_version(&resource.group, &resource.plural)
        {
            return shared;
        }
        let inner = self.inner.read().expect("catalog lock");
        inner
            .resources
            .values()
            .find(|r| r.group == resource.group && r.plural == resource.plural && r.preferred)
            .map(|r| (r.api_version(), r.kind.clone()))
            .unwrap_or_else(|| (resource.api_version(), resource.kind.clone()))
    }

    /// Every version of the kind that `resource` belongs to (same group and plural).
    pub fn versions_of(&self, group: &str, plural: &str) -> Vec<Arc<Resource>> {
        let inner = self.inner.read().expect("catalog lock");
        inner
            .resources
            .values()
            .filter(|r| r.group == group && r.plural == plural)
            .cloned()
            .collect()
    }
}

/// Orders versions as Kubernetes does: GA before beta before alpha, higher numbers first;
/// versions that do not look like Kubernetes versions sort last, alphabetically.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn rank(v: &str) -> (u8, i64, i64, String) {
        let parsed = v.strip_prefix('v').and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let major: i64 = digits.parse().ok()?;
            let tail = &rest[digits.len()..];
            if tail.is_empty() {
                return Some((0, -major, 0));
            }
            for (level, word) in [(1u8, "beta"), (2u8, "alpha")] {
                if let Some(n) = tail.strip_prefix(word) {
                    let minor: i64 = n.parse().ok()?;
                    return Some((level, -major, -minor));
                }
            }
            None
        });
        match parsed {
            Some((level, major, minor)) => (level, major, minor, String::new()),
            None => (3, 0, 0, v.to_string()),
        }
    }
    rank(a).cmp(&rank(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut v = vec!["v1alpha1", "v2", "foo", "v1beta2", "v1", "v1beta1", "v10"];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            ["v10", "v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo"]
        );
    }

    #[test]
    fn native_catalog_finds_deployments() {
        let c = Catalog::with_native();
        let d = c
            .get("apps", "v1", "deployments")
            .expect("deployments served");
        assert_eq!(d.kind, "Deployment");
        assert!(d.namespaced && d.status_subresource && d.scale.is_some());
        assert_eq!(
            d.storage_key(Some("default"), "web"),
            "/registry/apps/deployments/default/web"
        );
        assert_eq!(c.groups()[0], "");
        assert_eq!(c.group_versions("autoscaling"), ["v2", "v1"]);
    }

    /// A custom kind: the native ConfigMap entry re-labelled as defined by `widgets.example.com`.
    fn widget(version: &str, columns: usize) -> Resource {
        let mut r = Catalog::with_native()
            .get("", "v1", "configmaps")
            .expect("configmaps served")
            .as_ref()
            .clone();
        r.group = "example.com".into();
        r.version = version.into();
        r.plural = "widgets".into();
        r.origin = Origin::Custom {
            crd_name: "widgets.example.com".into(),
            schema: None,
            printer_columns: (0..columns)
                .map(|i| PrinterColumn {
                    name: format!("c{i}"),
                    type_: "string".into(),
                    format: String::new(),
                    description: String::new(),
                    priority: 0,
                    json_path: ".spec".into(),
                })
                .collect(),
            preserve_unknown_fields: false,
        };
        r
    }

    #[test]
    fn replacing_a_crd_swaps_its_versions_and_keeps_the_generation_when_unchanged() {
        let c = Catalog::with_native();
        c.replace_crd(
            "widgets.example.com",
            vec![widget("v1", 0), widget("v2", 0)],
        );
        let generation = c.generation();
        c.replace_crd(
            "widgets.example.com",
            vec![widget("v2", 0), widget("v1", 0)],
        );
        assert_eq!(c.generation(), generation, "nothing changed");
        c.replace_crd("widgets.example.com", vec![widget("v2", 1)]);
        assert!(c.generation() > generation);
        assert!(c.get("example.com", "v1", "widgets").is_none());
        assert!(c.get("example.com", "v2", "widgets").is_some());
        c.remove_crd("widgets.example.com");
        assert!(c.get("example.com", "v2", "widgets").is_none());
        assert!(c.get("", "v1", "configmaps").is_some(), "native kinds stay");
    }

    #[test]
    fn a_crd_being_re_registered_is_never_missing() {
        let c = Catalog::with_native();
        c.replace_crd("widgets.example.com", vec![widget("v1", 0)]);
        let writer = {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..2_000 {
                    c.replace_crd("widgets.example.com", vec![widget("v1", i % 2)]);
                }
            })
        };
        while !writer.is_finished() {
            assert!(c.get("example.com", "v1", "widgets").is_some());
        }
        writer.join().expect("the writer panicked");
    }
}
