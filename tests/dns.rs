//! The federation's DNS end to end, queried with the real `dig` on a real `karmada up`: a
//! Service exported from member1 and member2 resolves to both; SRV, per-cluster and negative
//! answers are right; a member with no ready pods, and a member that is killed, leave the
//! answers (a rebalance after it returns brings it back); a malformed packet harms nothing. Importing the Service into member3 gives
//! member3's own clients every exporting cluster's endpoints, the lost one's marked not ready.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use anyhow::{Context, ensure};
use support::dig::{Answer, dig};
use support::poll;
use support::up::{Stopped, Up, member_processes, signal, until_cluster_ready};

/// Longest a change may take to reach the answers (watch-driven; a debug build under load).
const DEADLINE: Duration = Duration::from_secs(60);
/// The controller-manager's heartbeat grace period plus what a failover may take beyond it.
const FAILOVER: Duration = Duration::from_secs(45);

const SERVICE: &str = "hello.default.svc.clusterset.local";

/// member1 serves no ready pod of hello.
const NO_HELLO_ON_MEMBER1: &str = "apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: {name: no-hello-on-member1}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: hello}]
  overrideRules:
    - targetCluster: {clusterNames: [member1]}
      overriders:
        plaintext: [{path: /spec/replicas, operator: replace, value: 0}]
";

fn dns_address(up: &Up) -> anyhow::Result<SocketAddr> {
    let endpoints = up.endpoints()?;
    let dns = endpoints["dns"]
        .as_str()
        .with_context(|| format!("endpoints.json has no dns: {endpoints}"))?;
    Ok(dns.parse()?)
}

/// The ClusterIP of hello in `member`.
fn cluster_ip(up: &Up, member: &str) -> anyhow::Result<String> {
    poll::until(&format!("hello's ClusterIP in {member}"), DEADLINE, || {
        let ip = up
            .kubectl
            .ok(&[
                "--context",
                member,
                "get",
                "service",
                "hello",
                "-o",
                "jsonpath={.spec.clusterIP}",
            ])
            .map_err(|e| e.to_string())?;
        if ip.is_empty() {
            Err("no ClusterIP yet".into())
        } else {
            Ok(ip)
        }
    })
}

/// Spreads hello over member1 and member2 again once member2 is back.
const SPREAD_HELLO_AGAIN: &str = "apiVersion: apps.karmada.io/v1alpha1
kind: WorkloadRebalancer
metadata: {name: spread-hello-again}
spec:
  workloads: [{apiVersion: apps/v1, kind: Deployment, namespace: default, name: hello}]
";

/// The addresses of `member`'s EndpointSlices selected by `labels` (sorted), with each
/// endpoint's `ready` condition.
fn endpoints(up: &Up, member: &str, labels: &str) -> Result<Vec<(String, String)>, String> {
    let jsonpath =
        r#"jsonpath={range .items[*].endpoints[*]}{.addresses[0]} {.conditions.ready}{"\n"}{end}"#;
    let out = up
        .kubectl
        .ok(&[
            "--context",
            member,
            "get",
            "endpointslices",
            "-l",
            labels,
            "-o",
            jsonpath,
        ])
        .map_err(|e| e.to_string())?;
    let mut found: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, r)| (a.to_string(), r.to_string()))
        .collect();
    found.sort();
    Ok(found)
}

/// hello is imported into member3 (which runs none of it): member3's derived-hello Service
/// has an IP of its own and member1's and member2's endpoints.
fn imported_into_member3(up: &Up) -> anyhow::Result<()> {
    up.kubectl
        .ok(&["apply", "-f", "samples/service-import.yaml"])?;
    let exported = |member: &str| endpoints(up, member, "kubernetes.io/service-name=hello");
    let want = poll::until("hello's endpoints in member1 and member2", DEADLINE, || {
        let mut both = exported("member1")?;
        both.extend(exported("member2")?);
        both.sort();
        if both.len() == 2 {
            Ok(both)
        } else {
            Err(format!("{both:?}"))
        }
    })?;
    poll::until(
        "member3 importing both members' endpoints",
        DEADLINE,
        || {
            let imported = endpoints(up, "member3", "kubernetes.io/service-name=derived-hello")?;
            if imported == want {
                Ok(())
            } else {
                Err(format!("{imported:?}, want {want:?}"))
            }
        },
    )
    .with_context(|| up.logs())?;
    let ip = up.kubectl.ok(&[
        "--context",
        "member3",
        "get",
        "service",
        "derived-hello",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ])?;
    ensure!(
        !ip.is_empty() && ip != "None",
        "derived-hello has no ClusterIP: {ip:?}"
    );
    let import = up.kubectl.ok(&[
        "--context",
        "member3",
        "get",
        "serviceimport",
        "hello",
        "-o",
        "name",
    ])?;
    ensure!(
        import.contains("hello"),
        "member3 has no ServiceImport: {import}"
    );
    Ok(())
}

/// Waits until `name` `kind` answers exactly `want` (sorted record data).
fn until_answers(
    up: &Up,
    dns: SocketAddr,
    name: &str,
    kind: &str,
    want: &[&str],
    within: Duration,
) -> anyhow::Result<Answer> {
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    poll::until(&format!("{name} {kind} answering {want:?}"), within, || {
        let answer = dig(dns, name, kind, false).map_err(|e| e.to_string())?;
        if answer.status == "NOERROR" && answer.data(kind) == want {
            Ok(answer)
        } else {
            Err(format!("{answer:?}"))
        }
    })
    .with_context(|| up.logs())
}

