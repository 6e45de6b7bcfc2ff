//! Deletes bootstrap token Secrets once they expire, as Kubernetes' tokencleaner does. An
//! expired token is refused anyway; this keeps `kube-system` from filling up with them.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::auth::bootstrap_token;
use crate::registry::delete::DeleteOptions;
use crate::registry::error::Error;
use crate::registry::object::Meta;
use crate::registry::store::Store;

/// How often expirations are checked even without a change.
const RESYNC: Duration = Duration::from_secs(60);

/// Deletes expired bootstrap token Secrets until `cancel`.
pub async fn run(store: Store, cancel: CancellationToken) {
    let Some(secrets) = store.catalog().get("", "v1", "secrets") else {
        return;
    };
    let prefix = secrets.storage_prefix();
    let Ok(mut receiver) = store.cache().watch(None).map(|s| s.receiver) else {
        return;
    };
    loop {
        let now = jiff::Timestamp::now();
        let (listed, _) = store.cache().list(&prefix);
        for (_, secret) in listed {
            if secret.namespace() != Some(bootstrap_token::NAMESPACE)
                || !bootstrap_token::expired(&secret, now)
            {
                continue;
            }
            let name = secret.name().unwrap_or_default();
            let options = DeleteOptions {
                precondition_uid: secret.uid().map(str::to_string),
                ..DeleteOptions::default()
            };
            let namespace = Some(bootstrap_token::NAMESPACE);
            match store.delete(&secrets, namespace, name, &options).await {
                Ok(_) => tracing::info!(secret = %name, "deleted an expired bootstrap token"),
                Err(Error::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(secret = %name, error = %e, "cannot delete an expired bootstrap token");
                }
            }
        }
        if !super::next_batch(&mut receiver, &prefix, &cancel, RESYNC).await {
            return;
        }
    }
}
