//! The image overrider: parses container image references the way Karmada does (Docker's
//! reference grammar) and rewrites their registry, repository or tag.

use std::fmt;

use karmada_api::policy::overrides::{ImageComponent, ImageOverrider, OverriderOperator};
use serde_json::{Value, json};

use super::OverriderError;
use super::patch::apply_patch;

/// Longest repository path (without registry) a reference may have.
const REPOSITORY_MAX_LEN: usize = 255;

/// Why a string is not an image reference; messages are Docker's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("repository name must have at least one component")]
    Empty,
    #[error("repository name must be lowercase")]
    Uppercase,
    #[error("invalid reference format")]
    InvalidFormat,
    #[error("repository name must not be more than 255 characters")]
    TooLong,
    #[error("unsupported digest algorithm")]
    DigestUnsupported,
    #[error("invalid checksum digest length")]
    DigestLength,
    #[error("invalid checksum digest format")]
    DigestFormat,
}

/// An image reference split as Karmada splits it: `[registry/]repository[:tag][@digest]`.
/// The registry is the first path segment only when it contains `.` or `:` or is `localhost`.
/// When a reference has both a tag and a digest, only the tag is kept (as Karmada does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageReference {
    pub registry: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
}

impl ImageReference {
    pub fn parse(image: &str) -> Result<Self, ReferenceError> {
        let Some((name, tag, digest)) = split_reference(image) else {
            return Err(if image.is_empty() {
                ReferenceError::Empty
            } else if split_reference(&image.to_lowercase()).is_some() {
                ReferenceError::Uppercase
            } else {
                ReferenceError::InvalidFormat
            });
        };
        let path = match name.split_once('/') {
            Some((domain, path)) if is_domain_and_port(domain) => path,
            _ => name,
        };
        if path.len() > REPOSITORY_MAX_LEN {
            return Err(ReferenceError::TooLong);
        }
        if let Some(digest) = digest {
            validate_digest(digest)?;
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first, rest)
            }
            _ => ("", name),
        };
        let mut reference = ImageReference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            ..Default::default()
        };
        match (tag, digest) {
            (Some(tag), _) => reference.tag = tag.to_string(),
            (None, Some(digest)) => reference.digest = digest.to_string(),
            (None, None) => {}
        }
        Ok(reference)
    }

    fn tag_or_digest(&self) -> &str {
        if self.tag.is_empty() {
            &self.digest
        } else {
            &self.tag
        }
    }

    /// Sets whichever of tag or digest `value` looks like; a value that is neither is ignored.
    fn set_tag_or_digest(&mut self, value: &str) {
        if is_tag(value) {
            self.tag = value.to_string();
            self.digest.clear();
        } else if is_digest_syntax(value) {
            self.digest = value.to_string();
            self.tag.clear();
        }
    }

    fn remove_tag_or_digest(&mut self) {
        if self.tag.is_empty() {
            self.digest.clear();
        } else {
            self.tag.clear();
        }
    }

    /// Applies one overrider's change to this reference.
    pub fn apply(&mut self, component: ImageComponent, operator: OverriderOperator, value: &str) {
        use OverriderOperator::*;
        match (component, operator) {
            (ImageComponent::Registry, Add) => self.registry.push_str(value),
            (ImageComponent::Registry, Replace) => self.registry = value.to_string(),
            (ImageComponent::Registry, Remove) => self.registry.clear(),
            (ImageComponent::Repository, Add) => self.repository.push_str(value),
            (ImageComponent::Repository, Replace) => self.repository = value.to_string(),
            (ImageComponent::Repository, Remove) => self.repository.clear(),
            (ImageComponent::Tag, Add) => {
                let combined = format!("{}{value}", self.tag_or_digest());
                self.set_tag_or_digest(&combined);
            }
            (ImageComponent::Tag, Replace) => self.set_tag_or_digest(value),
            (ImageComponent::Tag, Remove) => self.remove_tag_or_digest(),
        }
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.registry.is_empty() {
            write!(f, "{}/", self.registry)?;
        }
        f.write_str(&self.repository)?;
        if !self.tag.is_empty() {
            write!(f, ":{}", self.tag)
        } else if !self.digest.is_empty() {
            write!(f, "@{}", self.digest)
        } else {
            Ok(())
        }
    }
}

/// Splits `name[:tag][@digest]` when it is syntactically a reference.
fn split_reference(s: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (s, None),
    };
    if digest.is_some_and(|d| !is_digest_syntax(d)) {
        return None;
    }
    // A colon followed by no slash ends the name; anything else belongs to a registry port.
    let (name, tag) = match rest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (rest, None),
    };
    if tag.is_some_and(|t| !is_tag(t)) || !is_name(name) {
        return None;
    }
    Some((name, tag, digest))
}

