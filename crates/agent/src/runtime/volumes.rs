//! Volumes: where each of a container's `volumeMounts` comes from on the host, and how
//! it appears at `mountPath`.
//!
//! Sources: `emptyDir` (a directory in the pod's directory), `hostPath` (with upstream's
//! type checks), `configMap`/`secret`/`downwardAPI`/`projected` (files written from the
//! API objects at each container start, honouring `items`, `defaultMode` and `optional`),
//! and `persistentVolumeClaim` (a directory per claim under the node's data directory).
//!
//! Presentation ([`MountMode`]): with a private mount namespace each mount is a bind
//! mount seen only by the container (read-only where upstream mounts read-only); a
//! missing mount point is created on the host and removed again when no container uses
//! it. Without mount namespaces (not root, or disabled) the fallback symlinks `mountPath`
//! to the source when that path does not exist yet and can be created, and always
//! exports `CORRAL_VOLUME_<NAME>=<source>`; a `mountPath` that already exists on the
//! host is left alone (the environment variable still points at the volume).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use corral_api::KubeObject;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, DownwardAPIVolumeFile, KeyToPath, Pod, Secret, Volume,
};
use parking_lot::RwLock;

/// ConfigMaps and Secrets the node knows, by (namespace, name), for volume files.
#[derive(Debug, Default)]
pub struct ConfigObjects {
    config_maps: RwLock<BTreeMap<(String, String), ConfigMap>>,
    secrets: RwLock<BTreeMap<(String, String), Secret>>,
}

impl ConfigObjects {
    pub fn apply(&self, object: &KubeObject, deleted: bool) {
        let key = (object.namespace().to_string(), object.name().to_string());
        match object {
            KubeObject::ConfigMap(map) if !deleted => {
                self.config_maps.write().insert(key, map.clone());
            }
            KubeObject::ConfigMap(_) => {
                self.config_maps.write().remove(&key);
            }
            KubeObject::Secret(secret) if !deleted => {
                self.secrets.write().insert(key, secret.clone());
            }
            KubeObject::Secret(_) => {
                self.secrets.write().remove(&key);
            }
            _ => {}
        }
    }

    fn config_map(&self, namespace: &str, name: &str) -> Option<ConfigMap> {
        self.config_maps
            .read()
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    fn secret(&self, namespace: &str, name: &str) -> Option<Secret> {
        self.secrets
            .read()
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }
}

/// How volumes appear at their `mountPath`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountMode {
    /// Bind mounts in a private mount namespace.
    Namespace,
    /// Symlinks where possible, plus `CORRAL_VOLUME_<NAME>` variables.
    Symlink,
}

/// One prepared mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedMount {
    pub volume: String,
    pub source: PathBuf,
    pub target: PathBuf,
    pub read_only: bool,
}

/// The result of preparing a container's volumes.
#[derive(Clone, Debug, Default)]
pub struct PreparedVolumes {
    pub mounts: Vec<PreparedMount>,
    /// Extra environment (fallback mode).
    pub env: Vec<(String, String)>,
}

impl PreparedVolumes {
    /// Maps a path in the container's view to the host path it resolves to.
    pub fn host_path(&self, path: &Path) -> PathBuf {
        let best = self
            .mounts
            .iter()
            .filter(|m| path.starts_with(&m.target))
            .max_by_key(|m| m.target.components().count());
        match best {
            Some(mount) => match path.strip_prefix(&mount.target) {
                Ok(rest) if rest.as_os_str().is_empty() => mount.source.clone(),
                Ok(rest) => mount.source.join(rest),
                Err(_) => path.to_path_buf(),
            },
            None => path.to_path_buf(),
        }
    }
}

/// Why volumes could not be prepared (the start fails with this message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeError(pub String);

fn setup_failed(volume: &str, detail: impl std::fmt::Display) -> VolumeError {
    VolumeError(format!(
        "MountVolume.SetUp failed for volume \"{volume}\" : {detail}"
    ))
}

fn io_context(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("{what} {}: {}", path.display(), describe_io(&e))
}

/// Go's wording of common errnos (`no such file or directory`, `permission denied`).
pub fn describe_io(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_lowercase(),
        None => e.to_string(),
    }
}

/// What volume preparation needs.
pub struct VolumeContext<'a> {
    pub pod: &'a Pod,
    pub pod_dir: &'a Path,
    pub data_dir: &'a Path,
    pub objects: &'a ConfigObjects,
}

