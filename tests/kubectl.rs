//! Unmodified kubectl (1.33 through the dispatcher, and 1.27-1.32 directly) against the `karmada
//! apiserver` binary on the embedded store and on etcd.

mod support;

use std::time::Duration;

use anyhow::{Context, ensure};

use support::apiserver::{ApiServer, Store};
use support::etcd::EtcdProcess;
use support::kubectl::{self, Background, Kubectl};
use support::poll;

const NS: &str = "e2e";
const GUESTBOOK_CRD: &str = include_str!("fixtures/guestbooks-crd.yaml");
const GUESTBOOK: &str = include_str!("fixtures/guestbook.yaml");
/// Generous for a local server; only a broken server gets near it.
const WAIT: Duration = Duration::from_secs(20);

#[test]
fn kubectl_scenario_on_embedded_store() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = ApiServer::start(Store::Embedded(data.path()))?;
    scenario(&server).with_context(|| format!("server log:\n{}", server.log()))
}

#[test]
fn kubectl_scenario_on_etcd() -> anyhow::Result<()> {
    let etcd = EtcdProcess::start()?;
    let endpoint = etcd.endpoint();
    let server = ApiServer::start(Store::Etcd {
        endpoint: &endpoint,
        prefix: "/karmada-e2e",
    })?;
    scenario(&server).with_context(|| format!("server log:\n{}", server.log()))
}

/// Every kubectl release the dispatcher can pick must handle the everyday commands. All releases
/// run even after one fails, so a failure names every release that is broken.
#[test]
fn older_kubectl_releases_create_apply_get_delete() -> anyhow::Result<()> {
    let server = ApiServer::start(Store::Memory)?;
    let mut failures = Vec::new();
    for minor in 27..=32 {
        let k = Kubectl::with_binary(&server, &kubectl::versioned(minor))?;
        if let Err(e) = everyday_commands(&k, &format!("old-1-{minor}")) {
            failures.push(format!("kubectl 1.{minor}: {e:#}"));
        }
    }
    ensure!(
        failures.is_empty(),
        "{}\nserver log:\n{}",
        failures.join("\n\n"),
        server.log()
    );
    Ok(())
}

