//! What wakes the binding controllers besides their own bindings: watches reduced to the
//! changes that matter (a fingerprint of the relevant fields), so status heartbeats of
//! Clusters and Works do not re-render every binding.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use futures::{Stream, StreamExt, future};
use karmada_api::cluster::Cluster;
use karmada_api::work::work::Work;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The objects of a watch whose `fingerprint` changed since last seen, and every deletion.
pub fn changes<K>(
    api: Api<K>,
    fingerprint: fn(&K) -> u64,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let mut seen: HashMap<String, u64> = HashMap::new();
    watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .filter_map(move |event| {
            let key = |object: &K| {
                let meta = object.meta();
                format!(
                    "{}/{}/{}",
                    meta.namespace.as_deref().unwrap_or_default(),
                    meta.name.as_deref().unwrap_or_default(),
                    meta.uid.as_deref().unwrap_or_default()
                )
            };
            let passed = match event {
                Ok(Event::Apply(object) | Event::InitApply(object)) => {
                    let print = fingerprint(&object);
                    (seen.insert(key(&object), print) != Some(print)).then_some(Ok(object))
                }
                Ok(Event::Delete(object)) => {
                    seen.remove(&key(&object));
                    Some(Ok(object))
                }
                Ok(Event::Init | Event::InitDone) => None,
                Err(error) => Some(Err(error)),
            };
            future::ready(passed)
        })
}

/// A stable hash of anything serialisable.
pub fn fingerprint(value: &impl Serialize) -> u64 {
    let mut hasher = DefaultHasher::new();
    serde_json::to_string(value)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}

/// What the binding controller writes into a Work, and whether it is going away: a change
/// there (someone edited or deleted the Work) means the binding must be rendered again.
pub fn work_content(work: &Work) -> u64 {
    fingerprint(&(
        &work.spec,
        &work.metadata.labels,
        &work.metadata.annotations,
        work.metadata.deletion_timestamp.is_some(),
    ))
}

/// A Work's status, which the status controller aggregates.
pub fn work_status(work: &Work) -> u64 {
    fingerprint(&(&work.status, work.metadata.deletion_timestamp.is_some()))
}

/// What override policies select clusters by: labels and spec (provider, region, zones).
pub fn cluster_selection(cluster: &Cluster) -> u64 {
    fingerprint(&(&cluster.metadata.labels, &cluster.spec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use karmada_api::work::work::WorkStatus;

    #[test]
    fn fingerprints_ignore_what_their_controller_does_not_read() {
        let mut work = Work::new("w", Default::default());
        let content = work_content(&work);
        let status = work_status(&work);
        work.status = Some(WorkStatus::default());
        assert_eq!(work_content(&work), content, "status is not content");
        assert_ne!(work_status(&work), status);
        work.metadata.labels = Some([("a".to_string(), "b".to_string())].into());
        assert_ne!(work_content(&work), content);

        let mut cluster: Cluster = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "member1"}, "spec": {"syncMode": "Push"}
        }))
        .unwrap();
        let selection = cluster_selection(&cluster);
        cluster.metadata.resource_version = Some("7".into());
        assert_eq!(cluster_selection(&cluster), selection);
        cluster.metadata.labels = Some([("env".to_string(), "prod".to_string())].into());
        assert_ne!(cluster_selection(&cluster), selection);
    }
}
