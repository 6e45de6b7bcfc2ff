//! Credentials of a Push cluster: taken from the kubeconfig given to `karmada join`, kept in a
//! Secret of the federation in Karmada's layout (`token`, `caBundle`, plus `tls.crt` and
//! `tls.key` for client certificates), and turned back into a client of the member.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use karmada_api::cluster::Cluster;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

/// Secret keys, as Karmada names them for tokens and CA bundles.
pub const KEY_TOKEN: &str = "token";
pub const KEY_CA_BUNDLE: &str = "caBundle";
/// Secret keys of a client certificate, as `kubernetes.io/tls` Secrets name them.
pub const KEY_CLIENT_CERT: &str = "tls.crt";
pub const KEY_CLIENT_KEY: &str = "tls.key";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the kubeconfig has no context {0:?}")]
    NoContext(String),
    #[error("the kubeconfig names no current context; pass the context to use")]
    NoCurrentContext,
    #[error("context {context:?} refers to {what} {name:?}, which the kubeconfig does not define")]
    Dangling {
        context: String,
        what: &'static str,
        name: String,
    },
    #[error("cluster {0:?} of the kubeconfig has no server URL")]
    NoServer(String),
    #[error(
        "user {user:?} of the kubeconfig authenticates with {how}; joining a cluster needs a \
         bearer token or a client certificate (create a ServiceAccount token in the member with \
         `kubectl create token` and use a kubeconfig that carries it)"
    )]
    UnsupportedAuth { user: String, how: &'static str },
    #[error(
        "user {0:?} of the kubeconfig has a client certificate without its key, or a key without its certificate"
    )]
    HalfCertificate(String),
    #[error("cannot read {what} from {path}: {source}")]
    ReadFile {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the {what} in the kubeconfig is not valid base64: {source}")]
    Base64 {
        what: &'static str,
        #[source]
        source: base64::DecodeError,
    },
    #[error("Secret {secret} key {key:?} is not UTF-8 text")]
    NotText { secret: String, key: &'static str },
    #[error("Cluster {0:?} has no spec.apiEndpoint to reach it at")]
    NoEndpoint(String),
    #[error("cannot build a client of cluster {cluster:?}: {source}")]
    Client {
        cluster: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// How to reach and authenticate to a member cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    pub server: String,
    /// PEM CA bundle that signs the member's serving certificate.
    pub ca_bundle: Option<Vec<u8>>,
    pub insecure_skip_tls_verify: bool,
    pub proxy_url: Option<String>,
    pub token: Option<String>,
    /// PEM client certificate and key.
    pub client_certificate: Option<(Vec<u8>, Vec<u8>)>,
}

impl Credentials {
    /// The credentials of `context` (or the current context) of a kubeconfig read with
    /// [`Kubeconfig::read_from`], which makes referenced file paths absolute.
    pub fn from_kubeconfig(kubeconfig: &Kubeconfig, context: Option<&str>) -> Result<Self, Error> {
        // The JSON form spares this module kube's secret wrapper types.
        let doc = serde_json::to_value(kubeconfig).unwrap_or(Value::Null);
        let context_name = match context {
            Some(c) => c.to_string(),
            None => kubeconfig
                .current_context
                .clone()
                .ok_or(Error::NoCurrentContext)?,
        };
        let ctx = named(&doc["contexts"], &context_name, "context")
            .ok_or_else(|| Error::NoContext(context_name.clone()))?;
        let dangling = |what: &'static str, name: &str| Error::Dangling {
            context: context_name.clone(),
            what,
            name: name.to_string(),
        };
        let cluster_name = ctx["cluster"].as_str().unwrap_or_default();
        let cluster = named(&doc["clusters"], cluster_name, "cluster")
            .ok_or_else(|| dangling("cluster", cluster_name))?;
        let server = cluster["server"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::NoServer(cluster_name.to_string()))?;
        let mut credentials = Credentials {
            server: server.to_string(),
            ca_bundle: data_or_file(
                cluster,
                "certificate-authority-data",
                "certificate-authority",
                "certificate authority",
            )?,
            insecure_skip_tls_verify: cluster["insecure-skip-tls-verify"].as_bool() == Some(true),
            proxy_url: cluster["proxy-url"].as_str().map(str::to_string),
            ..Credentials::default()
        };
        let Some(user_name) = ctx["user"].as_str() else {
            return Ok(credentials);
        };
        let user =
            named(&doc["users"], user_name, "user").ok_or_else(|| dangling("user", user_name))?;
        for (field, how) in [
            ("exec", "an exec plugin"),
            ("auth-provider", "an auth provider"),
            ("username", "a username and password"),
        ] {
            if !user[field].is_null() {
                return Err(Error::UnsupportedAuth {
                    user: user_name.to_string(),
                    how,
                });
            }
        }
        credentials.token = match (user["token"].as_str(), user["tokenFile"].as_str()) {
            (Some(token), _) => Some(token.to_string()),
            (None, Some(path)) => Some(read(path, "token file")?.trim().to_string()),
            (None, None) => None,
        };
        let cert = data_or_file(
            user,
            "client-certificate-data",
            "client-certificate",
            "client certificate",
        )?;
        let key = data_or_file(user, "client-key-data", "client-key", "client key")?;
        credentials.client_certificate = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err(Error::HalfCertificate(user_name.to_string())),
        };
        Ok(credentials)
    }

    /// The Secret data that stores these credentials; the endpoint, TLS verification and proxy
    /// live in the Cluster's spec, as in Karmada.
    pub fn secret_data(&self) -> BTreeMap<String, ByteString> {
        let mut data = BTreeMap::new();
        if let Some(ca) = &self.ca_bundle {
            data.insert(KEY_CA_BUNDLE.to_string(), ByteString(ca.clone()));
        }
        if let Some(token) = &self.token {
            data.insert(
                KEY_TOKEN.to_string(),
                ByteString(token.clone().into_bytes()),
            );
        }
        if let Some((cert, key)) = &self.client_certificate {
            data.insert(KEY_CLIENT_CERT.to_string(), ByteString(cert.clone()));
            data.insert(KEY_CLIENT_KEY.to_string(), ByteString(key.clone()));
        }
        data
    }

    /// The credentials a Push `cluster` and its Secret describe.
    pub fn from_secret(cluster: &Cluster, secret: &Secret) -> Result<Self, Error> {
        let name = cluster.metadata.name.clone().unwrap_or_default();
        let secret_name = format!(
            "{}/{}",
            secret.metadata.namespace.as_deref().unwrap_or_default(),
            secret.metadata.name.as_deref().unwrap_or_default()
        );
        let server = cluster
            .spec
            .api_endpoint
            .clone()
            .filter(|e| !e.is_empty())
            .ok_or_else(|| Error::NoEndpoint(name.clone()))?;
        let empty = BTreeMap::new();
        let data = secret.data.as_ref().unwrap_or(&empty);
        let bytes = |key: &str| data.get(key).map(|b| b.0.clone());
        let token = match bytes(KEY_TOKEN) {
            Some(raw) => Some(String::from_utf8(raw).map_err(|_| Error::NotText {
                secret: secret_name,
                key: KEY_TOKEN,
            })?),
            None => None,
        };
        // Neither a token nor a certificate: the member is reached anonymously and its own
        // authentication decides (a loopback development member without authentication).
        let client_certificate = bytes(KEY_CLIENT_CERT).zip(bytes(KEY_CLIENT_KEY));
        Ok(Credentials {
            server,
            ca_bundle: bytes(KEY_CA_BUNDLE),
            insecure_skip_tls_verify: cluster.spec.insecure_skip_tls_verification == Some(true),
            proxy_url: cluster.spec.proxy_url.clone(),
            token: token.map(|t| t.trim().to_string()),
            client_certificate,
        })
    }

    /// A one-context kubeconfig holding these credentials inline.
    pub fn kubeconfig(&self, name: &str) -> Kubeconfig {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let mut cluster = json!({"server": self.server});
        if let Some(ca) = &self.ca_bundle {
            cluster["certificate-authority-data"] = json!(b64(ca));
        }
        if self.insecure_skip_tls_verify {
            cluster["insecure-skip-tls-verify"] = json!(true);
        }
        if let Some(proxy) = &self.proxy_url {
            cluster["proxy-url"] = json!(proxy);
        }
        let mut user = json!({});
        if let Some(token) = &self.token {
            user["token"] = json!(token);
        }
        if let Some((cert, key)) = &self.client_certificate {
            user["client-certificate-data"] = json!(b64(cert));
            user["client-key-data"] = json!(b64(key));
        }
        let doc = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": cluster}],
            "users": [{"name": name, "user": user}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
        });
        serde_json::from_value(doc).expect("a one-context kubeconfig is a valid Kubeconfig")
    }

    /// A client of the member these credentials reach.
    pub async fn client(&self, name: &str) -> Result<kube::Client, Error> {
        let client_error = |source: Box<dyn std::error::Error + Send + Sync>| Error::Client {
            cluster: name.to_string(),
            source,
        };
        let config = kube::Config::from_custom_kubeconfig(
            self.kubeconfig(name),
            &KubeConfigOptions::default(),
        )
        .await
        .map_err(|e| client_error(Box::new(e)))?;
        kube::Client::try_from(config).map_err(|e| client_error(Box::new(e)))
    }
}