fn everyday_commands(k: &Kubectl, ns: &str) -> anyhow::Result<()> {
    expect_line(
        &k.ok(&["create", "namespace", ns])?,
        &format!("namespace/{ns} created"),
    )?;
    let manifest = deployment("web", "nginx:1.25", 1);
    let out = k.ok_stdin(&["apply", "-n", ns, "-f", "-"], &manifest)?;
    expect_line(&out, "deployment.apps/web created")?;
    let table = k.ok(&["get", "deployments", "-n", ns])?;
    expect_header(&table, &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"])?;
    ensure!(
        table.lines().any(|l| l.starts_with("web ")),
        "no row for web:\n{table}"
    );
    let out = k.ok(&["delete", "namespace", ns])?;
    expect_line(&out, &format!("namespace \"{ns}\" deleted"))?;
    wait_not_found(k, &["get", "namespace", ns])
}

fn scenario(server: &ApiServer) -> anyhow::Result<()> {
    let k = Kubectl::new(server)?;
    version(&k).context("version")?;
    create_commands(&k).context("create namespace/configmap/secret")?;
    apply_lifecycle(&k).context("apply")?;
    reading(&k).context("get/describe")?;
    watch(&k).context("get -w")?;
    edits(&k).context("label/annotate/scale/patch/edit")?;
    // A server with a data directory serves HTTPS and its kubeconfig signs in as its admin;
    // the others let anyone in over plain HTTP.
    let user = if server.url().starts_with("https://") {
        "karmada-admin"
    } else {
        "system:anonymous"
    };
    discovery(&k, user).context("api-resources/explain")?;
    custom_resource(&k).context("CRD and custom resource")?;
    dry_run_and_diff(&k).context("apply --dry-run=server and diff")?;
    bad_input(&k).context("errors for bad input")?;
    deletion(&k).context("delete")?;
    Ok(())
}

/// The dispatcher picks its kubectl by the server's version; the scenario is meant for 1.33.
fn version(k: &Kubectl) -> anyhow::Result<()> {
    let out = k.ok(&["version", "-o", "json"])?;
    let versions: serde_json::Value =
        serde_json::from_str(&out).context("parsing `version -o json`")?;
    for side in ["clientVersion", "serverVersion"] {
        let minor = &versions[side]["minor"];
        ensure!(
            minor == "33",
            "{side}.minor is {minor}, expected \"33\":\n{out}"
        );
    }
    Ok(())
}

fn create_commands(k: &Kubectl) -> anyhow::Result<()> {
    expect_line(
        &k.ok(&["create", "namespace", NS])?,
        "namespace/e2e created",
    )?;
    let out = k.ok(&[
        "create",
        "configmap",
        "settings",
        "-n",
        NS,
        "--from-literal=color=blue",
    ])?;
    expect_line(&out, "configmap/settings created")?;
    expect_jsonpath(k, &["configmap", "settings"], "{.data.color}", "blue")?;
    let out = k.ok(&[
        "create",
        "secret",
        "generic",
        "creds",
        "-n",
        NS,
        "--from-literal=password=s3cret",
    ])?;
    expect_line(&out, "secret/creds created")?;
    // base64("s3cret"); the server defaults the type kubectl leaves empty.
    expect_jsonpath(
        k,
        &["secret", "creds"],
        "{.type} {.data.password}",
        "Opaque czNjcmV0",
    )
}

fn apply_lifecycle(k: &Kubectl) -> anyhow::Result<()> {
    let apply = ["apply", "-n", NS, "-f", "-"];
    let v1 = deployment("web", "nginx:1.25", 1);
    expect_line(&k.ok_stdin(&apply, &v1)?, "deployment.apps/web created")?;
    expect_line(&k.ok_stdin(&apply, &v1)?, "deployment.apps/web unchanged")?;
    let v2 = deployment("web", "nginx:1.26", 1);
    expect_line(&k.ok_stdin(&apply, &v2)?, "deployment.apps/web configured")?;
    expect_jsonpath(
        k,
        &["deploy", "web"],
        "{.spec.template.spec.containers[0].image}",
        "nginx:1.26",
    )?;
    // A field no other manager owns, so server-side apply has nothing to conflict with.
    let ssa = v2.replace(
        "    app: web\nspec:",
        "    app: web\n    applied-by: server\nspec:",
    );
    ensure!(
        ssa != v2,
        "test bug: the server-side apply manifest did not change"
    );
    let out = k.ok_stdin(&["apply", "--server-side", "-n", NS, "-f", "-"], &ssa)?;
    expect_line(&out, "deployment.apps/web serverside-applied")?;
    expect_jsonpath(
        k,
        &["deploy", "web"],
        "{.metadata.labels.applied-by}",
        "server",
    )
}

fn reading(k: &Kubectl) -> anyhow::Result<()> {
    let table = k.ok(&["get", "deploy", "-n", NS])?;
    expect_header(&table, &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"])?;
    ensure!(
        table.lines().any(|l| l.starts_with("web ")),
        "no row for web:\n{table}"
    );

    let yaml = k.ok(&["get", "deploy", "web", "-n", NS, "-o", "yaml"])?;
    for want in [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "  name: web",
        "  namespace: e2e",
        "  resourceVersion:",
        "  uid:",
        "image: nginx:1.26",
    ] {
        ensure!(yaml.contains(want), "`get -o yaml` lacks {want:?}:\n{yaml}");
    }

    let text = k.ok(&["describe", "deploy", "web", "-n", NS])?;
    for want in [
        "Name:",
        "Namespace:",
        "Selector:",
        "Replicas:",
        "Image:",
        "nginx:1.26",
    ] {
        ensure!(text.contains(want), "`describe` lacks {want:?}:\n{text}");
    }
    Ok(())
}

/// `get NAME -w` prints the current row, then one row per later change.
fn watch(k: &Kubectl) -> anyhow::Result<()> {
    let mut watcher = k.spawn(&["get", "deploy", "web", "-n", NS, "-w"])?;
    poll::until("the initial watch row", WAIT, || {
        let rows = watch_rows(&mut watcher)?;
        if rows.is_empty() {
            Err(format!(
                "stdout:\n{}\nstderr:\n{}",
                watcher.stdout(),
                watcher.stderr()
            ))
        } else {
            Ok(())
        }
    })?;
    expect_line(
        &k.ok(&["scale", "deploy", "web", "-n", NS, "--replicas=5"])?,
        "deployment.apps/web scaled",
    )?;
    poll::until("a watch row showing 5 replicas", WAIT, || {
        let rows = watch_rows(&mut watcher)?;
        if rows.iter().any(|row| row.contains("/5 ")) {
            Ok(())
        } else {
            Err(format!(
                "stdout:\n{}\nstderr:\n{}",
                watcher.stdout(),
                watcher.stderr()
            ))
        }
    })
}

/// The rows for `web` a running `get -w` printed; an ended watch is reported as such.
fn watch_rows(watcher: &mut Background) -> Result<Vec<String>, String> {
    if let Some(status) = watcher.exited() {
        return Err(format!(
            "the watch exited with {status}\nstdout:\n{}\nstderr:\n{}",
            watcher.stdout(),
            watcher.stderr()
        ));
    }
    let out = watcher.stdout();
    Ok(out
        .lines()
        .filter(|l| l.starts_with("web "))
        .map(str::to_owned)
        .collect())
}

fn edits(k: &Kubectl) -> anyhow::Result<()> {
    let web = ["deploy", "web"];
    expect_line(
        &k.ok(&["label", "deploy", "web", "-n", NS, "tier=frontend"])?,
        "deployment.apps/web labeled",
    )?;
    expect_jsonpath(k, &web, "{.metadata.labels.tier}", "frontend")?;
    expect_line(
        &k.ok(&["annotate", "deploy", "web", "-n", NS, "note=hello"])?,
        "deployment.apps/web annotated",
    )?;
    expect_jsonpath(k, &web, "{.metadata.annotations.note}", "hello")?;
    expect_line(
        &k.ok(&["scale", "deploy", "web", "-n", NS, "--replicas=3"])?,
        "deployment.apps/web scaled",
    )?;
    expect_jsonpath(k, &web, "{.spec.replicas}", "3")?;

    let json = r#"[{"op":"replace","path":"/spec/replicas","value":4}]"#;
    let out = k.ok(&[
        "patch",
        "deploy",
        "web",
        "-n",
        NS,
        "--type=json",
        "-p",
        json,
    ])?;
    expect_line(&out, "deployment.apps/web patched")?;
    expect_jsonpath(k, &web, "{.spec.replicas}", "4")?;

    let merge = r#"{"metadata":{"labels":{"merged":"yes"}}}"#;
    let out = k.ok(&[
        "patch",
        "deploy",
        "web",
        "-n",
        NS,
        "--type=merge",
        "-p",
        merge,
    ])?;
    expect_line(&out, "deployment.apps/web patched")?;
    expect_jsonpath(k, &web, "{.metadata.labels.merged}", "yes")?;
    expect_jsonpath(k, &web, "{.metadata.labels.tier}", "frontend")?;

    // Strategic merge keys containers by name: the sidecar is added and nginx stays. Without a
    // `$setElementOrder` directive upstream puts new items before the existing ones.
    let strategic = r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.36"}]}}}}"#;
    let out = k.ok(&["patch", "deploy", "web", "-n", NS, "-p", strategic])?;
    expect_line(&out, "deployment.apps/web patched")?;
    let containers = "{range .spec.template.spec.containers[*]}{.name}={.image} {end}";
    expect_jsonpath(
        k,
        &web,
        containers,
        "sidecar=busybox:1.36 nginx=nginx:1.26 ",
    )?;

    let editor = [("KUBE_EDITOR", "sed -i s/nginx:1.26/nginx:1.29/")];
    let out = k.run_with(&["edit", "deploy", "web", "-n", NS], &editor, None)?;
    ensure!(
        out.status.success(),
        "`kubectl edit` failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    expect_line(&out.stdout, "deployment.apps/web edited")?;
    expect_jsonpath(
        k,
        &web,
        containers,
        "sidecar=busybox:1.36 nginx=nginx:1.29 ",
    )
}

fn discovery(k: &Kubectl, user: &str) -> anyhow::Result<()> {
    let list = k.ok(&["api-resources"])?;
    expect_header(
        &list,
        &["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"],
    )?;
    let row = list.lines().find(|l| l.starts_with("deployments "));
    let fields: Vec<&str> = row
        .map(|r| r.split_whitespace().collect())
        .unwrap_or_default();
    ensure!(
        fields == ["deployments", "deploy", "apps/v1", "true", "Deployment"],
        "api-resources row for deployments is {row:?}:\n{list}"
    );

    let text = k.ok(&["explain", "deployment.spec.replicas"])?;
    for want in [
        "FIELD: replicas <integer>",
        "DESCRIPTION:",
        "Number of desired pods",
    ] {
        ensure!(text.contains(want), "`explain` lacks {want:?}:\n{text}");
    }

    // Both send protobuf review bodies; `user` may do anything.
    let can = k.ok(&["auth", "can-i", "create", "deployments"])?;
    ensure!(can.trim() == "yes", "`auth can-i` answered {can:?}");
    let who = k.ok(&["auth", "whoami"])?;
    ensure!(
        who.contains(user),
        "`auth whoami` answered {who:?}, not {user}"
    );
    service_account_token(k)
}

/// `create token` posts a protobuf TokenRequest; the answer is a signed JWT for the account.
fn service_account_token(k: &Kubectl) -> anyhow::Result<()> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    expect_line(
        &k.ok(&["create", "serviceaccount", "builder", "-n", NS])?,
        "serviceaccount/builder created",
    )?;
    let token = k.ok(&["create", "token", "builder", "-n", NS])?;
    let parts: Vec<&str> = token.trim().split('.').collect();
    ensure!(
        parts.len() == 3 && parts.iter().all(|p| !p.is_empty()),
        "`create token` printed {token:?}, not a three-part JWT"
    );
    let payload = URL_SAFE_NO_PAD
        .decode(parts[1])
        .context("the JWT payload is not base64url")?;
    let claims: serde_json::Value =
        serde_json::from_slice(&payload).context("the JWT payload is not JSON")?;
    let want = format!("system:serviceaccount:{NS}:builder");
    ensure!(
        claims["sub"] == want.as_str(),
        "the token's sub is {}, expected {want}",
        claims["sub"]
    );
    Ok(())
}

fn custom_resource(k: &Kubectl) -> anyhow::Result<()> {
    let out = k.ok_stdin(&["apply", "-f", "-"], GUESTBOOK_CRD)?;
    expect_line(
        &out,
        "customresourcedefinition.apiextensions.k8s.io/guestbooks.webapp.my.domain created",
    )?;
    // A new CRD is served asynchronously (upstream too), so the first apply may not find the kind.
    let out = poll::until("the Guestbook kind to be served", WAIT, || {
        match k.run_with(&["apply", "-n", NS, "-f", "-"], &[], Some(GUESTBOOK)) {
            Ok(out) if out.status.success() => Ok(out.stdout),
            Ok(out) => Err(format!("exit {}: {}", out.code(), out.stderr)),
            Err(e) => Err(format!("{e:#}")),
        }
    })?;
    expect_line(&out, "guestbook.webapp.my.domain/guestbook-sample created")?;
    let table = k.ok(&["get", "guestbooks", "-n", NS])?;
    ensure!(
        table.lines().any(|l| l.starts_with("guestbook-sample ")),
        "no row for guestbook-sample:\n{table}"
    );
    expect_jsonpath(
        k,
        &["guestbook", "guestbook-sample"],
        "{.spec.size} {.spec.alias}",
        "2 Name",
    )
}

fn dry_run_and_diff(k: &Kubectl) -> anyhow::Result<()> {
    let web = ["deploy", "web"];
    let before = jsonpath(k, &web, "{.metadata.resourceVersion} {.spec.replicas}")?;
    let changed = deployment("web", "nginx:1.29", 9);
    let out = k.ok_stdin(
        &["apply", "--dry-run=server", "-n", NS, "-f", "-"],
        &changed,
    )?;
    expect_line(&out, "deployment.apps/web configured (server dry run)")?;
    let after = jsonpath(k, &web, "{.metadata.resourceVersion} {.spec.replicas}")?;
    ensure!(
        before == after,
        "dry run changed the object: {before:?} became {after:?}"
    );

    let out = k.run_with(&["diff", "-n", NS, "-f", "-"], &[], Some(&changed))?;
    ensure!(
        out.code() == 1 && out.stdout.contains("+  replicas: 9"),
        "`diff` with a change must exit 1 and show it; exit {}\nstdout:\n{}\nstderr:\n{}",
        out.code(),
        out.stdout,
        out.stderr
    );
    let live = k.ok(&["get", "deploy", "web", "-n", NS, "-o", "yaml"])?;
    let out = k.run_with(&["diff", "-n", NS, "-f", "-"], &[], Some(&live))?;
    ensure!(
        out.code() == 0 && out.stdout.is_empty(),
        "`diff` of the live object must exit 0 silently; exit {}\nstdout:\n{}\nstderr:\n{}",
        out.code(),
        out.stdout,
        out.stderr
    );
    Ok(())
}

fn bad_input(k: &Kubectl) -> anyhow::Result<()> {
    let out = k.fails(&["create", "configmap", "Bad_Name", "-n", NS], None)?;
    ensure!(
        out.stderr.contains("Invalid value"),
        "no `Invalid value` for Bad_Name:\n{}",
        out.stderr
    );

    let typo = deployment("typo", "nginx:1.25", 1).replace("  replicas: 1", "  replica: 1");
    let out = k.fails(&["apply", "-n", NS, "-f", "-"], Some(&typo))?;
    ensure!(
        out.stderr.contains(r#"unknown field "spec.replica""#),
        "no `unknown field \"spec.replica\"` error:\n{}",
        out.stderr
    );
    let out = k.fails(&["get", "deploy", "nope", "-n", NS], None)?;
    ensure!(
        out.stderr.contains("NotFound")
            && out.stderr.contains(r#"deployments.apps "nope" not found"#),
        "`get deploy nope` does not say NotFound:\n{}",
        out.stderr
    );
    Ok(())
}

fn deletion(k: &Kubectl) -> anyhow::Result<()> {
    expect_line(
        &k.ok(&["delete", "deploy", "web", "-n", NS])?,
        r#"deployment.apps "web" deleted"#,
    )?;
    let out = k.fails(&["get", "deploy", "web", "-n", NS], None)?;
    ensure!(
        out.stderr.contains("NotFound"),
        "deleted deployment still readable:\n{}",
        out.stderr
    );

    expect_line(
        &k.ok(&["delete", "namespace", NS])?,
        r#"namespace "e2e" deleted"#,
    )?;
    wait_not_found(k, &["get", "configmap", "settings", "-n", NS])?;
    wait_not_found(k, &["get", "guestbook", "guestbook-sample", "-n", NS])?;
    wait_not_found(k, &["get", "namespace", NS])
}

/// A Deployment manifest with one container named `nginx`.
fn deployment(name: &str, image: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: nginx
        image: {image}
"
    )
}

fn jsonpath(k: &Kubectl, object: &[&str], path: &str) -> anyhow::Result<String> {
    let jsonpath = format!("jsonpath={path}");
    let mut args = vec!["get"];
    args.extend_from_slice(object);
    args.extend_from_slice(&["-n", NS, "-o", &jsonpath]);
    k.ok(&args)
}

fn expect_jsonpath(k: &Kubectl, object: &[&str], path: &str, want: &str) -> anyhow::Result<()> {
    let got = jsonpath(k, object, path)?;
    ensure!(
        got == want,
        "{} {path} is {got:?}, expected {want:?}",
        object.join("/")
    );
    Ok(())
}

fn expect_line(output: &str, want: &str) -> anyhow::Result<()> {
    ensure!(
        output.lines().any(|l| l.trim_end() == want),
        "expected the line {want:?}, got:\n{output}"
    );
    Ok(())
}

fn expect_header(table: &str, columns: &[&str]) -> anyhow::Result<()> {
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    ensure!(
        header == columns,
        "table header is {header:?}, expected {columns:?}:\n{table}"
    );
    Ok(())
}

/// Polls `kubectl ARGS` until it fails with NotFound.
fn wait_not_found(k: &Kubectl, args: &[&str]) -> anyhow::Result<()> {
    poll::until(
        &format!("`kubectl {}` to say NotFound", args.join(" ")),
        WAIT,
        || match k.run(args) {
            Ok(out) if !out.status.success() && out.stderr.contains("NotFound") => Ok(()),
            Ok(out) => Err(format!(
                "exit {}\nstdout:\n{}\nstderr:\n{}",
                out.code(),
                out.stdout,
                out.stderr
            )),
            Err(e) => Err(format!("{e:#}")),
        },
    )
}
