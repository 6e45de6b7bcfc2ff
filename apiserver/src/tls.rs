//! HTTPS for the apiserver: a serving certificate issued by the cluster CA for the addresses
//! clients use, and client certificates (optional) verified against the same CA, whose common
//! name is the user and whose organizations are the groups, as Kubernetes reads them.

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::auth::attributes::User;
use crate::pki::ClusterCa;

/// How long issued certificates are valid (kubeadm: one year).
const VALID_DAYS: i64 = 365;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot issue a certificate: {0}")]
    Issue(#[from] rcgen::Error),
    #[error("the cluster CA certificate or key does not parse: {0}")]
    Ca(String),
    #[error("cannot build the TLS configuration: {0}")]
    Config(String),
}

/// A certificate and its key, in PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Issued {
    // The key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// What an HTTPS server needs: its rustls configuration, and the CA clients should trust.
pub struct Tls {
    pub config: Arc<rustls::ServerConfig>,
    pub ca_pem: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

fn issuer(ca: &ClusterCa) -> Result<Issuer<'static, KeyPair>, Error> {
    let key = KeyPair::from_pem(ca.key_pem()).map_err(|e| Error::Ca(e.to_string()))?;
    Issuer::from_ca_cert_pem(&ca.cert_pem, key).map_err(|e| Error::Ca(e.to_string()))
}

fn validity(params: &mut CertificateParams) {
    let now = jiff::Timestamp::now();
    let day = |t: jiff::Timestamp| {
        let date = t.to_zoned(jiff::tz::TimeZone::UTC).date();
        rcgen::date_time_ymd(
            date.year().into(),
            date.month().unsigned_abs(),
            date.day().unsigned_abs(),
        )
    };
    // From yesterday, so a client whose clock is a little behind still accepts it.
    params.not_before = day(now - jiff::SignedDuration::from_hours(24));
    params.not_after = day(now + jiff::SignedDuration::from_hours(24 * VALID_DAYS));
}

/// A serving certificate for `hosts` (IP addresses or DNS names) signed by `ca`.
pub fn serving_certificate(ca: &ClusterCa, hosts: &[String]) -> Result<Issued, Error> {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "karmada-apiserver");
    params.distinguished_name = name;
    params.subject_alt_names = hosts
        .iter()
        .map(|h| match h.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ok(SanType::DnsName(h.clone().try_into()?)),
        })
        .collect::<Result<_, rcgen::Error>>()?;
    issue(ca, params, ExtendedKeyUsagePurpose::ServerAuth)
}

/// Signs `params` with `ca` for `purpose`, with a new key and the usual validity.
fn issue(
    ca: &ClusterCa,
    mut params: CertificateParams,
    purpose: ExtendedKeyUsagePurpose,
) -> Result<Issued, Error> {
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![purpose];
    validity(&mut params);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer(ca)?)?;
    Ok(Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Certificate parameters naming `user` (CN) in `group` (O).
fn subject(user: &str, group: Option<&str>) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, user);
    if let Some(group) = group {
        name.push(DnType::OrganizationName, group);
    }
    params.distinguished_name = name;
    params
}

/// A client certificate for `user` (CN) in `group` (O), signed by `ca`. (Kubernetes reads
/// every O as a group; the certificate library writes at most one.)
pub fn client_certificate(
    ca: &ClusterCa,
    user: &str,
    group: Option<&str>,
) -> Result<Issued, Error> {
    issue(
        ca,
        subject(user, group),
        ExtendedKeyUsagePurpose::ClientAuth,
    )
}

/// A new key and a certificate signing request (PEM, both) for `user` (CN) in `group` (O).
pub fn client_request(user: &str, group: Option<&str>) -> Result<Issued, Error> {
    let key = KeyPair::generate()?;
    let request = subject(user, group).serialize_request(&key)?;
    Ok(Issued {
        cert_pem: request.pem()?,
        key_pem: key.serialize_pem(),
    })
}

/// The subject (CN and O) a certificate signing request (PEM) asks for.
pub fn requested_subject(request_pem: &str) -> Result<(String, Option<String>), Error> {
    let request = rcgen::CertificateSigningRequestParams::from_pem(request_pem)?;
    // Names in other string encodings are taken for none: nothing this server issues uses them.
    let text = |dn_type: DnType| {
        request
            .params
            .distinguished_name
            .get(&dn_type)
            .and_then(|value| match value {
                rcgen::DnValue::PrintableString(s) => Some(s.to_string()),
                rcgen::DnValue::Utf8String(s) => Some(s.clone()),
                _ => None,
            })
    };
    let common_name = text(DnType::CommonName).unwrap_or_default();
    Ok((common_name, text(DnType::OrganizationName)))
}

/// A client certificate (PEM) signed by `ca` for the subject and public key of a certificate
/// signing request (PEM). Nothing else the request asks for (alternative names, CA rights,
/// other usages) is granted.
pub fn sign_client_request(ca: &ClusterCa, request_pem: &str) -> Result<String, Error> {
    let mut request = rcgen::CertificateSigningRequestParams::from_pem(request_pem)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = request.params.distinguished_name.clone();
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    validity(&mut params);
    request.params = params;
    Ok(request.signed_by(&issuer(ca)?)?.pem())
}

impl Tls {
    /// Serves `serving` and accepts (but does not require) client certificates from `ca`.
    pub fn new(ca: &ClusterCa, serving: &Issued) -> Result<Tls, Error> {
        let config_err = |e: &dyn std::fmt::Display| Error::Config(e.to_string());
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes()) {
            roots
                .add(cert.map_err(|e| config_err(&e))?)
                .map_err(|e| config_err(&e))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|e| config_err(&e))?;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(serving.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| config_err(&e))?;
        let key = PrivateKeyDer::from_pem_slice(serving.key_pem.as_bytes())
            .map_err(|e| config_err(&e))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config_err(&e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| config_err(&e))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            ca_pem: ca.cert_pem.clone(),
        })
    }
}

/// The user a verified client certificate names: its common name, with its organizations as
/// groups; `None` when it has no common name.
pub fn certificate_user(cert: &CertificateDer<'_>) -> Option<User> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let subject = parsed.subject();
    let name = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups: Vec<&str> = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .collect();
    Some(User::new(&name, &groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    #[test]
    fn client_certificates_name_the_user_and_groups() {
        let ca = ClusterCa::generate("test-ca").unwrap();
        let issued = client_certificate(&ca, "jane", Some("system:masters")).unwrap();
        let user = certificate_user(&der(&issued.cert_pem)).unwrap();
        assert_eq!(user.name, "jane");
        assert_eq!(user.groups, ["system:masters", "system:authenticated"]);
    }

    #[test]
    fn a_serving_certificate_builds_a_server_configuration() {
        let ca = ClusterCa::generate("test-ca").unwrap();
        let serving = serving_certificate(&ca, &["127.0.0.1".into(), "localhost".into()]).unwrap();
        let tls = Tls::new(&ca, &serving).unwrap();
        assert_eq!(tls.ca_pem, ca.cert_pem);
        let cert = der(&serving.cert_pem);
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).unwrap();
        let sans = parsed.subject_alternative_name().unwrap().unwrap().value;
        assert_eq!(sans.general_names.len(), 2);
    }
}
