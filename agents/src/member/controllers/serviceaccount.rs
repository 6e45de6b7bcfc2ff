//! Gives every active namespace its `default` ServiceAccount, as Kubernetes' service-account
//! controller does, and recreates it when it is deleted.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use crate::member::runtime::{self, Context};

/// The account every namespace has.
pub const DEFAULT: &str = "default";

pub async fn run(ctx: Arc<Context>) {
    let client = ctx.client.clone();
    let controller = Controller::new(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches(
        Api::<ServiceAccount>::all(client),
        watcher::Config::default().fields(&format!("metadata.name={DEFAULT}")),
        |account| account.namespace().map(|ns| ObjectRef::new(&ns)),
    );
    runtime::run(controller, ctx, reconcile, Duration::from_secs(5)).await;
}

/// Whether a namespace should have its default account now.
fn wants_account(namespace: &Namespace) -> bool {
    let phase = namespace.status.as_ref().and_then(|s| s.phase.as_deref());
    namespace.metadata.deletion_timestamp.is_none() && phase != Some("Terminating")
}

async fn reconcile(namespace: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action, kube::Error> {
    if !wants_account(&namespace) {
        return Ok(Action::await_change());
    }
    let accounts: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), &namespace.name_any());
    if accounts.get_opt(DEFAULT).await?.is_none() {
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(DEFAULT.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        match accounts.create(&PostParams::default(), &account).await {
            // Created meanwhile, or the namespace started terminating: nothing to do.
            Ok(_) | Err(kube::Error::Api(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_live_namespaces_get_an_account() {
        let ns =
            |v: serde_json::Value| -> Namespace { serde_json::from_value(v).expect("namespace") };
        assert!(wants_account(&ns(
            json!({"metadata": {"name": "a"}, "status": {"phase": "Active"}})
        )));
        assert!(!wants_account(&ns(
            json!({"metadata": {"name": "b"}, "status": {"phase": "Terminating"}})
        )));
        assert!(!wants_account(&ns(
            json!({"metadata": {"name": "c", "deletionTimestamp": "2026-01-01T00:00:00Z"}})
        )));
    }
}
