//! Issues and verifies service-account tokens: ES256 JWTs signed by one key kept in storage.
//!
//! Every apiserver on the same storage must accept the tokens the others issue, so the key is
//! not generated per process: the first server to start stores it (PKCS#8, outside
//! `/registry/`, so no API can read it) and every later one loads it.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::storage::{self, Storage};

/// The `iss` of every token: what kube-apiserver calls itself by default in-cluster.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Where the signing key lives in storage. Outside `/registry/`, so neither the watch cache
/// nor any resource path ever reaches it.
pub const SIGNING_KEY: &str = "/karmada/serviceaccount-signing-key";

/// The JWS algorithm of every token: ECDSA on P-256 with SHA-256.
pub const ALGORITHM: &str = "ES256";

/// Clock skew tolerated between the issuing server and the one checking a token.
const LEEWAY_SECONDS: i64 = 60;

/// DER prefix of a P-256 `SubjectPublicKeyInfo`, followed by the 65-byte uncompressed point.
/// The key id hashes the whole PKIX form, as kube-apiserver derives its key ids.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Why a key could not be loaded, a token issued, or a token accepted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read or store the service-account signing key: {0}")]
    Storage(#[source] storage::Error),
    #[error(
        "the service-account signing key stored at {SIGNING_KEY} is unusable ({0}); delete that \
         key to have a new one generated (tokens issued with the old key then stop verifying)"
    )]
    CorruptKey(String),
    #[error("the service-account signing key disappeared from storage while it was being loaded")]
    KeyVanished,
    #[error("cannot generate a service-account signing key: the system random source failed")]
    Generate,
    #[error("cannot sign a service-account token: the system random source failed")]
    Sign,
    #[error("cannot encode the token claims: {0}")]
    EncodeClaims(#[source] serde_json::Error),
    #[error("the token is malformed: {0}")]
    Malformed(String),
    #[error("the token is signed with {0:?}; only {ALGORITHM} tokens are accepted")]
    UnsupportedAlgorithm(String),
    #[error("the token was signed by an unknown key (key id {0:?})")]
    UnknownKey(String),
    #[error("the token signature is invalid")]
    BadSignature,
    #[error("the token was issued by {found:?}, not by {expected:?}")]
    WrongIssuer { found: String, expected: String },
    #[error("the token expired at {0}")]
    Expired(String),
    #[error("the token is not valid before {0}")]
    NotYetValid(String),
}

/// A `{name, uid}` reference inside the `kubernetes.io` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub name: String,
    pub uid: String,
}

/// The private `kubernetes.io` claim: whose token it is and what it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    pub namespace: String,
    pub serviceaccount: ObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
}

/// The claims of a service-account token, as Kubernetes issues them (times in Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
}

impl Claims {
    /// Claims for `account` in `namespace`, valid from `now` for `lifetime` seconds, bound to
    /// nothing (set `kubernetes.pod`/`secret`/`node` to bind them).
    pub fn for_service_account(
        issuer: &str,
        namespace: &str,
        account: ObjectRef,
        audiences: Vec<String>,
        now: i64,
        lifetime: i64,
    ) -> Claims {
        Claims {
            iss: issuer.to_string(),
            sub: subject(namespace, &account.name),
            aud: audiences,
            exp: now + lifetime,
            iat: now,
            nbf: now,
            jti: uuid::Uuid::new_v4().to_string(),
            kubernetes: KubernetesClaims {
                namespace: namespace.to_string(),
                serviceaccount: account,
                pod: None,
                secret: None,
                node: None,
            },
        }
    }
}

