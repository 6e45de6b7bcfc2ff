//! Kubernetes' rules for names and keys (DNS labels, qualified names, label values, ports).

// ----- name and key rules ----------------------------------------------------------------

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const CONFIG_KEY_FMT: &str = "[-._a-zA-Z0-9]+";

/// Kubernetes' wording for a failed pattern, quirks (the doubled space) included.
fn regex_error(msg: &str, pattern: &str, examples: &[&str]) -> String {
    let shown: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{msg} (e.g. {}regex used for validation is '{pattern}')",
        shown.join(" or ")
    )
}

fn max_len(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn is_dns_label(v: &str) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

fn is_name_part(v: &str) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

pub fn dns1123_label(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len(63));
    }
    if !is_dns_label(v) {
        errs.push(regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            DNS1123_LABEL_FMT,
            &["my-name", "123-abc"],
        ));
    }
    errs
}

pub fn dns1123_subdomain(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 253 {
        errs.push(max_len(253));
    }
    if !v.split('.').all(is_dns_label) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

pub fn dns1035_label(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len(63));
    }
    if !is_dns_label(v) || !v.as_bytes()[0].is_ascii_lowercase() {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Label keys, annotation keys, finalizers: `[prefix/]name`.
pub fn qualified_name(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = v.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_owned());
            } else {
                errs.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_MSG,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len(63)));
    }
    if !name.is_empty() && !is_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

pub fn label_value(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len(63));
    }
    if !v.is_empty() && !is_name_part(v) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Keys of ConfigMap and Secret data.
pub fn config_map_key(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 253 {
        errs.push(max_len(253));
    }
    if v.is_empty()
        || !v
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        errs.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            CONFIG_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if v == "." {
        errs.push("must not be '.'".to_owned());
    } else if v == ".." {
        errs.push("must not be '..'".to_owned());
    } else if v.starts_with("..") {
        errs.push("must not start with '..'".to_owned());
    }
    errs
}

/// Named ports (IANA service names).
pub fn port_name(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 15 {
        errs.push(max_len(15));
    }
    if !v.bytes().all(|c| is_lower_alnum(c) || c == b'-') {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_owned(),
        );
    }
    if !v.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_owned());
    }
    if v.contains("--") {
        errs.push("must not contain consecutive hyphens".to_owned());
    }
    if v.starts_with('-') || v.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_owned());
    }
    errs
}

pub(super) fn port_number(n: i64) -> Vec<String> {
    if (1..=65535).contains(&n) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_owned()]
    }
}

/// How a kind's `metadata.name` is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain: most kinds and every custom resource.
    Subdomain,
    /// RFC 1123 label: Namespace.
    Label,
    /// RFC 1035 label: Service.
    Dns1035Label,
    /// Any path segment (no '/' or '%', not '.' or '..'): RBAC roles and bindings.
    Path,
}

impl NameRule {
    /// Messages for `name`; `prefix` is true for `generateName`, where a trailing '-' is fine.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        if self == NameRule::Path {
            let mut errs = Vec::new();
            if name == "." || name == ".." {
                return vec![format!("may not be '{name}'")];
            }
            for bad in ["/", "%"] {
                if name.contains(bad) {
                    errs.push(format!("may not contain '{bad}'"));
                }
            }
            return errs;
        }
        // A generateName gets random characters appended, so its trailing dash is inner.
        let masked;
        let name = match name.strip_suffix('-') {
            Some(head) if prefix && !head.is_empty() => {
                masked = format!("{head}a");
                masked.as_str()
            }
            _ => name,
        };
        match self {
            NameRule::Subdomain => dns1123_subdomain(name),
            NameRule::Label => dns1123_label(name),
            NameRule::Dns1035Label => dns1035_label(name),
            NameRule::Path => unreachable!("handled above"),
        }
    }
}

