//! How a server checks requests: its mode, its static tokens, and the RBAC policy it holds,
//! rebuilt from the stored roles and bindings whenever they change.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::attributes::{Attributes, User};
use super::authn::StaticTokens;
use super::rbac::{Decision, Policy};
use crate::registry::store::Store;

/// Where RBAC's objects are stored; a change under it rebuilds the policy.
const RBAC_PREFIX: &str = "/registry/rbac.authorization.k8s.io/";
/// How often the policy is rebuilt even without a change (a missed event heals by then).
const RESYNC: Duration = Duration::from_secs(60);

/// Whether requests are authenticated and authorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every request is allowed and nobody is asked who they are: loopback development only.
    #[default]
    AlwaysAllow,
    /// Credentials are required (except for health and version) and RBAC decides.
    Rbac,
}

/// A server's authentication and authorization settings and state.
pub struct Auth {
    pub mode: Mode,
    pub tokens: StaticTokens,
    policy: RwLock<Arc<Policy>>,
}

impl Auth {
    pub fn new(mode: Mode, tokens: StaticTokens) -> Auth {
        Auth {
            mode,
            tokens,
            policy: RwLock::new(Arc::new(Policy::default())),
        }
    }

    /// The RBAC decision on `attributes` with the policy as last loaded.
    pub fn authorize(&self, attributes: &Attributes) -> Decision {
        if self.mode == Mode::AlwaysAllow {
            return Decision {
                allowed: true,
                reason: "authorization is not enforced on this server".into(),
            };
        }
        self.current().authorize(attributes)
    }

    /// The rules `user` holds in `namespace` (for SelfSubjectRulesReview).
    pub fn rules_for(&self, user: &User, namespace: &str) -> Vec<PolicyRule> {
        self.current().rules_for(user, namespace)
    }

    fn current(&self) -> Arc<Policy> {
        Arc::clone(&self.policy.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Replaces the policy (what [`Auth::load`] does from storage).
    pub fn set(&self, policy: Policy) {
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
    }

    /// Loads the policy from what `store` holds now.
    pub fn load(&self, store: &Store) {
        let list = |plural: &str| -> Vec<Value> {
            let prefix = format!("{RBAC_PREFIX}{plural}/");
            store
                .cache()
                .list(&prefix)
                .0
                .into_iter()
                .map(|(_, object)| (*object).clone())
                .collect()
        };
        let policy = Policy::from_objects(
            list("clusterroles"),
            list("roles"),
            list("clusterrolebindings"),
            list("rolebindings"),
        );
        self.set(policy);
    }

    /// Reloads the policy on every change of roles or bindings until `cancel` fires.
    pub async fn keep_loaded(self: Arc<Self>, store: Store, cancel: CancellationToken) {
        if self.mode == Mode::AlwaysAllow {
            return;
        }
        let Ok(mut receiver) = store.cache().watch(None).map(|s| s.receiver) else {
            return;
        };
        loop {
            self.load(&store);
            if !crate::controllers::next_batch(&mut receiver, RBAC_PREFIX, &cancel, RESYNC).await {
                return;
            }
        }
    }
}
