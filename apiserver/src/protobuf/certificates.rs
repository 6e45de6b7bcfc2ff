//! Field tables for certificates.k8s.io/v1 (CertificateSigningRequest, which `kubectl
//! certificate approve` sends).

use k8s_pb::api::certificates::v1 as certificates_v1;
use serde_json::Value;

use super::Error;
use super::json::{ToJson, messages};

messages! {
    "certificates.v1" in certificates_v1;

    CertificateSigningRequest { metadata, spec, status }
    CertificateSigningRequestSpec {
        request, signer_name: "signerName", expiration_seconds: "expirationSeconds", usages,
        username, uid, groups, extra,
    }
    CertificateSigningRequestStatus { conditions, certificate }
    CertificateSigningRequestCondition {
        r#type: "type", status, reason, message, last_update_time: "lastUpdateTime",
        last_transition_time: "lastTransitionTime",
    }
}

/// `ExtraValue` is a Go `[]string`; protobuf wraps it in a message, JSON writes the list.
impl ToJson for certificates_v1::ExtraValue {
    fn to_json(self) -> Result<Value, Error> {
        Ok(Value::Array(
            self.items.into_iter().map(Value::String).collect(),
        ))
    }
}