/// The name rule Kubernetes applies to a kind.
pub fn name_rule(group: &str, kind: &str) -> NameRule {
    match (group, kind) {
        ("", "Namespace") => NameRule::Label,
        ("", "Service") => NameRule::Dns1035Label,
        (
            "rbac.authorization.k8s.io",
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding",
        ) => NameRule::Path,
        _ => NameRule::Subdomain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_follow_kubernetes_rules() {
        let long_label = "a".repeat(64);
        let long_subdomain = format!("{}.{}", "a".repeat(63), "b".repeat(190));
        type Rule = fn(&str) -> Vec<String>;
        let cases: &[(Rule, &str, usize)] = &[
            (dns1123_label, "web-1", 0),
            (dns1123_label, "1web", 0),
            (dns1123_label, "Web", 1),
            (dns1123_label, "web.1", 1),
            (dns1123_label, "-web", 1),
            (dns1123_label, "", 1),
            (dns1123_label, &long_label, 1),
            (dns1123_subdomain, "example.com", 0),
            (dns1123_subdomain, "a.b-c.d", 0),
            (dns1123_subdomain, "a..b", 1),
            (dns1123_subdomain, "a.", 1),
            (dns1123_subdomain, "Web_App", 1),
            (dns1123_subdomain, &long_subdomain, 1),
            (dns1035_label, "web", 0),
            (dns1035_label, "1web", 1),
            (dns1035_label, "web-", 1),
        ];
        for (rule, input, errors) in cases {
            assert_eq!(rule(input).len(), *errors, "{input}: {:?}", rule(input));
        }
        assert_eq!(
            dns1123_subdomain("Web_App"),
            [
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ]
        );
        assert_eq!(
            dns1123_label("Web"),
            [
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            ]
        );
        assert_eq!(
            dns1123_label(&long_label),
            ["must be no more than 63 characters"]
        );
    }

    #[test]
    fn qualified_names_and_label_values() {
        let cases: &[(&str, &[&str])] = &[
            ("app", &[]),
            ("app.kubernetes.io/name", &[]),
            ("My_Key.1", &[]),
            ("/name", &["prefix part must be non-empty"]),
            ("example.com/", &["name part must be non-empty"]),
            (
                "Example.com/x",
                &["prefix part a lowercase RFC 1123 subdomain must consist of"],
            ),
            (
                "a/b/c",
                &["a qualified name must consist of alphanumeric characters"],
            ),
            ("_a", &["name part must consist of alphanumeric characters"]),
        ];
        for (input, want) in cases {
            let got = qualified_name(input);
            assert_eq!(got.len(), want.len(), "{input}: {got:?}");
            for (g, w) in got.iter().zip(want.iter()) {
                assert!(g.starts_with(w), "{input}: {g}");
            }
        }
        assert!(qualified_name("a/b/c")[0].ends_with(
            "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ));
        assert!(label_value("").is_empty());
        assert!(label_value("v1.2_beta-3").is_empty());
        assert_eq!(label_value("-x").len(), 1);
        assert_eq!(
            label_value(&"x".repeat(64)),
            ["must be no more than 63 characters"]
        );
    }

    #[test]
    fn config_keys_and_port_names() {
        assert!(config_map_key("app.properties").is_empty());
        assert!(config_map_key(".env").is_empty());
        assert_eq!(config_map_key(".."), ["must not be '..'"]);
        assert_eq!(config_map_key("..data"), ["must not start with '..'"]);
        assert_eq!(config_map_key("a/b").len(), 1);
        assert!(port_name("http").is_empty());
        assert!(port_name("http-2").is_empty());
        assert_eq!(
            port_name("8080"),
            ["must contain at least one letter (a-z)"]
        );
        assert_eq!(port_name("a--b"), ["must not contain consecutive hyphens"]);
        assert_eq!(port_name("HTTP").len(), 2);
        assert_eq!(
            port_name("averyveryverylongname"),
            ["must be no more than 15 characters"]
        );
        assert!(port_number(443).is_empty());
        assert_eq!(port_number(0), ["must be between 1 and 65535, inclusive"]);
        assert_eq!(port_number(65536).len(), 1);
    }

    #[test]
    fn name_rules_per_kind() {
        let cases = [
            ("", "Namespace", NameRule::Label),
            ("", "Service", NameRule::Dns1035Label),
            ("", "ConfigMap", NameRule::Subdomain),
            ("apps", "Deployment", NameRule::Subdomain),
            ("rbac.authorization.k8s.io", "ClusterRole", NameRule::Path),
            ("example.com", "Widget", NameRule::Subdomain),
        ];
        for (group, kind, rule) in cases {
            assert_eq!(name_rule(group, kind), rule, "{kind}");
        }
        assert!(
            NameRule::Path
                .check("system:controller:foo", false)
                .is_empty()
        );
        assert_eq!(NameRule::Path.check("..", false), ["may not be '..'"]);
        assert_eq!(
            NameRule::Path.check("a/b%", false),
            ["may not contain '/'", "may not contain '%'"]
        );
        assert!(NameRule::Subdomain.check("web-", true).is_empty());
        assert_eq!(NameRule::Subdomain.check("web-", false).len(), 1);
        assert_eq!(NameRule::Dns1035Label.check("1svc", false).len(), 1);
    }
}
