//! The signer of client certificates (`kubernetes.io/kube-apiserver-client`): signs with the
//! cluster CA each CertificateSigningRequest [`csr::decide`] picks: those someone approved, and
//! those of cluster agents, which it approves itself. An agent's certificate comes with that
//! cluster's roles ([`agents::grants`]). Other requests are left as they are.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::auth::{agents, csr};
use crate::pki::ClusterCa;
use crate::registry::catalog::Resource;
use crate::registry::error::Error;
use crate::registry::store::{Store, WriteOptions};
use crate::registry::strategy::Subresource;

const FIELD_MANAGER: &str = "csr-signer";
/// How often requests are looked at even without a change (a missed event heals by then).
const RESYNC: Duration = Duration::from_secs(30);

/// Signs what it may until `cancel`.
pub async fn run(store: Store, ca: Arc<ClusterCa>, cancel: CancellationToken) {
    let Some(requests) =
        store
            .catalog()
            .get("certificates.k8s.io", "v1", "certificatesigningrequests")
    else {
        return;
    };
    let prefix = requests.storage_prefix();
    let Ok(mut receiver) = store.cache().watch(None).map(|s| s.receiver) else {
        return;
    };
    loop {
        let (listed, _) = store.cache().list(&prefix);
        for (_, request) in listed {
            let csr::Verdict::Sign {
                pem,
                approve,
                agent,
            } = csr::decide(&request)
            else {
                continue;
            };
            let name = request["metadata"]["name"].as_str().unwrap_or_default();
            let cluster = agent.as_deref();
            match sign(&store, &requests, &ca, name, &pem, approve, cluster).await {
                Ok(()) => {
                    tracing::info!(request = %name, agent_of = ?cluster, "signed a client certificate");
                }
                Err(e) => {
                    tracing::warn!(request = %name, agent_of = ?cluster, error = %e, "cannot sign a client certificate; will retry");
                }
            }
        }
        if !super::next_batch(&mut receiver, &prefix, &cancel, RESYNC).await {
            return;
        }
    }
}

/// Signs request `name` (approving it first when `approve`), after granting the agent of
/// `agent` (a cluster) its roles when it is an agent's.
async fn sign(
    store: &Store,
    requests: &Resource,
    ca: &ClusterCa,
    name: &str,
    pem: &str,
    approve: bool,
    agent: Option<&str>,
) -> Result<(), Error> {
    let certificate = crate::tls::sign_client_request(ca, pem)
        .map_err(|e| Error::BadRequest(format!("cannot sign: {e}")))?;
    if let Some(cluster) = agent {
        grant(store, cluster).await?;
    }
    let options = options();
    let approver = agent.filter(|_| approve);
    let now = jiff::Timestamp::now();
    store
        .update_with(
            requests,
            None,
            name,
            Subresource::Status,
            &options,
            false,
            |stored| {
                let mut request = stored.cloned().unwrap_or_default();
                request["status"] =
                    csr::signed_status(&request["status"], &certificate, approver, now);
                Ok(request)
            },
        )
        .await
        .map(drop)
}

/// Creates the namespaces the agent of `cluster` works in and writes its roles and bindings.
async fn grant(store: &Store, cluster: &str) -> Result<(), Error> {
    let options = options();
    let native = |group: &str, plural: &str| {
        store
            .catalog()
            .get(group, "v1", plural)
            .ok_or_else(|| Error::BadRequest(format!("{plural} are not served")))
    };
    let namespaces = native("", "namespaces")?;
    for namespace in [
        karmada_api::CLUSTER_NAMESPACE.to_string(),
        karmada_api::execution_namespace(cluster),
    ] {
        let object = json!({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": namespace}});
        match store.create(&namespaces, None, object, &options).await {
            Ok(_) | Err(Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let grants = agents::grants(cluster);
    let rbac = "rbac.authorization.k8s.io";
    let mut objects = vec![
        (native(rbac, "clusterroles")?, typed(&grants.cluster_role)),
        (
            native(rbac, "clusterrolebindings")?,
            typed(&grants.cluster_role_binding),
        ),
    ];
    for (role, binding) in &grants.roles {
        objects.push((native(rbac, "roles")?, typed(role)));
        objects.push((native(rbac, "rolebindings")?, typed(binding)));
    }
    for (resource, object) in objects {
        let namespace = object["metadata"]["namespace"].as_str().map(str::to_string);
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        store
            .update_with(
                &resource,
                namespace.as_deref(),
                &name,
                Subresource::Main,
                &options,
                true,
                |stored| {
                    // Keep what the server stamped (uid, resourceVersion); the rest is ours.
                    let mut next = object.clone();
                    if let Some(stored) = stored {
                        next["metadata"] = stored["metadata"].clone();
                    }
                    Ok(next)
                },
            )
            .await?;
    }
    Ok(())
}

/// A typed Kubernetes object as the JSON the store keeps, with its apiVersion and kind.
fn typed<K: k8s_openapi::Resource + Serialize>(object: &K) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or_default();
    value["apiVersion"] = json!(K::API_VERSION);
    value["kind"] = json!(K::KIND);
    value
}

fn options() -> WriteOptions {
    WriteOptions {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}
