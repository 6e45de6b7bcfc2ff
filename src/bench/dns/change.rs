//! How long an endpoint change written to the federation takes to reach the DNS's answers: a
//! federation apiserver, the DNS's watch of it and its server, and an agent's reported
//! EndpointSlice whose Service IP is changed again and again.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use karmada_api::cluster::Cluster;
use karmada_api::mcs::{self, ServiceImport};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use tokio::net::UdpSocket;

use super::super::component::Component;
use super::super::member::connect;

/// The A records `server` answers for `name` (one try, a 1 s timeout).
pub async fn query_a(server: SocketAddr, name: &str) -> anyhow::Result<Vec<Ipv4Addr>> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let mut message = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    message.add_query(Query::query(Name::from_ascii(name)?, RecordType::A));
    socket.send_to(&message.to_vec()?, server).await?;
    let mut buf = vec![0; 4096];
    let (len, _) = tokio::time::timeout(Duration::from_secs(1), socket.recv_from(&mut buf))
        .await
        .context("no answer within 1 s")??;
    let reply = Message::from_vec(&buf[..len])?;
    Ok(reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect())
}

/// Serves `published` in this process on a free port of 127.0.0.1 (UDP and TCP) until
/// `cancel`, with the default configuration.
pub async fn serve(
    published: Arc<karmada_dns::model::Published>,
    cancel: tokio_util::sync::CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let port = crate::dns::free_port(Ipv4Addr::LOCALHOST.into()).await?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let udp = UdpSocket::bind(address).await?;
    let tcp = tokio::net::TcpListener::bind(address).await?;
    let config = karmada_dns::config::Config::default();
    let metrics = Arc::new(karmada_dns::metrics::Metrics::new());
    tokio::spawn(karmada_dns::server::serve(
        config, published, udp, tcp, metrics, cancel,
    ));
    Ok(address)
}

/// Measures `changes` endpoint changes from the federation write to the changed answer.
pub async fn measure(
    dir: &Path,
    changes: usize,
    timeout: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let federation_dir = dir.join("federation");
    let mut apiserver = Component::spawn(
        "apiserver",
        &[
            "apiserver",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            &federation_dir.to_string_lossy(),
        ],
    )?;
    let client = connect(
        &mut apiserver.child,
        &federation_dir.join("kubeconfig"),
        timeout,
    )
    .await?;
    let slices = prepare(&client, timeout).await?;

    let published = Arc::new(karmada_dns::model::Published::default());
    let cancel = tokio_util::sync::CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    let keep_current =
        karmada_dns::source::start(client.clone(), Arc::clone(&published), cancel.clone()).await?;
    tokio::spawn(keep_current);
    let server = serve(published, cancel.clone()).await?;

    let name = "web.bench.svc.clusterset.local.";
    let mut latencies = Vec::with_capacity(changes);
    for i in 0..changes {
        let ip = Ipv4Addr::new(10, 9, (i / 250) as u8, (i % 250) as u8 + 1);
        let patch =
            json!({"metadata": {"annotations": {mcs::ANNOTATION_SERVICE_IPS: ip.to_string()}}});
        let written = Instant::now();
        slices
            .patch(SLICE, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .context("cannot change the reported EndpointSlice")?;
        loop {
            if query_a(server, name).await.unwrap_or_default() == [ip] {
                latencies.push(written.elapsed());
                break;
            }
            if written.elapsed() > timeout {
                bail!("the answer for {name} did not change to {ip} within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    Ok(latencies)
}

const SLICE: &str = "bench.web-abcde";

/// A Ready Pull cluster `member1`, the ServiceImport `bench/web`, and member1's reported slice
/// for it, as the controller-manager and the agent would write them.
async fn prepare(client: &Client, timeout: Duration) -> anyhow::Result<Api<EndpointSlice>> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let deadline = Instant::now() + timeout;
    // The apiserver may still be installing its CRDs.
    for name in ["bench", &karmada_api::execution_namespace("member1")] {
        let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
        namespaces
            .create(&PostParams::default(), &namespace)
            .await?;
    }
    let clusters: Api<Cluster> = Api::all(client.clone());
    let cluster: Cluster = serde_json::from_value(json!({
        "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": "member1"},
        "spec": {"syncMode": "Pull", "apiEndpoint": "https://127.0.0.1:1"}
    }))?;
    let mut created = loop {
        match clusters.create(&PostParams::default(), &cluster).await {
            Ok(created) => break created,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "the Cluster kind is not served yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e).context("cannot create the Cluster"),
        }
    };
    created.status = Some(serde_json::from_value(json!({"conditions": [{
        "type": "Ready", "status": "True", "reason": "ClusterReady", "message": "bench",
        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}))?);
    clusters
        .replace_status("member1", &PostParams::default(), &created)
        .await?;
    let imports: Api<ServiceImport> = Api::namespaced(client.clone(), "bench");
    let import: ServiceImport = serde_json::from_value(json!({
        "apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
        "metadata": {"name": "web", "namespace": "bench"},
        "spec": {"type": "ClusterSetIP", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    }))?;
    imports.create(&PostParams::default(), &import).await?;
    let slices: Api<EndpointSlice> =
        Api::namespaced(client.clone(), &karmada_api::execution_namespace("member1"));
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {
            "name": SLICE,
            "labels": {
                mcs::LABEL_SOURCE_CLUSTER: "member1",
                mcs::LABEL_SERVICE_NAME: "web",
                mcs::LABEL_SERVICE_NAMESPACE: "bench",
                "endpointslice.kubernetes.io/managed-by": mcs::REPORTER,
            },
            "annotations": {mcs::ANNOTATION_SERVICE_IPS: "10.9.255.255"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.101.0.5"], "conditions": {"ready": true}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
    }))?;
    slices.create(&PostParams::default(), &slice).await?;
    Ok(slices)
}