#[test]
fn dns_answers_exported_services_from_ready_clusters_only() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let up = Up::start(dir.path(), &["--port", "0"])?;
    let dns = dns_address(&up)?;
    up.kubectl
        .ok(&["apply", "-f", "samples/service-export.yaml"])?;
    let (ip1, ip2) = (cluster_ip(&up, "member1")?, cluster_ip(&up, "member2")?);

    // Both members' copies, authoritatively, over UDP and TCP.
    let both = until_answers(&up, dns, SERVICE, "A", &[&ip1, &ip2], DEADLINE)?;
    ensure!(both.flags.contains("aa"), "not authoritative: {both:?}");
    let tcp = dig(dns, SERVICE, "A", true)?;
    ensure!(tcp.data("A") == both.data("A"), "TCP answered {tcp:?}");
    // One cluster's copy by name.
    let one = dig(dns, &format!("member1.{SERVICE}"), "A", false)?;
    ensure!(one.data("A") == [ip1.clone()], "member1's name: {one:?}");
    // SRV for the named port, one target per cluster.
    let srv = dig(dns, &format!("_http._tcp.{SERVICE}"), "SRV", false)?;
    let targets: Vec<String> = srv
        .data("SRV")
        .iter()
        .map(|r| r.split_whitespace().skip(2).collect::<Vec<_>>().join(" "))
        .collect();
    ensure!(
        targets
            == [
                format!("80 member1.{SERVICE}."),
                format!("80 member2.{SERVICE}.")
            ],
        "SRV: {srv:?}"
    );
    // Negative answers: no such name, and a name without that type, each with the SOA.
    let missing = dig(dns, "nope.default.svc.clusterset.local", "A", false)?;
    ensure!(
        missing.status == "NXDOMAIN" && missing.authority == ["SOA"],
        "unknown name: {missing:?}"
    );
    let no_data = dig(dns, SERVICE, "AAAA", false)?;
    ensure!(
        no_data.status == "NOERROR" && no_data.records.is_empty() && no_data.authority == ["SOA"],
        "no IPv6: {no_data:?}"
    );
    let apex = dig(dns, "clusterset.local", "SOA", false)?;
    ensure!(apex.data("SOA").len() == 1, "apex SOA: {apex:?}");
    let outside = dig(dns, "example.com", "A", false)?;
    ensure!(outside.status == "REFUSED", "outside the zone: {outside:?}");

    // Garbage and a truncated query get FORMERR or nothing, and the server answers on.
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(Duration::from_secs(1)))?;
    socket.send_to(b"\xff\x00garbage", dns)?;
    let mut header_only = vec![0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0];
    header_only.extend_from_slice(b"\x05hel");
    socket.send_to(&header_only, dns)?;
    let mut reply = [0u8; 512];
    if let Ok((n, _)) = socket.recv_from(&mut reply) {
        ensure!(n >= 12, "a reply shorter than a header");
        ensure!(
            reply[..2] == [0x12, 0x34] && reply[3] & 0x0f == 1,
            "not a FORMERR for the truncated query: {:?}",
            &reply[..n]
        );
    }
    ensure!(
        dig(dns, SERVICE, "A", false)?.data("A").len() == 2,
        "the server stopped answering after a malformed packet"
    );
    imported_into_member3(&up)?;

    // member1 keeps its copy of the Service but no ready pod: it leaves the answers.
    up.kubectl
        .ok_stdin(&["apply", "-f", "-"], NO_HELLO_ON_MEMBER1)?;
    until_answers(&up, dns, SERVICE, "A", &[&ip2], DEADLINE)?;
    up.kubectl
        .ok(&["delete", "overridepolicy", "no-hello-on-member1"])?;
    until_answers(&up, dns, SERVICE, "A", &[&ip1, &ip2], DEADLINE)?;

    // member2 is lost: it and its agent are killed, with the `karmada up` supervisor paused
    // so it does not restart them. Its copy leaves the answers within the failover time, and
    // member3 marks its imported endpoints not ready.
    let needle = dir.path().to_string_lossy().into_owned();
    let supervisor = Stopped::stop(up.pid())?;
    for pid in member_processes(&needle, "member2")? {
        signal(pid, "KILL")?;
    }
    until_answers(&up, dns, SERVICE, "A", &[&ip1], FAILOVER)?;
    poll::until(
        "member3 to mark member2's endpoints not ready",
        DEADLINE,
        || {
            let from_member2 = endpoints(
                &up,
                "member3",
                "kubernetes.io/service-name=derived-hello,multicluster.kubernetes.io/source-cluster=member2",
            )?;
            if !from_member2.is_empty() && from_member2.iter().all(|(_, ready)| ready == "false") {
                Ok(())
            } else {
                Err(format!("{from_member2:?}"))
            }
        },
    )?;
    // The supervisor restarts member2 on its own store; once it is Ready, a rebalance spreads
    // hello over both members again, and the answers follow.
    drop(supervisor);
    until_cluster_ready(&up.kubectl, "member2").context("member2 Ready again")?;
    up.kubectl
        .ok_stdin(&["apply", "-f", "-"], SPREAD_HELLO_AGAIN)?;
    until_answers(&up, dns, SERVICE, "A", &[&ip1, &ip2], DEADLINE)?;
    Ok(())
}