/// Prepares every volume mount of `container`.
pub fn prepare(
    context: &VolumeContext<'_>,
    container: &Container,
    mode: MountMode,
) -> Result<PreparedVolumes, VolumeError> {
    let spec = context.pod.spec.as_ref();
    let volumes: Vec<&Volume> = spec
        .map(|s| s.volumes.iter().flatten().collect())
        .unwrap_or_default();
    let mut prepared = PreparedVolumes::default();
    for mount in container.volume_mounts.iter().flatten() {
        let Some(volume) = volumes.iter().find(|v| v.name == mount.name) else {
            return Err(VolumeError(format!(
                "volume \"{}\" not found in the pod's volumes",
                mount.name
            )));
        };
        let (source, source_read_only) = volume_source(context, volume)?;
        let source = match mount.sub_path.as_deref().filter(|s| !s.is_empty()) {
            Some(sub) => {
                let path = source.join(safe_relative(sub).ok_or_else(|| {
                    setup_failed(&volume.name, format!("invalid subPath {sub:?}"))
                })?);
                if !path.exists() {
                    fs::create_dir_all(&path)
                        .map_err(|e| setup_failed(&volume.name, io_context("mkdir", &path, e)))?;
                }
                path
            }
            None => source,
        };
        prepared.mounts.push(PreparedMount {
            volume: volume.name.clone(),
            source,
            target: PathBuf::from(&mount.mount_path),
            read_only: mount.read_only == Some(true) || source_read_only,
        });
    }
    if mode == MountMode::Symlink {
        for mount in &prepared.mounts {
            let name: String = mount
                .volume
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            prepared.env.push((
                format!("CORRAL_VOLUME_{name}"),
                mount.source.display().to_string(),
            ));
        }
    }
    Ok(prepared)
}

/// A relative path without `..`.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    if p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir)) {
        return None;
    }
    Some(p.to_path_buf())
}

/// The host directory or file behind a volume and whether upstream mounts it read-only.
fn volume_source(
    context: &VolumeContext<'_>,
    volume: &Volume,
) -> Result<(PathBuf, bool), VolumeError> {
    let name = &volume.name;
    let dir = context.pod_dir.join("volumes").join(name);
    let namespace = context
        .pod
        .metadata
        .namespace
        .as_deref()
        .unwrap_or("default");
    if volume.empty_dir.is_some() {
        make_dir(&dir, 0o777).map_err(|e| setup_failed(name, e))?;
        return Ok((dir, false));
    }
    if let Some(host) = &volume.host_path {
        return host_path(name, &host.path, host.type_.as_deref().unwrap_or(""))
            .map(|p| (p, false));
    }
    if let Some(claim) = &volume.persistent_volume_claim {
        let dir = context
            .data_dir
            .join("volumes")
            .join("pvc")
            .join(namespace)
            .join(&claim.claim_name);
        make_dir(&dir, 0o777).map_err(|e| setup_failed(name, e))?;
        return Ok((dir, claim.read_only == Some(true)));
    }
    let mut files: Vec<(PathBuf, Vec<u8>, u32)> = Vec::new();
    if let Some(source) = &volume.config_map {
        let mode = source.default_mode.unwrap_or(0o644) as u32;
        match context.objects.config_map(namespace, &source.name) {
            Some(map) => config_map_files(&map, source.items.as_deref(), mode, &mut files)
                .map_err(|e| setup_failed(name, e))?,
            None if source.optional == Some(true) => {}
            None => {
                return Err(setup_failed(
                    name,
                    format!("configmap \"{}\" not found", source.name),
                ));
            }
        }
    } else if let Some(source) = &volume.secret {
        let mode = source.default_mode.unwrap_or(0o644) as u32;
        let secret_name = source.secret_name.clone().unwrap_or_default();
        match context.objects.secret(namespace, &secret_name) {
            Some(secret) => secret_files(&secret, source.items.as_deref(), mode, &mut files)
                .map_err(|e| setup_failed(name, e))?,
            None if source.optional == Some(true) => {}
            None => {
                return Err(setup_failed(
                    name,
                    format!("secret \"{secret_name}\" not found"),
                ));
            }
        }
    } else if let Some(source) = &volume.downward_api {
        let mode = source.default_mode.unwrap_or(0o644) as u32;
        downward_files(
            context.pod,
            source.items.as_deref().unwrap_or_default(),
            mode,
            &mut files,
        );
    } else if let Some(projected) = &volume.projected {
        projected_files(context, projected, &mut files);
    } else {
        return Err(setup_failed(
            name,
            "volume type not supported by the corral-process runtime",
        ));
    }
    write_files(&dir, &files).map_err(|e| setup_failed(name, e))?;
    Ok((dir, true))
}

fn make_dir(dir: &Path, mode: u32) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| io_context("mkdir", dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
        .map_err(|e| io_context("chmod", dir, e))
}

