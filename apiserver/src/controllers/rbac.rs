//! RBAC's own upkeep: the default roles and bindings written on start (and brought back to
//! their defaults while their `autoupdate` annotation says so), and the aggregation of
//! ClusterRoles (`admin`, `edit`, `view` and any with an `aggregationRule`), whose rules are
//! kept equal to those of the roles their selectors match.

use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::auth::bootstrap::{cluster_role_bindings, cluster_roles, reconciled};
use crate::auth::rbac::aggregated_rules;
use crate::registry::catalog::Resource;
use crate::registry::error::Error;
use crate::registry::object::Meta;
use crate::registry::store::{Store, WriteOptions};
use crate::registry::strategy::Subresource;

const FIELD_MANAGER: &str = "clusterrole-aggregation-controller";
/// How often aggregation is checked even without a change (a missed event heals by then).
const RESYNC: Duration = Duration::from_secs(60);

fn resource(store: &Store, plural: &str) -> std::sync::Arc<Resource> {
    store
        .catalog()
        .get("rbac.authorization.k8s.io", "v1", plural)
        .expect("RBAC kinds are native")
}

/// Writes the default ClusterRoles and ClusterRoleBindings: created when missing, brought back
/// to their defaults when changed and still marked for automatic update.
pub async fn install_defaults(store: &Store) -> Result<(), Error> {
    let options = WriteOptions {
        field_manager: Some("karmada-apiserver".into()),
        ..Default::default()
    };
    for (plural, defaults) in [
        ("clusterroles", cluster_roles()),
        ("clusterrolebindings", cluster_role_bindings()),
    ] {
        let resource = resource(store, plural);
        for default in defaults {
            let name = default.name().unwrap_or_default().to_string();
            store
                .update_with(
                    &resource,
                    None,
                    &name,
                    Subresource::Main,
                    &options,
                    true,
                    |current| {
                        Ok(match current {
                            None => default.clone(),
                            Some(current) => {
                                reconciled(current, &default).unwrap_or_else(|| current.clone())
                            }
                        })
                    },
                )
                .await?;
        }
    }
    Ok(())
}

/// Keeps aggregated ClusterRoles' rules current until `cancel` fires.
pub async fn run(store: Store, cancel: CancellationToken) {
    let roles = resource(&store, "clusterroles");
    let prefix = roles.storage_prefix();
    let Ok(mut receiver) = store.cache().watch(None).map(|s| s.receiver) else {
        return;
    };
    loop {
        if let Err(e) = aggregate(&store, &roles, &prefix).await {
            tracing::warn!(error = %e, "ClusterRole aggregation failed");
        }
        if !super::next_batch(&mut receiver, &prefix, &cancel, RESYNC).await {
            return;
        }
    }
}

/// One pass: every aggregated role whose rules differ from what its selectors collect gets
/// them. A role's new rules can feed another (view's reach admin through edit), so the pass
/// repeats while it changes something, a bounded number of times.
async fn aggregate(store: &Store, roles: &Resource, prefix: &str) -> Result<(), Error> {
    let options = WriteOptions {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    for _ in 0..8 {
        let (listed, _) = store.cache().list(prefix);
        let current: Vec<Value> = listed
            .into_iter()
            .map(|(_, role)| (*role).clone())
            .collect();
        let mut changed = false;
        for (name, rules) in aggregated_rules(&current) {
            let stored = current.iter().find(|r| r.name() == Some(name.as_str()));
            if stored.is_some_and(|r| r.get("rules") == Some(&json!(rules))) {
                continue;
            }
            store
                .update_with(
                    roles,
                    None,
                    &name,
                    Subresource::Main,
                    &options,
                    false,
                    |role| {
                        let mut role = role.cloned().unwrap_or_default();
                        role["rules"] = json!(rules);
                        Ok(role)
                    },
                )
                .await?;
            changed = true;
        }
        if !changed {
            break;
        }
    }
    Ok(())
}
