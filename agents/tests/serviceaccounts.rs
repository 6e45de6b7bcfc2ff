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
