//! Authentication and RBAC on a real `karmada apiserver --authorization-mode RBAC` (HTTPS),
//! driven with the real kubectl: the kubeconfig the server writes is an admin's; no
//! credentials get 401 (health excepted); a service account bound to `view` reads but gets
//! Kubernetes' 403 when it writes; `kubectl auth can-i` and `whoami` answer for the caller; a
//! client certificate of the cluster CA names its user, one of a foreign CA is refused; the
//! audit log records every change and refusal. On `karmada up`, each pull agent's own identity
//! reaches its cluster's objects and nothing of another cluster's.

mod support;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use base64::Engine as _;
use karmada_apiserver::pki::ClusterCa;
use karmada_apiserver::tls::client_certificate;
use support::apiserver::{ApiServer, Store};
use support::kubectl::Kubectl;
use support::poll;
use support::up::{Up, until_cluster_ready};

const DEADLINE: Duration = Duration::from_secs(15);

/// The server's own kubeconfig (HTTPS, trusting its CA) with the admin's token replaced by
/// `user` (the lines under `user:`; none for no credentials), written to `dir/name`.
fn as_user(server: &ApiServer, dir: &Path, name: &str, user: &[String]) -> anyhow::Result<Kubectl> {
    let admin = std::fs::read_to_string(server.kubeconfig())?;
    let start = admin
        .find("  user:\n    token: ")
        .context("no admin token in the kubeconfig")?;
    let token_line = start + "  user:\n".len();
    let end = token_line + admin[token_line..].find('\n').context("unterminated")? + 1;
    let entry = if user.is_empty() {
        "  user: {}\n".to_string()
    } else {
        let lines: String = user.iter().map(|l| format!("    {l}\n")).collect();
        format!("  user:\n{lines}")
    };
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("{}{entry}{}", &admin[..start], &admin[end..]),
    )?;
    Kubectl::for_kubeconfig(&path)
}

fn token(token: &str) -> Vec<String> {
    vec![format!("token: {token}")]
}

/// The kubeconfig lines of a client certificate for `user` in `group` issued by `ca`.
fn certificate(ca: &ClusterCa, user: &str, group: Option<&str>) -> anyhow::Result<Vec<String>> {
    let issued = client_certificate(ca, user, group)?;
    let b64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
    Ok(vec![
        format!("client-certificate-data: {}", b64(&issued.cert_pem)),
        format!("client-key-data: {}", b64(&issued.key_pem)),
    ])
}

/// Whether kubectl reported a 401 (its words depend on whether discovery was cached).
fn unauthorized(stderr: &str) -> bool {
    stderr.contains("provide credentials") || stderr.contains("(Unauthorized)")
}

/// A GET without credentials through kube-rs, with the kubeconfig at `kubeconfig` (HTTPS,
/// trusting the CA): the status code and body (the Status message for an error).
fn anonymous_get(kubeconfig: &Path, path: &str) -> anyhow::Result<(u16, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let file = kube::config::Kubeconfig::read_from(kubeconfig)?;
        let options = kube::config::KubeConfigOptions::default();
        let config = kube::Config::from_custom_kubeconfig(file, &options).await?;
        let client = kube::Client::try_from(config)?;
        let request = http::Request::get(path).body(Vec::new())?;
        Ok(match client.request_text(request).await {
            Ok(body) => (200, body),
            Err(kube::Error::Api(status)) => (status.code, status.message),
            Err(other) => anyhow::bail!("GET {path}: {other}"),
        })
    })
}

fn username(kubectl: &Kubectl) -> anyhow::Result<String> {
    kubectl.ok(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ])
}

