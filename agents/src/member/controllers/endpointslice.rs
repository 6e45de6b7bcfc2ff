//! The EndpointSlice controller: for every Service with a selector, one EndpointSlice (and the
//! legacy Endpoints object) listing the matching pods' IPs, readiness and target ports.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort as CorePort, EndpointSubset, Endpoints, ObjectReference, Pod,
    Service, ServicePort,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::PostParams;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use crate::member::runtime::{self, Context, controller_reference, pod_ready};

const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("writing {kind} {name}")]
    Write {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// The slice's name for a service: deterministic, so a restart finds it again.
pub fn slice_name(service: &str) -> String {
    format!("{service}-slice")
}

/// Runs the EndpointSlice controller until `ctx.cancel` fires.
pub async fn run(ctx: Arc<Context>) {
    let client = ctx.client.clone();
    let pod_api = Api::<Pod>::all(client.clone());
    let (pods, cache) = runtime::pod_cache(&ctx);
    let controller = Controller::new(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    );
    let services = controller.store();
    // A pod change concerns the services in its namespace whose selector matches it. The short
    // debounce lets the pod cache, fed by a second watch, catch up before a service is looked at.
    let controller = controller
        .watches(pod_api, watcher::Config::default(), move |pod: Pod| {
            services_for(&services, &pod)
        })
        .owns(
            Api::<EndpointSlice>::all(client),
            watcher::Config::default(),
        )
        .with_config(controller::Config::default().debounce(Duration::from_millis(100)));
    let reconcile = move |svc: Arc<Service>, ctx: Arc<Context>| {
        let pods = pods.clone();
        async move { reconcile(&svc, &ctx, pods.store()).await }
    };
    tokio::join!(
        cache,
        runtime::run(controller, ctx, reconcile, Duration::from_secs(2))
    );
}

fn services_for(services: &Store<Service>, pod: &Pod) -> Vec<ObjectRef<Service>> {
    let ns = pod.namespace();
    services
        .state()
        .iter()
        .filter(|s| s.namespace() == ns && selects(s, pod))
        .map(|s| ObjectRef::from_obj(s.as_ref()))
        .collect()
}

fn selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    svc.spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .filter(|s| !s.is_empty())
}

/// Whether the service's (non-empty) selector matches the pod's labels.
fn selects(svc: &Service, pod: &Pod) -> bool {
    selector(svc).is_some_and(|sel| {
        let labels = pod.labels();
        sel.iter().all(|(k, v)| labels.get(k) == Some(v))
    })
}

/// Pods that belong in the service's endpoints, by name: selected, with an IP, not finished.
fn members<'a>(svc: &Service, pods: impl Iterator<Item = &'a Pod>) -> Vec<&'a Pod> {
    let ns = svc.namespace();
    let mut out: Vec<&Pod> = pods
        .filter(|p| p.namespace() == ns && selects(svc, p))
        .filter(|p| pod_ip(p).is_some())
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Succeeded" | "Failed"))
        })
        .collect();
    out.sort_by_key(|p| p.name_any());
    out
}

fn pod_ip(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .filter(|ip| !ip.is_empty())
}

/// The port a service port reaches on this pod: a number, or a named container port.
fn target_port(port: &ServicePort, pod: &Pod) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) if *n == 0 => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port),
    }
}

/// Service ports resolved against a pod; ports that do not resolve on it are left out.
fn resolve_ports(svc: &Service, pod: Option<&Pod>) -> Vec<(Option<String>, i32, String)> {
    let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref());
    ports
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let number = match pod {
                Some(pod) => target_port(p, pod)?,
                None => match &p.target_port {
                    Some(IntOrString::Int(n)) if *n != 0 => *n,
                    _ => p.port,
                },
            };
            let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
            Some((p.name.clone(), number, protocol))
        })
        .collect()
}

fn target_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        name: Some(pod.name_any()),
        namespace: pod.namespace(),
        uid: pod.uid(),
        ..ObjectReference::default()
    }
}

fn publish_not_ready(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

fn metadata(svc: &Service, name: String, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: svc.namespace(),
        labels: Some(labels),
        owner_references: Some(vec![controller_reference(svc)]),
        ..ObjectMeta::default()
    }
}

