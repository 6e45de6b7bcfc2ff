//! The ServiceImport controller against an in-process federation: imports derived from
//! exported Services and the clusters reporting their endpoints, the export's `Valid`
//! condition, imports removed with their Service or export, and the reports of a deleted
//! Cluster removed; the derived Service and imported slices made for consumer clusters.

mod support;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use karmada_api::cluster::Cluster;
use karmada_api::mcs::{
    LABEL_SERVICE_NAME, LABEL_SERVICE_NAMESPACE, LABEL_SOURCE_CLUSTER, REPORTER, ServiceExport,
    ServiceImport, dns,
};
use karmada_propagation::service_import;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use support::{create_namespace, federation, join, until};

const NS: &str = "shop";

async fn create_service(client: &Client, name: &str, spec: Value) -> anyhow::Result<()> {
    let service: Service =
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec}))?;
    Api::<Service>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &service)
        .await?;
    Ok(())
}

async fn create_export(client: &Client, name: &str, annotations: Value) -> anyhow::Result<()> {
    let export: ServiceExport = serde_json::from_value(json!({
        "apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport",
        "metadata": {"name": name, "annotations": annotations},
    }))?;
    Api::<ServiceExport>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &export)
        .await?;
    Ok(())
}

/// A slice as `cluster`'s agent reports it for Service `service` of namespace `shop`.
async fn report(client: &Client, cluster: &str, service: &str) -> anyhow::Result<()> {
    let namespace = karmada_api::execution_namespace(cluster);
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"name": format!("{NS}.{service}-slice"), "labels": {
            LABEL_SOURCE_CLUSTER: cluster, LABEL_SERVICE_NAME: service,
            LABEL_SERVICE_NAMESPACE: NS, "endpointslice.kubernetes.io/managed-by": REPORTER}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.0.1"], "conditions": {"ready": true}}],
    }))?;
    Api::<EndpointSlice>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &slice)
        .await?;
    Ok(())
}

