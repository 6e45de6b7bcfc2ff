//! Decodes Kubernetes protobuf request bodies (what client-go based kubectl sends) into the JSON the rest of the server handles.
//!
//! A body is the `k8s\0` magic followed by a `runtime.Unknown` envelope whose `raw` field is the
//! object's own message. The object is decoded with the k8s-pb (prost) structs and converted
//! with per-message field tables. Nothing is dropped silently: a field missing from a table, or
//! a field the compiled schema does not know at all, fails the decode with
//! [`Error::UnsupportedField`] so the caller can ask for JSON instead.

mod apps;
mod auth;
mod autoscaling;
mod batch;
mod certificates;
mod core_group;
mod json;
mod meta;
mod networking;
mod pod;
mod policy;
mod rbac;
mod volume;
mod wellknown;
mod wire;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

use k8s_pb::api::apps::v1 as apps_v1;
use k8s_pb::api::authentication::v1 as authn_v1;
use k8s_pb::api::authorization::v1 as authz_v1;
use k8s_pb::api::autoscaling::{v1 as autoscaling_v1, v2 as autoscaling_v2};
use k8s_pb::api::batch::v1 as batch_v1;
use k8s_pb::api::certificates::v1 as certificates_v1;
use k8s_pb::api::core::v1 as core_v1;
use k8s_pb::api::networking::v1 as networking_v1;
use k8s_pb::api::policy::v1 as policy_v1;
use k8s_pb::api::rbac::v1 as rbac_v1;
use k8s_pb::api::scheduling::v1 as scheduling_v1;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_v1;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{Map, Value};

use json::ToJson;

/// The media type client-go uses for protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes (`k8s\0`) every Kubernetes protobuf body starts with.
pub const MAGIC: [u8; 4] = [0x6b, 0x38, 0x73, 0x00];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the body is not a Kubernetes protobuf message: it does not start with the k8s\\0 prefix"
    )]
    NotProtobuf,
    #[error("malformed Kubernetes protobuf body: {0}")]
    Malformed(String),
    #[error(
        "this server cannot read {kind} ({api_version}) sent as {CONTENT_TYPE}; send it as application/json"
    )]
    UnsupportedKind { api_version: String, kind: String },
    #[error(
        "{message} sent as {CONTENT_TYPE} carries data this server cannot translate ({detail}); send it as application/json"
    )]
    UnsupportedField { message: String, detail: String },
}

type DecodeFn = fn(&[u8]) -> Result<Map<String, Value>, Error>;

