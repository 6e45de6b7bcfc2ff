//! DNS queries with the real `dig` (dnsutils), parsed into the status and the answer records.

use std::net::SocketAddr;
use std::process::Command;

use anyhow::{Context, bail};

/// What `dig` got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `NOERROR`, `NXDOMAIN`, `REFUSED`, ...
    pub status: String,
    /// The header flags, e.g. `qr aa rd`.
    pub flags: String,
    /// The answer section's records as `TYPE DATA` (`A 10.1.0.5`, `SRV 0 50 80 target.`),
    /// sorted.
    pub records: Vec<String>,
    /// The authority section's record types (`SOA` for a negative answer).
    pub authority: Vec<String>,
}

impl Answer {
    /// The data of the answer records of type `kind`, sorted.
    pub fn data(&self, kind: &str) -> Vec<String> {
        self.records
            .iter()
            .filter_map(|r| r.strip_prefix(kind)?.strip_prefix(' '))
            .map(String::from)
            .collect()
    }
}

/// `dig @server name type` over UDP (or TCP with `tcp`), one try, a short timeout.
pub fn dig(server: SocketAddr, name: &str, kind: &str, tcp: bool) -> anyhow::Result<Answer> {
    let mut command = Command::new("dig");
    command.args([
        &format!("@{}", server.ip()),
        "-p",
        &server.port().to_string(),
        name,
        kind,
        "+noall",
        "+comments",
        "+answer",
        "+authority",
        "+tries=1",
        "+time=2",
    ]);
    if tcp {
        command.arg("+tcp");
    }
    let out = command
        .output()
        .context("running dig (dnsutils); the DNS tests need it")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "dig {name} {kind} failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse(&text).with_context(|| format!("dig {name} {kind} printed:\n{text}"))
}

fn parse(text: &str) -> anyhow::Result<Answer> {
    let mut status = None;
    let mut flags = String::new();
    let mut records = Vec::new();
    let mut authority = Vec::new();
    let mut section = "";
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.split("status: ").nth(1) {
            status = Some(rest.split(',').next().unwrap_or_default().to_string());
        }
        if let Some(rest) = line.strip_prefix(";; flags: ") {
            flags = rest
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
        }
        if line.starts_with(";; ANSWER SECTION") {
            section = "answer";
        } else if line.starts_with(";; AUTHORITY SECTION") {
            section = "authority";
        } else if line.starts_with(";; ADDITIONAL SECTION") || line.starts_with(";; OPT") {
            section = "";
        }
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        // name ttl class type data...
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 {
            continue;
        }
        match section {
            "answer" => records.push(fields[3..].join(" ")),
            "authority" => authority.push(fields[3].to_string()),
            _ => {}
        }
    }
    records.sort();
    Ok(Answer {
        status: status.context("no status line")?,
        flags,
        records,
        authority,
    })
}

#[test]
fn dig_output_is_parsed() {
    let text = "; <<>> DiG 9.18 <<>> @127.0.0.1 -p 5353 hello.default.svc.clusterset.local A
;; global options: +cmd
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4242
;; flags: qr aa rd; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 1

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232

;; ANSWER SECTION:
hello.default.svc.clusterset.local. 5 IN A\t10.2.0.10
hello.default.svc.clusterset.local. 5 IN A\t10.1.0.10

;; AUTHORITY SECTION:
clusterset.local. 5 IN SOA ns.dns.clusterset.local. hostmaster.clusterset.local. 1 7200 1800 86400 5
";
    let answer = parse(text).unwrap();
    assert_eq!(answer.status, "NOERROR");
    assert_eq!(answer.flags, "qr aa rd");
    assert_eq!(answer.data("A"), ["10.1.0.10", "10.2.0.10"]);
    assert_eq!(answer.authority, ["SOA"]);
}
