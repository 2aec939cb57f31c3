//! Informer event handlers (`addJob`, `updateJob`, `deleteJob`, `addPod`, `updatePod`,
//! `deletePod`): which keys to enqueue, and the expectations each pod event lowers.
//!
//! Job adds, deletes and spec changes sync at once; status-only Job updates and every pod
//! event wait the batching period, so a burst of them costs one sync. A change of
//! `activeDeadlineSeconds` also schedules a sync at the new deadline. A pod whose
//! tracking finalizer must go because its Job is gone or finished is queued under its
//! own key (upstream's orphan queue).

use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind, Uid};
use corral_core::{ChangeKind, Enqueue, ObjectCache, ObjectEvent, Timestamp, clock};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::JobController;
use super::pods;
use super::status;

impl JobController {
    pub(crate) fn handle_job_event(
        &mut self,
        event: &ObjectEvent,
        previous: Option<&KubeObject>,
        cache: &ObjectCache,
        now: Timestamp,
    ) -> Vec<Enqueue> {
        let key = event.object.key();
        let Some(job) = event.object.as_typed::<Job>() else {
            return Vec::new();
        };
        let mut enqueue = Vec::new();
        match event.change {
            // An update for an object the informer never saw is an add (client-go calls
            // the add handler when the store had no previous state).
            ChangeKind::Added => enqueue.push(Enqueue::now(key)),
            ChangeKind::Modified if previous.is_none() => enqueue.push(Enqueue::now(key)),
            ChangeKind::Deleted => {
                enqueue.push(Enqueue::now(key));
                enqueue.extend(pods_with_finalizer(cache, job));
            }
            ChangeKind::Modified => {
                let old = previous.and_then(|p| p.as_typed::<Job>());
                let same_generation =
                    old.is_some_and(|o| o.metadata.generation == job.metadata.generation);
                enqueue.push(if same_generation {
                    Enqueue::after(key.clone(), self.config.sync_batch_period)
                } else {
                    Enqueue::now(key.clone())
                });
                // The Job is not marked finished before every finalizer is gone; this is
                // a backup.
                if status::is_finished(job) {
                    enqueue.extend(pods_with_finalizer(cache, job));
                }
                enqueue.extend(deadline_resync(key, old, job, now));
            }
        }
        enqueue
    }

    pub(crate) fn handle_pod_event(
        &mut self,
        event: &ObjectEvent,
        previous: Option<&KubeObject>,
        cache: &ObjectCache,
    ) -> Vec<Enqueue> {
        let Some(pod) = event.object.as_typed::<Pod>() else {
            return Vec::new();
        };
        match event.change {
            ChangeKind::Added => self.add_pod(pod, cache),
            ChangeKind::Modified => match previous.and_then(|p| p.as_typed::<Pod>()) {
                // Never seen before: client-go would call the add handler.
                None => self.add_pod(pod, cache),
                Some(old) => self.update_pod(old, pod, cache),
            },
            ChangeKind::Deleted => self.delete_pod(pod, cache, true),
        }
    }

    /// `addPod`.
    fn add_pod(&mut self, pod: &Pod, cache: &ObjectCache) -> Vec<Enqueue> {
        if pods::is_being_deleted(pod) {
            // A pod first seen already terminating (e.g. after a restart) is not a creation.
            return self.delete_pod(pod, cache, false);
        }
        if let Some(reference) = controller_of(pod) {
            let Some(job_key) = resolve_controller_ref(cache, pod, reference) else {
                return Vec::new();
            };
            self.expectations.creation_observed(&job_key);
            return vec![self.batched(job_key)];
        }
        orphan(pod)
    }

    /// `updatePod`.
    fn update_pod(&mut self, old: &Pod, pod: &Pod, cache: &ObjectCache) -> Vec<Enqueue> {
        if old.metadata.resource_version == pod.metadata.resource_version {
            return Vec::new(); // A resync, not a change.
        }
        if pods::is_being_deleted(pod) {
            // Graceful deletion: react to the deletion timestamp, not the final removal.
            return self.delete_pod(pod, cache, false);
        }
        let finalizer_removed = !pods::has_tracking_finalizer(pod);
        let current_ref = controller_of(pod);
        let old_ref = controller_of(old);
        let mut enqueue = Vec::new();
        let old_job = old_ref
            .filter(|_| current_ref != old_ref)
            .and_then(|r| resolve_controller_ref(cache, pod, r));
        if let Some(job_key) = old_job {
            // The controller reference moved: the old Job must recount too.
            if finalizer_removed {
                self.finalizer_expectations
                    .observed(&job_key, pods::uid(pod));
            }
            enqueue.push(self.batched(job_key));
        }
        let Some(reference) = current_ref else {
            enqueue.extend(orphan(pod));
            return enqueue;
        };
        if let Some(job_key) = resolve_controller_ref(cache, pod, reference) {
            if finalizer_removed {
                self.finalizer_expectations
                    .observed(&job_key, pods::uid(pod));
            }
            enqueue.push(self.batched(job_key));
        }
        enqueue
    }

