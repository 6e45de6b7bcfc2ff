//! The agent's MCS reporter against an in-process federation and a full member: the slices of
//! exported Services appear in the cluster's execution namespace (once it exists) with the
//! MCS labels and the member's ClusterIPs, follow the member Deployment's scale, and go with
//! the ServiceExport; leftovers of an earlier run are removed.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use karmada_agents::agent::mcs;
use karmada_agents::member::{self, kubelet};
use karmada_api::execution_namespace;
use karmada_api::mcs::{
    ANNOTATION_SERVICE_IPS, LABEL_SERVICE_NAME, LABEL_SERVICE_NAMESPACE, LABEL_SOURCE_CLUSTER,
    REPORTER, ServiceExport,
};
use karmada_apiserver::server::{self, Backend};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const CLUSTER: &str = "member1";
const NS: &str = "shop";

async fn create<K>(api: Api<K>, object: Value) -> anyhow::Result<()>
where
    K: Clone + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
{
    api.create(&PostParams::default(), &serde_json::from_value(object)?)
        .await?;
    Ok(())
}

/// A Deployment of `replicas` pods labelled `app` with a named port, and a Service for them.
async fn workload(
    member: &Client,
    app: &str,
    replicas: i32,
    service_spec: Value,
) -> anyhow::Result<()> {
    create(
        Api::<Deployment>::namespaced(member.clone(), NS),
        json!({
            "metadata": {"name": app},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
                "template": {"metadata": {"labels": {"app": app}},
                    "spec": {"containers": [{"name": "c", "image": "agnhost",
                        "ports": [{"name": "http", "containerPort": 8080}]}]}}},
        }),
    )
    .await?;
    let mut spec = service_spec;
    spec["selector"] = json!({"app": app});
    spec["ports"] = json!([{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]);
    create(
        Api::<Service>::namespaced(member.clone(), NS),
        json!({"metadata": {"name": app}, "spec": spec}),
    )
    .await
}

async fn export(member: &Client, name: &str) -> anyhow::Result<()> {
    create(
        Api::<ServiceExport>::namespaced(member.clone(), NS),
        json!({"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport",
               "metadata": {"name": name}}),
    )
    .await
}

/// The reported slices in the federation by name.
async fn reported(federation: &Client) -> anyhow::Result<BTreeMap<String, EndpointSlice>> {
    let api: Api<EndpointSlice> =
        Api::namespaced(federation.clone(), &execution_namespace(CLUSTER));
    Ok(api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(|s| (s.name_any(), s))
        .collect())
}

/// How many ready endpoints the slice lists.
fn ready(slice: &EndpointSlice) -> usize {
    slice
        .endpoints
        .iter()
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
        .count()
}

/// Waits until the reported slices, as (name, ready endpoints), are `want`.
async fn reported_when(
    federation: &Client,
    what: &str,
    want: &[(&str, usize)],
) -> anyhow::Result<BTreeMap<String, EndpointSlice>> {
    let want: Vec<(String, usize)> = want.iter().map(|(n, r)| (n.to_string(), *r)).collect();
    support::eventually(what, || async {
        let slices = reported(federation).await?;
        let got: Vec<(String, usize)> = slices.iter().map(|(n, s)| (n.clone(), ready(s))).collect();
        Ok(if got == want {
            Ok(slices)
        } else {
            Err(format!("{got:?}"))
        })
    })
    .await
}

#[tokio::test]
async fn exported_services_are_reported_to_the_federation() -> anyhow::Result<()> {
    let federation = support::federation().await?;
    let cancel = CancellationToken::new();
    let config = member::cluster::Config {
        name: CLUSTER.into(),
        apiserver: server::Config::new("127.0.0.1:0".parse()?, Backend::Memory),
        nodes: kubelet::Config {
            nodes: 2,
            ready_delay: Duration::from_millis(100),
            ..kubelet::Config::default()
        },
        services: Default::default(),
        root_ca_pem: String::new(),
    };
    let running = member::cluster::start(config, cancel.clone()).await?;
    let member = Client::try_from(kube::Config::new(running.url().parse()?))?;
    let agent = tokio::spawn(mcs::run(
        federation.client.clone(),
        member.clone(),
        CLUSTER.into(),
        cancel.clone(),
    ));
    let result = scenario(&federation.client, &member).await;
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), agent).await??;
    running.wait().await;
    federation.cancel.cancel();
    result
}