#[test]
fn rbac_gates_every_request_as_kubernetes_does() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let audit = dir.path().join("audit.log");
    let audit_flag = format!("--audit-log-path={}", audit.display());
    let server = ApiServer::start_command(
        &["apiserver", "--authorization-mode", "RBAC", &audit_flag],
        Store::Embedded(&data),
    )?;
    ensure!(server.url().starts_with("https://"), "{}", server.url());
    let admin = Kubectl::new(&server)?;
    ensure!(username(&admin)? == "karmada-admin");
    admin.ok(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=mode=fast",
    ])?;

    // No credentials, or a token nobody issued: 401; health needs none. (kubectl would prompt
    // for a password without credentials, so kube-rs asks.)
    as_user(&server, dir.path(), "anonymous", &[])?;
    let anonymous = |path: &str| anonymous_get(&dir.path().join("anonymous"), path);
    let listed = anonymous("/api/v1/namespaces/default/configmaps")?;
    ensure!(
        listed == (401, "Unauthorized".into()),
        "anonymous: {listed:?}"
    );
    ensure!(anonymous("/healthz")? == (200, "ok".into()));
    ensure!(anonymous("/version")?.0 == 200);
    let forged = as_user(&server, dir.path(), "forged", &token("not-a-token"))?;
    let refused = forged.fails(&["get", "configmaps"], None)?;
    ensure!(unauthorized(&refused.stderr), "forged: {}", refused.stderr);

    // A service account bound to view, with a token from the TokenRequest API.
    admin.ok(&["create", "serviceaccount", "viewer"])?;
    admin.ok(&[
        "create",
        "rolebinding",
        "viewer-view",
        "--clusterrole=view",
        "--serviceaccount=default:viewer",
    ])?;
    let issued = admin.ok(&["create", "token", "viewer"])?;
    let viewer = as_user(&server, dir.path(), "viewer", &token(issued.trim()))?;
    // The binding reaches the authorizer through a watch: poll, do not assume.
    let mode = poll::until("the viewer reading the ConfigMap", DEADLINE, || {
        viewer
            .ok(&[
                "get",
                "configmap",
                "settings",
                "-o",
                "jsonpath={.data.mode}",
            ])
            .map_err(|e| e.to_string())
    })?;
    ensure!(mode == "fast");
    let denied = viewer.fails(
        &["create", "configmap", "other", "--from-literal=a=1"],
        None,
    )?;
    let message = "configmaps is forbidden: User \"system:serviceaccount:default:viewer\" cannot \
                   create resource \"configmaps\" in API group \"\" in the namespace \"default\"";
    ensure!(denied.stderr.contains(message), "denied: {}", denied.stderr);
    let secrets = viewer.fails(&["get", "secrets"], None)?;
    ensure!(
        secrets.stderr.contains("forbidden"),
        "secrets: {}",
        secrets.stderr
    );
    let other = admin.fails(&["get", "configmap", "other"], None)?;
    ensure!(
        other.stderr.contains("NotFound"),
        "the refused create stored something"
    );

    // can-i and whoami answer for the caller.
    let can = |args: &[&str]| -> anyhow::Result<String> {
        let mut all = vec!["auth", "can-i"];
        all.extend_from_slice(args);
        Ok(viewer.run(&all)?.stdout.trim().to_string())
    };
    ensure!(can(&["get", "configmaps"])? == "yes");
    ensure!(can(&["create", "configmaps"])? == "no");
    ensure!(can(&["get", "configmaps", "-n", "kube-system"])? == "no");
    ensure!(username(&viewer)? == "system:serviceaccount:default:viewer");

    // A client certificate of the cluster CA names its user (CN) and group (O); one from a
    // foreign CA is refused in the handshake.
    let ca = ClusterCa::load_or_create(&data.join("pki"), "unused")?;
    let jane = as_user(
        &server,
        dir.path(),
        "jane",
        &certificate(&ca, "jane", Some("ops"))?,
    )?;
    ensure!(username(&jane)? == "jane");
    let refused = jane.fails(&["get", "configmaps"], None)?;
    ensure!(
        refused
            .stderr
            .contains("User \"jane\" cannot list resource \"configmaps\""),
        "jane: {}",
        refused.stderr
    );
    let foreign = ClusterCa::generate("foreign-ca")?;
    let masters = certificate(&foreign, "admin", Some("system:masters"))?;
    let intruder = as_user(&server, dir.path(), "intruder", &masters)?;
    let refused = intruder.fails(&["get", "configmaps"], None)?;
    ensure!(
        refused.stderr.to_lowercase().contains("certificate"),
        "a foreign CA's certificate: {}",
        refused.stderr
    );

    // The audit log names who changed what, and how it ended, refusals included.
    let events: Vec<serde_json::Value> = std::fs::read_to_string(&audit)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let find = |user: &str, code: u64| {
        events.iter().any(|e| {
            e["user"]["username"] == user
                && e["verb"] == "create"
                && e["objectRef"]["resource"] == "configmaps"
                && e["responseStatus"]["code"] == code
        })
    };
    ensure!(
        find("karmada-admin", 201),
        "the admin's create is not audited: {events:#?}"
    );
    ensure!(
        find("system:serviceaccount:default:viewer", 403),
        "the viewer's refused create is not audited: {events:#?}"
    );
    ensure!(
        events
            .iter()
            .all(|e| e["verb"] != "get" && e["verb"] != "list"),
        "reads are audited"
    );

    // Deleting the service account makes its token worthless.
    admin.ok(&["delete", "serviceaccount", "viewer"])?;
    poll::until("the deleted account's token refused", DEADLINE, || {
        let out = viewer
            .run(&["get", "configmaps"])
            .map_err(|e| e.to_string())?;
        if unauthorized(&out.stderr) {
            Ok(())
        } else {
            Err(format!("{} {}", out.stdout, out.stderr))
        }
    })?;
    Ok(())
}