/// The decoder for every kind accepted as protobuf: what kubectl's typed clients create, plus
/// the review and subresource bodies (`auth can-i`, `create token`, `drain`) they post.
fn decoder(api_version: &str, kind: &str) -> Option<DecodeFn> {
    Some(match (api_version, kind) {
        ("v1", "Namespace") => object::<core_v1::Namespace>,
        ("v1", "ConfigMap") => object::<core_v1::ConfigMap>,
        ("v1", "Secret") => object::<core_v1::Secret>,
        ("v1", "ServiceAccount") => object::<core_v1::ServiceAccount>,
        ("v1", "Service") => object::<core_v1::Service>,
        ("v1", "ResourceQuota") => object::<core_v1::ResourceQuota>,
        ("v1", "Pod") => object::<core_v1::Pod>,
        ("v1", "PersistentVolumeClaim") => object::<core_v1::PersistentVolumeClaim>,
        ("apps/v1", "Deployment") => object::<apps_v1::Deployment>,
        ("apps/v1", "ReplicaSet") => object::<apps_v1::ReplicaSet>,
        ("apps/v1", "StatefulSet") => object::<apps_v1::StatefulSet>,
        ("apps/v1", "DaemonSet") => object::<apps_v1::DaemonSet>,
        ("batch/v1", "Job") => object::<batch_v1::Job>,
        ("batch/v1", "CronJob") => object::<batch_v1::CronJob>,
        (RBAC, "Role") => object::<rbac_v1::Role>,
        (RBAC, "ClusterRole") => object::<rbac_v1::ClusterRole>,
        (RBAC, "RoleBinding") => object::<rbac_v1::RoleBinding>,
        (RBAC, "ClusterRoleBinding") => object::<rbac_v1::ClusterRoleBinding>,
        ("scheduling.k8s.io/v1", "PriorityClass") => object::<scheduling_v1::PriorityClass>,
        ("certificates.k8s.io/v1", "CertificateSigningRequest") => {
            object::<certificates_v1::CertificateSigningRequest>
        }
        ("policy/v1", "PodDisruptionBudget") => object::<policy_v1::PodDisruptionBudget>,
        ("policy/v1", "Eviction") => object::<policy_v1::Eviction>,
        ("networking.k8s.io/v1", "Ingress") => object::<networking_v1::Ingress>,
        ("autoscaling/v1", "HorizontalPodAutoscaler") => {
            object::<autoscaling_v1::HorizontalPodAutoscaler>
        }
        ("autoscaling/v1", "Scale") => object::<autoscaling_v1::Scale>,
        ("autoscaling/v2", "HorizontalPodAutoscaler") => {
            object::<autoscaling_v2::HorizontalPodAutoscaler>
        }
        (AUTHN, "TokenRequest") => object::<authn_v1::TokenRequest>,
        (AUTHN, "TokenReview") => object::<authn_v1::TokenReview>,
        (AUTHN, "SelfSubjectReview") => object::<authn_v1::SelfSubjectReview>,
        (AUTHZ, "SubjectAccessReview") => object::<authz_v1::SubjectAccessReview>,
        (AUTHZ, "SelfSubjectAccessReview") => object::<authz_v1::SelfSubjectAccessReview>,
        (AUTHZ, "LocalSubjectAccessReview") => object::<authz_v1::LocalSubjectAccessReview>,
        (AUTHZ, "SelfSubjectRulesReview") => object::<authz_v1::SelfSubjectRulesReview>,
        // client-go registers DeleteOptions in every group version, so it may arrive under any.
        (_, "DeleteOptions") => object::<meta_v1::DeleteOptions>,
        _ => return None,
    })
}

const RBAC: &str = "rbac.authorization.k8s.io/v1";
const AUTHZ: &str = "authorization.k8s.io/v1";
const AUTHN: &str = "authentication.k8s.io/v1";

/// Decodes a protobuf request body into the object's JSON, with `apiVersion` and `kind` taken
/// from the envelope (the inner message never carries them).
pub fn decode(body: &[u8]) -> Result<Value, Error> {
    let envelope = body.strip_prefix(&MAGIC).ok_or(Error::NotProtobuf)?;
    let unknown = Unknown::decode(envelope)
        .map_err(|e| Error::Malformed(format!("runtime.Unknown envelope: {e}")))?;
    if let Some(encoding) = unknown
        .content_encoding
        .as_deref()
        .filter(|e| !e.is_empty())
    {
        return Err(Error::Malformed(format!(
            "content encoding {encoding:?} is not supported"
        )));
    }
    let type_meta = unknown.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    let Some(decode_fn) = decoder(&api_version, &kind) else {
        return Err(Error::UnsupportedKind { api_version, kind });
    };
    let fields = decode_fn(&unknown.raw.unwrap_or_default())?;
    let mut object = Map::with_capacity(fields.len() + 2);
    object.insert("apiVersion".to_owned(), Value::String(api_version));
    object.insert("kind".to_owned(), Value::String(kind));
    object.extend(fields);
    Ok(Value::Object(object))
}

/// Decodes one top-level object, refusing it if prost skipped fields unknown to k8s-pb.
fn object<T: Message + Default + ToJson>(raw: &[u8]) -> Result<Map<String, Value>, Error> {
    let message = T::decode(raw).map_err(|e| Error::Malformed(e.to_string()))?;
    if let Some(path) = wire::lost_field(raw, &message.encode_to_vec()) {
        return Err(Error::UnsupportedField {
            message: std::any::type_name::<T>()
                .rsplit("::")
                .next()
                .unwrap_or_default()
                .to_owned(),
            detail: format!(
                "field path {path:?} (protobuf field numbers) is unknown to this server's Kubernetes 1.35 schema"
            ),
        });
    }
    match message.to_json()? {
        Value::Object(fields) => Ok(fields),
        other => Err(Error::Malformed(format!(
            "expected an object, decoded {other}"
        ))),
    }
}
