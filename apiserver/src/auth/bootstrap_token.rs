//! Bootstrap tokens, as Kubernetes has them: `<id>.<secret>` (6 and 16 characters of `a-z0-9`)
//! whose Secret `kube-system/bootstrap-token-<id>` (type `bootstrap.kubernetes.io/token`) says
//! whether it may authenticate, until when, and with which extra groups. Such a token signs in
//! as `system:bootstrap:<id>` in group `system:bootstrappers`: enough to enrol a cluster's
//! agent (`karmada register`), nothing more by default.

use serde_json::Value;

use super::attributes::User;

/// Where bootstrap token Secrets live.
pub const NAMESPACE: &str = "kube-system";
/// The type of a bootstrap token Secret.
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// The group of every bootstrap token's user.
pub const GROUP: &str = "system:bootstrappers";
/// Extra groups of a token must start with this.
const EXTRA_GROUP_PREFIX: &str = "system:bootstrappers:";
const USER_PREFIX: &str = "system:bootstrap:";

/// The id and secret of a token in bootstrap form, `None` for any other token.
pub fn parse(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.split_once('.')?;
    let valid = |part: &str, len: usize| {
        part.len() == len
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    (valid(id, 6) && valid(secret, 16)).then_some((id, secret))
}

/// The name of the Secret of token `id`.
pub fn secret_name(id: &str) -> String {
    format!("bootstrap-token-{id}")
}

/// The user `secret` (a stored Secret) grants to the token `id`.`token_secret` at `now`, or
/// why it grants none.
pub fn user(
    secret: &Value,
    id: &str,
    token_secret: &str,
    now: jiff::Timestamp,
) -> Result<User, String> {
    if secret["type"].as_str() != Some(SECRET_TYPE) {
        return Err(format!(
            "secret {} is not of type {SECRET_TYPE}",
            secret_name(id)
        ));
    }
    if secret.pointer("/metadata/deletionTimestamp").is_some() {
        return Err(format!("secret {} is being deleted", secret_name(id)));
    }
    let field = |key: &str| data(secret, key);
    if field("token-id").as_deref() != Some(id) {
        return Err(format!("secret {} names another token id", secret_name(id)));
    }
    let stored = field("token-secret").unwrap_or_default();
    if !constant_time_eq(stored.as_bytes(), token_secret.as_bytes()) {
        return Err(format!("the secret of bootstrap token {id} does not match"));
    }
    if field("usage-bootstrap-authentication").as_deref() != Some("true") {
        return Err(format!("bootstrap token {id} is not for authentication"));
    }
    if let Some(expiration) = field("expiration") {
        let at: jiff::Timestamp = expiration
            .parse()
            .map_err(|e| format!("bootstrap token {id} has an unreadable expiration: {e}"))?;
        if at <= now {
            return Err(format!("bootstrap token {id} expired at {expiration}"));
        }
    }
    let mut groups = vec![GROUP.to_string()];
    for extra in field("auth-extra-groups").unwrap_or_default().split(',') {
        let extra = extra.trim();
        if extra.is_empty() {
            continue;
        }
        if !extra.starts_with(EXTRA_GROUP_PREFIX) {
            return Err(format!(
                "bootstrap token {id}: extra group {extra:?} does not start with \
                 {EXTRA_GROUP_PREFIX}"
            ));
        }
        groups.push(extra.to_string());
    }
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    Ok(User::new(&format!("{USER_PREFIX}{id}"), &groups))
}

/// Whether `secret` is a bootstrap token Secret whose expiration has passed at `now`.
pub fn expired(secret: &Value, now: jiff::Timestamp) -> bool {
    secret["type"].as_str() == Some(SECRET_TYPE)
        && data(secret, "expiration")
            .and_then(|at| at.parse::<jiff::Timestamp>().ok())
            .is_some_and(|at| at <= now)
}

/// The text of a Secret's `data` entry `key`.
fn data(secret: &Value, key: &str) -> Option<String> {
    use base64::Engine as _;
    let encoded = secret["data"][key].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// Compares without stopping at the first difference, so timing tells nothing of the secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(fields: &[(&str, &str)]) -> Value {
        use base64::Engine as _;
        let data: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, v)| {
                let encoded = base64::engine::general_purpose::STANDARD.encode(v);
                (k.to_string(), json!(encoded))
            })
            .collect();
        json!({"type": SECRET_TYPE, "metadata": {"name": "bootstrap-token-abcdef"}, "data": data})
    }

    const NOW: &str = "2026-11-23T12:00:00Z";

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("token-id", "abcdef"),
            ("token-secret", "0123456789abcdef"),
            ("usage-bootstrap-authentication", "true"),
            ("expiration", "2026-11-24T12:00:00Z"),
            (
                "auth-extra-groups",
                "system:bootstrappers:karmada:default-cluster-token",
            ),
        ]
    }

    #[test]
    fn a_token_secret_past_its_expiration_has_expired() {
        let secret = secret(&good());
        assert!(!expired(&secret, NOW.parse().unwrap()));
        assert!(expired(&secret, "2026-11-24T12:00:00Z".parse().unwrap()));
        let mut opaque = secret;
        opaque["type"] = json!("Opaque");
        assert!(!expired(&opaque, "2027-01-01T00:00:00Z".parse().unwrap()));
    }

    #[test]
    fn only_tokens_in_bootstrap_form_are_parsed() {
        assert_eq!(
            parse("abcdef.0123456789abcdef"),
            Some(("abcdef", "0123456789abcdef"))
        );
        for other in [
            "abcdef0123456789abcdef",
            "ABCDEF.0123456789abcdef",
            "abcde.0123456789abcdef",
            "abcdef.0123456789abcde",
            "abcdef.0123456789abcdef.x",
            "eyJhbGciOiJSUzI1NiJ9.e30.sig",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }

    #[test]
    fn a_valid_token_signs_in_as_a_bootstrapper() {
        let now = NOW.parse().unwrap();
        let user = user(&secret(&good()), "abcdef", "0123456789abcdef", now).unwrap();
        assert_eq!(user.name, "system:bootstrap:abcdef");
        assert_eq!(
            user.groups,
            [
                "system:bootstrappers",
                "system:bootstrappers:karmada:default-cluster-token",
                "system:authenticated"
            ]
        );
    }

    #[test]
    fn a_token_is_refused_for_each_way_its_secret_says_no() {
        let now: jiff::Timestamp = NOW.parse().unwrap();
        // The good fields with `key` set to `value` (left out when empty).
        let with = |key: &str, value: &str| {
            let mut fields: Vec<(&str, &str)> =
                good().into_iter().filter(|(k, _)| *k != key).collect();
            if !value.is_empty() {
                fields.push((key, value));
            }
            secret(&fields)
        };
        let cases = [
            (with("token-secret", "ffffffffffffffff"), "does not match"),
            (
                with("usage-bootstrap-authentication", ""),
                "not for authentication",
            ),
            (with("expiration", "2026-11-23T11:59:59Z"), "expired"),
            (with("token-id", "zzzzzz"), "another token id"),
            (
                with("auth-extra-groups", "system:masters"),
                "does not start with",
            ),
        ];
        for (secret, reason) in cases {
            let refused = user(&secret, "abcdef", "0123456789abcdef", now).unwrap_err();
            assert!(refused.contains(reason), "{refused}");
        }
        let mut opaque = secret(&good());
        opaque["type"] = json!("Opaque");
        assert!(user(&opaque, "abcdef", "0123456789abcdef", now).is_err());
    }
}
