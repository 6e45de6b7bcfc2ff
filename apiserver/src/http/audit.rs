//! The audit log: one line per mutating request (create, update, patch, delete, including
//! refused ones) saying who did what to which object, when, and how it ended, as Kubernetes'
//! `audit.k8s.io/v1` Events at the `Metadata` level, so existing tools read it.

use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::auth::attributes::{Attributes, Target};

/// Where audit events go.
pub struct AuditLog {
    file: Mutex<std::fs::File>,
}

/// Verbs that change something; reads are not audited.
const MUTATING: [&str; 6] = [
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "post",
];

impl AuditLog {
    /// Appends to `path` (created, readable by its owner only, when missing).
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)?;
        Ok(AuditLog {
            file: Mutex::new(file),
        })
    }

    /// Records a finished request if it was mutating.
    pub fn record(&self, event: &Event<'_>) {
        if !MUTATING.contains(&event.attributes.verb.as_str()) {
            return;
        }
        let mut line = event.to_json().to_string();
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = file.write_all(line.as_bytes()) {
            tracing::error!(error = %e, "cannot write the audit log");
        }
    }
}

/// One finished request.
pub struct Event<'a> {
    pub attributes: &'a Attributes,
    pub uri: &'a str,
    pub user_agent: &'a str,
    pub code: u16,
    pub received: jiff::Timestamp,
    pub completed: jiff::Timestamp,
}

impl Event<'_> {
    /// The `audit.k8s.io/v1` Event, at the `Metadata` level (no bodies).
    pub fn to_json(&self) -> Value {
        let user = &self.attributes.user;
        let mut event = json!({
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "auditID": uuid::Uuid::new_v4().to_string(),
            "stage": "ResponseComplete",
            "requestURI": self.uri,
            "verb": self.attributes.verb,
            "user": {"username": user.name, "groups": user.groups},
            "userAgent": self.user_agent,
            "responseStatus": {"metadata": {}, "code": self.code},
            "requestReceivedTimestamp": self.received.to_string(),
            "stageTimestamp": self.completed.to_string(),
        });
        if let Target::Resource(r) = &self.attributes.target {
            let mut object = json!({"resource": r.resource, "apiVersion": r.version});
            for (key, value) in [
                ("namespace", &r.namespace),
                ("name", &r.name),
                ("apiGroup", &r.group),
                ("subresource", &r.subresource),
            ] {
                if !value.is_empty() {
                    object[key] = json!(value);
                }
            }
            event["objectRef"] = object;
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::attributes::{ResourceAttributes, User};

    fn attributes(verb: &str) -> Attributes {
        Attributes {
            user: User::new("jane", &["dev"]),
            verb: verb.into(),
            target: Target::Resource(ResourceAttributes {
                namespace: "shop".into(),
                group: "apps".into(),
                version: "v1".into(),
                resource: "deployments".into(),
                subresource: "scale".into(),
                name: "web".into(),
            }),
        }
    }

    fn event(attributes: &Attributes, code: u16) -> Event<'_> {
        Event {
            attributes,
            uri: "/apis/apps/v1/namespaces/shop/deployments/web/scale",
            user_agent: "kubectl/v1.33",
            code,
            received: "2026-11-23T08:00:00Z".parse().unwrap(),
            completed: "2026-11-23T08:00:01Z".parse().unwrap(),
        }
    }

    #[test]
    fn events_say_who_did_what_to_which_object_and_how_it_ended() {
        let asked = attributes("update");
        let json = event(&asked, 403).to_json();
        assert_eq!(json["apiVersion"], "audit.k8s.io/v1");
        assert_eq!(json["verb"], "update");
        assert_eq!(
            json["user"],
            json!({"username": "jane", "groups": ["dev", "system:authenticated"]})
        );
        assert_eq!(
            json["objectRef"],
            json!({"resource": "deployments", "apiVersion": "v1", "namespace": "shop",
                   "name": "web", "apiGroup": "apps", "subresource": "scale"})
        );
        assert_eq!(json["responseStatus"]["code"], 403);
        assert_eq!(json["stageTimestamp"], "2026-11-23T08:00:01Z");
    }

    #[test]
    fn only_mutating_requests_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(&path).unwrap();
        for verb in ["get", "list", "watch", "create", "delete", "patch"] {
            let asked = attributes(verb);
            log.record(&event(&asked, 200));
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let verbs: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["verb"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(verbs, ["create", "delete", "patch"]);
    }
}
