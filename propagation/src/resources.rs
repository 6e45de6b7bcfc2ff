//! Finds the REST resource of any kind the federation serves, so controllers can read and write
//! resource templates of kinds they only learn about at run time (CRDs included).

use std::collections::HashMap;
use std::sync::RwLock;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::discovery::{Scope, pinned_kind};

/// Why a kind could not be resolved to a resource.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{api_version} is not a valid apiVersion (expected GROUP/VERSION or VERSION)")]
    ApiVersion { api_version: String },
    #[error("the federation apiserver does not serve kind {kind} in {api_version}: {source}")]
    Unknown {
        api_version: String,
        kind: String,
        #[source]
        source: kube::Error,
    },
    #[error("{kind} in {api_version} is namespaced, but no namespace was given")]
    NamespaceRequired { api_version: String, kind: String },
}

/// A kind's resource and whether its objects live in namespaces.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// A cache of discovery answers, one per kind; entries are dropped with [`Resources::forget`]
/// when a request finds the resource gone (its CRD was deleted).
pub struct Resources {
    client: Client,
    known: RwLock<HashMap<(String, String), Resolved>>,
}

impl Resources {
    pub fn new(client: Client) -> Self {
        Resources {
            client,
            known: RwLock::new(HashMap::new()),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The resource serving `kind` in `api_version`, asking the apiserver on first use.
    pub async fn resolve(&self, api_version: &str, kind: &str) -> Result<Resolved, Error> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.read().get(&key) {
            return Ok(found.clone());
        }
        let gvk = gvk(api_version, kind)?;
        let (resource, capabilities) =
            pinned_kind(&self.client, &gvk)
                .await
                .map_err(|source| Error::Unknown {
                    api_version: api_version.to_string(),
                    kind: kind.to_string(),
                    source,
                })?;
        let found = Resolved {
            resource,
            namespaced: capabilities.scope == Scope::Namespaced,
        };
        self.known
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key, found.clone());
        Ok(found)
    }

    /// A dynamic client for `kind`'s objects: in `namespace` for namespaced kinds (which
    /// require one), cluster-wide for cluster-scoped kinds (which ignore it).
    pub async fn api(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Api<DynamicObject>, Error> {
        let found = self.resolve(api_version, kind).await?;
        if !found.namespaced {
            return Ok(Api::all_with(self.client.clone(), &found.resource));
        }
        match namespace.filter(|ns| !ns.is_empty()) {
            Some(ns) => Ok(Api::namespaced_with(
                self.client.clone(),
                ns,
                &found.resource,
            )),
            None => Err(Error::NamespaceRequired {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
            }),
        }
    }

    /// Drops what is known about `kind`, so the next use asks the apiserver again.
    pub fn forget(&self, api_version: &str, kind: &str) {
        self.known
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&(api_version.to_string(), kind.to_string()));
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<(String, String), Resolved>> {
        self.known
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Splits `group/version` (or a core `version`) and pairs it with `kind`.
pub fn gvk(api_version: &str, kind: &str) -> Result<GroupVersionKind, Error> {
    let invalid = || Error::ApiVersion {
        api_version: api_version.to_string(),
    };
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) if !group.is_empty() && !version.contains('/') => (group, version),
        Some(_) => return Err(invalid()),
        None => ("", api_version),
    };
    if version.is_empty() || kind.is_empty() {
        return Err(invalid());
    }
    Ok(GroupVersionKind::gvk(group, version, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_split_into_group_and_version() {
        let cases = [
            ("apps/v1", Some(("apps", "v1"))),
            ("v1", Some(("", "v1"))),
            (
                "policy.karmada.io/v1alpha1",
                Some(("policy.karmada.io", "v1alpha1")),
            ),
            ("", None),
            ("apps/", None),
            ("/v1", None),
            ("a/b/c", None),
        ];
        for (api_version, want) in cases {
            let got = gvk(api_version, "Thing").ok();
            let got = got.as_ref().map(|g| (g.group.as_str(), g.version.as_str()));
            assert_eq!(got, want, "{api_version}");
        }
    }
}
