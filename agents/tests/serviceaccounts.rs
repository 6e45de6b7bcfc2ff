//! Every namespace gets its `default` ServiceAccount back, however often it is deleted.

mod support;

use std::time::{Duration, Instant};

use anyhow::bail;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use karmada_agents::member::controllers::serviceaccount;
use karmada_agents::member::runtime::Context;
use kube::Api;
use kube::api::{DeleteParams, PostParams};

async fn wait_for_default(accounts: &Api<ServiceAccount>) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if accounts.get_opt(serviceaccount::DEFAULT).await?.is_some() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("no default ServiceAccount within 15s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn namespaces_get_and_keep_a_default_account() -> anyhow::Result<()> {
    let support::Apiserver {
        running,
        client,
        cancel,
    } = support::apiserver().await?;
    let ctx = Context::new(
        client.clone(),
        "serviceaccount-controller",
        cancel.child_token(),
    );
    let controller = tokio::spawn(serviceaccount::run(ctx));

    let namespace: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "team"}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "team");
    wait_for_default(&accounts).await?;
    accounts
        .delete(serviceaccount::DEFAULT, &DeleteParams::default())
        .await?;
    wait_for_default(&accounts).await?;
    wait_for_default(&Api::namespaced(client, "default")).await?;

    cancel.cancel();
    controller.await?;
    running.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn namespaces_get_and_keep_the_root_ca() -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::ConfigMap;
    use karmada_agents::member::controllers::root_ca;
    use kube::api::{Patch, PatchParams};

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let support::Apiserver {
        running,
        client,
        cancel,
    } = support::apiserver().await?;
    let ctx = Context::new(
        client.clone(),
        "root-ca-cert-publisher",
        cancel.child_token(),
    );
    let controller = tokio::spawn(root_ca::run(ctx, PEM.into()));
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let published = |maps: Api<ConfigMap>| async move {
        support::eventually("kube-root-ca.crt holding exactly the CA", || {
            let maps = maps.clone();
            async move {
                let cm = maps.get_opt(root_ca::NAME).await?;
                let data = cm.and_then(|c| c.data).unwrap_or_default();
                let exact =
                    data.len() == 1 && data.get(root_ca::KEY).map(String::as_str) == Some(PEM);
                Ok(if exact {
                    Ok(())
                } else {
                    Err(format!("{data:?}"))
                })
            }
        })
        .await
    };
    published(maps.clone()).await?;

    // An edit is undone, a deletion is repaired.
    let edit = serde_json::json!({"data": {root_ca::KEY: "tampered", "extra": "x"}});
    maps.patch(root_ca::NAME, &PatchParams::default(), &Patch::Merge(&edit))
        .await?;
    published(maps.clone()).await?;
    maps.delete(root_ca::NAME, &DeleteParams::default()).await?;
    published(maps).await?;

    cancel.cancel();
    controller.await?;
    running.shutdown().await;
    Ok(())
}
