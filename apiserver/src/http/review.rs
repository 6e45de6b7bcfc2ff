//! Answers to review requests: `kubectl auth can-i` (SelfSubjectAccessReview, and
//! `--list`: SelfSubjectRulesReview), `kubectl auth whoami` (SelfSubjectReview), and the
//! SubjectAccessReview and LocalSubjectAccessReview other components ask about users. Each is
//! answered by the server's own authorizer, so with authorization off every answer says that
//! everything is allowed, and why.

use axum::response::Response;
use http::StatusCode;
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::{Value, json};

use super::handlers::{Ctx, respond};
use super::request;
use crate::auth::attributes::{Attributes, ResourceAttributes, Target, User};
use crate::auth::authorizer::{Auth, Mode};
use crate::registry::error::{Error, Result};

const GROUP: &str = "authorization.k8s.io";

/// The review with its `status` filled in; `user` sent it, `namespace` is its URL's (for a
/// LocalSubjectAccessReview).
pub fn answer(
    kind: &str,
    mut review: Value,
    auth: &Auth,
    user: &User,
    namespace: Option<&str>,
) -> Result<Value> {
    let status = match kind {
        "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let subject = match kind {
                "SelfSubjectAccessReview" => user.clone(),
                _ => subject(kind, &review)?,
            };
            let attributes = asked(kind, &review, subject, namespace)?;
            let decision = auth.authorize(&attributes);
            let mut status = json!({"allowed": decision.allowed});
            if !decision.reason.is_empty() {
                status["reason"] = json!(decision.reason);
            }
            status
        }
        "SelfSubjectRulesReview" => rules_review(&review, auth, user),
        "SelfSubjectReview" => {
            let mut info = json!({"username": user.name, "groups": user.groups});
            if !user.uid.is_empty() {
                info["uid"] = json!(user.uid);
            }
            if !user.extra.is_empty() {
                info["extra"] = json!(user.extra);
            }
            json!({"userInfo": info})
        }
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

fn invalid(kind: &str, field: &str, message: &str) -> Error {
    Error::invalid(GROUP, kind, "", field, message)
}

/// The user a SubjectAccessReview asks about.
fn subject(kind: &str, review: &Value) -> Result<User> {
    let spec = &review["spec"];
    let name = spec["user"].as_str().unwrap_or_default();
    let groups: Vec<String> = spec["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_string))
        .collect();
    if name.is_empty() && groups.is_empty() {
        return Err(invalid(
            kind,
            "spec.user",
            "Invalid value: \"\": at least one of user or group must be specified",
        ));
    }
    let extra = serde_json::from_value(spec["extra"].clone()).unwrap_or_default();
    Ok(User {
        name: name.to_string(),
        uid: spec["uid"].as_str().unwrap_or_default().to_string(),
        groups,
        extra,
    })
}

/// The attributes a review asks about, checked as Kubernetes checks them.
fn asked(kind: &str, review: &Value, user: User, namespace: Option<&str>) -> Result<Attributes> {
    let spec = &review["spec"];
    let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_string();
    let target = match (
        spec.get("resourceAttributes"),
        spec.get("nonResourceAttributes"),
    ) {
        (Some(r), None) if r.is_object() => {
            let attributes = ResourceAttributes {
                namespace: text(r, "namespace"),
                group: text(r, "group"),
                version: text(r, "version"),
                resource: text(r, "resource"),
                subresource: text(r, "subresource"),
                name: text(r, "name"),
            };
            if kind == "LocalSubjectAccessReview"
                && Some(attributes.namespace.as_str()) != namespace
            {
                return Err(invalid(
                    kind,
                    "spec.resourceAttributes.namespace",
                    &format!(
                        "Invalid value: {:?}: must match metadata.namespace",
                        attributes.namespace
                    ),
                ));
            }
            Target::Resource(attributes)
        }
        (None, Some(n)) if n.is_object() && kind != "LocalSubjectAccessReview" => {
            Target::Path(text(n, "path"))
        }
        (None, Some(_)) => {
            return Err(invalid(
                kind,
                "spec.nonResourceAttributes",
                "Invalid value: \"\": disallowed on this kind of request",
            ));
        }
        _ => {
            return Err(invalid(
                kind,
                "spec.resourceAttributes",
                "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified",
            ));
        }
    };
    let verb = match &target {
        Target::Resource(_) => &spec["resourceAttributes"]["verb"],
        Target::Path(_) => &spec["nonResourceAttributes"]["verb"],
    };
    Ok(Attributes {
        user,
        verb: verb.as_str().unwrap_or_default().to_string(),
        target,
    })
}

/// What the requester may do in `spec.namespace`, split as the review reports it.
fn rules_review(review: &Value, auth: &Auth, user: &User) -> Value {
    if auth.mode == Mode::AlwaysAllow {
        return json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        });
    }
    let namespace = review["spec"]["namespace"].as_str().unwrap_or_default();
    let rules = auth.rules_for(user, namespace);
    let (resource, non_resource): (Vec<&PolicyRule>, Vec<&PolicyRule>) = rules
        .iter()
        .partition(|r| r.non_resource_urls.as_ref().is_none_or(Vec::is_empty));
    let resource_rules: Vec<Value> = resource
        .iter()
        .map(|r| {
            let mut rule = json!({"verbs": r.verbs, "apiGroups": r.api_groups.clone().unwrap_or_default(),
                                  "resources": r.resources.clone().unwrap_or_default()});
            if let Some(names) = r.resource_names.as_ref().filter(|n| !n.is_empty()) {
                rule["resourceNames"] = json!(names);
            }
            rule
        })
        .collect();
    let non_resource_rules: Vec<Value> = non_resource
        .iter()
        .map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}))
        .collect();
    json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false})
}

