//! Which events queue which CronJob: upstream's informer handlers `enqueueController`,
//! `updateCronJob`, `addJob`, `updateJob`, `deleteJob` and `resolveControllerRef`
//! (`cronjob_controllerv2.go`).
//!
//! The reason for a wake-up never reaches the sync (level-triggered); the only decision here
//! is *when*: at once, or — for a schedule or zone change — at the new schedule's next slot.

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::{ChangeKind, Enqueue, ObjectCache, ObjectEvent, Timestamp};
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::schedule::{self, ZonedSchedule};

/// Routes one event to the keys it wakes.
pub fn enqueue_for_event(
    event: &ObjectEvent,
    previous: Option<&KubeObject>,
    cache: &ObjectCache,
    now: Timestamp,
    local_zone: &TimeZone,
) -> Vec<Enqueue> {
    match event.object.kind() {
        ResourceKind::CronJob => cron_job_event(event, previous, now, local_zone)
            .into_iter()
            .collect(),
        ResourceKind::Job => job_event(event, previous, cache),
        _ => Vec::new(),
    }
}

/// CronJob add and delete: now. Update: upstream `updateCronJob`.
fn cron_job_event(
    event: &ObjectEvent,
    previous: Option<&KubeObject>,
    now: Timestamp,
    local_zone: &TimeZone,
) -> Option<Enqueue> {
    let key = event.object.key();
    let (ChangeKind::Modified, Some(KubeObject::CronJob(old)), KubeObject::CronJob(new)) =
        (event.change, previous, event.object.as_ref())
    else {
        return Some(Enqueue::now(key));
    };
    update_cron_job(key, old, new, now, local_zone)
}

/// Upstream `updateCronJob`: a changed `schedule` or `timeZone` re-queues at the new
/// schedule's next slot (earlier than the pending requeue wins in the queue; a later one
/// makes the pending sync a no-op); anything else re-queues now.
///
/// An unparseable new schedule is not queued at all. Upstream records the Warning
/// `UnParseableCronJobSchedule` from the handler; handlers here return keys only, so that
/// event is not recorded (the next sync reports `UnparseableSchedule`).
fn update_cron_job(
    key: ObjectKey,
    old: &CronJob,
    new: &CronJob,
    now: Timestamp,
    local_zone: &TimeZone,
) -> Option<Enqueue> {
    let schedule_changed = schedule::spec_schedule(old) != schedule::spec_schedule(new)
        || schedule::spec_time_zone(old) != schedule::spec_time_zone(new);
    if !schedule_changed {
        return Some(Enqueue::now(key));
    }
    let schedule = ZonedSchedule::for_cron_job(new, local_zone).ok()?;
    let delay = schedule::next_schedule_delay(new, None, now, &schedule)?;
    Some(Enqueue::after(key, delay))
}

/// Upstream `addJob` (a Job already being deleted is handled as a delete), `updateJob` and
/// `deleteJob`: the CronJob(s) named by the controller references, old and new.
fn job_event(
    event: &ObjectEvent,
    previous: Option<&KubeObject>,
    cache: &ObjectCache,
) -> Vec<Enqueue> {
    let current = event.object.as_ref();
    let namespace = current.namespace();
    let mut keys: Vec<ObjectKey> = Vec::new();
    if event.change == ChangeKind::Modified
        && let Some(old) = previous
    {
        if old.meta().resource_version == current.meta().resource_version {
            // A resync: nothing changed.
            return Vec::new();
        }
        let old_ref = old.controller_ref();
        if old_ref.is_some() && old_ref != current.controller_ref() {
            keys.extend(resolve_controller_ref(cache, old.namespace(), old_ref));
        }
    }
    keys.extend(resolve_controller_ref(
        cache,
        namespace,
        current.controller_ref(),
    ));
    keys.dedup();
    keys.into_iter().map(Enqueue::now).collect()
}

/// Upstream `resolveControllerRef`: kind `CronJob`, found by name, same UID.
pub fn resolve_controller_ref(
    cache: &ObjectCache,
    namespace: &str,
    reference: Option<&OwnerReference>,
) -> Option<ObjectKey> {
    let reference = reference?;
    if reference.kind != ResourceKind::CronJob.kind_name() {
        return None;
    }
    let cron_job = cache.get_typed::<CronJob>(namespace, &reference.name)?;
    (cron_job.metadata.uid.as_deref() == Some(reference.uid.as_str()))
        .then(|| ObjectKey::new(ResourceKind::CronJob, namespace, &reference.name))
}