    /// `deletePod`: `last` is the final removal, otherwise the deletion timestamp was set.
    fn delete_pod(&mut self, pod: &Pod, cache: &ObjectCache, last: bool) -> Vec<Enqueue> {
        let has_finalizer = pods::has_tracking_finalizer(pod);
        let Some(reference) = controller_of(pod) else {
            return orphan(pod);
        };
        let job_key = resolve_controller_ref(cache, pod, reference);
        let live = job_key
            .as_ref()
            .and_then(|k| cache.get(k))
            .and_then(|o| o.as_typed::<Job>())
            .filter(|j| !status::is_finished(j));
        let (Some(job_key), Some(_)) = (job_key, live) else {
            // syncJob will not remove this finalizer.
            return if has_finalizer {
                vec![Enqueue::now(pod_key(pod))]
            } else {
                Vec::new()
            };
        };
        self.expectations.deletion_observed(&job_key);
        if last || !has_finalizer {
            self.finalizer_expectations
                .observed(&job_key, pods::uid(pod));
        }
        vec![self.batched(job_key)]
    }

    fn batched(&self, key: ObjectKey) -> Enqueue {
        Enqueue::after(key, self.config.sync_batch_period)
    }
}

/// A sync at the new deadline when `activeDeadlineSeconds` changed on a started Job.
fn deadline_resync(
    key: ObjectKey,
    old: Option<&Job>,
    job: &Job,
    now: Timestamp,
) -> Option<Enqueue> {
    let start = job.status.as_ref()?.start_time.as_ref()?.0;
    let deadline = job.spec.as_ref()?.active_deadline_seconds?;
    let old_deadline = old
        .and_then(|o| o.spec.as_ref())
        .and_then(|s| s.active_deadline_seconds);
    if old_deadline == Some(deadline) {
        return None;
    }
    let total = Duration::from_secs(deadline.max(0).unsigned_abs());
    let remaining = total.saturating_sub(clock::since(now, start));
    Some(if remaining.is_zero() {
        Enqueue::now(key)
    } else {
        Enqueue::after(key, remaining)
    })
}

/// `cleanupPodFinalizers`: the Job's pods that still hold the tracking finalizer.
fn pods_with_finalizer(cache: &ObjectCache, job: &Job) -> Vec<Enqueue> {
    let Some(uid) = job.metadata.uid.as_deref().filter(|u| !u.is_empty()) else {
        return Vec::new();
    };
    cache
        .dependents_of(&Uid(uid.to_string()))
        .filter_map(|o| o.as_typed::<Pod>())
        .filter(|p| {
            controller_of(p).is_some_and(|r| r.uid == uid) && pods::has_tracking_finalizer(p)
        })
        .map(|p| Enqueue::now(pod_key(p)))
        .collect()
}

/// An orphan with the finalizer goes to the orphan cleanup. (Adoption of matching orphans
/// is not implemented: it would need a namespace scan.)
fn orphan(pod: &Pod) -> Vec<Enqueue> {
    if pods::has_tracking_finalizer(pod) {
        vec![Enqueue::now(pod_key(pod))]
    } else {
        Vec::new()
    }
}

pub(crate) fn controller_of(pod: &Pod) -> Option<&OwnerReference> {
    pod.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// `resolveControllerRef`: the key of the Job the reference names, if that Job is cached
/// with the same UID.
pub(crate) fn resolve_controller_ref(
    cache: &ObjectCache,
    pod: &Pod,
    reference: &OwnerReference,
) -> Option<ObjectKey> {
    if reference.kind != "Job" {
        return None;
    }
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
    let key = ObjectKey::new(ResourceKind::Job, namespace, &reference.name);
    let job = cache.get(&key)?;
    (job.meta().uid.as_deref() == Some(reference.uid.as_str())).then_some(key)
}

pub(crate) fn pod_key(pod: &Pod) -> ObjectKey {
    ObjectKey::new(
        ResourceKind::Pod,
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pods::name(pod),
    )
}
