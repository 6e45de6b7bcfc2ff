//! Table tests for image reference parsing and the image overrider.

use super::*;
use karmada_api::policy::overrides::ImagePredicate;
use serde_json::json;

const SHA: &str = "sha256:50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c";

#[test]
fn parses_references_like_karmada() {
    let cases = [
        ("nginx", "", "nginx", "", ""),
        ("nginx:1.19", "", "nginx", "1.19", ""),
        ("library/nginx:latest", "", "library/nginx", "latest", ""),
        (
            "docker.io/library/nginx",
            "docker.io",
            "library/nginx",
            "",
            "",
        ),
        (
            "fictional.registry.example:10443/karmada/controller:v1.0.0",
            "fictional.registry.example:10443",
            "karmada/controller",
            "v1.0.0",
            "",
        ),
        ("localhost/app", "localhost", "app", "", ""),
        ("localhost:5000/app:dev", "localhost:5000", "app", "dev", ""),
        ("[::1]:5000/app", "[::1]:5000", "app", "", ""),
        ("Registry.Example/app", "Registry.Example", "app", "", ""),
        // The first segment is a registry only with a dot, a colon or `localhost`.
        ("team/app", "", "team/app", "", ""),
        ("localhost:5000", "", "localhost", "5000", ""),
        (&format!("nginx@{SHA}"), "", "nginx", "", SHA),
        (
            &format!("reg.io:443/a/b@{SHA}"),
            "reg.io:443",
            "a/b",
            "",
            SHA,
        ),
        // A tag and a digest together keep only the tag.
        (&format!("nginx:1.0@{SHA}"), "", "nginx", "1.0", ""),
    ];
    for (image, registry, repository, tag, digest) in cases {
        let parsed = ImageReference::parse(image).unwrap_or_else(|e| panic!("{image}: {e}"));
        let want = ImageReference {
            registry: registry.into(),
            repository: repository.into(),
            tag: tag.into(),
            digest: digest.into(),
        };
        assert_eq!(parsed, want, "{image}");
    }
}

#[test]
fn rejects_what_docker_rejects() {
    let long = "a".repeat(256);
    let cases = [
        ("", ReferenceError::Empty),
        ("Nginx", ReferenceError::Uppercase),
        ("reg.io/Team/app", ReferenceError::Uppercase),
        ("nginx:", ReferenceError::InvalidFormat),
        ("nginx::1", ReferenceError::InvalidFormat),
        ("a..b", ReferenceError::InvalidFormat),
        ("-app", ReferenceError::InvalidFormat),
        ("reg.io:port/app", ReferenceError::InvalidFormat),
        ("nginx@sha256:abc", ReferenceError::InvalidFormat),
        (long.as_str(), ReferenceError::TooLong),
        (
            "nginx@md5:0123456789abcdef0123456789abcdef",
            ReferenceError::DigestUnsupported,
        ),
        (
            "nginx@sha256:0123456789abcdef0123456789abcdef",
            ReferenceError::DigestLength,
        ),
    ];
    for (image, want) in cases {
        assert_eq!(ImageReference::parse(image), Err(want), "{image:?}");
    }
    let upper_hex = format!("nginx@sha256:{}", "A".repeat(64));
    assert_eq!(
        ImageReference::parse(&upper_hex),
        Err(ReferenceError::DigestFormat)
    );
}

