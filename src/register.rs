//! `karmada token create` and `karmada register`: enrolling a pull cluster's agent with a
//! bootstrap token, as `kubeadm join` enrols a kubelet. The operator creates a short-lived token
//! on the federation; on the member's side, `register` uses it to ask the federation for the
//! agent's own client certificate. The federation signs it, grants that agent its own cluster's
//! roles and nothing more, and `register` writes the agent's kubeconfig.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition, CertificateSigningRequestSpec,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use karmada_agents::push::credentials::Credentials;
use karmada_apiserver::auth::{agents, bootstrap_token, csr};
use karmada_apiserver::{kubeconfig, tls};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

/// The extra group of the tokens `token create` makes, as Karmada names it.
const TOKEN_GROUP: &str = "system:bootstrappers:karmada:default-cluster-token";
/// How often `register` looks whether its certificate is signed.
const POLL: Duration = Duration::from_millis(200);

#[derive(clap::Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(clap::Subcommand)]
enum TokenCommand {
    /// Create a bootstrap token for `karmada register` and print it.
    Create(TokenCreateArgs),
}

#[derive(clap::Args)]
struct TokenCreateArgs {
    /// Kubeconfig of the federation apiserver, of a user who may create Secrets in kube-system.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// How long the token is good for.
    #[arg(long, default_value_t = 24 * 3600)]
    ttl_seconds: u64,
    /// Kept with the token, to tell tokens apart later.
    #[arg(long, default_value = "karmada register")]
    description: String,
}

#[derive(clap::Args)]
pub struct RegisterArgs {
    /// The member cluster's name in the federation.
    #[arg(long)]
    cluster: String,
    /// The federation apiserver's URL (https://...).
    #[arg(long)]
    federation: String,
    /// The federation's CA certificate (PEM), which signs its serving certificate: for
    /// `karmada up`, `.karmada/federation/pki/ca.crt`.
    #[arg(long)]
    ca_file: PathBuf,
    /// A bootstrap token from `karmada token create`.
    #[arg(long)]
    token: String,
    /// Where to write the agent's kubeconfig (its key included; readable by its owner only).
    #[arg(long)]
    out: PathBuf,
    /// Give up when the certificate is not signed within this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout_seconds: u64,
}

pub async fn token(args: TokenArgs) -> anyhow::Result<()> {
    let TokenCommand::Create(args) = args.command;
    ensure!(args.ttl_seconds > 0, "--ttl-seconds must be at least 1");
    let federation = crate::kubeconfig::client(&args.kubeconfig).await?;
    let (id, secret) = (random_text(6), random_text(16));
    let ttl = jiff::SignedDuration::from_secs(i64::try_from(args.ttl_seconds)?);
    let expiration = jiff::Timestamp::now()
        .checked_add(ttl)
        .context("--ttl-seconds is too large")?;
    let object: Secret = serde_json::from_value(json!({
        "metadata": {"name": bootstrap_token::secret_name(&id),
                     "namespace": bootstrap_token::NAMESPACE},
        "type": bootstrap_token::SECRET_TYPE,
        "stringData": {
            "token-id": id,
            "token-secret": secret,
            "expiration": expiration.to_string(),
            "usage-bootstrap-authentication": "true",
            "auth-extra-groups": TOKEN_GROUP,
            "description": args.description,
        },
    }))?;
    Api::<Secret>::namespaced(federation, bootstrap_token::NAMESPACE)
        .create(&PostParams::default(), &object)
        .await
        .context("cannot store the bootstrap token")?;
    println!("{id}.{secret}");
    Ok(())
}

pub async fn register(args: RegisterArgs) -> anyhow::Result<()> {
    karmada_api::names::dns1123_label(&args.cluster).map_err(|reason| {
        anyhow::anyhow!("cluster name {:?} is invalid: {reason}", args.cluster)
    })?;
    ensure!(
        bootstrap_token::parse(&args.token).is_some(),
        "--token must be a bootstrap token, <6 characters>.<16 characters> of a-z and 0-9, as \
         `karmada token create` prints"
    );
    let ca_pem = std::fs::read_to_string(&args.ca_file)
        .with_context(|| format!("cannot read --ca-file {}", args.ca_file.display()))?;
    let bootstrap = Credentials {
        server: args.federation.clone(),
        ca_bundle: Some(ca_pem.clone().into_bytes()),
        token: Some(args.token.clone()),
        ..Credentials::default()
    }
    .client("karmada")
    .await?;
    enrol(
        bootstrap,
        &args.federation,
        &ca_pem,
        &args.cluster,
        Approval::BySigner,
        Duration::from_secs(args.timeout_seconds),
        &args.out,
    )
    .await?;
    println!(
        "wrote {}: the agent of {} signs in as {}. Next: karmada agent --cluster {} \
         --karmada-kubeconfig {} --member-kubeconfig <the member's kubeconfig>",
        args.out.display(),
        args.cluster,
        agents::user(&args.cluster),
        args.cluster,
        args.out.display()
    );
    Ok(())
}

