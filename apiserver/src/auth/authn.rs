//! Authentication: the user a request's credentials name. Bearer tokens are looked up in the
//! static token file (kube-apiserver's `--token-auth-file` format) or verified as
//! service-account tokens this server (or one on the same storage) issued, whose account, and
//! the pod or secret they are bound to, must still exist, or as bootstrap tokens whose Secret
//! allows it ([`bootstrap_token`]). A request without credentials is
//! anonymous; a request with credentials that do not verify is refused (401), never demoted
//! to anonymous.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::attributes::User;
use super::bootstrap_token;
use super::tokens::{Claims, TokenIssuer};
use crate::registry::store::Store;

/// Why credentials were refused; the client gets `401 Unauthorized` either way, the reason
/// goes to the log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("the Authorization header is not a bearer token")]
    NotBearer,
    #[error("the bearer token is not known: {0}")]
    UnknownToken(String),
    #[error("the service account {0} no longer exists")]
    AccountGone(String),
    #[error("the {0} the token is bound to no longer exists")]
    BindingGone(String),
}

/// Why a token file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read the token file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("token file {path}, line {line}: {reason}")]
    Line {
        path: String,
        line: usize,
        reason: String,
    },
}

/// Users by static token.
#[derive(Debug, Clone, Default)]
pub struct StaticTokens(HashMap<String, User>);

impl StaticTokens {
    /// Reads a token file: one `token,user,uid[,"group1,group2"]` per line; blank lines and
    /// lines starting with `#` are skipped.
    pub fn load(path: &Path) -> Result<StaticTokens, FileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
            path: shown.clone(),
            source,
        })?;
        StaticTokens::parse(&text).map_err(|(line, reason)| FileError::Line {
            path: shown,
            line,
            reason,
        })
    }

    /// Parses the token file's text; an error names the 1-based line and what is wrong.
    pub fn parse(text: &str) -> Result<StaticTokens, (usize, String)> {
        let mut tokens = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = csv_fields(line).map_err(|e| (i + 1, e))?;
            let [token, name, uid, rest @ ..] = fields.as_slice() else {
                return Err((i + 1, "expected token,user,uid[,\"groups\"]".into()));
            };
            if token.is_empty() || name.is_empty() {
                return Err((
                    i + 1,
                    "the token and the user name must not be empty".into(),
                ));
            }
            let groups: Vec<&str> = rest
                .first()
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let mut user = User::new(name, &groups);
            user.uid = uid.clone();
            if tokens.insert(token.clone(), user).is_some() {
                return Err((i + 1, "the token is listed twice".into()));
            }
        }
        Ok(StaticTokens(tokens))
    }

    /// Adds (or replaces) the user of `token`.
    pub fn insert(&mut self, token: String, user: User) {
        self.0.insert(token, user);
    }

    pub fn get(&self, token: &str) -> Option<&User> {
        self.0.get(token)
    }
}

/// The fields of one CSV line; a field in double quotes may hold commas (`""` is a quote).
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) if field.is_empty() => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => quoted = false,
            (',', false) => fields.push(std::mem::take(&mut field).trim().to_string()),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    fields.push(field.trim().to_string());
    Ok(fields)
}

/// Everything a request's credentials are checked against.
pub struct Authenticator<'a> {
    pub tokens: &'a StaticTokens,
    pub issuer: &'a TokenIssuer,
    pub store: &'a Store,
}

