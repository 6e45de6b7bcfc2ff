//! `karmada join` and `karmada unjoin`: register a member cluster in Push mode from its
//! kubeconfig (the control plane then reaches it directly), and remove a cluster with its Works.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use karmada_agents::push::credentials::Credentials;
use karmada_api::cluster::{Cluster, ClusterSyncMode};
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource as _, ResourceExt};
use serde_json::json;

/// Where `karmada join` keeps member credentials, as Karmada does.
pub(crate) const DEFAULT_CREDENTIALS_NAMESPACE: &str = "karmada-cluster";
/// How long `join` waits for the member to answer before refusing it.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(clap::Args)]
pub struct JoinArgs {
    /// The member cluster's name in the federation.
    pub(crate) name: String,
    /// Kubeconfig of the federation apiserver.
    #[arg(long)]
    pub(crate) kubeconfig: PathBuf,
    /// Kubeconfig of the member cluster; its credentials are stored in the federation.
    #[arg(long)]
    pub(crate) cluster_kubeconfig: PathBuf,
    /// Context of the member kubeconfig to use (default: its current context).
    #[arg(long)]
    pub(crate) cluster_context: Option<String>,
    /// Namespace of the federation where the credentials Secret is kept.
    #[arg(long, default_value = DEFAULT_CREDENTIALS_NAMESPACE)]
    pub(crate) cluster_namespace: String,
    #[arg(long)]
    pub(crate) cluster_provider: Option<String>,
    #[arg(long)]
    pub(crate) cluster_region: Option<String>,
    #[arg(long)]
    pub(crate) cluster_zone: Option<String>,
}

#[derive(clap::Args)]
pub struct UnjoinArgs {
    /// The member cluster's name in the federation.
    name: String,
    /// Kubeconfig of the federation apiserver.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// How long to wait for the cluster's Works to be removed from it.
    #[arg(long, default_value_t = 60)]
    wait_seconds: u64,
}

pub async fn join(args: JoinArgs) -> anyhow::Result<()> {
    println!("{}", register(&args).await?);
    Ok(())
}

/// Registers the Push cluster `args` describes; returns a line saying what joined.
pub(crate) async fn register(args: &JoinArgs) -> anyhow::Result<String> {
    karmada_api::names::dns1123_label(&args.name)
        .map_err(|reason| anyhow::anyhow!("cluster name {:?} is invalid: {reason}", args.name))?;
    let kubeconfig = kube::config::Kubeconfig::read_from(&args.cluster_kubeconfig)
        .with_context(|| format!("cannot read {}", args.cluster_kubeconfig.display()))?;
    let credentials = Credentials::from_kubeconfig(&kubeconfig, args.cluster_context.as_deref())
        .with_context(|| format!("kubeconfig {}", args.cluster_kubeconfig.display()))?;
    let member = credentials.client(&args.name).await?;
    let version = tokio::time::timeout(PROBE_TIMEOUT, member.apiserver_version())
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {PROBE_TIMEOUT:?}"))
        .and_then(|r| r.map_err(anyhow::Error::from))
        .with_context(|| {
            format!(
                "cannot reach cluster {} at {}",
                args.name, credentials.server
            )
        })?;

    let federation = crate::kubeconfig::client(&args.kubeconfig).await?;
    let clusters: Api<Cluster> = Api::all(federation.clone());
    if let Some(existing) = clusters.get_opt(&args.name).await? {
        bail!(
            "cluster {} is already registered (syncMode {:?}); unjoin it first or choose another name",
            args.name,
            existing.spec.sync_mode
        );
    }
    ensure_namespace(&federation, &args.cluster_namespace).await?;
    let secrets: Api<Secret> = Api::namespaced(federation.clone(), &args.cluster_namespace);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(args.name.clone()),
            namespace: Some(args.cluster_namespace.clone()),
            ..ObjectMeta::default()
        },
        data: Some(credentials.secret_data()),
        ..Secret::default()
    };
    // A Secret left by an earlier join that failed half-way is replaced.
    match secrets.create(&PostParams::default(), &secret).await {
        Err(kube::Error::Api(s)) if s.code == 409 => {
            secrets
                .replace(&args.name, &PostParams::default(), &secret)
                .await
                .context("cannot replace the credentials Secret")?;
        }
        other => {
            other.context("cannot store the credentials Secret")?;
        }
    }
    let cluster = clusters
        .create(&PostParams::default(), &push_cluster(args, &credentials))
        .await
        .context("cannot create the Cluster")?;
    // Owned by the Cluster, the Secret goes when the Cluster does.
    let owner = owner_reference(&cluster);
    secrets
        .patch(
            &args.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"ownerReferences": [owner]}})),
        )
        .await
        .context("cannot tie the credentials Secret to the Cluster")?;
    Ok(format!(
        "cluster {} ({} at {}) joined in Push mode",
        args.name, version.git_version, credentials.server
    ))
}