/// `hostPath` with upstream's type checks (`pkg/volume/hostpath`), then a readability
/// check of what the bind mount would read.
fn host_path(volume: &str, path: &str, type_: &str) -> Result<PathBuf, VolumeError> {
    let p = PathBuf::from(path);
    let meta = fs::metadata(&p);
    let check = |ok: bool, what: &str| -> Result<(), VolumeError> {
        if ok {
            Ok(())
        } else {
            Err(setup_failed(
                volume,
                format!("hostPath type check failed: {path} is not a {what}"),
            ))
        }
    };
    match type_ {
        "DirectoryOrCreate" => {
            if meta.is_err() {
                fs::create_dir_all(&p)
                    .map_err(|e| setup_failed(volume, io_context("mkdir", &p, e)))?;
                let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o755));
            } else {
                check(p.is_dir(), "directory")?;
            }
        }
        "Directory" => check(meta.as_ref().is_ok_and(|m| m.is_dir()), "directory")?,
        "FileOrCreate" => {
            if meta.is_err() {
                fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&p)
                    .map_err(|e| setup_failed(volume, io_context("create", &p, e)))?;
                let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o644));
            } else {
                check(p.is_file(), "file")?;
            }
        }
        "File" => check(meta.as_ref().is_ok_and(|m| m.is_file()), "file")?,
        "Socket" => check(
            meta.as_ref().is_ok_and(|m| m.file_type().is_socket()),
            "socket",
        )?,
        "CharDevice" => check(
            meta.as_ref().is_ok_and(|m| m.file_type().is_char_device()),
            "character device",
        )?,
        "BlockDevice" => check(
            meta.as_ref().is_ok_and(|m| m.file_type().is_block_device()),
            "block device",
        )?,
        _ => {}
    }
    // What runc would report when the bind mount's source cannot be used.
    let readable = match fs::metadata(&p) {
        Ok(m) if m.is_dir() => fs::read_dir(&p).map(|_| ()),
        Ok(_) => fs::File::open(&p).map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = readable {
        return Err(VolumeError(format!(
            "error mounting \"{path}\" to rootfs: stat {path}: {}",
            describe_io(&e)
        )));
    }
    Ok(p)
}

fn items_or_all(
    keys: Vec<String>,
    items: Option<&[KeyToPath]>,
    mode: u32,
) -> Result<Vec<(String, PathBuf, u32)>, String> {
    match items {
        Some(items) => items
            .iter()
            .map(|item| {
                if !keys.contains(&item.key) {
                    return Err(format!(
                        "configmap references non-existent config key: {}",
                        item.key
                    ));
                }
                let path = safe_relative(&item.path)
                    .ok_or_else(|| format!("invalid path {:?}", item.path))?;
                Ok((item.key.clone(), path, item.mode.map_or(mode, |m| m as u32)))
            })
            .collect(),
        None => Ok(keys
            .into_iter()
            .map(|k| (k.clone(), PathBuf::from(k), mode))
            .collect()),
    }
}

fn config_map_files(
    map: &ConfigMap,
    items: Option<&[KeyToPath]>,
    mode: u32,
    files: &mut Vec<(PathBuf, Vec<u8>, u32)>,
) -> Result<(), String> {
    let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (k, v) in map.data.iter().flatten() {
        data.insert(k.clone(), v.clone().into_bytes());
    }
    for (k, v) in map.binary_data.iter().flatten() {
        data.insert(k.clone(), v.0.clone());
    }
    for (key, path, mode) in items_or_all(data.keys().cloned().collect(), items, mode)? {
        files.push((path, data[&key].clone(), mode));
    }
    Ok(())
}

fn secret_files(
    secret: &Secret,
    items: Option<&[KeyToPath]>,
    mode: u32,
    files: &mut Vec<(PathBuf, Vec<u8>, u32)>,
) -> Result<(), String> {
    let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (k, v) in secret.data.iter().flatten() {
        data.insert(k.clone(), v.0.clone());
    }
    for (k, v) in secret.string_data.iter().flatten() {
        data.insert(k.clone(), v.clone().into_bytes());
    }
    for (key, path, mode) in items_or_all(data.keys().cloned().collect(), items, mode)
        .map_err(|e| e.replace("configmap", "secret"))?
    {
        files.push((path, data[&key].clone(), mode));
    }
    Ok(())
}

