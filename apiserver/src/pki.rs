//! The cluster's certificate authority: an ECDSA P-256 CA made on first start, kept in the data
//! directory and reused on every later start, whose certificate is what in-cluster clients
//! trust (the `kube-root-ca.crt` ConfigMap every namespace carries).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};

/// File names inside the CA directory, as kubeadm names them.
const CERT_FILE: &str = "ca.crt";
const KEY_FILE: &str = "ca.key";
/// How long a new CA is valid, in years (kubeadm: 10).
const VALID_YEARS: i16 = 10;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a PEM {what}; remove {dir} to make a new CA (clients holding the old CA will have to be given the new one)",
        dir = .path.parent().map_or_else(String::new, |d| d.display().to_string())
    )]
    Malformed { path: PathBuf, what: &'static str },
    #[error("{0} exists without {1}; restore it or remove both to make a new CA")]
    HalfPresent(PathBuf, PathBuf),
    #[error("cannot generate the cluster CA: {0}")]
    Generate(#[from] rcgen::Error),
}

/// A CA certificate and its private key, both PEM.
#[derive(Clone)]
pub struct ClusterCa {
    pub cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key never reaches a log.
        f.debug_struct("ClusterCa").finish_non_exhaustive()
    }
}

impl ClusterCa {
    /// Makes a new CA named `common_name`, valid from today for ten years.
    pub fn generate(common_name: &str) -> Result<ClusterCa, Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, common_name);
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let today = jiff::Zoned::now()
            .with_time_zone(jiff::tz::TimeZone::UTC)
            .date();
        let (month, day) = (today.month().unsigned_abs(), today.day().unsigned_abs());
        params.not_before = date_time_ymd(today.year().into(), month, day);
        params.not_after = date_time_ymd((today.year() + VALID_YEARS).into(), month, day.min(28));
        let cert = params.self_signed(&key)?;
        Ok(ClusterCa {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The CA kept in `dir`, made and saved there (key readable by the owner only) when the
    /// directory holds none yet.
    pub fn load_or_create(dir: &Path, common_name: &str) -> Result<ClusterCa, Error> {
        let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => {
                let read = |path: &Path| {
                    std::fs::read_to_string(path).map_err(|source| Error::Read {
                        path: path.to_owned(),
                        source,
                    })
                };
                let (cert_pem, key_pem) = (read(&cert_path)?, read(&key_path)?);
                if !cert_pem.contains("-----BEGIN CERTIFICATE-----") {
                    return Err(Error::Malformed {
                        path: cert_path,
                        what: "certificate",
                    });
                }
                if KeyPair::from_pem(&key_pem).is_err() {
                    return Err(Error::Malformed {
                        path: key_path,
                        what: "private key",
                    });
                }
                Ok(ClusterCa { cert_pem, key_pem })
            }
            (true, false) => Err(Error::HalfPresent(cert_path, key_path)),
            (false, true) => Err(Error::HalfPresent(key_path, cert_path)),
            (false, false) => {
                let ca = ClusterCa::generate(common_name)?;
                let write = |path: &Path, text: &str, mode: u32| {
                    write_file(path, text, mode).map_err(|source| Error::Write {
                        path: path.to_owned(),
                        source,
                    })
                };
                std::fs::create_dir_all(dir).map_err(|source| Error::Write {
                    path: dir.to_owned(),
                    source,
                })?;
                // Key first: a crash between the two writes leaves a half CA that is refused
                // with a clear message rather than a certificate without its key in use.
                write(&key_path, &ca.key_pem, 0o600)?;
                write(&cert_path, &ca.cert_pem, 0o644)?;
                Ok(ca)
            }
        }
    }

    /// The private key, PEM, for signing serving and client certificates.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }
}

/// Writes through a temporary file and a rename, so a crash never leaves a torn file.
pub(crate) fn write_file(path: &Path, text: &str, mode: u32) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_ca_is_saved_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("pki");
        let first = ClusterCa::load_or_create(&pki, "member1-ca").unwrap();
        assert!(first.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(first.key_pem().contains("PRIVATE KEY"));
        let again = ClusterCa::load_or_create(&pki, "member1-ca").unwrap();
        assert_eq!(again.cert_pem, first.cert_pem);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(pki.join(KEY_FILE)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        assert!(format!("{first:?}").find("PRIVATE").is_none());
    }

    #[test]
    fn broken_or_half_cas_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CERT_FILE), "-----BEGIN CERTIFICATE-----").unwrap();
        let half = ClusterCa::load_or_create(dir.path(), "x").unwrap_err();
        assert!(half.to_string().contains("remove both"), "{half}");
        std::fs::write(dir.path().join(KEY_FILE), "not a key").unwrap();
        let bad = ClusterCa::load_or_create(dir.path(), "x").unwrap_err();
        assert!(
            bad.to_string().contains("is not a PEM private key"),
            "{bad}"
        );
    }

    #[test]
    fn generated_cas_are_distinct() {
        let a = ClusterCa::generate("a").unwrap();
        let b = ClusterCa::generate("a").unwrap();
        assert_ne!(a.cert_pem, b.cert_pem);
    }
}