/// The user name a service account authenticates as.
pub fn subject(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// The stored form of the signing key.
#[derive(Serialize, Deserialize)]
struct KeyDocument {
    algorithm: String,
    /// Base64 (standard alphabet) of the PKCS#8 v1 document ring generates.
    pkcs8: String,
}

/// Signs tokens and checks them against the one shared key.
pub struct TokenIssuer {
    key: EcdsaKeyPair,
    key_id: String,
    issuer: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.issuer)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// Loads the shared signing key from storage, creating it if no server has yet.
    pub async fn load_or_create(storage: &Arc<dyn Storage>) -> Result<Self, Error> {
        if let Some(kv) = storage.get(SIGNING_KEY).await.map_err(Error::Storage)? {
            return Self::from_document(&kv.value);
        }
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| Error::Generate)?;
        let document = KeyDocument {
            algorithm: ALGORITHM.into(),
            pkcs8: STANDARD.encode(pkcs8.as_ref()),
        };
        let bytes = serde_json::to_vec(&document).map_err(Error::EncodeClaims)?;
        match storage.create(SIGNING_KEY, Bytes::from(bytes)).await {
            Ok(_) => Self::from_pkcs8(pkcs8.as_ref()),
            // Another server started at the same moment and stored its key first: use that
            // one, so every server signs with the same key.
            Err(storage::Error::AlreadyExists(_)) => {
                let kv = storage
                    .get(SIGNING_KEY)
                    .await
                    .map_err(Error::Storage)?
                    .ok_or(Error::KeyVanished)?;
                Self::from_document(&kv.value)
            }
            Err(e) => Err(Error::Storage(e)),
        }
    }

    /// An issuer with a fresh key that lives only in memory (tests, throwaway servers).
    pub fn ephemeral() -> Result<Self, Error> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| Error::Generate)?;
        Self::from_pkcs8(pkcs8.as_ref())
    }

    fn from_document(bytes: &[u8]) -> Result<Self, Error> {
        let document: KeyDocument = serde_json::from_slice(bytes)
            .map_err(|e| Error::CorruptKey(format!("not a key document: {e}")))?;
        if document.algorithm != ALGORITHM {
            return Err(Error::CorruptKey(format!(
                "algorithm {:?}, expected {ALGORITHM}",
                document.algorithm
            )));
        }
        let pkcs8 = STANDARD
            .decode(document.pkcs8.as_bytes())
            .map_err(|e| Error::CorruptKey(format!("pkcs8 is not base64: {e}")))?;
        Self::from_pkcs8(&pkcs8)
    }

    /// An issuer signing with this P-256 PKCS#8 key.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, Error> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map_err(|e| Error::CorruptKey(format!("not a P-256 PKCS#8 key: {e}")))?;
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(key.public_key().as_ref());
        let key_id = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &spki));
        Ok(TokenIssuer {
            key,
            key_id,
            issuer: ISSUER.into(),
            rng,
        })
    }

    /// The `iss` this issuer writes and accepts.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `kid` of the signing key.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs `claims` into a compact JWS.
    pub fn issue(&self, claims: &Claims) -> Result<String, Error> {
        let header = json!({"alg": ALGORITHM, "kid": self.key_id, "typ": "JWT"});
        let header = serde_json::to_vec(&header).map_err(Error::EncodeClaims)?;
        let payload = serde_json::to_vec(claims).map_err(Error::EncodeClaims)?;
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| Error::Sign)?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }

    /// Checks a token's signature, issuer and validity period now. Audiences are the caller's
    /// to check: which ones to accept depends on who is asking.
    pub fn verify(&self, token: &str) -> Result<Claims, Error> {
        self.verify_at(token, jiff::Timestamp::now().as_second())
    }

    /// [`TokenIssuer::verify`] at the Unix time `now`.
    pub fn verify_at(&self, token: &str, now: i64) -> Result<Claims, Error> {
        let mut parts = token.split('.');
        let (Some(header_part), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::Malformed(
                "a JWS in compact form has exactly three dot-separated parts".into(),
            ));
        };
        let header: Value = decode_json(header_part, "header")?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        if alg != ALGORITHM {
            return Err(Error::UnsupportedAlgorithm(alg.into()));
        }
        if let Some(kid) = header.get("kid").and_then(Value::as_str)
            && kid != self.key_id
        {
            return Err(Error::UnknownKey(kid.into()));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|e| Error::Malformed(format!("the signature is not base64url: {e}")))?;
        // What was signed: `header.payload`, exactly as received.
        let signed = &token[..header_part.len() + 1 + payload.len()];
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.key.public_key().as_ref())
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| Error::BadSignature)?;
        let claims: Claims = decode_json(payload, "claims")?;
        if claims.iss != self.issuer {
            return Err(Error::WrongIssuer {
                found: claims.iss,
                expected: self.issuer.clone(),
            });
        }
        if now > claims.exp + LEEWAY_SECONDS {
            return Err(Error::Expired(rfc3339(claims.exp)));
        }
        if now + LEEWAY_SECONDS < claims.nbf {
            return Err(Error::NotYetValid(rfc3339(claims.nbf)));
        }
        Ok(claims)
    }

    /// The public key as a JWK Set (`/openid/v1/jwks`).
    pub fn jwks(&self) -> Value {
        // The uncompressed point: 0x04, then x and y, 32 bytes each.
        let point = self.key.public_key().as_ref();
        json!({"keys": [{
            "use": "sig",
            "kty": "EC",
            "kid": self.key_id,
            "crv": "P-256",
            "alg": ALGORITHM,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }]})
    }

    /// The OpenID provider metadata (`/.well-known/openid-configuration`).
    pub fn openid_configuration(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("{}/openid/v1/jwks", self.issuer),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
        })
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str, what: &str) -> Result<T, Error> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| Error::Malformed(format!("the {what} is not base64url: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::Malformed(format!("the {what} is not valid: {e}")))
}

/// Unix seconds as RFC 3339, as Kubernetes prints times.
pub fn rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::embedded::Embedded;

    const NOW: i64 = 1_750_000_000;

    fn issuer() -> TokenIssuer {
        TokenIssuer::ephemeral().expect("a key")
    }

    fn claims(issuer: &TokenIssuer) -> Claims {
        Claims::for_service_account(
            issuer.issuer(),
            "team-a",
            ObjectRef {
                name: "builder".into(),
                uid: "0b6f-uid".into(),
            },
            vec![ISSUER.into()],
            NOW,
            3600,
        )
    }

    fn payload(token: &str) -> Value {
        decode_json(token.split('.').nth(1).expect("payload"), "claims").expect("json")
    }

    #[test]
    fn issued_tokens_verify_with_kubernetes_claims() {
        let issuer = issuer();
        let claims = claims(&issuer);
        let token = issuer.issue(&claims).expect("signed");
        assert_eq!(issuer.verify_at(&token, NOW).expect("valid"), claims);
        let header: Value = decode_json(token.split('.').next().expect("header"), "h").expect("h");
        assert_eq!(
            header,
            json!({"alg": "ES256", "kid": issuer.key_id(), "typ": "JWT"})
        );
        let body = payload(&token);
        assert_eq!(body["sub"], "system:serviceaccount:team-a:builder");
        assert_eq!(body["exp"], NOW + 3600);
        assert_eq!(body["kubernetes.io"]["serviceaccount"]["uid"], "0b6f-uid");
        assert!(body["kubernetes.io"].get("pod").is_none());
        let signature = token.rsplit('.').next().expect("signature");
        assert_eq!(URL_SAFE_NO_PAD.decode(signature).expect("b64").len(), 64);
    }

    #[test]
    fn bound_claims_round_trip() {
        let issuer = issuer();
        let mut claims = claims(&issuer);
        claims.kubernetes.pod = Some(ObjectRef {
            name: "web-0".into(),
            uid: "pod-uid".into(),
        });
        let token = issuer.issue(&claims).expect("signed");
        assert_eq!(payload(&token)["kubernetes.io"]["pod"]["name"], "web-0");
        assert_eq!(issuer.verify_at(&token, NOW).expect("valid"), claims);
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let issuer = issuer();
        let token = issuer.issue(&claims(&issuer)).expect("signed");
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = payload(&token);
        forged["sub"] = json!("system:serviceaccount:kube-system:admin");
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).expect("json"));
        let cases = [
            (format!("{}.{forged}.{}", parts[0], parts[2]), "signature"),
            (format!("{}.{}", parts[0], parts[1]), "three"),
            (format!("{token}.x"), "three"),
            (format!("{}.{}.!!", parts[0], parts[1]), "base64url"),
        ];
        for (bad, why) in cases {
            let err = issuer.verify_at(&bad, NOW).expect_err(why).to_string();
            assert!(err.contains(why), "{why}: {err}");
        }
        let other = TokenIssuer::ephemeral().expect("key");
        let foreign = other.issue(&claims(&other)).expect("signed");
        assert!(matches!(
            issuer.verify_at(&foreign, NOW),
            Err(Error::UnknownKey(_))
        ));
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        assert!(matches!(
            issuer.verify_at(&format!("{none}.{}.", parts[1]), NOW),
            Err(Error::UnsupportedAlgorithm(alg)) if alg == "none"
        ));
    }

    #[test]
    fn validity_period_and_issuer_are_enforced() {
        let issuer = issuer();
        let token = issuer.issue(&claims(&issuer)).expect("signed");
        let exp = NOW + 3600;
        for (now, valid) in [
            (NOW, true),
            (exp + LEEWAY_SECONDS, true),
            (exp + LEEWAY_SECONDS + 1, false),
            (NOW - LEEWAY_SECONDS, true),
            (NOW - LEEWAY_SECONDS - 1, false),
        ] {
            assert_eq!(issuer.verify_at(&token, now).is_ok(), valid, "at {now}");
        }
        assert!(matches!(
            issuer.verify_at(&token, exp + 3600),
            Err(Error::Expired(at)) if at == rfc3339(exp)
        ));
        let mut foreign = claims(&issuer);
        foreign.iss = "https://elsewhere.example".into();
        let token = issuer.issue(&foreign).expect("signed");
        assert!(matches!(
            issuer.verify_at(&token, NOW),
            Err(Error::WrongIssuer { .. })
        ));
    }

    #[test]
    fn jwks_publishes_the_public_point() {
        let issuer = issuer();
        let set = issuer.jwks();
        let key = &set["keys"][0];
        for (field, want) in [
            ("kty", "EC"),
            ("crv", "P-256"),
            ("use", "sig"),
            ("alg", "ES256"),
        ] {
            assert_eq!(key[field], want, "{field}");
        }
        assert_eq!(key["kid"], issuer.key_id());
        let point = issuer.key.public_key().as_ref();
        let x = URL_SAFE_NO_PAD
            .decode(key["x"].as_str().expect("x"))
            .expect("b64");
        let y = URL_SAFE_NO_PAD
            .decode(key["y"].as_str().expect("y"))
            .expect("b64");
        assert_eq!((x.len(), y.len()), (32, 32));
        assert_eq!([&[4u8][..], &x, &y].concat(), point);
        // The key id is a SHA-256: 32 bytes, 43 base64url characters.
        assert_eq!(issuer.key_id().len(), 43);
        let config = issuer.openid_configuration();
        assert_eq!(config["issuer"], ISSUER);
        assert_eq!(
            config["jwks_uri"],
            "https://kubernetes.default.svc.cluster.local/openid/v1/jwks"
        );
        assert_eq!(config["id_token_signing_alg_values_supported"][0], "ES256");
    }

    #[tokio::test]
    async fn the_key_is_created_once_and_shared_through_storage() {
        let storage: Arc<dyn Storage> = Arc::new(Embedded::in_memory().expect("storage"));
        let first = TokenIssuer::load_or_create(&storage)
            .await
            .expect("created");
        let second = TokenIssuer::load_or_create(&storage).await.expect("loaded");
        assert_eq!(first.key_id(), second.key_id());
        let token = first.issue(&claims(&first)).expect("signed");
        assert!(second.verify_at(&token, NOW).is_ok());
        let stored = storage
            .get(SIGNING_KEY)
            .await
            .expect("read")
            .expect("stored");
        let document: Value = serde_json::from_slice(&stored.value).expect("json");
        assert_eq!(document["algorithm"], "ES256");
    }

    #[tokio::test]
    async fn a_corrupt_stored_key_is_reported() {
        let storage: Arc<dyn Storage> = Arc::new(Embedded::in_memory().expect("storage"));
        storage
            .create(
                SIGNING_KEY,
                Bytes::from_static(br#"{"algorithm":"ES256","pkcs8":"AAAA"}"#),
            )
            .await
            .expect("stored");
        let err = TokenIssuer::load_or_create(&storage)
            .await
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("unusable") && err.contains(SIGNING_KEY),
            "{err}"
        );
    }
}