/// The EndpointSlice the service should have. Ports come from the first member pod, as one
/// slice carries one port list.
pub(crate) fn desired_slice(svc: &Service, members: &[&Pod]) -> EndpointSlice {
    let name = svc.name_any();
    let labels = BTreeMap::from([
        (SERVICE_NAME_LABEL.to_string(), name.clone()),
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
    ]);
    let endpoints = members
        .iter()
        .map(|pod| {
            let terminating = pod.metadata.deletion_timestamp.is_some();
            let serving = pod_ready(pod) || publish_not_ready(svc);
            Endpoint {
                addresses: pod_ip(pod).into_iter().map(String::from).collect(),
                conditions: Some(EndpointConditions {
                    ready: Some(serving && !terminating),
                    serving: Some(serving),
                    terminating: Some(terminating),
                }),
                node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
                target_ref: Some(target_ref(pod)),
                ..Endpoint::default()
            }
        })
        .collect();
    let ports = resolve_ports(svc, members.first().copied())
        .into_iter()
        .map(|(name, port, protocol)| EndpointPort {
            name,
            port: Some(port),
            protocol: Some(protocol),
            ..EndpointPort::default()
        })
        .collect();
    EndpointSlice {
        metadata: metadata(svc, slice_name(&name), labels),
        address_type: "IPv4".into(),
        endpoints,
        ports: Some(ports),
    }
}

/// The legacy Endpoints object: ready and not-ready addresses; terminating pods are left out.
pub(crate) fn desired_endpoints(svc: &Service, members: &[&Pod]) -> Endpoints {
    let name = svc.name_any();
    let labels = BTreeMap::from([(SERVICE_NAME_LABEL.to_string(), name.clone())]);
    let mut ready = Vec::new();
    let mut not_ready = Vec::new();
    for pod in members
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let address = EndpointAddress {
            ip: pod_ip(pod).unwrap_or_default().into(),
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(target_ref(pod)),
            ..EndpointAddress::default()
        };
        if pod_ready(pod) || publish_not_ready(svc) {
            ready.push(address);
        } else {
            not_ready.push(address);
        }
    }
    let subsets = if ready.is_empty() && not_ready.is_empty() {
        Vec::new()
    } else {
        let ports = resolve_ports(svc, members.first().copied())
            .into_iter()
            .map(|(name, port, protocol)| CorePort {
                name,
                port,
                protocol: Some(protocol),
                ..CorePort::default()
            })
            .collect();
        vec![EndpointSubset {
            addresses: (!ready.is_empty()).then_some(ready),
            not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
            ports: Some(ports),
        }]
    };
    Endpoints {
        metadata: metadata(svc, name, labels),
        subsets: Some(subsets),
    }
}

async fn reconcile(svc: &Service, ctx: &Context, pods: &Store<Pod>) -> Result<Action, Error> {
    if svc.metadata.deletion_timestamp.is_some() || selector(svc).is_none() {
        return Ok(Action::await_change());
    }
    let Some(all) = runtime::snapshot(ctx, pods).await else {
        return Ok(Action::await_change());
    };
    let members = members(svc, all.iter().map(AsRef::as_ref));
    let ns = svc.namespace().unwrap_or_default();
    let slice = desired_slice(svc, &members);
    let slices: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &ns);
    write(&slices, slice, "EndpointSlice", |have, want| {
        have.endpoints == want.endpoints
            && have.ports.clone().unwrap_or_default() == want.ports.clone().unwrap_or_default()
            && have.metadata.labels == want.metadata.labels
    })
    .await?;
    let endpoints = desired_endpoints(svc, &members);
    let legacy: Api<Endpoints> = Api::namespaced(ctx.client.clone(), &ns);
    write(&legacy, endpoints, "Endpoints", |have, want| {
        have.subsets.clone().unwrap_or_default() == want.subsets.clone().unwrap_or_default()
    })
    .await?;
    Ok(Action::await_change())
}

