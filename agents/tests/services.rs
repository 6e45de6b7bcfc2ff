//! The Service and EndpointSlice controllers against the in-process apiserver: ClusterIP,
//! nodePort and load-balancer allocation, and slices that follow pod readiness and deletion.

mod support;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use karmada_agents::member::controllers::{endpointslice, service};
use karmada_agents::member::runtime::Context;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

async fn create_service(api: &Api<Service>, spec: serde_json::Value) -> anyhow::Result<()> {
    let svc: Service = serde_json::from_value(spec)?;
    api.create(&PostParams::default(), &svc).await?;
    Ok(())
}

/// A pod labelled `app`, given an IP and a Ready condition through the status subresource.
async fn create_pod(
    api: &Api<Pod>,
    name: &str,
    app: &str,
    ip: &str,
    ready: bool,
) -> anyhow::Result<()> {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "nginx",
            "ports": [{"name": "http", "containerPort": 8080}]}]},
    }))?;
    api.create(&PostParams::default(), &pod).await?;
    let status = if ready { "True" } else { "False" };
    let patch = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": status}]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

async fn spec_of(api: &Api<Service>, name: &str) -> anyhow::Result<serde_json::Value> {
    let svc = api.get(name).await?;
    Ok(serde_json::to_value(svc.spec)?)
}