pub(super) fn create(ctx: &Ctx<'_>, body: &[u8]) -> Result<Response> {
    let mut review = request::decode_object(&ctx.headers, body)?;
    if let Some(map) = review.as_object_mut() {
        map.insert("apiVersion".into(), ctx.resource.api_version().into());
        map.insert("kind".into(), ctx.resource.kind.clone().into());
    }
    let answered = answer(
        &ctx.resource.kind,
        review,
        &ctx.api.auth,
        &ctx.user,
        ctx.ns(),
    )?;
    Ok(respond(StatusCode::CREATED, &answered, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::authn::StaticTokens;
    use crate::auth::rbac::Policy;

    fn open() -> Auth {
        Auth::new(Mode::AlwaysAllow, StaticTokens::default())
    }

    /// RBAC on, with jane allowed to get pods in shop only.
    fn enforcing() -> Auth {
        let auth = Auth::new(Mode::Rbac, StaticTokens::default());
        auth.set(Policy::from_objects(
            [json!({"metadata": {"name": "pod-reader"},
                    "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]})],
            [],
            [],
            [json!({"metadata": {"name": "jane-reads", "namespace": "shop"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "pod-reader"},
                    "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}]})],
        ));
        auth
    }

    fn can_i(verb: &str, namespace: &str) -> Value {
        json!({"spec": {"resourceAttributes": {"verb": verb, "resource": "pods", "namespace": namespace}}})
    }

    #[test]
    fn without_enforcement_everything_is_allowed_with_a_reason() {
        let out = answer(
            "SelfSubjectAccessReview",
            can_i("get", "x"),
            &open(),
            &User::anonymous(),
            None,
        )
        .expect("answered");
        assert_eq!(out["status"]["allowed"], true);
        assert!(
            out["status"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("not enforced"))
        );
    }

    #[test]
    fn access_reviews_ask_the_authorizer_for_the_right_user() {
        let auth = enforcing();
        let jane = User::new("jane", &[]);
        let allowed = |review: Value, kind: &str, user: &User, ns: Option<&str>| {
            answer(kind, review, &auth, user, ns).expect("answered")["status"]["allowed"].clone()
        };
        assert_eq!(
            allowed(can_i("get", "shop"), "SelfSubjectAccessReview", &jane, None),
            true
        );
        assert_eq!(
            allowed(
                can_i("delete", "shop"),
                "SelfSubjectAccessReview",
                &jane,
                None
            ),
            false
        );
        assert_eq!(
            allowed(
                can_i("get", "other"),
                "SelfSubjectAccessReview",
                &jane,
                None
            ),
            false
        );
        // A SubjectAccessReview asks about the user it names, not the one asking.
        let mut about_jane = can_i("get", "shop");
        about_jane["spec"]["user"] = json!("jane");
        let bob = User::new("bob", &[]);
        assert_eq!(
            allowed(about_jane.clone(), "SubjectAccessReview", &bob, None),
            true
        );
        assert_eq!(
            allowed(about_jane, "LocalSubjectAccessReview", &bob, Some("shop")),
            true
        );
    }

    #[test]
    fn reviews_are_validated_as_kubernetes_does() {
        let auth = enforcing();
        let user = User::new("jane", &[]);
        let refused = |kind: &str, review: Value, ns: Option<&str>| {
            answer(kind, review, &auth, &user, ns)
                .unwrap_err()
                .to_string()
        };
        assert!(
            refused("SelfSubjectAccessReview", json!({"spec": {}}), None)
                .contains("exactly one of")
        );
        assert!(
            refused("SubjectAccessReview", can_i("get", "shop"), None)
                .contains("at least one of user or group")
        );
        let mut elsewhere = can_i("get", "other");
        elsewhere["spec"]["user"] = json!("jane");
        assert!(
            refused("LocalSubjectAccessReview", elsewhere, Some("shop"))
                .contains("must match metadata.namespace")
        );
    }

    #[test]
    fn whoami_and_rules_describe_the_requester() {
        let auth = enforcing();
        let jane = User::new("jane", &["dev"]);
        let me = answer("SelfSubjectReview", json!({}), &auth, &jane, None).expect("answered");
        assert_eq!(me["status"]["userInfo"]["username"], "jane");
        assert_eq!(
            me["status"]["userInfo"]["groups"],
            json!(["dev", "system:authenticated"])
        );
        let rules = answer(
            "SelfSubjectRulesReview",
            json!({"spec": {"namespace": "shop"}}),
            &auth,
            &jane,
            None,
        )
        .expect("answered");
        assert_eq!(
            rules["status"]["resourceRules"],
            json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}])
        );
        let anon = answer(
            "SelfSubjectReview",
            json!({}),
            &open(),
            &User::anonymous(),
            None,
        )
        .unwrap();
        assert_eq!(anon["status"]["userInfo"]["username"], "system:anonymous");
    }
}
