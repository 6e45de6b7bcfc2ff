//! The ceiling beside the API server figures: raw writes to the storage itself, from this
//! process, with the benchmark's concurrency and value size but no HTTP, JSON or registry.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use karmada_apiserver::storage::Storage as _;
use karmada_apiserver::storage::embedded::Embedded;

use super::driver::{self, Measured};
use super::report::Params;

/// Keys of raw writes, apart from the API server's `/karmada` prefix.
fn key(i: usize) -> String {
    format!("/bench-ceiling/{i:06}")
}

/// `params.objects` etcd puts of `value_bytes` each, through one etcd client as the API
/// server's etcd backend uses.
pub async fn etcd_puts(
    endpoint: &str,
    params: &Params,
    value_bytes: usize,
) -> anyhow::Result<Measured> {
    let client = etcd_client::Client::connect([endpoint], None)
        .await
        .with_context(|| format!("cannot connect to etcd at {endpoint}"))?;
    let kv = client.kv_client();
    let value: Arc<[u8]> = vec![b'x'; value_bytes].into();
    driver::announce("etcd", "raw-put", params.objects, params.concurrency);
    let run = driver::run("raw-put", params.objects, params.concurrency, move |i| {
        let (mut kv, value) = (kv.clone(), value.clone());
        async move {
            kv.put(key(i), value.to_vec(), None)
                .await
                .with_context(|| format!("cannot put {} into etcd", key(i)))?;
            anyhow::Ok(())
        }
    })
    .await?;
    Ok(driver::finished("etcd", "raw-put", run.measured).1)
}

/// `params.objects` creates of `value_bytes` each straight into an embedded store in `dir`.
pub async fn embedded_creates(
    dir: &Path,
    params: &Params,
    value_bytes: usize,
) -> anyhow::Result<Measured> {
    let store = Arc::new(
        Embedded::open(dir)
            .with_context(|| format!("cannot open an embedded store in {}", dir.display()))?,
    );
    let value = Bytes::from(vec![b'x'; value_bytes]);
    driver::announce("embedded", "raw-put", params.objects, params.concurrency);
    let run = driver::run("raw-put", params.objects, params.concurrency, move |i| {
        let (store, value) = (store.clone(), value.clone());
        async move {
            store
                .create(&key(i), value)
                .await
                .with_context(|| format!("cannot create {} in the store", key(i)))?;
            anyhow::Ok(())
        }
    })
    .await?;
    Ok(driver::finished("embedded", "raw-put", run.measured).1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn raw_creates_write_every_key_with_the_requested_size() {
        let dir = tempfile::tempdir().unwrap();
        let params = Params {
            objects: 12,
            concurrency: 3,
            watchers: 1,
            events: 1,
            list_rounds: 1,
            payload_bytes: 1,
        };
        let measured = embedded_creates(dir.path(), &params, 100).await.unwrap();
        assert_eq!(measured.latencies.len(), 12);
        let store = Embedded::open(dir.path()).unwrap();
        let range = store
            .range("/bench-ceiling/", Default::default())
            .await
            .unwrap();
        assert_eq!(range.kvs.len(), 12);
        assert!(range.kvs.iter().all(|kv| kv.value.len() == 100));
    }
}
