//! `syncOrphanPod`: removes the tracking finalizer from a pod no live Job will count —
//! its Job is gone, finished, or it has no controller at all — so the pod can be deleted.
//! Pods controlled by something other than a `batch/v1` Job, by a Job another controller
//! manages, or by a running Job (which counts them itself) are left alone.

use corral_api::ObjectKey;
use corral_core::{ObjectCache, Plan};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use super::JobController;
use super::assemble::remove_finalizer_action;
use super::handlers::{controller_of, resolve_controller_ref};
use super::outcomes::{PlanBuilder, Purpose};
use super::pods;
use super::spec::managed_by_other;
use super::status;

impl JobController {
    pub(crate) fn sync_orphan_pod(&mut self, cache: &ObjectCache, key: &ObjectKey) -> Plan {
        let mut builder = PlanBuilder::default();
        let pod = cache.get(key).and_then(|o| o.as_typed::<Pod>());
        if let Some(pod) = pod.filter(|p| needs_finalizer_removal(cache, p)) {
            builder.stage(
                vec![(remove_finalizer_action(pod), Purpose::OrphanFinalizer)],
                false,
            );
        }
        self.seal(key, builder, None, None)
    }
}

fn needs_finalizer_removal(cache: &ObjectCache, pod: &Pod) -> bool {
    if !pods::has_tracking_finalizer(pod) {
        return false;
    }
    let Some(reference) = controller_of(pod) else {
        return true;
    };
    if reference.kind != "Job" || reference.api_version != "batch/v1" {
        return false;
    }
    let job = resolve_controller_ref(cache, pod, reference)
        .and_then(|k| cache.get(&k))
        .and_then(|o| o.as_typed::<Job>());
    match job {
        None => true,
        Some(job) => managed_by_other(job).is_none() && status::is_finished(job),
    }
}