/// The entry called `name` of a kubeconfig list (`clusters`, `users`, `contexts`), unwrapped.
fn named<'a>(list: &'a Value, name: &str, field: &str) -> Option<&'a Value> {
    list.as_array()?
        .iter()
        .find(|entry| entry["name"].as_str() == Some(name))
        .map(|entry| &entry[field])
        .filter(|v| v.is_object())
}

/// Inline base64 data, or the file it names (already absolute).
fn data_or_file(
    entry: &Value,
    data_field: &str,
    file_field: &str,
    what: &'static str,
) -> Result<Option<Vec<u8>>, Error> {
    if let Some(data) = entry[data_field].as_str() {
        return base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map(Some)
            .map_err(|source| Error::Base64 { what, source });
    }
    match entry[file_field].as_str() {
        Some(path) => Ok(Some(read(path, what)?.into_bytes())),
        None => Ok(None),
    }
}

fn read(path: &str, what: &'static str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        what,
        path: path.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(user: &Value) -> Kubeconfig {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "c", "cluster": {
                "server": "https://10.0.0.1:6443",
                "certificate-authority-data": base64::engine::general_purpose::STANDARD.encode("CA PEM"),
            }}],
            "users": [{"name": "u", "user": user}],
            "contexts": [
                {"name": "ctx", "context": {"cluster": "c", "user": "u"}},
                {"name": "broken", "context": {"cluster": "missing", "user": "u"}},
            ],
            "current-context": "ctx",
        }))
        .unwrap()
    }

    fn cluster(spec: &Value) -> Cluster {
        serde_json::from_value(json!({
            "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": "member1"}, "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn a_token_kubeconfig_round_trips_through_the_secret() {
        let got =
            Credentials::from_kubeconfig(&kubeconfig(&json!({"token": "abc"})), None).unwrap();
        assert_eq!(got.server, "https://10.0.0.1:6443");
        assert_eq!(got.ca_bundle.as_deref(), Some(b"CA PEM".as_slice()));
        assert_eq!(got.token.as_deref(), Some("abc"));

        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("member1".into()),
                namespace: Some("karmada-cluster".into()),
                ..Default::default()
            },
            data: Some(got.secret_data()),
            ..Default::default()
        };
        let push = cluster(&json!({"syncMode": "Push", "apiEndpoint": got.server}));
        let back = Credentials::from_secret(&push, &secret).unwrap();
        assert_eq!(back, got);
    }

    #[test]
    fn client_certificates_from_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.crt"), dir.path().join("c.key"));
        std::fs::write(&cert, "CERT").unwrap();
        std::fs::write(&key, "KEY").unwrap();
        let user = json!({"client-certificate": cert, "client-key": key});
        let got = Credentials::from_kubeconfig(&kubeconfig(&user), Some("ctx")).unwrap();
        assert_eq!(
            got.client_certificate,
            Some((b"CERT".to_vec(), b"KEY".to_vec()))
        );
        let data = got.secret_data();
        assert_eq!(data[KEY_CLIENT_CERT].0, b"CERT");
        assert_eq!(data[KEY_CLIENT_KEY].0, b"KEY");
    }

    #[test]
    fn kubeconfigs_that_cannot_be_stored_are_refused_with_a_reason() {
        let exec =
            json!({"exec": {"command": "aws", "apiVersion": "client.authentication.k8s.io/v1"}});
        for (config, context, want) in [
            (kubeconfig(&exec), None, "exec plugin"),
            (
                kubeconfig(&json!({"token": "t"})),
                Some("nope"),
                "no context",
            ),
            (
                kubeconfig(&json!({"token": "t"})),
                Some("broken"),
                "does not define",
            ),
            (
                kubeconfig(&json!({"client-certificate-data": "Q0VSVA=="})),
                None,
                "without its key",
            ),
        ] {
            let err = Credentials::from_kubeconfig(&config, context).unwrap_err();
            assert!(err.to_string().contains(want), "{err} lacks {want:?}");
        }
    }

    #[test]
    fn a_cluster_without_endpoint_is_an_error_and_no_credentials_mean_anonymous() {
        let secret = Secret::default();
        let err = Credentials::from_secret(&cluster(&json!({"syncMode": "Push"})), &secret);
        assert!(matches!(err, Err(Error::NoEndpoint(_))), "{err:?}");
        let push = cluster(&json!({"syncMode": "Push", "apiEndpoint": "http://127.0.0.1:1"}));
        let anonymous = Credentials::from_secret(&push, &secret).unwrap();
        assert_eq!(anonymous.token, None);
        assert_eq!(anonymous.client_certificate, None);
        let kubeconfig = serde_json::to_value(anonymous.kubeconfig("member1")).unwrap();
        assert_eq!(kubeconfig["users"][0]["user"], json!({}));
    }

    #[test]
    fn the_cluster_spec_supplies_endpoint_verification_and_proxy() {
        let push = cluster(&json!({"syncMode": "Push", "apiEndpoint": "https://m:6443",
            "insecureSkipTLSVerification": true, "proxyURL": "http://proxy:3128"}));
        let secret = Secret {
            data: Some(BTreeMap::from([(
                KEY_TOKEN.to_string(),
                ByteString(b"t\n".to_vec()),
            )])),
            ..Default::default()
        };
        let got = Credentials::from_secret(&push, &secret).unwrap();
        assert!(got.insecure_skip_tls_verify);
        assert_eq!(got.proxy_url.as_deref(), Some("http://proxy:3128"));
        assert_eq!(got.token.as_deref(), Some("t"));
        let kubeconfig = serde_json::to_value(got.kubeconfig("member1")).unwrap();
        assert_eq!(
            kubeconfig["clusters"][0]["cluster"]["insecure-skip-tls-verify"],
            true
        );
        assert_eq!(kubeconfig["users"][0]["user"]["token"], "t");
    }
}