#[test]
fn each_agent_of_karmada_up_reaches_only_its_own_cluster() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // member3 is joined in Push mode: its credentials are a Secret in karmada-cluster.
    let up = Up::start(
        dir.path(),
        &["--members", "3", "--push-members", "member3", "--port", "0"],
    )?;
    // The agents registered and report through their own identities: `up` is ready only once
    // both clusters are Ready.
    for cluster in ["member1", "member2", "member3"] {
        until_cluster_ready(&up.kubectl, cluster).with_context(|| up.logs())?;
    }
    let agent = Kubectl::for_kubeconfig(&dir.path().join("agents/member1.kubeconfig"))?;
    ensure!(
        !std::fs::read_to_string(dir.path().join("agents/member1.kubeconfig"))?.contains("token:"),
        "the agent's kubeconfig must not carry the admin token"
    );
    let who = agent.ok(&["auth", "whoami"])?;
    ensure!(
        who.contains("system:karmada:agent:member1") && who.contains("system:karmada:agents"),
        "{who}"
    );

    // Its own: Works, Cluster, status and Lease.
    agent.ok(&["get", "works", "-n", "karmada-es-member1"])?;
    agent.ok(&["get", "cluster", "member1"])?;
    agent.ok(&["get", "lease", "member1", "-n", "karmada-cluster"])?;
    let empty = ["--subresource", "status", "--type", "merge", "-p", "{}"];
    let mut own_status = vec!["patch", "cluster", "member1"];
    own_status.extend(empty);
    agent.ok(&own_status)?;

    // The Push member's credentials are there, for the control plane only.
    up.kubectl
        .ok(&["get", "secret", "member3", "-n", "karmada-cluster"])
        .context("the credentials Secret of member3")?;

    // Anything of member2, and every Secret, is refused with Kubernetes' message.
    let user = "User \"system:karmada:agent:member1\"";
    let refusals: [(Vec<&str>, String); 6] = [
        (
            vec!["get", "works", "-n", "karmada-es-member2"],
            format!(
                "works.work.karmada.io is forbidden: {user} cannot list resource \"works\" in API \
                 group \"work.karmada.io\" in the namespace \"karmada-es-member2\""
            ),
        ),
        (
            [vec!["patch", "cluster", "member2"], empty.to_vec()].concat(),
            format!(
                "clusters.cluster.karmada.io \"member2\" is forbidden: {user} cannot get \
                 resource \"clusters/status\" in API group \"cluster.karmada.io\" at the cluster \
                 scope"
            ),
        ),
        (
            vec!["get", "cluster", "member2"],
            format!(
                "clusters.cluster.karmada.io \"member2\" is forbidden: {user} cannot get resource \
                 \"clusters\" in API group \"cluster.karmada.io\" at the cluster scope"
            ),
        ),
        (
            vec!["get", "lease", "member2", "-n", "karmada-cluster"],
            format!(
                "leases.coordination.k8s.io \"member2\" is forbidden: {user} cannot get resource \
                 \"leases\" in API group \"coordination.k8s.io\" in the namespace \
                 \"karmada-cluster\""
            ),
        ),
        (
            vec!["get", "secret", "member3", "-n", "karmada-cluster"],
            format!(
                "secrets \"member3\" is forbidden: {user} cannot get resource \"secrets\" in \
                 API group \"\" in the namespace \"karmada-cluster\""
            ),
        ),
        (
            vec!["get", "secrets", "-n", "karmada-cluster"],
            format!(
                "secrets is forbidden: {user} cannot list resource \"secrets\" in API group \"\" \
                 in the namespace \"karmada-cluster\""
            ),
        ),
    ];
    for (args, message) in refusals {
        let refused = agent.fails(&args, None)?;
        ensure!(
            refused.stderr.contains(&message),
            "{args:?}: {}\nexpected: {message}",
            refused.stderr
        );
    }
    // Registering another cluster is refused, though RBAC cannot tell creates apart by name.
    let other = "apiVersion: cluster.karmada.io/v1alpha1\nkind: Cluster\nmetadata: {name: member9}\n\
                 spec: {syncMode: Pull, apiEndpoint: \"https://127.0.0.1:1\"}\n";
    let refused = agent.fails(&["create", "-f", "-"], Some(other))?;
    ensure!(
        refused.stderr.contains(
            "clusters.cluster.karmada.io \"member9\" is forbidden: agent \
             \"system:karmada:agent:member1\" may only create the Cluster of its own cluster"
        ),
        "{}",
        refused.stderr
    );
    // Holding member2's Cluster does not help: writing its status is refused too, and the
    // status stays as member2's agent wrote it.
    let member2 = up
        .kubectl
        .ok(&["get", "cluster", "member2", "-o", "json"])?;
    let forged = member2.replace("\"status\": \"True\"", "\"status\": \"False\"");
    ensure!(forged != member2, "no True condition to forge in {member2}");
    let refused = agent.fails(
        &["replace", "--subresource", "status", "-f", "-"],
        Some(&forged),
    )?;
    let message = format!(
        "clusters.cluster.karmada.io \"member2\" is forbidden: {user} cannot update resource \
         \"clusters/status\" in API group \"cluster.karmada.io\" at the cluster scope"
    );
    ensure!(refused.stderr.contains(&message), "{}", refused.stderr);
    let ready = up.kubectl.ok(&[
        "get",
        "cluster",
        "member2",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
    ])?;
    ensure!(ready == "True", "member2's Ready is {ready:?}");
    Ok(())
}
