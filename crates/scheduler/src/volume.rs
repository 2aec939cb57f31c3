//! The VolumeBinding PreFilter, as far as Corral has volumes.
//!
//! Corral has no StorageClass or PersistentVolume controller, so it takes the simplest
//! binder that keeps upstream's observable failures: **every existing claim that is not
//! being deleted is usable on every node** (as a local-path provisioner with
//! `WaitForFirstConsumer` that always succeeds). What remains are upstream's PreFilter
//! rejections, which are UnschedulableAndUnresolvable and replace the per-node reasons:
//! a missing claim, a claim being deleted, a missing generic ephemeral claim, and a claim
//! whose `status.phase` is `Lost`. A claim is looked up in the pod's namespace.

use corral_api::ResourceKind;
use corral_core::ObjectCache;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};

/// The PreFilter message that makes the pod unschedulable, if any.
pub fn volume_prefilter(pod: &Pod, cache: &ObjectCache) -> Option<String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
    let pod_name = pod.metadata.name.as_deref().unwrap_or("");
    let volumes = pod.spec.as_ref()?.volumes.as_ref()?;
    for volume in volumes {
        let (claim_name, ephemeral) = if let Some(source) = &volume.persistent_volume_claim {
            (source.claim_name.clone(), false)
        } else if volume.ephemeral.is_some() {
            (format!("{pod_name}-{}", volume.name), true)
        } else {
            continue;
        };
        let claim = cache.get_typed::<PersistentVolumeClaim>(namespace, &claim_name);
        let Some(claim) = claim else {
            if ephemeral {
                return Some(format!(
                    "waiting for ephemeral volume controller to create the persistentvolumeclaim \"{claim_name}\""
                ));
            }
            return Some(format!("persistentvolumeclaim \"{claim_name}\" not found"));
        };
        if claim.metadata.deletion_timestamp.is_some() {
            return Some(format!(
                "persistentvolumeclaim \"{claim_name}\" is being deleted"
            ));
        }
        if claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Lost") {
            return Some(format!(
                "persistentvolumeclaim \"{claim_name}\" bound to non-existent persistentvolume \"{}\"",
                claim
                    .spec
                    .as_ref()
                    .and_then(|s| s.volume_name.as_deref())
                    .unwrap_or("")
            ));
        }
    }
    let _ = ResourceKind::PersistentVolumeClaim;
    None
}
