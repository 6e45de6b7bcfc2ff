use super::*;
use karmada_api::mcs::REPORTER;
use serde_json::{Value, json};

fn owner() -> OwnerReference {
    OwnerReference {
        api_version: "multicluster.x-k8s.io/v1alpha1".into(),
        kind: "ServiceExport".into(),
        name: "web".into(),
        uid: "export-uid".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn import(type_: &str) -> ServiceImport {
    serde_json::from_value(json!({
        "apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"type": type_, "ports": [
            {"name": "http", "protocol": "TCP", "port": 80},
            {"name": "grpc", "protocol": "TCP", "appProtocol": "grpc", "port": 9000},
        ]},
    }))
    .unwrap()
}

/// A slice `cluster` reports for shop/`service`, with one ready and one unready endpoint.
fn reported(cluster: &str, service: &str, slice: &str) -> EndpointSlice {
    serde_json::from_value(json!({
        "metadata": {
            "name": format!("shop.{slice}"), "namespace": format!("karmada-es-{cluster}"),
            "labels": {LABEL_SOURCE_CLUSTER: cluster, LABEL_SERVICE_NAME: service,
                       LABEL_SERVICE_NAMESPACE: "shop", MANAGED_BY_LABEL: REPORTER},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.1.0.4"], "conditions": {"ready": true}, "hostname": "web-0",
             "nodeName": "node-1", "zone": "a",
             "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "shop"}},
            {"addresses": ["10.1.0.5"], "conditions": {"ready": false}},
        ],
        "ports": [{"name": "http", "protocol": "TCP", "port": 8080}],
    }))
    .unwrap()
}

fn ready(pairs: &[(&str, bool)]) -> BTreeMap<String, bool> {
    pairs.iter().map(|(c, r)| (c.to_string(), *r)).collect()
}

fn readiness(slice: &EndpointSlice) -> Vec<Option<bool>> {
    slice
        .endpoints
        .iter()
        .map(|e| e.conditions.as_ref().and_then(|c| c.ready))
        .collect()
}

#[test]
fn the_derived_service_has_the_imports_ports_and_no_selector() {
    let service = derived_service(&import("ClusterSetIP"), &owner());
    assert_eq!(service.name_any(), "derived-web");
    assert_eq!(service.namespace().as_deref(), Some("shop"));
    let spec = service.spec.as_ref().unwrap();
    assert_eq!(spec.cluster_ip, None, "the apiserver allocates it");
    assert_eq!(spec.selector, None);
    let ports: Vec<(Option<&str>, i32, Option<&str>)> = spec
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.as_deref(), p.port, p.app_protocol.as_deref()))
        .collect();
    assert_eq!(
        ports,
        [(Some("http"), 80, None), (Some("grpc"), 9000, Some("grpc"))]
    );
    assert_eq!(service.metadata.owner_references, Some(vec![owner()]));

    let headless = derived_service(&import("Headless"), &owner());
    assert_eq!(headless.spec.unwrap().cluster_ip.as_deref(), Some("None"));
}

#[test]
fn a_derived_service_is_updated_only_when_it_differs_and_recreated_when_headless_flips() {
    let want = derived_service(&import("ClusterSetIP"), &owner());
    let mut have = want.clone();
    have.spec.as_mut().unwrap().cluster_ip = Some("10.96.0.9".into());
    have.labels_mut().insert("team".into(), "shop".into());
    assert!(
        updated_service(&have, &want).is_none(),
        "an allocated IP is no difference"
    );

    let mut edited = have.clone();
    edited.spec.as_mut().unwrap().ports.as_mut().unwrap().pop();
    edited.spec.as_mut().unwrap().selector = Some(BTreeMap::from([("app".into(), "x".into())]));
    let Some(ServiceChange::Update(updated)) = updated_service(&edited, &want) else {
        panic!("ports and selector differ, and are changed in place");
    };
    let spec = updated.spec.as_ref().unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.9"));
    assert_eq!(spec.selector, None);
    assert_eq!(spec.ports.as_ref().unwrap().len(), 2);
    assert_eq!(updated.labels()["team"], "shop", "others' labels stay");

    let headless = derived_service(&import("Headless"), &owner());
    assert_eq!(
        updated_service(&have, &headless),
        Some(ServiceChange::Recreate),
        "headless differs"
    );
}