fn is_name(name: &str) -> bool {
    let is_remote = |path: &str| path.split('/').all(is_path_component);
    is_remote(name)
        || name
            .split_once('/')
            .is_some_and(|(domain, path)| is_domain_and_port(domain) && is_remote(path))
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
fn is_path_component(component: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !component.starts_with(alnum) || !component.ends_with(alnum) {
        return false;
    }
    component
        .split(alnum)
        .filter(|separator| !separator.is_empty())
        .all(|separator| {
            matches!(separator, "." | "_" | "__") || separator.chars().all(|c| c == '-')
        })
}

fn is_domain_and_port(domain: &str) -> bool {
    let (host, port) = match domain.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((ipv6, port)) => {
            let ipv6_ok =
                !ipv6.is_empty() && ipv6.chars().all(|c| c.is_ascii_hexdigit() || c == ':');
            if !ipv6_ok {
                return false;
            }
            (None, port)
        }
        None => match domain.split_once(':') {
            Some((host, _)) => (Some(host), &domain[host.len()..]),
            None => (Some(domain), ""),
        },
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok && host.is_none_or(is_domain_name)
}

/// Dot-separated components of letters, digits and inner dashes.
fn is_domain_name(host: &str) -> bool {
    host.split('.').all(|component| {
        let alnum = |c: char| c.is_ascii_alphanumeric();
        component.starts_with(alnum)
            && component.ends_with(alnum)
            && component.chars().all(|c| alnum(c) || c == '-')
    })
}

/// Docker's tag grammar: a word character then up to 127 word characters, dots or dashes.
fn is_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    tag.len() <= 128
        && tag.starts_with(word)
        && tag.chars().all(|c| word(c) || c == '.' || c == '-')
}

/// `algorithm:hex` where the algorithm is letter-led parts joined by `-_+.` and the hex part
/// has at least 32 digits.
fn is_digest_syntax(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let part = |p: &str| {
        p.starts_with(|c: char| c.is_ascii_alphabetic())
            && p.chars().all(|c| c.is_ascii_alphanumeric())
    };
    hex.len() >= 32
        && hex.chars().all(|c| c.is_ascii_hexdigit())
        && algorithm.split(['-', '_', '+', '.']).all(part)
}

/// The digest algorithms Karmada links in, with their hex lengths.
fn validate_digest(digest: &str) -> Result<(), ReferenceError> {
    let (algorithm, hex) = digest.split_once(':').ok_or(ReferenceError::DigestFormat)?;
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(ReferenceError::DigestUnsupported),
    };
    if hex.len() != length {
        return Err(ReferenceError::DigestLength);
    }
    if !hex
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        return Err(ReferenceError::DigestFormat);
    }
    Ok(())
}

/// Applies one image overrider: to the image at its predicate path, or without a predicate to
/// every `containers[].image` of a Pod or a workload with a pod template (other kinds are left
/// alone, as in Karmada).
pub(super) fn apply_image_overrider(
    manifest: &mut Value,
    overrider: &ImageOverrider,
) -> Result<(), OverriderError> {
    let targets = match &overrider.predicate {
        Some(predicate) => {
            let image = image_at(manifest, &predicate.path).map_err(|reason| {
                OverriderError::ImagePath {
                    path: predicate.path.clone(),
                    reason,
                }
            })?;
            vec![(predicate.path.clone(), image)]
        }
        None => workload_images(manifest)?,
    };
    let mut operations = Vec::with_capacity(targets.len());
    for (path, image) in targets {
        if !path.starts_with('/') {
            return Err(OverriderError::ImagePath {
                path,
                reason: "the path must start with '/'".into(),
            });
        }
        let mut reference =
            ImageReference::parse(&image).map_err(|source| OverriderError::ImageReference {
                path: path.clone(),
                image: image.clone(),
                source,
            })?;
        let value = overrider.value.as_deref().unwrap_or_default();
        reference.apply(overrider.component, overrider.operator, value);
        operations.push(json!({"op": "replace", "path": path, "value": reference.to_string()}));
    }
    apply_patch(manifest, "imageOverrider", operations)
}

/// Reads the string at a `/`-separated path the way Karmada's predicate lookup does: object
/// keys, and a numeric segment after every array.
fn image_at(manifest: &Value, path: &str) -> Result<String, String> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (last, parents) = segments.split_last().unwrap_or((&"", &[]));
    let mut current = manifest;
    let mut index = 0;
    while index < parents.len() {
        let segment = segments[index];
        match &current[segment] {
            Value::Object(_) => current = &current[segment],
            Value::Array(items) => {
                let position = segments[index + 1];
                let item = position
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .ok_or_else(|| format!("{segment} has no item {position}"))?;
                if !item.is_object() {
                    return Err(format!("item {position} of {segment} is not an object"));
                }
                current = item;
                index += 1;
            }
            _ => return Err(format!("{segment} is not an object or a list")),
        }
        index += 1;
    }
    current[*last]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{last} is not a string"))
}

/// `(path, image)` of every container of a Pod or pod-template workload.
fn workload_images(manifest: &Value) -> Result<Vec<(String, String)>, OverriderError> {
    let Some(prefix) = pod_spec_path(manifest) else {
        return Ok(Vec::new());
    };
    let path = format!("{prefix}/containers");
    let containers = match manifest.pointer(&path) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(containers)) => containers,
        Some(_) => {
            return Err(OverriderError::Containers {
                path,
                reason: "not a list".into(),
            });
        }
    };
    containers
        .iter()
        .enumerate()
        .map(|(index, container)| {
            let image_path = format!("{path}/{index}/image");
            match &container["image"] {
                Value::Null => Ok((image_path, String::new())),
                Value::String(image) => Ok((image_path, image.clone())),
                _ => Err(OverriderError::Containers {
                    path: image_path,
                    reason: "the image is not a string".into(),
                }),
            }
        })
        .collect()
}

/// Where the pod spec of the kinds Karmada knows lives.
pub(super) fn pod_spec_path(manifest: &Value) -> Option<&'static str> {
    match manifest["kind"].as_str()? {
        "Pod" => Some("/spec"),
        "ReplicaSet" | "Deployment" | "DaemonSet" | "StatefulSet" | "Job" => {
            Some("/spec/template/spec")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
