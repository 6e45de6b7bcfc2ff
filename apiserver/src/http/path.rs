//! Parses request paths into what they address; the only place API paths are understood.

/// What a request path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Version,
    Health(&'static str),
    Metrics,
    /// `/api`
    LegacyRoot,
    /// `/apis`
    GroupsRoot,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`
    GroupVersion {
        group: String,
        version: String,
    },
    /// `/openapi/v3`
    OpenApiRoot,
    /// `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`
    OpenApiGroupVersion {
        group: String,
        version: String,
    },
    /// `/openapi/v2`
    OpenApiV2,
    /// `/.well-known/openid-configuration`: where service-account tokens can be verified.
    OpenIdConfiguration,
    /// `/openid/v1/jwks`: the public keys that sign service-account tokens.
    Jwks,
    /// A resource collection or object, possibly a subresource.
    Resource(ResourcePath),
}

/// Parts of a resource URL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Parses a (percent-decoded per segment) request path. `None` = not an API path (404).
pub fn parse(path: &str) -> Option<Target> {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let target = match s.as_slice() {
        ["version"] => Target::Version,
        ["healthz"] => Target::Health("healthz"),
        ["livez"] => Target::Health("livez"),
        ["readyz"] => Target::Health("readyz"),
        ["metrics"] => Target::Metrics,
        ["api"] => Target::LegacyRoot,
        ["apis"] => Target::GroupsRoot,
        ["openapi", "v2"] => Target::OpenApiV2,
        [".well-known", "openid-configuration"] => Target::OpenIdConfiguration,
        ["openid", "v1", "jwks"] => Target::Jwks,
        ["openapi", "v3"] => Target::OpenApiRoot,
        ["openapi", "v3", "api", version] => Target::OpenApiGroupVersion {
            group: String::new(),
            version: version.to_string(),
        },
        ["openapi", "v3", "apis", group, version] => Target::OpenApiGroupVersion {
            group: group.to_string(),
            version: version.to_string(),
        },
        ["api", version] => Target::GroupVersion {
            group: String::new(),
            version: version.to_string(),
        },
        ["apis", group] => Target::Group(group.to_string()),
        ["apis", group, version] => Target::GroupVersion {
            group: group.to_string(),
            version: version.to_string(),
        },
        ["api", version, rest @ ..] => Target::Resource(resource("", version, rest)?),
        ["apis", group, version, rest @ ..] => Target::Resource(resource(group, version, rest)?),
        _ => return None,
    };
    Some(target)
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Option<ResourcePath> {
    let base = ResourcePath {
        group: group.into(),
        version: version.into(),
        ..Default::default()
    };
    let with = |namespace: Option<&str>, plural: &str, name: Option<&str>, sub: Option<&str>| {
        ResourcePath {
            namespace: namespace.map(str::to_string),
            plural: plural.to_string(),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
            ..base.clone()
        }
    };
    Some(match rest {
        // `namespaces/<ns>` alone is the Namespace object itself.
        ["namespaces", ns] => with(None, "namespaces", Some(ns), None),
        ["namespaces", ns, "status" | "finalize"] => {
            with(None, "namespaces", Some(ns), Some(rest[2]))
        }
        ["namespaces", ns, plural] => with(Some(ns), plural, None, None),
        ["namespaces", ns, plural, name] => with(Some(ns), plural, Some(name), None),
        ["namespaces", ns, plural, name, sub] => with(Some(ns), plural, Some(name), Some(sub)),
        [plural] => with(None, plural, None, None),
        [plural, name] => with(None, plural, Some(name), None),
        [plural, name, sub] => with(None, plural, Some(name), Some(sub)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match parse(path) {
            Some(Target::Resource(r)) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn parses_resource_paths() {
        let r = res("/apis/apps/v1/namespaces/default/deployments/web/scale");
        assert_eq!(
            (r.group.as_str(), r.namespace.as_deref(), r.plural.as_str()),
            ("apps", Some("default"), "deployments")
        );
        assert_eq!(
            (r.name.as_deref(), r.subresource.as_deref()),
            (Some("web"), Some("scale"))
        );
        let r = res("/api/v1/namespaces/kube-system");
        assert_eq!(
            (r.plural.as_str(), r.name.as_deref(), r.namespace),
            ("namespaces", Some("kube-system"), None)
        );
        let r = res("/api/v1/namespaces/x/finalize");
        assert_eq!(r.subresource.as_deref(), Some("finalize"));
        let r = res("/api/v1/pods");
        assert_eq!((r.plural.as_str(), r.namespace), ("pods", None));
        let r = res("/api/v1/nodes/n1/status");
        assert_eq!(r.subresource.as_deref(), Some("status"));
    }

    #[test]
    fn parses_discovery_and_openapi() {
        assert_eq!(parse("/api"), Some(Target::LegacyRoot));
        assert_eq!(parse("/apis/apps"), Some(Target::Group("apps".into())));
        assert_eq!(
            parse("/api/v1"),
            Some(Target::GroupVersion {
                group: String::new(),
                version: "v1".into()
            })
        );
        assert_eq!(
            parse("/openapi/v3/apis/apps/v1"),
            Some(Target::OpenApiGroupVersion {
                group: "apps".into(),
                version: "v1".into()
            })
        );
        assert_eq!(
            parse("/.well-known/openid-configuration"),
            Some(Target::OpenIdConfiguration)
        );
        assert_eq!(parse("/openid/v1/jwks"), Some(Target::Jwks));
        assert_eq!(parse("/nothing/here"), None);
    }
}