async fn scenario(federation: &Client, member: &Client) -> anyhow::Result<()> {
    create(
        Api::<Namespace>::all(member.clone()),
        json!({"metadata": {"name": NS}}),
    )
    .await?;
    workload(member, "web", 2, json!({})).await?;
    workload(member, "db", 1, json!({"clusterIP": "None"})).await?;
    workload(member, "private", 1, json!({})).await?;
    export(member, "web").await?;
    export(member, "db").await?;
    let member_slices: Api<EndpointSlice> = Api::namespaced(member.clone(), NS);
    support::eventually("web's member slice to list two ready pods", || async {
        Ok(match member_slices.get_opt("web-slice").await? {
            Some(s) if ready(&s) == 2 => Ok(()),
            other => Err(format!("{:?}", other.map(|s| ready(&s)))),
        })
    })
    .await?;

    // The execution namespace appears only now, as after a fresh registration, holding a
    // slice reported by an earlier run for a Service no longer exported.
    let es = execution_namespace(CLUSTER);
    create(
        Api::<Namespace>::all(federation.clone()),
        json!({"metadata": {"name": es}}),
    )
    .await?;
    create(
        Api::<EndpointSlice>::namespaced(federation.clone(), &es),
        json!({
            "metadata": {"name": "shop.old-slice", "labels": {
                LABEL_SOURCE_CLUSTER: CLUSTER, LABEL_SERVICE_NAME: "old",
                LABEL_SERVICE_NAMESPACE: NS, "endpointslice.kubernetes.io/managed-by": REPORTER}},
            "addressType": "IPv4", "endpoints": [],
        }),
    )
    .await?;
    let slices = reported_when(
        federation,
        "web and db reported, the leftover gone",
        &[("shop.db-slice", 1), ("shop.web-slice", 2)],
    )
    .await?;
    let web = &slices["shop.web-slice"];
    assert_eq!(
        web.labels(),
        &BTreeMap::from([
            (LABEL_SOURCE_CLUSTER.to_string(), CLUSTER.to_string()),
            (LABEL_SERVICE_NAME.to_string(), "web".to_string()),
            (LABEL_SERVICE_NAMESPACE.to_string(), NS.to_string()),
            (
                "endpointslice.kubernetes.io/managed-by".to_string(),
                REPORTER.to_string()
            ),
        ])
    );
    let cluster_ip = Api::<Service>::namespaced(member.clone(), NS)
        .get("web")
        .await?
        .spec
        .and_then(|s| s.cluster_ip)
        .unwrap_or_default();
    assert!(!cluster_ip.is_empty());
    assert_eq!(
        web.annotations().get(ANNOTATION_SERVICE_IPS),
        Some(&cluster_ip)
    );
    assert_eq!(web.address_type, "IPv4");
    assert_eq!(
        serde_json::to_value(&web.ports)?,
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    assert!(web.endpoints.iter().all(|e| e.target_ref.is_none()));
    let db = &slices["shop.db-slice"];
    assert_eq!(
        db.annotations().get(ANNOTATION_SERVICE_IPS),
        None,
        "headless"
    );

    Api::<Deployment>::namespaced(member.clone(), NS)
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await?;
    let scaled = reported_when(
        federation,
        "web's reported slice to follow the scale-up",
        &[("shop.db-slice", 1), ("shop.web-slice", 3)],
    )
    .await?;
    assert_eq!(
        scaled["shop.db-slice"].resource_version(),
        db.resource_version(),
        "a slice whose member slice did not change is not rewritten"
    );

    Api::<ServiceExport>::namespaced(member.clone(), NS)
        .delete("web", &DeleteParams::default())
        .await?;
    reported_when(
        federation,
        "web's reported slice to go with its export",
        &[("shop.db-slice", 1)],
    )
    .await?;
    Ok(())
}