impl Authenticator<'_> {
    /// The user of a request with this `Authorization` header: `None` without one.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Option<User>, Refused> {
        let Some(header) = authorization else {
            return Ok(None);
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(Refused::NotBearer)?;
        if let Some(user) = self.tokens.get(token) {
            return Ok(Some(user.clone()));
        }
        if let Some((id, secret)) = bootstrap_token::parse(token) {
            return self.bootstrap(id, secret).map(Some);
        }
        let claims = self
            .issuer
            .verify(token)
            .map_err(|e| Refused::UnknownToken(e.to_string()))?;
        self.still_bound(&claims)?;
        let k = &claims.kubernetes;
        Ok(Some(User::service_account(
            &k.namespace,
            &k.serviceaccount.name,
            &k.serviceaccount.uid,
        )))
    }

    /// The user of bootstrap token `id`.`secret`, as its Secret in `kube-system` says.
    fn bootstrap(&self, id: &str, secret: &str) -> Result<User, Refused> {
        let stored = self
            .store
            .catalog()
            .get("", "v1", "secrets")
            .and_then(|secrets| {
                let name = bootstrap_token::secret_name(id);
                let key = secrets.storage_key(Some(bootstrap_token::NAMESPACE), &name);
                self.store.cache().get(&key)
            })
            .ok_or_else(|| Refused::UnknownToken(format!("no bootstrap token {id}")))?;
        bootstrap_token::user(&stored, id, secret, jiff::Timestamp::now())
            .map_err(Refused::UnknownToken)
    }

    /// A service-account token is good only while its account (and the pod or secret it is
    /// bound to) is the one it was issued for.
    fn still_bound(&self, claims: &Claims) -> Result<(), Refused> {
        let k = &claims.kubernetes;
        let exists = |plural: &str, name: &str, uid: &str| {
            let Some(resource) = self.store.catalog().get("", "v1", plural) else {
                return false;
            };
            let key = resource.storage_key(Some(&k.namespace), name);
            self.store
                .cache()
                .get(&key)
                .is_some_and(|o| o.pointer("/metadata/uid").and_then(Value::as_str) == Some(uid))
        };
        let account = &k.serviceaccount;
        if !exists("serviceaccounts", &account.name, &account.uid) {
            return Err(Refused::AccountGone(format!(
                "{}/{}",
                k.namespace, account.name
            )));
        }
        if let Some(pod) = &k.pod
            && !exists("pods", &pod.name, &pod.uid)
        {
            return Err(Refused::BindingGone(format!(
                "pod {}/{}",
                k.namespace, pod.name
            )));
        }
        if let Some(secret) = &k.secret
            && !exists("secrets", &secret.name, &secret.uid)
        {
            return Err(Refused::BindingGone(format!(
                "secret {}/{}",
                k.namespace, secret.name
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_read_like_kube_apiservers() {
        let tokens = StaticTokens::parse(
            "# admin\n\
             s3cret,admin,uid-1,\"system:masters,ops\"\n\
             \n\
             viewer-token, viewer , uid-2\n",
        )
        .unwrap();
        let admin = tokens.get("s3cret").unwrap();
        assert_eq!(admin.name, "admin");
        assert_eq!(admin.uid, "uid-1");
        assert_eq!(
            admin.groups,
            ["system:masters", "ops", "system:authenticated"]
        );
        let viewer = tokens.get("viewer-token").unwrap();
        assert_eq!(viewer.name, "viewer");
        assert_eq!(viewer.groups, ["system:authenticated"]);
        assert!(tokens.get("nope").is_none());
    }

    #[test]
    fn bad_token_files_name_the_line() {
        for (text, line, says) in [
            ("a,b,c\nonly-two,fields\n", 2, "expected token,user,uid"),
            ("t,u,1\nt,v,2\n", 2, "twice"),
            ("t,u,1,\"g1,g2\n", 1, "not closed"),
            (",u,1\n", 1, "must not be empty"),
        ] {
            let (at, reason) = StaticTokens::parse(text).unwrap_err();
            assert_eq!(at, line, "{text:?}");
            assert!(reason.contains(says), "{text:?}: {reason}");
        }
    }

    #[test]
    fn quoted_fields_keep_commas_and_quotes() {
        assert_eq!(
            csv_fields(r#"a,"b,c","say ""hi""""#).unwrap(),
            ["a", "b,c", "say \"hi\""]
        );
    }
}
