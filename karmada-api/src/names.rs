//! Kubernetes name syntax (RFC 1123 labels and subdomains, qualified names, label values) that
//! Karmada's validation applies to cluster names, taint keys and override label keys.

/// Longest RFC 1123 label (and longest name part of a qualified name or label value).
pub const DNS1123_LABEL_MAX: usize = 63;
/// Longest RFC 1123 subdomain (and longest prefix of a qualified name).
pub const DNS1123_SUBDOMAIN_MAX: usize = 253;

/// Whether `s` is a lowercase RFC 1123 label (`my-name`): the form of cluster names.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    if s.len() > DNS1123_LABEL_MAX {
        return Err(format!(
            "must be no more than {DNS1123_LABEL_MAX} characters"
        ));
    }
    if !is_label_body(s) {
        return Err(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric \
                    characters or '-', and must start and end with an alphanumeric character \
                    (e.g. 'my-name')"
                .to_string(),
        );
    }
    Ok(())
}

/// Whether `s` is a lowercase RFC 1123 subdomain (`example.com`): the prefix of a label key.
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        return Err(format!(
            "must be no more than {DNS1123_SUBDOMAIN_MAX} characters"
        ));
    }
    if !s.split('.').all(is_label_body) {
        return Err(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
                    characters, '-' or '.', and must start and end with an alphanumeric \
                    character (e.g. 'example.com')"
                .to_string(),
        );
    }
    Ok(())
}

/// Whether `s` is a qualified name (`[prefix/]name`): the form of label, annotation and taint
/// keys.
pub fn qualified_name(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Err("prefix part must be non-empty".to_string());
        }
        dns1123_subdomain(prefix).map_err(|e| format!("prefix part {e}"))?;
    }
    if name.is_empty() {
        return Err("name part must be non-empty".to_string());
    }
    if name.len() > DNS1123_LABEL_MAX {
        return Err(format!(
            "name part must be no more than {DNS1123_LABEL_MAX} characters"
        ));
    }
    if !is_name_body(name) {
        return Err(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and \
                    must start and end with an alphanumeric character (e.g. 'MyName', \
                    'my.name' or '123-abc'), with an optional DNS subdomain prefix and '/' \
                    (e.g. 'example.com/MyName')"
                .to_string(),
        );
    }
    Ok(())
}

/// Whether `s` may be a label value: empty, or up to 63 alphanumerics, `-`, `_` and `.`
/// starting and ending with an alphanumeric.
pub fn label_value(s: &str) -> Result<(), String> {
    if s.len() > DNS1123_LABEL_MAX {
        return Err(format!(
            "must be no more than {DNS1123_LABEL_MAX} characters"
        ));
    }
    if !s.is_empty() && !is_name_body(s) {
        return Err(
            "a valid label must be an empty string or consist of alphanumeric \
                    characters, '-', '_' or '.', and must start and end with an alphanumeric \
                    character (e.g. 'MyValue', 'my_value' or '12345')"
                .to_string(),
        );
    }
    Ok(())
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn is_label_body(s: &str) -> bool {
    let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            ok(first) && ok(last) && bytes.iter().all(|&c| ok(c) || c == b'-')
        }
        _ => false,
    }
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_name_body(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1123_labels() {
        for (s, ok) in [
            ("member1", true),
            ("a", true),
            ("a-b", true),
            ("", false),
            ("-a", false),
            ("a-", false),
            ("Member1", false),
            ("a.b", false),
            (&"a".repeat(63), true),
            (&"a".repeat(64), false),
        ] {
            assert_eq!(dns1123_label(s).is_ok(), ok, "{s:?}");
        }
    }

    #[test]
    fn dns1123_subdomains() {
        for (s, ok) in [
            ("example.com", true),
            ("a", true),
            ("example..com", false),
            (".example", false),
            ("Example.com", false),
            (&"a".repeat(254), false),
        ] {
            assert_eq!(dns1123_subdomain(s).is_ok(), ok, "{s:?}");
        }
    }

    #[test]
    fn qualified_names() {
        for (s, ok) in [
            ("env", true),
            ("My_Name.1", true),
            ("example.com/env", true),
            ("karmada.io/managed", true),
            ("", false),
            ("/env", false),
            ("example.com/", false),
            ("a/b/c", false),
            ("Example.com/env", false),
            ("-env", false),
            ("env var", false),
            (&"a".repeat(64), false),
        ] {
            assert_eq!(qualified_name(s).is_ok(), ok, "{s:?}");
        }
    }

    #[test]
    fn label_values() {
        for (s, ok) in [
            ("", true),
            ("skoala-dev", true),
            ("v1.2_3", true),
            ("-x", false),
            ("x.", false),
            ("a b", false),
            ("a/b", false),
            (&"a".repeat(64), false),
        ] {
            assert_eq!(label_value(s).is_ok(), ok, "{s:?}");
        }
    }
}