/// The slice's endpoints as (ip, ready), sorted.
fn endpoints_of(slice: &EndpointSlice) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = slice
        .endpoints
        .iter()
        .map(|e| {
            let ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false);
            (e.addresses.join(","), ready)
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn services_get_addresses_and_endpoints() -> anyhow::Result<()> {
    let support::Apiserver {
        running,
        client,
        cancel,
    } = support::apiserver().await?;
    let ctx = |name: &str| Context::new(client.clone(), name, cancel.child_token());
    let config = service::ServiceConfig {
        service_cidr: "10.96.0.0/16".into(),
        node_port_range: 30000..=32767,
        load_balancer_pool: vec!["172.30.0.0/24".into()],
    };
    let services = tokio::spawn(service::run(ctx("service-controller"), config));
    let slices = tokio::spawn(endpointslice::run(ctx("endpointslice-controller")));
    let result = scenario(client.clone()).await;
    cancel.cancel();
    services.await??;
    slices.await?;
    running.shutdown().await;
    result
}

async fn scenario(client: Client) -> anyhow::Result<()> {
    let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let kubernetes = support::eventually("the kubernetes service's address", || async {
        let spec = match svcs.get_opt("kubernetes").await? {
            Some(s) => serde_json::to_value(s.spec)?,
            None => return Ok(Err("absent".into())),
        };
        Ok(match spec["clusterIP"].as_str() {
            Some(ip) => Ok(ip.to_string()),
            None => Err(spec.to_string()),
        })
    })
    .await?;
    assert_eq!(kubernetes, "10.96.0.1");

    create_service(
        &svcs,
        json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
        "ports": [{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}),
    )
    .await?;
    create_service(
        &svcs,
        json!({"metadata": {"name": "headless"}, "spec": {"clusterIP": "None",
        "selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    )
    .await?;
    create_service(
        &svcs,
        json!({"metadata": {"name": "np"}, "spec": {"type": "NodePort",
        "ports": [{"port": 80}]}}),
    )
    .await?;
    create_service(
        &svcs,
        json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer",
        "ports": [{"port": 443}]}}),
    )
    .await?;

    let web = support::eventually("web's ClusterIP", || async {
        let spec = spec_of(&svcs, "web").await?;
        Ok(
            match (spec["clusterIP"].as_str(), spec["clusterIPs"][0].as_str()) {
                (Some(ip), Some(ips)) if ip == ips => Ok(ip.parse::<Ipv4Addr>()?),
                _ => Err(spec.to_string()),
            },
        )
    })
    .await?;
    assert!(
        web.octets()[..2] == [10, 96] && web != Ipv4Addr::new(10, 96, 0, 1),
        "{web}"
    );

    let node_port = support::eventually("np's nodePort", || async {
        let spec = spec_of(&svcs, "np").await?;
        Ok(match spec["ports"][0]["nodePort"].as_u64() {
            Some(p) => Ok(p),
            None => Err(spec.to_string()),
        })
    })
    .await?;
    assert!((30000..=32767).contains(&node_port), "{node_port}");

    let ingress = support::eventually("lb's ingress", || async {
        let svc = svcs.get("lb").await?;
        let status = serde_json::to_value(&svc.status)?;
        let ingress = &status["loadBalancer"]["ingress"][0];
        let spec = serde_json::to_value(&svc.spec)?;
        Ok(
            match (
                ingress["ip"].as_str(),
                spec["ports"][0]["nodePort"].as_u64(),
            ) {
                (Some(ip), Some(_)) => Ok((ip.parse::<Ipv4Addr>()?, ingress["ipMode"].clone())),
                _ => Err(format!("{status} {spec}")),
            },
        )
    })
    .await?;
    assert_eq!(ingress.0.octets()[..3], [172, 30, 0], "{}", ingress.0);
    assert_eq!(ingress.1, json!("VIP"));
    assert_eq!(
        spec_of(&svcs, "headless").await?["clusterIP"],
        json!("None")
    );

    create_pod(&pods, "web-0", "web", "10.244.0.10", true).await?;
    create_pod(&pods, "web-1", "web", "10.244.0.11", true).await?;
    create_pod(&pods, "web-2", "web", "10.244.0.12", false).await?;
    create_pod(&pods, "other", "other", "10.244.0.13", true).await?;

    let slice_api: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let want = |ips: &[(&str, bool)]| -> Vec<(String, bool)> {
        ips.iter().map(|(ip, r)| (ip.to_string(), *r)).collect()
    };
    let all = want(&[
        ("10.244.0.10", true),
        ("10.244.0.11", true),
        ("10.244.0.12", false),
    ]);
    let slice = support::eventually("web's slice to list its pods", || async {
        let Some(slice) = slice_api.get_opt("web-slice").await? else {
            return Ok(Err("absent".into()));
        };
        Ok(if endpoints_of(&slice) == all {
            Ok(slice)
        } else {
            Err(format!("{:?}", endpoints_of(&slice)))
        })
    })
    .await?;
    let labels = slice.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels,
        BTreeMap::from([
            ("kubernetes.io/service-name".to_string(), "web".to_string()),
            (
                "endpointslice.kubernetes.io/managed-by".to_string(),
                "endpointslice-controller.k8s.io".to_string()
            ),
        ])
    );
    let ports = serde_json::to_value(&slice.ports)?;
    assert_eq!(
        ports,
        json!([{"name": "web", "port": 8080, "protocol": "TCP"}])
    );
    let owner = &slice.metadata.owner_references.clone().unwrap_or_default()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Service", "web")
    );
    assert_eq!(slice.address_type, "IPv4");

    let legacy: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    support::eventually("web's Endpoints", || async {
        let Some(ep) = legacy.get_opt("web").await? else {
            return Ok(Err("absent".into()));
        };
        let subsets = serde_json::to_value(&ep.subsets)?;
        let ready = subsets[0]["addresses"].as_array().map_or(0, Vec::len);
        let not_ready = subsets[0]["notReadyAddresses"]
            .as_array()
            .map_or(0, Vec::len);
        Ok(
            if (ready, not_ready) == (2, 1) && subsets[0]["ports"][0]["port"] == 8080 {
                Ok(())
            } else {
                Err(subsets.to_string())
            },
        )
    })
    .await?;

    pods.delete("web-1", &DeleteParams::default().grace_period(0))
        .await?;
    let remaining = want(&[("10.244.0.10", true), ("10.244.0.12", false)]);
    support::eventually("web's slice to drop the deleted pod", || async {
        let slice = slice_api.get("web-slice").await?;
        Ok(if endpoints_of(&slice) == remaining {
            Ok(())
        } else {
            Err(format!("{:?}", endpoints_of(&slice)))
        })
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn exhausted_pool_warns_and_recovers_after_a_deletion() -> anyhow::Result<()> {
    let support::Apiserver {
        running,
        client,
        cancel,
    } = support::apiserver().await?;
    let config = service::ServiceConfig {
        service_cidr: "10.96.0.0/24".into(),
        node_port_range: 30000..=30010,
        load_balancer_pool: vec!["172.31.0.0/30".into()],
    };
    let ctx = Context::new(client.clone(), "service-controller", cancel.child_token());
    let task = tokio::spawn(service::run(ctx, config));
    let result = exhaustion(client).await;
    cancel.cancel();
    task.await??;
    running.shutdown().await;
    result
}

async fn exhaustion(client: Client) -> anyhow::Result<()> {
    let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
    for name in ["lb-a", "lb-b", "lb-c"] {
        create_service(
            &svcs,
            json!({"metadata": {"name": name}, "spec": {"type": "LoadBalancer",
            "ports": [{"port": 80}]}}),
        )
        .await?;
    }
    let ingress = |svc: &Service| -> Option<String> {
        let status = serde_json::to_value(&svc.status).ok()?;
        status["loadBalancer"]["ingress"][0]["ip"]
            .as_str()
            .map(String::from)
    };
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "default");
    let starved = support::eventually("an AllocationFailed event", || async {
        let list = events.list(&Default::default()).await?;
        Ok(
            match list
                .items
                .iter()
                .find(|e| e.reason.as_deref() == Some("AllocationFailed"))
            {
                Some(e) => Ok(e.involved_object.name.clone().unwrap_or_default()),
                None => Err(format!("{} events", list.items.len())),
            },
        )
    })
    .await?;
    let mut assigned = Vec::new();
    for name in ["lb-a", "lb-b", "lb-c"] {
        if name != starved {
            let ip = ingress(&svcs.get(name).await?);
            assigned.push(ip.clone().unwrap_or_default());
            assert!(ip.is_some(), "{name} has no ingress");
        }
    }
    assigned.sort();
    assert_eq!(assigned, ["172.31.0.1", "172.31.0.2"]);
    assert_eq!(ingress(&svcs.get(&starved).await?), None);

    let victim = if starved == "lb-a" { "lb-b" } else { "lb-a" };
    svcs.delete(victim, &DeleteParams::default()).await?;
    support::eventually("the starved service to get the freed address", || async {
        let svc = svcs.get(&starved).await?;
        Ok(match ingress(&svc) {
            Some(ip) => Ok(ip),
            None => Err("no ingress yet".into()),
        })
    })
    .await?;
    Ok(())
}
