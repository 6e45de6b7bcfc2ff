//! Which member-cluster resource serves each kind the Works use, found through discovery and
//! remembered per GroupVersionKind until the member says the resource is gone.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::Client;
use kube::api::{ApiResource, GroupVersionKind};
use kube::discovery::{self, Scope};

/// A kind the member serves.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// The discovery cache. Lookups that fail are not remembered, so a CRD installed later is found
/// on the next attempt.
pub struct Resources {
    client: Client,
    known: Mutex<HashMap<GroupVersionKind, Resolved>>,
}

impl Resources {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// The member resource serving `gvk`, asking the member only the first time.
    pub async fn resolve(&self, gvk: &GroupVersionKind) -> Result<Resolved, kube::Error> {
        if let Some(known) = self.lock().get(gvk) {
            return Ok(known.clone());
        }
        let (resource, capabilities) = discovery::pinned_kind(&self.client, gvk).await?;
        let resolved = Resolved {
            resource,
            namespaced: matches!(capabilities.scope, Scope::Namespaced),
        };
        self.lock().insert(gvk.clone(), resolved.clone());
        Ok(resolved)
    }

    /// Forgets `gvk` after the member answered 404 for its resource, so a CRD that was removed
    /// and installed again (perhaps under another plural or scope) is looked up afresh.
    pub fn forget(&self, gvk: &GroupVersionKind) {
        self.lock().remove(gvk);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<GroupVersionKind, Resolved>> {
        // A panic while holding the lock cannot leave the map half-written: inserts and removes
        // are single calls, so a poisoned map is still consistent.
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether a discovery failure means the member does not serve the kind at all (rather than
/// being unreachable).
pub fn not_served(error: &kube::Error) -> bool {
    match error {
        kube::Error::Discovery(_) => true,
        kube::Error::Api(status) => status.code == 404,
        _ => false,
    }
}
