//! Enrolling a cluster's agent with a bootstrap token on a real `karmada up`: `karmada token
//! create` makes the token, `karmada register` turns it into the agent's own certificate (the
//! federation signs it and grants that agent its cluster's roles), and the agent then runs with
//! it. The token itself can do nothing but ask; a made-up token is refused.

mod support;

use std::time::Duration;

use anyhow::{Context as _, ensure};
use base64::Engine as _;
use karmada_agents::push::credentials::Credentials;
use support::apiserver::{ApiServer, Store, karmada};
use support::component::Component;
use support::kubectl::Kubectl;
use support::up::{Up, until_cluster_ready};

const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `karmada <args>` to its end; its stdout, or an error with its stderr.
fn run(args: &[&str]) -> anyhow::Result<String> {
    let out = karmada(args)
        .stdout(std::process::Stdio::piped())
        .output()
        .with_context(|| format!("running karmada {}", args.join(" ")))?;
    ensure!(
        out.status.success(),
        "karmada {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

#[test]
fn a_cluster_enrolled_with_a_bootstrap_token_runs_its_agent_as_itself() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let up = Up::start(dir.path(), &["--members", "1", "--port", "0"])?;
    let federation_dir = dir.path().join("federation");
    let admin_kubeconfig = federation_dir
        .join("kubeconfig")
        .to_string_lossy()
        .into_owned();
    let ca_file = federation_dir
        .join("pki/ca.crt")
        .to_string_lossy()
        .into_owned();
    let url = up.endpoints()?["apiserver"]
        .as_str()
        .context("apiserver URL")?
        .to_string();
    let member2_data = tempfile::tempdir()?;
    let member2 = ApiServer::start_command(
        &["member", "--name", "member2", "--nodes", "1"],
        Store::Embedded(member2_data.path()),
    )?;

    let token = run(&["token", "create", "--kubeconfig", &admin_kubeconfig])?;
    let token = token.trim();
    let (id, _) = token.split_once('.').context("token form")?;

    // The token alone may ask for certificates and nothing else.
    let bootstrap_config = dir.path().join("bootstrap.kubeconfig");
    let bootstrap = Credentials {
        server: url.clone(),
        ca_bundle: Some(std::fs::read(&ca_file)?),
        token: Some(token.to_string()),
        ..Credentials::default()
    };
    std::fs::write(
        &bootstrap_config,
        serde_json::to_string(&bootstrap.kubeconfig("karmada"))?,
    )?;
    let as_token = Kubectl::for_kubeconfig(&bootstrap_config)?;
    let refused = as_token.fails(&["get", "secrets", "-n", "kube-system"], None)?;
    let message = format!(
        "secrets is forbidden: User \"system:bootstrap:{id}\" cannot list resource \"secrets\" \
         in API group \"\" in the namespace \"kube-system\""
    );
    ensure!(refused.stderr.contains(&message), "{}", refused.stderr);
    ensure!(as_token.ok(&["auth", "can-i", "create", "csr"])?.trim() == "yes");

    let agent_config = dir.path().join("member2-agent.kubeconfig");
    let agent_path = agent_config.to_string_lossy().into_owned();
    let register = |token: &str| {
        run(&[
            "register",
            "--cluster",
            "member2",
            "--federation",
            &url,
            "--ca-file",
            &ca_file,
            "--token",
            token,
            "--out",
            &agent_path,
        ])
    };
    let made_up = register("abcdef.0123456789abcdef").unwrap_err().to_string();
    ensure!(made_up.contains("Unauthorized"), "{made_up}");
    let said = register(token)?;
    ensure!(said.contains("system:karmada:agent:member2"), "{said}");

    let _agent = Component::start(&[
        "agent",
        "--cluster",
        "member2",
        "--karmada-kubeconfig",
        &agent_path,
        "--member-kubeconfig",
        &member2.kubeconfig().to_string_lossy(),
        "--status-seconds",
        "1",
    ])?;
    until_cluster_ready(&up.kubectl, "member2")
        .with_context(|| format!("{}\n--- member2\n{}", up.logs(), member2.log()))?;
    // `karmada up` enrolled member1's agent the same way (approved by the admin); member2's
    // request is the bootstrap token's, approved by the federation itself.
    let signed = up.kubectl.ok(&[
        "get",
        "csr",
        "-o",
        "jsonpath={range .items[*]}{.status.conditions[0].type}/{.status.conditions[0].reason} \
         {.spec.username};{end}",
    ])?;
    ensure!(
        signed
            == format!(
                "Approved/KarmadaUp karmada-admin;Approved/AutoApproved system:bootstrap:{id};"
            ),
        "{signed}"
    );

    let agent = Kubectl::for_kubeconfig(&agent_config)?;
    let who = agent.ok(&["auth", "whoami"])?;
    ensure!(who.contains("system:karmada:agent:member2"), "{who}");
    agent.ok(&["get", "works", "-n", "karmada-es-member2"])?;
    let refused = agent.fails(&["get", "works", "-n", "karmada-es-member1"], None)?;
    ensure!(
        refused.stderr.contains(
            "works.work.karmada.io is forbidden: User \"system:karmada:agent:member2\" cannot \
             list resource \"works\""
        ),
        "{}",
        refused.stderr
    );

    // Any other client certificate waits for an operator: `kubectl certificate approve`.
    let jane = karmada_apiserver::tls::client_request("jane", Some("developers"))?;
    let request = format!(
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\n\
         metadata: {{name: jane}}\nspec:\n  signerName: kubernetes.io/kube-apiserver-client\n  \
         usages: [client auth]\n  request: {}\n",
        base64::engine::general_purpose::STANDARD.encode(&jane.cert_pem)
    );
    up.kubectl.ok_stdin(&["create", "-f", "-"], &request)?;
    let pending = up.kubectl.ok(&["get", "csr", "jane"])?;
    ensure!(
        pending.contains("kubernetes.io/kube-apiserver-client")
            && pending.contains("karmada-admin")
            && pending.contains("Pending"),
        "{pending}"
    );
    up.kubectl.ok(&["certificate", "approve", "jane"])?;
    up.kubectl.until_prints(
        "jane issued",
        DEADLINE,
        &[
            "get",
            "csr",
            "jane",
            "--no-headers",
            "-o",
            "custom-columns=C:.status.conditions[0].type",
        ],
        "Approved",
    )?;
    let issued = up.kubectl.ok(&["get", "csr", "jane"])?;
    ensure!(issued.contains("Approved,Issued"), "{issued}");
    Ok(())
}
