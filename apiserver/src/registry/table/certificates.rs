//! The CertificateSigningRequest printer: who asked, of which signer, and how it was decided.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::age;
use super::fields::{int, items, name, non_empty, text};
use super::{AGE, Column, NAME, Printer, col};

pub(super) const PRINTERS: &[Printer] = &[Printer {
    group: "certificates.k8s.io",
    kind: "CertificateSigningRequest",
    columns: CSR,
    cells: csr,
}];

const CSR: &[Column] = &[
    NAME,
    AGE,
    col("SignerName", "string", "The name of the signer."),
    col("Requestor", "string", "The user who asked."),
    col(
        "RequestedDuration",
        "string",
        "How long the certificate should be valid for.",
    ),
    col(
        "Condition",
        "string",
        "The decisions made on the request, and whether it was issued.",
    ),
];

fn csr(request: &Value, now: Timestamp) -> Vec<Value> {
    let duration = int(request, "/spec/expirationSeconds").map_or("<none>".into(), |s| {
        age::human_duration(SignedDuration::from_secs(s))
    });
    vec![
        name(request).into(),
        age::created(request, now),
        text(request, "/spec/signerName").into(),
        text(request, "/spec/username").into(),
        duration.into(),
        condition(request).into(),
    ]
}

/// `Pending`, or the decisions (`Approved`, `Denied`, `Failed`) followed by `Issued` once
/// the certificate is there, as kubectl shows them.
fn condition(request: &Value) -> String {
    let mut shown: Vec<&str> = items(request, "/status/conditions")
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    if non_empty(request, "/status/certificate").is_some() {
        shown.push("Issued");
    }
    if shown.is_empty() {
        "Pending".into()
    } else {
        shown.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_shows_its_decisions_then_issued() {
        let pending = json!({"spec": {}});
        assert_eq!(condition(&pending), "Pending");
        let issued =
            json!({"status": {"conditions": [{"type": "Approved"}], "certificate": "Q0VSVA=="}});
        assert_eq!(condition(&issued), "Approved,Issued");
        let denied = json!({"status": {"conditions": [{"type": "Denied"}]}});
        assert_eq!(condition(&denied), "Denied");
    }
}
