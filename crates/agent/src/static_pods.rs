//! Static pods: manifests (`*.yaml`, `*.yml`, `*.json`; one Pod each) in the node's static
//! pod directory run without the API server and show up there as mirror pods. The
//! directory is polled; a change of the set of valid manifests is reported as a whole.
//! Invalid files are skipped with a warning, as the kubelet's file source does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use corral_api::{KubeObject, ResourceKind};
use k8s_openapi::api::core::v1::Pod;
use tokio::sync::{mpsc, watch};

/// Reads every manifest of `dir`, by file name.
pub fn read_manifests(dir: &Path) -> BTreeMap<PathBuf, Pod> {
    let mut pods = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return pods;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with('.')
            || !(name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json"))
        {
            continue;
        }
        match parse_manifest(&path) {
            Ok(pod) => {
                pods.insert(path, pod);
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "skipping static pod manifest")
            }
        }
    }
    pods
}

/// One manifest as a Pod (namespace `default` unless set).
pub fn parse_manifest(path: &Path) -> Result<Pod, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let value: serde_json::Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())?
    } else {
        serde_saphyr::from_str(&text).map_err(|e| e.to_string())?
    };
    let object = KubeObject::from_value(ResourceKind::Pod, value).map_err(|e| e.to_string())?;
    let mut pod: Pod = object.into_typed().ok_or("not a Pod")?;
    if pod.metadata.name.as_deref().is_none_or(str::is_empty) {
        return Err("a static pod needs metadata.name".into());
    }
    if pod.spec.as_ref().is_none_or(|s| s.containers.is_empty()) {
        return Err("a static pod needs at least one container".into());
    }
    pod.metadata
        .namespace
        .get_or_insert_with(|| "default".to_string());
    Ok(pod)
}

/// Polls `dir` every `interval`, sending the manifest set whenever it changes (and once
/// at start).
pub async fn poll(
    dir: PathBuf,
    interval: Duration,
    sender: mpsc::Sender<Vec<Pod>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last: Option<String> = None;
    loop {
        let read_dir = dir.clone();
        let pods = tokio::task::spawn_blocking(move || read_manifests(&read_dir))
            .await
            .unwrap_or_default();
        let list: Vec<Pod> = pods.into_values().collect();
        let fingerprint = serde_json::to_string(&list).unwrap_or_default();
        if last.as_deref() != Some(fingerprint.as_str()) {
            last = Some(fingerprint);
            if sender.send(list).await.is_err() {
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}
