//! The node's image catalog. Corral runs containers as host processes, so an "image" is
//! a name the node knows how to run on the host's filesystem: the common base images
//! (`busybox`, `alpine`, `debian`, `ubuntu`, `python`, `bash`, …, any tag or digest) are
//! built in, and a configuration file adds more (exact repositories or `prefix/*`
//! patterns, each with an optional default command). A reference the catalog cannot
//! resolve fails to pull with containerd-like wording, so the core's `ErrImagePull` /
//! `ImagePullBackOff` ladder applies as upstream.
//!
//! Configuration file (YAML or JSON):
//!
//! ```yaml
//! images:
//!   - name: myorg/tool              # docker.io/myorg/tool, any tag
//!     command: ["/usr/local/bin/tool"]
//!   - name: registry.example.com/team/*
//! ```

use std::path::Path;

use corral_node::runtime::{ImageAvailability, ImageCatalog, PulledImage, fnv1a};
use serde::Deserialize;

use crate::error::AgentError;

/// Built-in repositories (Docker Hub official images unless a registry is named) and the
/// command they run when a container sets neither `command` nor `args`.
const BUILT_IN: &[(&str, &[&str])] = &[
    ("docker.io/library/busybox", &["sh"]),
    ("docker.io/library/alpine", &["/bin/sh"]),
    ("docker.io/library/debian", &["bash"]),
    ("docker.io/library/ubuntu", &["bash"]),
    ("docker.io/library/bash", &["bash"]),
    ("docker.io/library/python", &["python3"]),
    ("docker.io/library/perl", &["perl", "-de0"]),
    ("docker.io/library/node", &["node"]),
    ("docker.io/library/golang", &["bash"]),
    ("docker.io/library/ruby", &["irb"]),
    ("docker.io/library/rust", &["bash"]),
    ("docker.io/library/gcc", &["bash"]),
    ("docker.io/library/buildpack-deps", &["bash"]),
    ("docker.io/library/centos", &["bash"]),
    ("docker.io/library/fedora", &["bash"]),
    ("docker.io/library/rockylinux", &["bash"]),
    ("docker.io/library/almalinux", &["bash"]),
    ("docker.io/library/amazonlinux", &["bash"]),
    ("docker.io/library/archlinux", &["bash"]),
    ("docker.io/library/openjdk", &["jshell"]),
    ("docker.io/library/eclipse-temurin", &["jshell"]),
    ("docker.io/library/php", &["php", "-a"]),
    ("registry.k8s.io/busybox", &["sh"]),
    ("registry.k8s.io/pause", &["sleep", "infinity"]),
    ("registry.k8s.io/e2e-test-images/busybox", &["sh"]),
    ("registry.k8s.io/e2e-test-images/agnhost", &["sh"]),
    ("gcr.io/google-containers/busybox", &["sh"]),
    ("quay.io/quay/busybox", &["sh"]),
];

/// Registries whose names resolve (a pull of an unknown repository there is refused as a
/// registry would); any other host fails name resolution.
const KNOWN_REGISTRIES: &[&str] = &[
    "docker.io",
    "registry.k8s.io",
    "gcr.io",
    "quay.io",
    "ghcr.io",
];

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageReference {
    /// `docker.io`, `registry.k8s.io`, `localhost:5000`, …
    pub registry: String,
    /// `library/busybox`.
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageReference {
    /// Parses with Docker's normalisation: no registry → `docker.io`, a single path
    /// component → `library/<name>`, no tag and no digest → `latest`.
    pub fn parse(reference: &str) -> ImageReference {
        let (rest, digest) = match reference.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (reference, None),
        };
        let (name, tag) = match rest.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t.to_string())),
            _ => (rest, None),
        };
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let registry = if registry == "index.docker.io" {
            "docker.io".to_string()
        } else {
            registry
        };
        let path = if registry == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        ImageReference {
            registry,
            path,
            tag,
            digest,
        }
    }

    /// `docker.io/library/busybox`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.registry, self.path)
    }

    /// `docker.io/library/busybox:latest` (or `@sha256:…`).
    pub fn normalized(&self) -> String {
        let mut out = self.repository();
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }
}

/// One configured image.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageEntry {
    /// A repository (`myorg/tool`, `registry.example.com/team/app`) or a prefix pattern
    /// ending in `/*`.
    pub name: String,
    /// The default command when a container sets neither `command` nor `args`.
    #[serde(default)]
    pub command: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    images: Vec<ImageEntry>,
}

/// The catalog of a node: built-in images plus configured ones.
#[derive(Clone, Debug, Default)]
pub struct HostImageCatalog {
    extra: Vec<ImageEntry>,
}

impl HostImageCatalog {
    /// The built-in images only.
    pub fn builtin() -> HostImageCatalog {
        HostImageCatalog::default()
    }

    /// The built-in images plus `entries`.
    pub fn with_entries(entries: Vec<ImageEntry>) -> HostImageCatalog {
        HostImageCatalog { extra: entries }
    }