fn downward_files(
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    mode: u32,
    files: &mut Vec<(PathBuf, Vec<u8>, u32)>,
) {
    let meta = &pod.metadata;
    let render_map = |map: Option<&BTreeMap<String, String>>| {
        map.map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
    };
    for item in items {
        let Some(path) = safe_relative(&item.path) else {
            continue;
        };
        let Some(field) = &item.field_ref else {
            continue;
        };
        let value = match field.field_path.as_str() {
            "metadata.name" => meta.name.clone().unwrap_or_default(),
            "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
            "metadata.uid" => meta.uid.clone().unwrap_or_default(),
            "metadata.labels" => render_map(meta.labels.as_ref()),
            "metadata.annotations" => render_map(meta.annotations.as_ref()),
            _ => continue,
        };
        files.push((
            path,
            value.into_bytes(),
            item.mode.map_or(mode, |m| m as u32),
        ));
    }
}

/// Projected volumes (the service account's `kube-api-access-*` among them) are written
/// leniently: sources that are missing are skipped rather than blocking the pod, and a
/// service account token is an empty file (Corral has no TokenRequest API).
fn projected_files(
    context: &VolumeContext<'_>,
    projected: &k8s_openapi::api::core::v1::ProjectedVolumeSource,
    files: &mut Vec<(PathBuf, Vec<u8>, u32)>,
) {
    let mode = projected.default_mode.unwrap_or(0o644) as u32;
    let namespace = context
        .pod
        .metadata
        .namespace
        .as_deref()
        .unwrap_or("default");
    for source in projected.sources.iter().flatten() {
        if let Some(map) = &source.config_map
            && let Some(object) = context.objects.config_map(namespace, &map.name)
        {
            let _ = config_map_files(&object, map.items.as_deref(), mode, files);
        }
        if let Some(secret) = &source.secret
            && let Some(object) = context.objects.secret(namespace, &secret.name)
        {
            let _ = secret_files(&object, secret.items.as_deref(), mode, files);
        }
        if let Some(downward) = &source.downward_api {
            downward_files(
                context.pod,
                downward.items.as_deref().unwrap_or_default(),
                mode,
                files,
            );
        }
        if let Some(token) = &source.service_account_token {
            files.push((PathBuf::from(&token.path), Vec::new(), 0o600.min(mode)));
        }
    }
}

/// Writes a volume's files in place (another container of the pod may have the
/// directory mounted) and removes entries that are no longer projected.
fn write_files(dir: &Path, files: &[(PathBuf, Vec<u8>, u32)]) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| io_context("mkdir", dir, e))?;
    let keep: Vec<std::ffi::OsString> = files
        .iter()
        .filter_map(|(p, _, _)| p.components().next().map(|c| c.as_os_str().to_os_string()))
        .collect();
    for entry in fs::read_dir(dir)
        .map_err(|e| io_context("read", dir, e))?
        .flatten()
    {
        if !keep.contains(&entry.file_name()) {
            let path = entry.path();
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .map_err(|e| io_context("chmod", dir, e))?;
    for (path, data, mode) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| io_context("mkdir", parent, e))?;
        }
        fs::write(&target, data).map_err(|e| io_context("write", &target, e))?;
        fs::set_permissions(&target, fs::Permissions::from_mode(*mode))
            .map_err(|e| io_context("chmod", &target, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_map_through_the_deepest_mount() {
        let prepared = PreparedVolumes {
            mounts: vec![
                PreparedMount {
                    volume: "a".into(),
                    source: "/host/a".into(),
                    target: "/data".into(),
                    read_only: false,
                },
                PreparedMount {
                    volume: "b".into(),
                    source: "/host/b".into(),
                    target: "/data/inner".into(),
                    read_only: false,
                },
            ],
            env: Vec::new(),
        };
        assert_eq!(
            prepared.host_path(Path::new("/data/x")),
            PathBuf::from("/host/a/x")
        );
        assert_eq!(
            prepared.host_path(Path::new("/data/inner/y")),
            PathBuf::from("/host/b/y")
        );
        assert_eq!(
            prepared.host_path(Path::new("/data")),
            PathBuf::from("/host/a")
        );
        assert_eq!(prepared.host_path(Path::new("/etc")), PathBuf::from("/etc"));
    }

    #[test]
    fn host_path_types_are_checked_like_upstream() {
        let err = host_path("v", "/definitely/not/here", "Directory").unwrap_err();
        assert_eq!(
            err.0,
            "MountVolume.SetUp failed for volume \"v\" : hostPath type check failed: /definitely/not/here is not a directory"
        );
        let err = host_path("v", "/definitely/not/here", "").unwrap_err();
        assert!(
            err.0
                .contains("stat /definitely/not/here: no such file or directory"),
            "{}",
            err.0
        );
        assert!(host_path("v", "/tmp", "Directory").is_ok());
    }
}
