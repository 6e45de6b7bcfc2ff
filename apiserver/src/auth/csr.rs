//! CertificateSigningRequests: who asked (the server records it; a client cannot claim it), and
//! which requests the server approves and signs itself. It signs a cluster agent's client
//! certificate when a bootstrap token asks for one (the enrolment `karmada register` does) or
//! the agent renews its own; every other request is left for someone else to decide.

use base64::Engine as _;
use serde_json::{Value, json};

use super::agents;
use super::attributes::User;
use super::bootstrap_token;

/// The signer of client certificates for this apiserver, as Kubernetes names it.
pub const CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client";
/// Usages a client certificate may have; `client auth` is required.
const CLIENT_USAGES: [&str; 3] = ["client auth", "digital signature", "key encipherment"];

/// Records the requester on a new request: `spec.username`, `uid`, `groups` and `extra` are
/// always the authenticated user's, whatever the client sent.
pub fn record_requester(user: &User, request: &mut Value) {
    let Some(object) = request.as_object_mut() else {
        return;
    };
    let spec = object.entry("spec").or_insert_with(|| json!({}));
    if !spec.is_object() {
        return;
    }
    spec["username"] = json!(user.name);
    spec["uid"] = json!(user.uid);
    spec["groups"] = json!(user.groups);
    if user.extra.is_empty() {
        if let Some(spec) = spec.as_object_mut() {
            spec.remove("extra");
        }
    } else {
        spec["extra"] = json!(user.extra);
    }
}

/// The PEM text of `spec.request` (base64 of a PEM `CERTIFICATE REQUEST`), or what is wrong.
pub fn request_pem(request: &Value) -> Result<String, String> {
    let encoded = request["spec"]["request"]
        .as_str()
        .ok_or("spec.request is required")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "spec.request must be base64")?;
    let pem = String::from_utf8(bytes).map_err(|_| "spec.request must hold PEM text")?;
    if !pem.contains("-----BEGIN CERTIFICATE REQUEST-----") {
        return Err("spec.request must hold a PEM CERTIFICATE REQUEST block".into());
    }
    crate::tls::requested_subject(&pem)
        .map_err(|e| format!("spec.request is not a certificate signing request: {e}"))?;
    Ok(pem)
}

/// What the server does with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Sign a client certificate from this PEM request; `approve` it first when the server
    /// decides itself, and grant the roles of the agent of `agent` (a cluster) when it asks
    /// for an agent's certificate.
    Sign {
        pem: String,
        approve: bool,
        agent: Option<String>,
    },
    /// Not the server's to decide or sign, or already done.
    Leave,
}