    /// Reads a YAML or JSON catalog file.
    pub fn from_file(path: &Path) -> Result<HostImageCatalog, AgentError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AgentError::io(format!("read image catalog {}", path.display()), e))?;
        let file: CatalogFile = serde_saphyr::from_str(&text)
            .map_err(|e| AgentError::Config(format!("image catalog {}: {e}", path.display())))?;
        Ok(HostImageCatalog::with_entries(file.images))
    }

    fn configured(&self, reference: &ImageReference) -> Option<&ImageEntry> {
        let repository = reference.repository();
        self.extra.iter().find(|entry| {
            let pattern = ImageReference::parse(entry.name.trim_end_matches("/*"));
            if entry.name.ends_with("/*") {
                let prefix = pattern.repository();
                repository.starts_with(&format!("{prefix}/"))
            } else {
                pattern.repository() == repository
            }
        })
    }

    /// The default command of a known image; `None` when the catalog does not know it.
    pub fn default_command(&self, image: &str) -> Option<Vec<String>> {
        let reference = ImageReference::parse(image);
        if let Some(entry) = self.configured(&reference) {
            return Some(entry.command.clone().unwrap_or_else(|| vec!["sh".into()]));
        }
        let repository = reference.repository();
        BUILT_IN
            .iter()
            .find(|(name, _)| *name == repository)
            .map(|(_, command)| command.iter().map(|s| s.to_string()).collect())
    }

    pub fn knows(&self, image: &str) -> bool {
        self.default_command(image).is_some()
    }

    /// The image id (`sha256:<64 hex>`), stable per normalized reference.
    pub fn image_id(image: &str) -> String {
        let normalized = ImageReference::parse(image).normalized();
        let mut hex = String::with_capacity(64);
        for seed in 0u8..4 {
            let mut bytes = vec![seed];
            bytes.extend_from_slice(normalized.as_bytes());
            hex.push_str(&format!("{:016x}", fnv1a(&bytes)));
        }
        format!("sha256:{hex}")
    }

    /// `imageID` as the status reports it: `<repository>@sha256:…`.
    pub fn image_ref_id(image: &str) -> String {
        let reference = ImageReference::parse(image);
        format!("{}@{}", reference.repository(), Self::image_id(image))
    }

    /// A "pull": known images resolve at once; others fail as containerd would.
    pub fn pull(&self, image: &str) -> Result<PulledImage, String> {
        if self.knows(image) {
            return Ok(PulledImage {
                image_id: Self::image_id(image),
                size_bytes: 0,
            });
        }
        Err(pull_error(&ImageReference::parse(image)))
    }
}

/// containerd's wording for a reference that cannot be resolved.
fn pull_error(reference: &ImageReference) -> String {
    let normalized = reference.normalized();
    let registry = reference.registry.as_str();
    if KNOWN_REGISTRIES.contains(&registry) {
        return format!(
            "rpc error: code = Unknown desc = failed to pull and unpack image \"{normalized}\": failed to resolve reference \"{normalized}\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
        );
    }
    let host = if registry == "docker.io" {
        "registry-1.docker.io"
    } else {
        registry
    };
    let object = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let lookup_host = host.split(':').next().unwrap_or(host);
    format!(
        "rpc error: code = Unknown desc = failed to pull and unpack image \"{normalized}\": failed to resolve reference \"{normalized}\": failed to do request: Head \"https://{host}/v2/{}/manifests/{object}\": dial tcp: lookup {lookup_host}: no such host",
        reference.path
    )
}

impl ImageCatalog for HostImageCatalog {
    fn resolve(&self, image: &str) -> ImageAvailability {
        if self.knows(image) {
            ImageAvailability::Present {
                image_id: Self::image_id(image),
            }
        } else {
            ImageAvailability::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalise_like_docker() {
        let r = ImageReference::parse("busybox");
        assert_eq!(r.normalized(), "docker.io/library/busybox:latest");
        let r = ImageReference::parse("localhost:5000/a/b:1.0");
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.normalized(), "localhost:5000/a/b:1.0");
        let r = ImageReference::parse("python@sha256:abc");
        assert_eq!(r.normalized(), "docker.io/library/python@sha256:abc");
        let r = ImageReference::parse("registry.k8s.io/pause:3.9");
        assert_eq!(r.repository(), "registry.k8s.io/pause");
    }

    #[test]
    fn base_images_resolve_with_any_tag_and_unknown_ones_fail_to_pull() {
        let catalog = HostImageCatalog::builtin();
        assert!(catalog.knows("busybox:1.36"));
        assert!(catalog.knows("docker.io/library/alpine"));
        assert!(catalog.knows("ubuntu@sha256:0123"));
        assert_eq!(
            catalog.default_command("python:3.12").unwrap(),
            vec!["python3"]
        );
        let err = catalog.pull("registry.invalid/nope:1").unwrap_err();
        assert!(
            err.contains("lookup registry.invalid: no such host"),
            "{err}"
        );
        let err = catalog.pull("nosuchimage").unwrap_err();
        assert!(
            err.contains("docker.io/library/nosuchimage:latest"),
            "{err}"
        );
        assert!(err.contains("pull access denied"), "{err}");
    }

    #[test]
    fn configured_images_and_prefixes_resolve() {
        let catalog = HostImageCatalog::with_entries(vec![
            ImageEntry {
                name: "myorg/tool".into(),
                command: Some(vec!["tool".into()]),
            },
            ImageEntry {
                name: "registry.example.com/team/*".into(),
                command: None,
            },
        ]);
        assert_eq!(
            catalog.default_command("myorg/tool:2").unwrap(),
            vec!["tool"]
        );
        assert!(catalog.knows("registry.example.com/team/app:1"));
        assert!(!catalog.knows("registry.example.com/other/app:1"));
        assert_eq!(
            HostImageCatalog::image_id("busybox"),
            HostImageCatalog::image_id("docker.io/library/busybox:latest")
        );
    }
}
