//! Gives every active namespace its `default` ServiceAccount, as Kubernetes' service-account
//! controller does, and recreates it when it is deleted.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::ObjectMeta;

use super::per_namespace;
use crate::member::runtime::Context;

/// The account every namespace has.
pub const DEFAULT: &str = "default";

pub async fn run(ctx: Arc<Context>) {
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    // Whatever else the account says (secrets, image pull secrets) is the user's to change.
    per_namespace::run(ctx, account, |_, _| true).await;
}