#[test]
fn every_reported_slice_of_a_known_cluster_is_imported_for_the_derived_service() {
    let slices = [
        reported("member1", "web", "web-slice"),
        reported("member2", "web", "web-slice"),
        reported("member2", "db", "db-slice"),
        reported("gone", "web", "web-slice"),
    ];
    let imported = imported_slices(
        "shop",
        "web",
        &slices,
        &ready(&[("member1", true), ("member2", true)]),
        &owner(),
    );
    let names: Vec<&str> = imported.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["imported-member1-web-slice", "imported-member2-web-slice"]
    );
    let slice = &imported["imported-member1-web-slice"];
    assert_eq!(slice.namespace().as_deref(), Some("shop"));
    let labels: Value = serde_json::to_value(slice.labels()).unwrap();
    assert_eq!(
        labels,
        json!({"kubernetes.io/service-name": "derived-web", LABEL_SOURCE_CLUSTER: "member1",
               LABEL_SERVICE_NAME: "web", MANAGED_BY_LABEL: IMPORTER})
    );
    assert_eq!(readiness(slice), [Some(true), Some(false)]);
    let first = &slice.endpoints[0];
    assert_eq!(first.hostname.as_deref(), Some("web-0"));
    assert_eq!(first.zone.as_deref(), Some("a"));
    assert!(first.target_ref.is_none() && first.node_name.is_none());
    assert_eq!(slice.ports, slices[0].ports);
    assert_eq!(slice.metadata.owner_references, Some(vec![owner()]));
}

#[test]
fn endpoints_of_a_cluster_that_is_not_ready_are_imported_not_ready() {
    let slices = [reported("member2", "web", "web-slice")];
    let imported = imported_slices(
        "shop",
        "web",
        &slices,
        &ready(&[("member2", false)]),
        &owner(),
    );
    let slice = &imported["imported-member2-web-slice"];
    assert_eq!(readiness(slice), [Some(false), Some(false)]);
    assert!(
        slice
            .endpoints
            .iter()
            .all(|e| e.conditions.as_ref().unwrap().serving == Some(false))
    );
}

#[test]
fn imported_names_stay_valid_and_distinct_when_long() {
    assert_eq!(
        imported_slice_name("member1", "shop.web-abc12"),
        "imported-member1-web-abc12"
    );
    let long_a = format!("shop.{}a", "x".repeat(260));
    let long_b = format!("shop.{}b", "x".repeat(260));
    let (a, b) = (
        imported_slice_name("member1", &long_a),
        imported_slice_name("member1", &long_b),
    );
    assert!(a.len() <= 253 && b.len() <= 253, "{} {}", a.len(), b.len());
    assert_ne!(a, b);
    assert!(a.starts_with("imported-member1-xxx"));
}

#[test]
fn slices_are_rewritten_only_when_their_content_changed_and_surplus_ones_found() {
    let slices = [
        reported("member1", "web", "web-slice"),
        reported("member2", "web", "web-slice"),
    ];
    let clusters = ready(&[("member1", true), ("member2", true)]);
    let want = imported_slices("shop", "web", &slices, &clusters, &owner());
    let mut have = want["imported-member1-web-slice"].clone();
    have.labels_mut().insert("extra".into(), "kept".into());
    have.metadata.resource_version = Some("7".into());
    assert!(slice_up_to_date(&have, &want["imported-member1-web-slice"]));
    have.endpoints.pop();
    assert!(!slice_up_to_date(
        &have,
        &want["imported-member1-web-slice"]
    ));

    let only_member1 = imported_slices("shop", "web", &slices[..1], &clusters, &owner());
    let mut foreign = want["imported-member2-web-slice"].clone();
    foreign
        .labels_mut()
        .insert(MANAGED_BY_LABEL.into(), "someone-else".into());
    let existing = [
        want["imported-member1-web-slice"].clone(),
        want["imported-member2-web-slice"].clone(),
        foreign,
    ];
    assert_eq!(
        surplus_slices("shop", "web", &existing, &only_member1),
        BTreeSet::from(["imported-member2-web-slice".to_string()])
    );
}