#[test]
fn every_component_and_operator() {
    use ImageComponent::*;
    use OverriderOperator::*;
    let digest_image = format!("nginx@{SHA}");
    let cases = [
        ("nginx:1.0", Registry, Add, "reg.io", "reg.io/nginx:1.0"),
        (
            "docker.io/nginx:1.0",
            Registry,
            Add,
            ".cn",
            "docker.io.cn/nginx:1.0",
        ),
        (
            "docker.io/nginx:1.0",
            Registry,
            Replace,
            "reg.io:5000",
            "reg.io:5000/nginx:1.0",
        ),
        ("nginx", Registry, Replace, "reg.io", "reg.io/nginx"),
        ("reg.io:5000/nginx:1.0", Registry, Remove, "", "nginx:1.0"),
        ("nginx", Registry, Remove, "", "nginx"),
        (
            "reg.io/nginx:1.0",
            Repository,
            Add,
            "-mirror",
            "reg.io/nginx-mirror:1.0",
        ),
        (
            "reg.io/nginx:1.0",
            Repository,
            Replace,
            "lib/web",
            "reg.io/lib/web:1.0",
        ),
        ("reg.io/nginx:1.0", Repository, Remove, "", "reg.io/:1.0"),
        ("nginx:1.0", Tag, Add, "-alpine", "nginx:1.0-alpine"),
        ("nginx", Tag, Add, "v2", "nginx:v2"),
        ("nginx:1.0", Tag, Replace, "2.0", "nginx:2.0"),
        ("nginx", Tag, Replace, "2.0", "nginx:2.0"),
        ("nginx:1.0", Tag, Replace, SHA, &format!("nginx@{SHA}")),
        (&digest_image, Tag, Replace, "latest", "nginx:latest"),
        ("nginx:1.0", Tag, Replace, "not a tag", "nginx:1.0"),
        ("nginx:1.0", Tag, Remove, "", "nginx"),
        (&digest_image, Tag, Remove, "", "nginx"),
    ];
    for (image, component, operator, value, want) in cases {
        let mut reference = ImageReference::parse(image).unwrap();
        reference.apply(component, operator, value);
        assert_eq!(
            reference.to_string(),
            want,
            "{image} {component:?} {operator:?} {value}"
        );
    }
}

fn overrider(path: Option<&str>, component: ImageComponent, value: &str) -> ImageOverrider {
    ImageOverrider {
        predicate: path.map(|path| ImagePredicate { path: path.into() }),
        component,
        operator: OverriderOperator::Replace,
        value: Some(value.into()),
    }
}

#[test]
fn without_predicate_rewrites_every_container_of_known_kinds() {
    let template = |kind: &str| {
        json!({"kind": kind, "spec": {"template": {"spec": {
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [{"name": "a", "image": "nginx:1.0"}, {"name": "b", "image": "reg.io/redis"}]
        }}}})
    };
    for kind in [
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
    ] {
        let mut manifest = template(kind);
        let registry = overrider(None, ImageComponent::Registry, "mirror.io");
        apply_image_overrider(&mut manifest, &registry).unwrap();
        let spec = &manifest["spec"]["template"]["spec"];
        assert_eq!(
            spec["containers"][0]["image"], "mirror.io/nginx:1.0",
            "{kind}"
        );
        assert_eq!(spec["containers"][1]["image"], "mirror.io/redis", "{kind}");
        assert_eq!(spec["initContainers"][0]["image"], "busybox", "{kind}");
    }
    let mut pod = json!({"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "nginx"}]}});
    apply_image_overrider(&mut pod, &overrider(None, ImageComponent::Tag, "v2")).unwrap();
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx:v2");

    // Kinds Karmada does not know, and workloads without containers, are untouched.
    for manifest in [
        template("CronJob"),
        json!({"kind": "Deployment", "spec": {}}),
    ] {
        let mut patched = manifest.clone();
        apply_image_overrider(&mut patched, &overrider(None, ImageComponent::Tag, "v2")).unwrap();
        assert_eq!(patched, manifest);
    }
}

#[test]
fn predicate_path_selects_one_image() {
    let mut manifest = json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "a", "image": "nginx:1.0"}, {"name": "b", "image": "redis:7"}]
    }}}}}});
    let path = "/spec/jobTemplate/spec/template/spec/containers/1/image";
    apply_image_overrider(
        &mut manifest,
        &overrider(Some(path), ImageComponent::Tag, "8"),
    )
    .unwrap();
    assert_eq!(manifest.pointer(path).unwrap(), "redis:8");
    assert_eq!(
        manifest
            .pointer("/spec/jobTemplate/spec/template/spec/containers/0/image")
            .unwrap(),
        "nginx:1.0"
    );
}

#[test]
fn errors_name_the_path() {
    let mut manifest =
        json!({"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "Bad Image"}]}});
    let cases = [
        (Some("/spec/containers/3/image"), "/spec/containers/3/image"),
        (
            Some("/spec/containers/0/name/x"),
            "/spec/containers/0/name/x",
        ),
        (
            Some("/spec/containers/0/image"),
            "\"Bad Image\" at /spec/containers/0/image",
        ),
        (None, "/spec/containers/0/image"),
    ];
    for (path, fragment) in cases {
        let err = apply_image_overrider(&mut manifest, &overrider(path, ImageComponent::Tag, "1"))
            .unwrap_err();
        assert!(err.to_string().contains(fragment), "{path:?}: {err}");
    }
}
