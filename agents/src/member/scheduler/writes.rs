//! The scheduler's writes to the apiserver: bindings, the `PodScheduled` condition and the
//! Events users read in `kubectl describe pod`.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use super::cache::PodKey;

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("binding pod {pod} to node {node}: {source}")]
    Bind {
        pod: PodKey,
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("setting PodScheduled=False on pod {pod}: {source}")]
    Condition {
        pod: PodKey,
        #[source]
        source: kube::Error,
    },
    #[error("recording FailedScheduling for pod {pod}: {source}")]
    Event {
        pod: PodKey,
        #[source]
        source: kube::Error,
    },
}

/// What a finished write tells the scheduling loop.
#[derive(Debug)]
pub enum Outcome {
    Bound {
        key: PodKey,
        result: Result<(), Error>,
    },
    Reported {
        key: PodKey,
        result: Result<(), Error>,
    },
}

/// Performs the scheduler's writes.
///
/// Each Event gets a fresh `Recorder`: a shared one would fold every later message for a pod
/// into the first Event's series (keeping the first note) and remember every pod for minutes.
/// The scheduler already publishes each distinct message once.
pub struct Writer {
    pub client: Client,
    pub reporter: Reporter,
}

impl Writer {
    /// Binds `pod` to `node`, then records the `Scheduled` event (best effort: the binding is
    /// what matters).
    pub async fn bind(self, key: PodKey, pod: Arc<Pod>, node: String) -> Outcome {
        let recorder = Recorder::new(self.client.clone(), self.reporter);
        let api: Api<Pod> = Api::namespaced(self.client, &pod.namespace().unwrap_or_default());
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(pod.name_any()),
                namespace: pod.namespace(),
                uid: pod.uid(),
                ..ObjectMeta::default()
            },
            target: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(node.clone()),
                ..ObjectReference::default()
            },
        };
        let created = api
            .create_subresource::<_, serde_json::Value>(
                "binding",
                &pod.name_any(),
                &PostParams::default(),
                &binding,
            )
            .await;
        let result = match created {
            Ok(_) => {
                let event = Event {
                    type_: EventType::Normal,
                    reason: "Scheduled".into(),
                    note: Some(format!("Successfully assigned {key} to {node}")),
                    action: "Binding".into(),
                    secondary: None,
                };
                if let Err(e) = recorder.publish(&event, &pod.object_ref(&())).await {
                    tracing::debug!(pod = %key, error = %e, "recording the Scheduled event failed");
                }
                Ok(())
            }
            Err(source) => Err(Error::Bind {
                pod: key.clone(),
                node,
                source,
            }),
        };
        Outcome::Bound { key, result }
    }

    /// Sets `PodScheduled=False` with reason `Unschedulable` and records a `FailedScheduling`
    /// Warning carrying the same message.
    pub async fn report(self, key: PodKey, pod: Arc<Pod>, message: String) -> Outcome {
        let recorder = Recorder::new(self.client.clone(), self.reporter);
        let result = async {
        let api: Api<Pod> = Api::namespaced(self.client, &pod.namespace().unwrap_or_default());
        let patch = json!({"status": {"conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }]}});
        api.patch_status(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Strategic(patch),
        )
        .await
        .map_err(|source| Error::Condition {
            pod: key.clone(),
            source,
        })?;
        let event = Event {
            type_: EventType::Warning,
            reason: "FailedScheduling".into(),
            note: Some(message.clone()),
            action: "Scheduling".into(),
            secondary: None,
        };
        recorder
            .publish(&event, &pod.object_ref(&()))
            .await
            .map_err(|source| Error::Event {
                pod: key.clone(),
                source,
            })
    }
    .await;
        Outcome::Reported { key, result }
    }
}

/// Whether the pod already carries `PodScheduled=False` with this message.
pub fn condition_says(pod: &Pod, message: &str) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"))
        .is_some_and(|c| c.status == "False" && c.message.as_deref() == Some(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_an_earlier_report() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "status": {
            "conditions": [{"type": "PodScheduled", "status": "False", "message": "0/1 nodes are available: 1 Too many pods."}]}}))
        .expect("pod");
        assert!(condition_says(
            &pod,
            "0/1 nodes are available: 1 Too many pods."
        ));
        assert!(!condition_says(
            &pod,
            "0/2 nodes are available: 2 Too many pods."
        ));
    }
}
