//! Kubeconfig files for the clusters we start, so kubectl and kube-rs can reach them.

use std::path::Path;

/// One cluster entry of a kubeconfig, and the context of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub name: String,
    pub server: String,
    /// A bearer token the context's user presents; none for servers that do not authenticate.
    pub token: Option<String>,
    /// The CA (PEM) that signed an HTTPS server's certificate.
    pub ca_pem: Option<String>,
    /// A client certificate and key the context's user presents.
    pub client_certificate: Option<crate::tls::Issued>,
}

/// Renders a kubeconfig with one cluster, user and context per entry; the first is current.
pub fn render(contexts: &[Context]) -> String {
    let mut clusters = String::new();
    let mut users = String::new();
    let mut ctxs = String::new();
    for c in contexts {
        clusters.push_str(&format!(
            "- name: {}\n  cluster:\n    server: {}\n",
            c.name, c.server
        ));
        if let Some(ca) = &c.ca_pem {
            use base64::Engine as _;
            let data = base64::engine::general_purpose::STANDARD.encode(ca);
            clusters.push_str(&format!("    certificate-authority-data: {data}\n"));
        }
        let mut user = String::new();
        if let Some(token) = &c.token {
            user.push_str(&format!("    token: {token}\n"));
        }
        if let Some(issued) = &c.client_certificate {
            use base64::Engine as _;
            let base64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
            user.push_str(&format!(
                "    client-certificate-data: {}\n    client-key-data: {}\n",
                base64(&issued.cert_pem),
                base64(&issued.key_pem)
            ));
        }
        if user.is_empty() {
            users.push_str(&format!("- name: {}\n  user: {{}}\n", c.name));
        } else {
            users.push_str(&format!("- name: {}\n  user:\n{user}", c.name));
        }
        ctxs.push_str(&format!(
            "- name: {0}\n  context:\n    cluster: {0}\n    user: {0}\n    namespace: default\n",
            c.name
        ));
    }
    let current = contexts
        .first()
        .map(|c| c.name.as_str())
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Config\npreferences: {{}}\ncurrent-context: {current}\nclusters:\n{clusters}users:\n{users}contexts:\n{ctxs}"
    )
}

/// Writes a kubeconfig atomically (write then rename), so readers never see half a file; it
/// may hold credentials, so only its owner can read it.
pub fn write(path: &Path, contexts: &[Context]) -> std::io::Result<()> {
    crate::pki::write_file(path, &render(contexts), 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_context_is_current() {
        let text = render(&[
            Context {
                token: None,
                ca_pem: None,
                client_certificate: None,
                name: "karmada".into(),
                server: "http://127.0.0.1:1".into(),
            },
            Context {
                token: Some("s3cret".into()),
                ca_pem: Some("PEM".into()),
                client_certificate: None,
                name: "member1".into(),
                server: "http://127.0.0.1:2".into(),
            },
        ]);
        assert!(text.contains("current-context: karmada\n"));
        assert!(text.contains("- name: member1\n  cluster:\n    server: http://127.0.0.1:2\n"));
        assert!(text.contains("- name: karmada\n  user: {}\n"));
        assert!(text.contains("- name: member1\n  user:\n    token: s3cret\n"));
        assert!(
            text.contains("server: http://127.0.0.1:2\n    certificate-authority-data: UEVN\n")
        );
    }

    #[test]
    fn a_client_certificate_is_written_as_data() {
        let text = render(&[Context {
            token: None,
            ca_pem: None,
            client_certificate: Some(crate::tls::Issued {
                cert_pem: "CERT".into(),
                key_pem: "KEY".into(),
            }),
            name: "agent".into(),
            server: "https://127.0.0.1:1".into(),
        }]);
        assert!(
            text.contains(
                "- name: agent\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn only_the_owner_reads_a_written_kubeconfig() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        write(&path, &[]).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