/// Who approves an agent's certificate signing request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Approval {
    /// The federation's signer, as it does for requests of bootstrap tokens.
    BySigner,
    /// The caller, an administrator (as `kubectl certificate approve` would).
    ByCaller,
}

/// Gets the agent of `cluster` its own certificate through the federation at `server` (whose
/// CA is `ca_pem`), asking with `client`: a new key, a CertificateSigningRequest, its
/// approval, and the signed certificate. The federation grants that agent its cluster's roles
/// when it signs. Writes the agent's kubeconfig to `out`.
pub(crate) async fn enrol(
    client: kube::Client,
    server: &str,
    ca_pem: &str,
    cluster: &str,
    approval: Approval,
    timeout: Duration,
    out: &Path,
) -> anyhow::Result<()> {
    let request = tls::client_request(&agents::user(cluster), Some(agents::GROUP))?;
    let name = format!("agent-{cluster}-{}", random_text(5));
    let usages = ["client auth", "digital signature", "key encipherment"];
    let object = CertificateSigningRequest {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..ObjectMeta::default()
        },
        spec: CertificateSigningRequestSpec {
            request: ByteString(request.cert_pem.clone().into_bytes()),
            signer_name: csr::CLIENT_SIGNER.to_string(),
            usages: Some(usages.map(String::from).to_vec()),
            ..CertificateSigningRequestSpec::default()
        },
        status: None,
    };
    let requests: Api<CertificateSigningRequest> = Api::all(client);
    let mut created = requests
        .create(&PostParams::default(), &object)
        .await
        .with_context(|| format!("cannot ask {server} for a certificate"))?;
    if approval == Approval::ByCaller {
        let approved = CertificateSigningRequestCondition {
            type_: "Approved".into(),
            status: "True".into(),
            reason: Some("KarmadaUp".into()),
            message: Some(format!("the agent of cluster {cluster}, run by karmada up")),
            ..CertificateSigningRequestCondition::default()
        };
        created
            .status
            .get_or_insert_with(Default::default)
            .conditions = Some(vec![approved]);
        requests
            .replace_subresource("approval", &name, &PostParams::default(), &created)
            .await
            .with_context(|| format!("cannot approve certificate signing request {name}"))?;
    }
    let certificate = signed(&requests, &name, timeout).await?;
    let context = kubeconfig::Context {
        name: "karmada".into(),
        server: server.to_string(),
        token: None,
        ca_pem: Some(ca_pem.to_string()),
        client_certificate: Some(tls::Issued {
            cert_pem: certificate,
            key_pem: request.key_pem,
        }),
    };
    kubeconfig::write(out, &[context]).with_context(|| format!("cannot write {}", out.display()))
}

/// Waits for request `name` to be signed and returns the certificate (PEM).
async fn signed(
    requests: &Api<CertificateSigningRequest>,
    name: &str,
    timeout: Duration,
) -> anyhow::Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let request = requests
            .get(name)
            .await
            .with_context(|| format!("cannot read certificate signing request {name}"))?;
        let status = request.status.unwrap_or_default();
        if let Some(refused) = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Denied" || c.type_ == "Failed")
        {
            bail!(
                "certificate signing request {name} was {}: {}",
                refused.type_.to_lowercase(),
                refused.message.as_deref().unwrap_or("no reason given")
            );
        }
        if let Some(certificate) = status.certificate.filter(|c| !c.0.is_empty()) {
            return String::from_utf8(certificate.0)
                .context("the signed certificate is not PEM text");
        }
        if Instant::now() >= deadline {
            bail!(
                "certificate signing request {name} was not signed within {timeout:?}; the \
                 federation apiserver signs agents' certificates itself when it runs with \
                 --authorization-mode RBAC"
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `len` random characters of `a-z0-9`, each equally likely.
fn random_text(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut text = String::with_capacity(len);
    while text.len() < len {
        let byte: u8 = rand::random();
        // 252 is the largest multiple of 36 a byte holds: above it some letters would be likelier.
        if byte < 252 {
            text.push(char::from(ALPHABET[usize::from(byte % 36)]));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_in_bootstrap_form() {
        let token = format!("{}.{}", random_text(6), random_text(16));
        assert!(bootstrap_token::parse(&token).is_some(), "{token}");
        assert_ne!(random_text(16), random_text(16));
    }
}
