//! Answers to review requests (`kubectl auth can-i`, `kubectl auth whoami`).
//!
//! This server does not authenticate or authorize requests yet, so every answer says so
//! truthfully: every request is allowed, and the caller is anonymous.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::handlers::{Ctx, respond};
use super::request;
use crate::registry::error::{Error, Result};

const REASON: &str = "this API server does not enforce authorization: every request is allowed";

/// The review with its `status` filled in.
pub fn answer(kind: &str, mut review: Value) -> Result<Value> {
    let status = match kind {
        "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            if review.pointer("/spec/resourceAttributes").is_none()
                && review.pointer("/spec/nonResourceAttributes").is_none()
            {
                return Err(Error::invalid(
                    "authorization.k8s.io",
                    kind,
                    "",
                    "spec.resourceAttributes",
                    "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified",
                ));
            }
            json!({"allowed": true, "reason": REASON})
        }
        "SelfSubjectRulesReview" => json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        }),
        "SelfSubjectReview" => json!({
            "userInfo": {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
        }),
        other => {
            return Err(Error::MethodNotAllowed(format!(
                "{other} cannot be created"
            )));
        }
    };
    if let Some(map) = review.as_object_mut() {
        map.insert("status".into(), status);
        map.entry("metadata").or_insert_with(|| json!({}));
    }
    Ok(review)
}

pub(super) fn create(ctx: &Ctx<'_>, body: &[u8]) -> Result<Response> {
    let mut review = request::decode_object(&ctx.headers, body)?;
    if let Some(map) = review.as_object_mut() {
        map.insert("apiVersion".into(), ctx.resource.api_version().into());
        map.insert("kind".into(), ctx.resource.kind.clone().into());
    }
    let answered = answer(&ctx.resource.kind, review)?;
    Ok(respond(StatusCode::CREATED, &answered, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_reviews_are_allowed_with_a_reason() {
        let review = json!({"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}});
        let out = answer("SelfSubjectAccessReview", review).expect("answered");
        assert_eq!(out["status"]["allowed"], true);
        assert!(
            out["status"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("authorization"))
        );
    }

    #[test]
    fn access_reviews_need_attributes() {
        assert!(answer("SelfSubjectAccessReview", json!({"spec": {}})).is_err());
    }

    #[test]
    fn whoami_is_anonymous() {
        let out = answer("SelfSubjectReview", json!({})).expect("answered");
        assert_eq!(out["status"]["userInfo"]["username"], "system:anonymous");
    }
}