fn push_cluster(args: &JoinArgs, credentials: &Credentials) -> Cluster {
    let spec = json!({
        "syncMode": "Push",
        "apiEndpoint": credentials.server,
        "secretRef": {"namespace": args.cluster_namespace, "name": args.name},
        "insecureSkipTLSVerification": credentials.insecure_skip_tls_verify.then_some(true),
        "proxyURL": credentials.proxy_url,
        "provider": args.cluster_provider,
        "region": args.cluster_region,
        "zones": args.cluster_zone.iter().collect::<Vec<_>>(),
    });
    let mut cluster: Cluster = serde_json::from_value(json!({
        "apiVersion": "cluster.karmada.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": args.name},
        "spec": spec,
    }))
    .expect("a Push Cluster built from flags is a valid Cluster");
    cluster.spec.sync_mode = ClusterSyncMode::Push;
    cluster
}

fn owner_reference(cluster: &Cluster) -> OwnerReference {
    OwnerReference {
        api_version: Cluster::api_version(&()).into_owned(),
        kind: Cluster::kind(&()).into_owned(),
        name: cluster.name_any(),
        uid: cluster.uid().unwrap_or_default(),
        ..OwnerReference::default()
    }
}

async fn ensure_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    match namespaces.create(&PostParams::default(), &namespace).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create namespace {name}")),
    }
}

pub async fn unjoin(args: UnjoinArgs) -> anyhow::Result<()> {
    let federation = crate::kubeconfig::client(&args.kubeconfig).await?;
    let clusters: Api<Cluster> = Api::all(federation.clone());
    let Some(cluster) = clusters.get_opt(&args.name).await? else {
        bail!("cluster {} is not registered", args.name);
    };
    clusters
        .delete(&args.name, &DeleteParams::default())
        .await
        .context("cannot delete the Cluster")?;
    // The Cluster stays until its execution namespace, and with it every Work (each removed
    // from the member first), is gone.
    let deadline = Instant::now() + Duration::from_secs(args.wait_seconds);
    loop {
        let Some(current) = clusters.get_opt(&args.name).await? else {
            break;
        };
        if Instant::now() >= deadline {
            bail!(
                "cluster {} is still being removed after {}s (finalizers: {}); its Works are \
                 still being deleted from the member. For a Pull cluster its agent must be \
                 running to remove them",
                args.name,
                args.wait_seconds,
                current.finalizers().join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if let Some(reference) = &cluster.spec.secret_ref {
        let secrets: Api<Secret> = Api::namespaced(federation.clone(), &reference.namespace);
        let ours = secrets.get_opt(&reference.name).await?.is_some_and(|s| {
            s.owner_references()
                .iter()
                .any(|o| Some(&o.uid) == cluster.metadata.uid.as_ref())
        });
        if ours {
            match secrets
                .delete(&reference.name, &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e).context("cannot delete the credentials Secret"),
            }
        }
    }
    println!("cluster {} unjoined", args.name);
    Ok(())
}
