//! The create/get/list/update/delete phases of the API server benchmark, driven through
//! kube-rs exactly as a controller would talk to the server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, ensure};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};

use super::driver::{self, Measured};
use super::report::Params;

/// The namespace every benchmark object lives in; the server creates it at start.
pub const NAMESPACE: &str = "default";
/// Page size of the paged list, the one kubectl and client-go informers use.
const PAGE_SIZE: u32 = 500;

/// Measurements of the CRUD phases, in the order they ran.
pub struct Crud {
    pub phases: Vec<(&'static str, Measured)>,
    /// Bytes of one created ConfigMap as the server returned it.
    pub value_bytes: usize,
}

/// The ConfigMap the benchmark writes: a fixed label and one data entry of `payload`.
pub fn config_map(name: &str, payload: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/part-of".into(),
                "karmada-bench".into(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("payload".into(), payload.to_owned())])),
        ..ConfigMap::default()
    }
}

fn name(i: usize) -> String {
    format!("bench-{i:06}")
}

/// Creates, gets, lists (whole and paged), updates and deletes `params.objects` ConfigMaps.
pub async fn crud(api: &Api<ConfigMap>, params: &Params, backend: &str) -> anyhow::Result<Crud> {
    let (n, c) = (params.objects, params.concurrency);
    let payload: Arc<str> = "x".repeat(params.payload_bytes).into();
    let mut phases = Vec::new();

    driver::announce(backend, "create", n, c);
    let create = driver::run("create", n, c, {
        let (api, payload) = (api.clone(), payload.clone());
        move |i| {
            let (api, object) = (api.clone(), config_map(&name(i), &payload));
            async move {
                api.create(&PostParams::default(), &object)
                    .await
                    .with_context(|| format!("cannot create ConfigMap {}", name(i)))
            }
        }
    })
    .await?;
    let value_bytes = create
        .outputs
        .first()
        .map_or(0, |o| serde_json::to_vec(o).map_or(0, |v| v.len()));
    phases.push(driver::finished(backend, "create", create.measured));

    driver::announce(backend, "get", n, c);
    let get = driver::run("get", n, c, {
        let api = api.clone();
        move |i| {
            let api = api.clone();
            async move {
                api.get(&name(i))
                    .await
                    .with_context(|| format!("cannot get ConfigMap {}", name(i)))
            }
        }
    })
    .await?;
    let fetched = Arc::new(get.outputs);
    phases.push(driver::finished(backend, "get", get.measured));

    driver::announce(backend, "list", params.list_rounds, c);
    let list = driver::run("list", params.list_rounds, c, {
        let api = api.clone();
        move |_| {
            let api = api.clone();
            async move {
                let items = api
                    .list(&ListParams::default())
                    .await
                    .context("cannot list ConfigMaps")?
                    .items
                    .len();
                ensure!(
                    items == n,
                    "a list returned {items} ConfigMaps where {n} exist"
                );
                Ok(items)
            }
        }
    })
    .await?;
    let objects = list.outputs.iter().sum();
    phases.push(driver::finished(
        backend,
        "list",
        Measured {
            objects,
            ..list.measured
        },
    ));

    driver::announce(backend, "list-page500", params.list_rounds, c);
    let paged = driver::run("list-page500", params.list_rounds, c, {
        let api = api.clone();
        move |_| list_in_pages(api.clone(), n)
    })
    .await?;
    let pages = Measured {
        latencies: paged.outputs.iter().flatten().copied().collect(),
        elapsed: paged.measured.elapsed,
        objects: n * params.list_rounds,
    };
    phases.push(driver::finished(backend, "list-page500", pages));

    driver::announce(backend, "update", n, c);
    let update = driver::run("update", n, c, {
        let api = api.clone();
        move |i| {
            let api = api.clone();
            let mut object = fetched[i].clone();
            object.data = Some(BTreeMap::from([(
                "payload".into(),
                "y".repeat(object_payload_len(&object)),
            )]));
            async move {
                api.replace(&name(i), &PostParams::default(), &object)
                    .await
                    .with_context(|| format!("cannot update ConfigMap {}", name(i)))
            }
        }
    })
    .await?;
    phases.push(driver::finished(backend, "update", update.measured));

    driver::announce(backend, "delete", n, c);
    let delete = driver::run("delete", n, c, {
        let api = api.clone();
        move |i| {
            let api = api.clone();
            async move {
                api.delete(&name(i), &DeleteParams::default())
                    .await
                    .map(drop)
                    .with_context(|| format!("cannot delete ConfigMap {}", name(i)))
            }
        }
    })
    .await?;
    phases.push(driver::finished(backend, "delete", delete.measured));

    Ok(Crud {
        phases,
        value_bytes,
    })
}

/// Reads every ConfigMap in pages of [`PAGE_SIZE`], returning each page's latency.
async fn list_in_pages(
    api: Api<ConfigMap>,
    expected: usize,
) -> anyhow::Result<Vec<std::time::Duration>> {
    let mut latencies = Vec::new();
    let mut seen = 0;
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(PAGE_SIZE);
        if let Some(token) = &token {
            params = params.continue_token(token);
        }
        let began = Instant::now();
        let page = api
            .list(&params)
            .await
            .with_context(|| format!("cannot list page {}", latencies.len() + 1))?;
        latencies.push(began.elapsed());
        seen += page.items.len();
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    ensure!(
        seen == expected,
        "a paged list returned {seen} ConfigMaps where {expected} exist"
    );
    Ok(latencies)
}

/// The payload length of a ConfigMap the benchmark wrote, so updates keep the value size.
fn object_payload_len(object: &ConfigMap) -> usize {
    object
        .data
        .as_ref()
        .and_then(|d| d.get("payload"))
        .map_or(0, String::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_benchmark_object_carries_its_payload_and_label() {
        let object = config_map("bench-000001", "xyz");
        assert_eq!(object.metadata.name.as_deref(), Some("bench-000001"));
        assert_eq!(object_payload_len(&object), 3);
        let labels = object.metadata.labels.unwrap();
        assert_eq!(
            labels.get("app.kubernetes.io/part-of").map(String::as_str),
            Some("karmada-bench")
        );
    }

    #[test]
    fn names_sort_in_creation_order() {
        assert!(name(9) < name(10) && name(99_999) < name(100_000));
        assert_eq!(name(42), "bench-000042");
    }
}
