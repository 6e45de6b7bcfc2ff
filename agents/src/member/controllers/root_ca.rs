//! Publishes the cluster's CA certificate as the `kube-root-ca.crt` ConfigMap in every active
//! namespace, as Kubernetes' root-ca-cert-publisher does, so in-cluster clients can verify the
//! apiserver; deleted or edited copies are put back.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;

use super::per_namespace;
use crate::member::runtime::Context;

/// The ConfigMap every namespace has.
pub const NAME: &str = "kube-root-ca.crt";
/// Its one key, holding the PEM certificate.
pub const KEY: &str = "ca.crt";

pub async fn run(ctx: Arc<Context>, ca_pem: String) {
    per_namespace::run(ctx, config_map(ca_pem), |existing, template| {
        existing.data == template.data && existing.binary_data.is_none()
    })
    .await;
}

fn config_map(ca_pem: String) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            // Marked, as Kubernetes marks its copies, so they are told apart from user data.
            annotations: Some(BTreeMap::from([(
                "kubernetes.io/description".into(),
                "The cluster's CA certificate, for verifying the apiserver from inside the cluster.".into(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(KEY.into(), ca_pem)])),
        ..Default::default()
    }
}