/// What the server does with `request`. Of its signer's requests (client certificates, client
/// usages only), it signs those someone approved (`kubectl certificate approve`), and approves
/// itself those for the agent of a cluster (`system:karmada:agent:<cluster>` in group
/// `system:karmada:agents`) asked for by a bootstrap token's user or by that agent itself.
pub fn decide(request: &Value) -> Verdict {
    let status = &request["status"];
    let has = |kind: &str| {
        status["conditions"]
            .as_array()
            .is_some_and(|conditions| conditions.iter().any(|c| c["type"] == kind))
    };
    let issued = status["certificate"]
        .as_str()
        .is_some_and(|c| !c.is_empty());
    let spec = &request["spec"];
    if issued || has("Denied") || has("Failed") || spec["signerName"] != CLIENT_SIGNER {
        return Verdict::Leave;
    }
    let usages: Vec<&str> = spec["usages"]
        .as_array()
        .map(|u| u.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !usages.contains(&"client auth") || usages.iter().any(|u| !CLIENT_USAGES.contains(u)) {
        return Verdict::Leave;
    }
    let Ok(pem) = request_pem(request) else {
        return Verdict::Leave;
    };
    let Ok((common_name, group)) = crate::tls::requested_subject(&pem) else {
        return Verdict::Leave;
    };
    let agent = common_name
        .strip_prefix(agents::USER_PREFIX)
        .filter(|cluster| karmada_api::names::dns1123_label(cluster).is_ok())
        .filter(|_| group.as_deref() == Some(agents::GROUP))
        .map(str::to_string);
    if has("Approved") {
        return Verdict::Sign {
            pem,
            approve: false,
            agent,
        };
    }
    let bootstrapper = spec["groups"]
        .as_array()
        .is_some_and(|g| g.iter().any(|g| g == bootstrap_token::GROUP));
    let renewal = spec["username"].as_str() == Some(common_name.as_str());
    match agent {
        Some(cluster) if bootstrapper || renewal => Verdict::Sign {
            pem,
            approve: true,
            agent: Some(cluster),
        },
        _ => Verdict::Leave,
    }
}

/// `stored` with the decisions (`status.conditions`) of `submitted`, as the `approval`
/// subresource takes them: Approved, Denied or Failed, never both Approved and Denied, and no
/// decision taken back.
pub fn with_decisions(stored: &Value, submitted: &Value) -> Result<Value, String> {
    let conditions = submitted["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for condition in &conditions {
        let kind = condition["type"].as_str().unwrap_or_default();
        if !matches!(kind, "Approved" | "Denied" | "Failed") {
            return Err(format!(
                "condition type {kind:?} is not one of Approved, Denied, Failed"
            ));
        }
        if !matches!(
            condition["status"].as_str(),
            Some("True" | "False" | "Unknown")
        ) {
            return Err(format!(
                "condition {kind} needs a status of True, False or Unknown"
            ));
        }
    }
    let has = |list: &[Value], kind: &str| list.iter().any(|c| c["type"] == kind);
    if has(&conditions, "Approved") && has(&conditions, "Denied") {
        return Err("a request cannot be both Approved and Denied".into());
    }
    let before = stored["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for kind in ["Approved", "Denied"] {
        if has(&before, kind) && !has(&conditions, kind) {
            return Err(format!("the {kind} condition cannot be removed"));
        }
    }
    let mut next = stored.clone();
    next["status"]["conditions"] = Value::Array(conditions);
    Ok(next)
}

/// `status` with the signed `certificate` (PEM), and the server's own approval when it
/// decided (`approve`) for the agent of `cluster`.
pub fn signed_status(
    status: &Value,
    certificate: &str,
    approve: Option<&str>,
    now: jiff::Timestamp,
) -> Value {
    let mut status = if status.is_object() {
        status.clone()
    } else {
        json!({})
    };
    if let Some(cluster) = approve {
        let approval = json!({
            "type": "Approved",
            "status": "True",
            "reason": "AutoApproved",
            "message": format!("the client certificate of the agent of cluster {cluster}"),
            "lastUpdateTime": now.to_string(),
            "lastTransitionTime": now.to_string(),
        });
        match status["conditions"].as_array_mut() {
            Some(conditions) => conditions.push(approval),
            None => status["conditions"] = json!([approval]),
        }
    }
    status["certificate"] = json!(base64::engine::general_purpose::STANDARD.encode(certificate));
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::ClusterCa;

    fn request(user: &str, group: Option<&str>, requester: &User) -> Value {
        let issued = crate::tls::client_request(user, group).unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&issued.cert_pem);
        let mut csr = json!({
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": "agent-member1"},
            "spec": {"request": encoded, "signerName": CLIENT_SIGNER,
                     "usages": ["client auth", "digital signature"],
                     "username": "someone-else", "groups": ["system:masters"]},
        });
        record_requester(requester, &mut csr);
        csr
    }

    fn bootstrapper() -> User {
        User::new("system:bootstrap:abcdef", &[bootstrap_token::GROUP])
    }

    #[test]
    fn the_requester_is_the_authenticated_user_whatever_the_client_says() {
        let csr = request(
            "system:karmada:agent:member1",
            Some(agents::GROUP),
            &bootstrapper(),
        );
        assert_eq!(csr["spec"]["username"], "system:bootstrap:abcdef");
        assert_eq!(
            csr["spec"]["groups"],
            json!(["system:bootstrappers", "system:authenticated"])
        );
    }

    #[test]
    fn an_agent_certificate_asked_by_a_bootstrapper_or_the_agent_is_signed() {
        let agent = User::new("system:karmada:agent:member1", &[agents::GROUP]);
        for requester in [bootstrapper(), agent] {
            let csr = request(
                "system:karmada:agent:member1",
                Some(agents::GROUP),
                &requester,
            );
            let Verdict::Sign {
                pem,
                approve: true,
                agent: Some(cluster),
            } = decide(&csr)
            else {
                panic!("{requester:?} should get member1's certificate");
            };
            assert_eq!(cluster, "member1");
            let ca = ClusterCa::generate("test-ca").unwrap();
            let certificate = crate::tls::sign_client_request(&ca, &pem).unwrap();
            let der = rustls_pemfile_der(&certificate);
            let user = crate::tls::certificate_user(&der).unwrap();
            assert_eq!(user.name, "system:karmada:agent:member1");
            assert!(user.groups.contains(&agents::GROUP.to_string()));
        }
    }

    #[test]
    fn anything_else_is_left_alone() {
        let viewer = User::new("jane", &["developers"]);
        let other_agent = User::new("system:karmada:agent:member2", &[agents::GROUP]);
        let cases = [
            request("system:karmada:agent:member1", Some(agents::GROUP), &viewer),
            request(
                "system:karmada:agent:member1",
                Some(agents::GROUP),
                &other_agent,
            ),
            request("admin", Some("system:masters"), &bootstrapper()),
            request(
                "system:karmada:agent:member1",
                Some("system:masters"),
                &bootstrapper(),
            ),
            request("system:karmada:agent:member1", None, &bootstrapper()),
            request(
                "system:karmada:agent:Bad_Name",
                Some(agents::GROUP),
                &bootstrapper(),
            ),
        ];
        for csr in &cases {
            assert_eq!(decide(csr), Verdict::Leave, "{}", csr["spec"]);
        }
        let good = request(
            "system:karmada:agent:member1",
            Some(agents::GROUP),
            &bootstrapper(),
        );
        let mut serving = good.clone();
        serving["spec"]["usages"] = json!(["client auth", "server auth"]);
        let mut other_signer = good.clone();
        other_signer["spec"]["signerName"] = json!("kubernetes.io/kubelet-serving");
        let mut signed = good.clone();
        signed["status"] =
            signed_status(&json!({}), "PEM", Some("member1"), jiff::Timestamp::now());
        let mut denied = good;
        denied["status"] = json!({"conditions": [{"type": "Denied", "status": "True"}]});
        for csr in [serving, other_signer, signed, denied] {
            assert_eq!(decide(&csr), Verdict::Leave, "{csr}");
        }
    }

    #[test]
    fn a_request_someone_approved_is_signed_as_asked() {
        let jane = User::new("jane", &["developers"]);
        let mut csr = request("jane", Some("developers"), &jane);
        assert_eq!(decide(&csr), Verdict::Leave, "nobody approved it yet");
        let approved = json!({"status": {"conditions": [
            {"type": "Approved", "status": "True", "reason": "KubectlApprove"}]}});
        csr = with_decisions(&csr, &approved).unwrap();
        assert!(matches!(
            decide(&csr),
            Verdict::Sign {
                approve: false,
                agent: None,
                ..
            }
        ));
        let now = jiff::Timestamp::now();
        csr["status"] = signed_status(&csr["status"], "PEM", None, now);
        assert_eq!(csr["status"]["conditions"][0]["reason"], "KubectlApprove");
        assert_eq!(decide(&csr), Verdict::Leave, "issued");
    }

    #[test]
    fn decisions_are_checked_and_never_taken_back() {
        let stored = json!({"status": {"conditions": [{"type": "Approved", "status": "True"}]}});
        let cases = [
            (json!({"status": {"conditions": []}}), "cannot be removed"),
            (
                json!({"status": {"conditions": [{"type": "Approved", "status": "True"},
                                                 {"type": "Denied", "status": "True"}]}}),
                "both Approved and Denied",
            ),
            (
                json!({"status": {"conditions": [{"type": "Issued", "status": "True"}]}}),
                "not one of",
            ),
            (
                json!({"status": {"conditions": [{"type": "Approved"}]}}),
                "needs a status",
            ),
        ];
        for (submitted, reason) in cases {
            let error = with_decisions(&stored, &submitted).unwrap_err();
            assert!(error.contains(reason), "{error}");
        }
    }

    #[test]
    fn a_request_that_is_not_a_pem_csr_is_named_as_such() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let cases = [
            (json!({"spec": {}}), "required"),
            (json!({"spec": {"request": "%%%"}}), "base64"),
            (
                json!({"spec": {"request": b64("hello")}}),
                "PEM CERTIFICATE REQUEST",
            ),
            (
                json!({"spec": {"request": b64("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")}}),
                "not a certificate signing request",
            ),
        ];
        for (csr, reason) in cases {
            let error = request_pem(&csr).unwrap_err();
            assert!(error.contains(reason), "{error}");
        }
    }

    /// The DER of the first certificate of a PEM text.
    fn rustls_pemfile_der(pem: &str) -> rustls::pki_types::CertificateDer<'static> {
        use rustls::pki_types::pem::PemObject as _;
        rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }
}
