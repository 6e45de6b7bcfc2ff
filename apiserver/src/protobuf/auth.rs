//! Field tables for authentication.k8s.io/v1 and authorization.k8s.io/v1 token and access reviews.

use k8s_pb::api::authentication::v1 as authentication_v1;
use k8s_pb::api::authorization::v1 as authorization_v1;

use serde_json::Value;

use super::Error;
use super::json::{ToJson, messages};

messages! {
    "authentication.v1" in authentication_v1;

    BoundObjectReference { kind, api_version: "apiVersion", name, u_id: "uid" }
    SelfSubjectReview { metadata, status }
    SelfSubjectReviewStatus { user_info: "userInfo" }
    TokenRequest { metadata, spec, status }
    TokenRequestSpec {
        audiences, expiration_seconds: "expirationSeconds", bound_object_ref: "boundObjectRef",
    }
    TokenRequestStatus { token, expiration_timestamp: "expirationTimestamp" }
    TokenReview { metadata, spec, status }
    TokenReviewSpec { token, audiences }
    TokenReviewStatus { authenticated, user, audiences, error }
    UserInfo { username, uid, groups, extra }
}

messages! {
    "authorization.v1" in authorization_v1;

    FieldSelectorAttributes { raw_selector: "rawSelector", requirements }
    LabelSelectorAttributes { raw_selector: "rawSelector", requirements }
    LocalSubjectAccessReview { metadata, spec, status }
    NonResourceAttributes { path, verb }
    NonResourceRule { verbs, non_resource_ur_ls: "nonResourceURLs" }
    ResourceAttributes {
        namespace, verb, group, version, resource, subresource, name,
        field_selector: "fieldSelector", label_selector: "labelSelector",
    }
    ResourceRule { verbs, api_groups: "apiGroups", resources, resource_names: "resourceNames" }
    SelfSubjectAccessReview { metadata, spec, status }
    SelfSubjectAccessReviewSpec {
        resource_attributes: "resourceAttributes", non_resource_attributes: "nonResourceAttributes",
    }
    SelfSubjectRulesReview { metadata, spec, status }
    SelfSubjectRulesReviewSpec { namespace }
    SubjectAccessReview { metadata, spec, status }
    SubjectAccessReviewSpec {
        resource_attributes: "resourceAttributes", non_resource_attributes: "nonResourceAttributes",
        user, groups, extra, uid,
    }
    SubjectAccessReviewStatus { allowed, denied, reason, evaluation_error: "evaluationError" }
    SubjectRulesReviewStatus {
        resource_rules: "resourceRules", non_resource_rules: "nonResourceRules", incomplete,
        evaluation_error: "evaluationError",
    }
}

/// `ExtraValue` is a Go `[]string`; protobuf wraps it in a message, JSON writes the list.
impl ToJson for authentication_v1::ExtraValue {
    fn to_json(self) -> Result<Value, Error> {
        Ok(Value::Array(
            self.items.into_iter().map(Value::String).collect(),
        ))
    }
}

impl ToJson for authorization_v1::ExtraValue {
    fn to_json(self) -> Result<Value, Error> {
        Ok(Value::Array(
            self.items.into_iter().map(Value::String).collect(),
        ))
    }
}