/// Marks `cluster` Ready, as its status controller would.
async fn make_ready(client: &Client, cluster: &str) -> anyhow::Result<()> {
    let status = json!({"status": {"conditions": [{
        "type": "Ready", "status": "True", "reason": "ClusterReady", "message": "ready",
        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    Api::<Cluster>::all(client.clone())
        .patch_status(cluster, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

/// The `ready` condition of each endpoint of the imported slice `name`, or `None` while it
/// does not exist.
async fn imported_readiness(client: &Client, name: &str) -> anyhow::Result<Option<Vec<bool>>> {
    let slice = Api::<EndpointSlice>::namespaced(client.clone(), NS)
        .get_opt(name)
        .await?;
    Ok(slice.map(|s| {
        s.endpoints
            .iter()
            .map(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
            .collect()
    }))
}

/// Waits until the imported slice `name` has endpoints with readiness `want`, or is absent
/// when `want` is `None`.
async fn imported_when(client: &Client, name: &str, want: Option<&[bool]>) -> anyhow::Result<()> {
    until(&format!("imported slice {name} to be {want:?}"), || async {
        let got = imported_readiness(client, name).await?;
        Ok(if got.as_deref() == want {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        })
    })
    .await
}

/// What an import must satisfy; `Err` says what it looks like instead.
type Check<'a> = &'a dyn Fn(&ServiceImport) -> Result<(), String>;

/// Waits until ServiceImport `name` satisfies `check`, or is absent when `check` is `None`.
async fn import_when(
    client: &Client,
    name: &str,
    what: &str,
    check: Option<Check<'_>>,
) -> anyhow::Result<Option<ServiceImport>> {
    let imports: Api<ServiceImport> = Api::namespaced(client.clone(), NS);
    until(what, || async {
        let import = imports.get_opt(name).await?;
        Ok(match (&import, check) {
            (None, None) => Ok(None),
            (Some(i), None) => Err(format!("still there: {:?}", i.spec)),
            (None, Some(_)) => Err("absent".into()),
            (Some(i), Some(check)) => check(i).map(|()| import.clone()),
        })
    })
    .await
}

fn clusters(import: &ServiceImport) -> Vec<String> {
    import
        .status
        .iter()
        .flat_map(|s| s.clusters.iter().map(|c| c.cluster.clone()))
        .collect()
}

/// Waits until ServiceExport `name`'s Valid condition has `reason`.
async fn valid_when(client: &Client, name: &str, reason: &str) -> anyhow::Result<String> {
    let exports: Api<ServiceExport> = Api::namespaced(client.clone(), NS);
    until(
        &format!("{name}'s Valid condition to say {reason}"),
        || async {
            let export = exports.get(name).await?;
            let valid = export
                .status
                .iter()
                .flat_map(|s| s.conditions.iter())
                .find(|c| c.type_ == "Valid")
                .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()));
            Ok(match valid {
                Some((status, r, message)) if r == reason => Ok(format!("{status}: {message}")),
                other => Err(format!("{other:?}")),
            })
        },
    )
    .await
}

#[tokio::test]
async fn imports_follow_exports_services_and_reporting_clusters() -> anyhow::Result<()> {
    let fed = federation().await?;
    let client = fed.client.clone();
    let controller = tokio::spawn(service_import::run(
        client.clone(),
        fed.cancel.child_token(),
    ));
    let result = scenario(&client).await;
    fed.cancel.cancel();
    controller.await?;
    result
}

async fn scenario(client: &Client) -> anyhow::Result<()> {
    join(client, "member1", &[]).await?;
    join(client, "member2", &[]).await?;
    create_namespace(client, NS).await?;
    create_service(
        client,
        "web",
        json!({"ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP",
                          "appProtocol": "http"},
                         {"name": "metrics", "port": 9090, "protocol": "TCP"}]}),
    )
    .await?;
    create_service(
        client,
        "db",
        json!({"clusterIP": "None", "ports": [{"port": 5432}]}),
    )
    .await?;
    create_export(
        client,
        "web",
        json!({dns::POLICY: "failover", dns::FAILOVER_ORDER: "member2,member1", "note": "x"}),
    )
    .await?;
    create_export(client, "db", json!({})).await?;
    create_export(client, "ghost", json!({})).await?;
    report(client, "member2", "web").await?;
    report(client, "member1", "web").await?;
    report(client, "member1", "db").await?;

    let web = import_when(
        client,
        "web",
        "web's import backed by both clusters",
        Some(&|i| {
            let got = clusters(i);
            if got == ["member1", "member2"] {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        }),
    )
    .await?
    .expect("present");
    let spec = serde_json::to_value(&web.spec)?;
    assert_eq!(
        spec,
        json!({"type": "ClusterSetIP", "sessionAffinity": "None", "ports": [
            {"name": "http", "port": 80, "protocol": "TCP", "appProtocol": "http"},
            {"name": "metrics", "port": 9090, "protocol": "TCP"}]}),
        "no virtual IP is allocated"
    );
    assert_eq!(
        web.annotations().get(dns::POLICY).map(String::as_str),
        Some("failover")
    );
    assert_eq!(
        web.annotations()
            .get(dns::FAILOVER_ORDER)
            .map(String::as_str),
        Some("member2,member1")
    );
    assert_eq!(web.annotations().get("note"), None);
    let owner = &web.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("ServiceExport", "web")
    );
    valid_when(client, "web", "ServiceExported").await?;

    // Consumers get the derived Service and one imported slice per reported one; endpoints of
    // a cluster that is not Ready are imported not ready.
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let derived = until("the derived Service of web", || async {
        Ok(services
            .get_opt("derived-web")
            .await?
            .ok_or_else(|| "absent".to_string()))
    })
    .await?;
    let spec = derived.spec.clone().unwrap_or_default();
    assert_eq!(spec.selector, None, "its endpoints are the imported slices");
    let ports: Vec<i32> = spec.ports.iter().flatten().map(|p| p.port).collect();
    assert_eq!(ports, [80, 9090]);
    assert_ne!(spec.cluster_ip.as_deref(), Some("None"));
    imported_when(client, "imported-member1-web-slice", Some(&[false])).await?;
    imported_when(client, "imported-member2-web-slice", Some(&[false])).await?;
    make_ready(client, "member1").await?;
    imported_when(client, "imported-member1-web-slice", Some(&[true])).await?;
    let imported: Api<EndpointSlice> = Api::namespaced(client.clone(), NS);
    let slice = imported.get("imported-member1-web-slice").await?;
    assert_eq!(slice.labels()["kubernetes.io/service-name"], "derived-web");
    assert_eq!(slice.labels()[LABEL_SOURCE_CLUSTER], "member1");
    // A deleted imported slice comes back.
    imported
        .delete("imported-member1-web-slice", &DeleteParams::default())
        .await?;
    imported_when(client, "imported-member1-web-slice", Some(&[true])).await?;
    imported_when(client, "imported-member2-web-slice", Some(&[false])).await?;

    import_when(
        client,
        "db",
        "db's headless import",
        Some(&|i| match (i.spec.type_, clusters(i).as_slice()) {
            (karmada_api::mcs::ServiceImportType::Headless, [c]) if c == "member1" => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    )
    .await?;
    let derived_db = until("the derived Service of db", || async {
        Ok(services
            .get_opt("derived-db")
            .await?
            .ok_or_else(|| "absent".to_string()))
    })
    .await?;
    assert_eq!(
        derived_db.spec.and_then(|s| s.cluster_ip).as_deref(),
        Some("None"),
        "a headless import derives a headless Service"
    );
    let message = valid_when(client, "ghost", "NoService").await?;
    assert!(
        message.starts_with("False: Service ghost does not exist"),
        "{message}"
    );
    assert!(
        Api::<ServiceImport>::namespaced(client.clone(), NS)
            .get_opt("ghost")
            .await?
            .is_none()
    );

    // An unjoined cluster's reports are removed, and the import stops listing it.
    Api::<Cluster>::all(client.clone())
        .delete("member2", &DeleteParams::default())
        .await?;
    let stale: Api<EndpointSlice> =
        Api::namespaced(client.clone(), &karmada_api::execution_namespace("member2"));
    until("member2's stale report to be deleted", || async {
        Ok(match stale.get_opt("shop.web-slice").await? {
            None => Ok(()),
            Some(_) => Err("still reported".into()),
        })
    })
    .await?;
    import_when(
        client,
        "web",
        "web's import to drop member2",
        Some(&|i| {
            let got = clusters(i);
            if got == ["member1"] {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        }),
    )
    .await?;
    imported_when(client, "imported-member2-web-slice", None).await?;

    Api::<Service>::namespaced(client.clone(), NS)
        .delete("web", &DeleteParams::default())
        .await?;
    import_when(client, "web", "web's import to go with its Service", None).await?;
    valid_when(client, "web", "NoService").await?;
    imported_when(client, "imported-member1-web-slice", None).await?;
    assert!(services.get_opt("derived-web").await?.is_none());

    Api::<ServiceExport>::namespaced(client.clone(), NS)
        .delete("db", &DeleteParams::default())
        .await?;
    import_when(client, "db", "db's import to go with its export", None).await?;
    Ok(())
}