/// Creates `want`, or replaces the existing object when `same` says it differs.
async fn write<K>(
    api: &Api<K>,
    mut want: K,
    kind: &'static str,
    same: impl Fn(&K, &K) -> bool,
) -> Result<(), Error>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    let name = want.name_any();
    let failed = |source| Error::Write {
        kind,
        name: name.clone(),
        source,
    };
    match api.get_opt(&name).await.map_err(failed)? {
        None => {
            api.create(&PostParams::default(), &want)
                .await
                .map_err(failed)?;
        }
        Some(have) if same(&have, &want) => {}
        Some(have) => {
            want.meta_mut().resource_version = have.resource_version();
            api.replace(&name, &PostParams::default(), &want)
                .await
                .map_err(failed)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(value: serde_json::Value) -> Service {
        serde_json::from_value(value).expect("service")
    }

    fn pod(name: &str, app: &str, ip: Option<&str>, ready: bool, extra: &serde_json::Value) -> Pod {
        let mut value = json!({
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"), "labels": {"app": app}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip,
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
        });
        if let (Some(target), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                if let Some(obj) = target.get_mut(k).and_then(|t| t.as_object_mut()) {
                    obj.extend(v.as_object().cloned().unwrap_or_default());
                }
            }
        }
        serde_json::from_value(value).expect("pod")
    }

    fn web() -> Service {
        svc(
            json!({"metadata": {"name": "web", "namespace": "ns", "uid": "svc-uid"},
            "spec": {"selector": {"app": "web"}, "ports": [
                {"name": "a", "port": 80, "targetPort": "http"},
                {"name": "b", "port": 81, "targetPort": 9090, "protocol": "UDP"},
                {"name": "c", "port": 82}]}}),
        )
    }

    #[test]
    fn membership_table() {
        let pods = [
            pod("a", "web", Some("10.0.0.1"), true, &json!({})),
            pod("b", "other", Some("10.0.0.2"), true, &json!({})),
            pod("c", "web", None, true, &json!({})),
            pod(
                "d",
                "web",
                Some("10.0.0.4"),
                true,
                &json!({"status": {"phase": "Succeeded"}}),
            ),
            pod(
                "e",
                "web",
                Some("10.0.0.5"),
                true,
                &json!({"metadata": {"namespace": "x"}}),
            ),
            pod("f", "web", Some("10.0.0.6"), false, &json!({})),
        ];
        let names: Vec<String> = members(&web(), pods.iter())
            .iter()
            .map(|p| p.name_any())
            .collect();
        assert_eq!(names, ["a", "f"]);
        let no_selector = svc(json!({"metadata": {"name": "s", "namespace": "ns"}, "spec": {}}));
        assert!(members(&no_selector, pods.iter()).is_empty());
    }

    #[test]
    fn slice_conditions_and_ports() {
        let ready = pod("a", "web", Some("10.0.0.1"), true, &json!({}));
        let unready = pod("b", "web", Some("10.0.0.2"), false, &json!({}));
        let gone = pod(
            "c",
            "web",
            Some("10.0.0.3"),
            true,
            &json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
        );
        let slice = desired_slice(&web(), &[&ready, &unready, &gone]);
        assert_eq!(slice.metadata.name.as_deref(), Some("web-slice"));
        let conditions: Vec<_> = slice
            .endpoints
            .iter()
            .map(|e| {
                let c = e.conditions.clone().unwrap_or_default();
                (e.addresses[0].as_str(), c.ready, c.serving, c.terminating)
            })
            .collect();
        assert_eq!(
            conditions,
            [
                ("10.0.0.1", Some(true), Some(true), Some(false)),
                ("10.0.0.2", Some(false), Some(false), Some(false)),
                ("10.0.0.3", Some(false), Some(true), Some(true)),
            ]
        );
        assert_eq!(slice.endpoints[0].node_name.as_deref(), Some("n1"));
        assert_eq!(
            serde_json::to_value(&slice.ports).expect("ports"),
            json!([{"name": "a", "port": 8080, "protocol": "TCP"},
                {"name": "b", "port": 9090, "protocol": "UDP"},
                {"name": "c", "port": 82, "protocol": "TCP"}])
        );
        let endpoints = desired_endpoints(&web(), &[&ready, &unready, &gone]);
        let subsets = serde_json::to_value(&endpoints.subsets).expect("subsets");
        assert_eq!(subsets[0]["addresses"][0]["ip"], "10.0.0.1");
        assert_eq!(subsets[0]["notReadyAddresses"][0]["ip"], "10.0.0.2");
        assert_eq!(subsets[0]["addresses"].as_array().map(Vec::len), Some(1));
        let empty = desired_endpoints(&web(), &[]);
        assert_eq!(empty.subsets, Some(Vec::new()));
    }
}
