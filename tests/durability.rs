//! Acknowledged writes to the embedded store survive a SIGKILL of the `karmada apiserver` binary.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, ensure};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};

use support::apiserver::{ApiServer, Store};

const NS: &str = "durable";
const COUNT: usize = 50;

#[tokio::test]
async fn writes_survive_sigkill_and_restart() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;

    let server = ApiServer::start(Store::Embedded(data.path()))?;
    let written = write_configmaps(&client(server.kubeconfig()).await?)
        .await
        .with_context(|| format!("server log:\n{}", server.log()))?;
    let status = server.kill()?;
    ensure!(
        status.code().is_none(),
        "the server was not killed by a signal: {status}"
    );

    let server =
        ApiServer::start(Store::Embedded(data.path())).context("restarting on the same data")?;
    let client = client(server.kubeconfig()).await?;
    check_after_restart(&client, &written)
        .await
        .with_context(|| format!("server log after restart:\n{}", server.log()))
}

/// Creates the namespace and `COUNT` configmaps; returns each configmap's resourceVersion.
async fn write_configmaps(client: &Client) -> anyhow::Result<BTreeMap<String, String>> {
    let namespace = Namespace {
        metadata: meta(NS),
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .context("creating the namespace")?;
    let api = Api::<ConfigMap>::namespaced(client.clone(), NS);
    let mut written = BTreeMap::new();
    for i in 0..COUNT {
        let name = format!("cm-{i:02}");
        let configmap = ConfigMap {
            metadata: meta(&name),
            data: Some(BTreeMap::from([("index".to_owned(), i.to_string())])),
            ..ConfigMap::default()
        };
        let created = api
            .create(&PostParams::default(), &configmap)
            .await
            .with_context(|| format!("creating configmap {name}"))?;
        let version = created
            .metadata
            .resource_version
            .with_context(|| format!("configmap {name} was created without a resourceVersion"))?;
        written.insert(name, version);
    }
    Ok(written)
}

async fn check_after_restart(
    client: &Client,
    written: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let api = Api::<ConfigMap>::namespaced(client.clone(), NS);
    let list = api
        .list(&ListParams::default())
        .await
        .context("listing after restart")?;
    let mut found = BTreeMap::new();
    for configmap in list.items {
        let name = configmap.metadata.name.clone().unwrap_or_default();
        let index = configmap.data.as_ref().and_then(|d| d.get("index"));
        let intact = index
            .and_then(|i| i.parse::<usize>().ok())
            .map(|i| format!("cm-{i:02}"));
        ensure!(
            intact.as_deref() == Some(name.as_str()),
            "configmap {name} came back with data {:?}",
            configmap.data
        );
        found.insert(
            name,
            configmap.metadata.resource_version.unwrap_or_default(),
        );
    }
    ensure!(
        &found == written,
        "after SIGKILL and restart the configmaps differ.\nwritten (name -> resourceVersion): {written:?}\nfound: {found:?}"
    );

    let newest = written
        .values()
        .map(|v| parse_version(v))
        .collect::<anyhow::Result<Vec<u64>>>()?
        .into_iter()
        .max()
        .unwrap_or(0);
    let fresh = ConfigMap {
        metadata: meta("after-restart"),
        ..ConfigMap::default()
    };
    let created = api
        .create(&PostParams::default(), &fresh)
        .await
        .context("writing after restart")?;
    let version = parse_version(created.metadata.resource_version.as_deref().unwrap_or(""))?;
    ensure!(
        version > newest,
        "a write after restart got resourceVersion {version}, not above {newest} from before the crash"
    );
    Ok(())
}

/// resourceVersions are opaque to clients, but this server promises increasing integers.
fn parse_version(version: &str) -> anyhow::Result<u64> {
    version
        .parse()
        .with_context(|| format!("resourceVersion {version:?} is not an integer"))
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        ..ObjectMeta::default()
    }
}

async fn client(kubeconfig: &Path) -> anyhow::Result<Client> {
    let file = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}
