//! Deletion policy (upstream `rest.BeforeDelete` and the registry store's finalizer
//! handling), as pure functions of (stored object, options, now).
//!
//! - An object without finalizers and without a grace period is removed at once.
//! - Finalizers or a grace period > 0 mark it instead: `deletionTimestamp = now + grace`,
//!   `deletionGracePeriodSeconds = grace`, generation bumped if set; it stays until the
//!   finalizers are gone (an update that removes the last one deletes it) or, for a
//!   graceful deletion, until someone deletes it again with grace 0.
//! - Deleting an object that is already being deleted is a no-op, except that a shorter
//!   grace period shortens the pending one (and 0 without finalizers removes it), and an
//!   object marked with grace 0 and no finalizers left is removed (recovery from a crash
//!   between marking and removing, as upstream).

use std::time::Duration;

use corral_api::KubeObject;
use corral_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use corral_core::Timestamp;
use corral_core::clock::{add, sub, truncate_to_seconds};

/// What a delete request does to the stored object.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum DeletionPlan {
    /// Remove the object now.
    RemoveNow,
    /// Store this object (deletion marked or shortened); it stays.
    Mark(KubeObject),
    /// Already being deleted; nothing changes.
    AlreadyPending,
}

fn has_finalizers(object: &KubeObject) -> bool {
    object
        .meta()
        .finalizers
        .as_ref()
        .is_some_and(|f| !f.is_empty())
}

/// Decides what deleting `stored` with `grace_period_seconds` (negative reads as 0) does.
pub(crate) fn plan_deletion(
    stored: &KubeObject,
    grace_period_seconds: Option<i64>,
    now: Timestamp,
) -> DeletionPlan {
    let grace = grace_period_seconds.map(|g| g.max(0));
    let finalizers = has_finalizers(stored);
    let meta = stored.meta();
    let Some(Time(marked_at)) = meta.deletion_timestamp else {
        let grace = grace.unwrap_or(0);
        if grace == 0 && !finalizers {
            return DeletionPlan::RemoveNow;
        }
        let mut object = stored.clone();
        let meta = object.meta_mut();
        let deadline = add(truncate_to_seconds(now), Duration::from_secs(grace as u64));
        meta.deletion_timestamp = Some(Time(deadline));
        meta.deletion_grace_period_seconds = Some(grace);
        if let Some(generation) = meta.generation.filter(|g| *g > 0) {
            meta.generation = Some(generation + 1);
        }
        return DeletionPlan::Mark(object);
    };
    let pending = meta.deletion_grace_period_seconds.unwrap_or(0).max(0);
    if pending == 0 {
        return if finalizers {
            DeletionPlan::AlreadyPending
        } else {
            DeletionPlan::RemoveNow
        };
    }
    match grace {
        Some(shorter) if shorter < pending => {
            if shorter == 0 && !finalizers {
                return DeletionPlan::RemoveNow;
            }
            let mut object = stored.clone();
            let meta = object.meta_mut();
            let deadline = sub(marked_at, Duration::from_secs((pending - shorter) as u64));
            meta.deletion_timestamp = Some(Time(deadline));
            meta.deletion_grace_period_seconds = Some(shorter);
            DeletionPlan::Mark(object)
        }
        _ => DeletionPlan::AlreadyPending,
    }
}

/// Upstream's `shouldDeleteDuringUpdate`: an update that leaves no finalizers on an
/// object whose deletion is pending with no (or zero) grace period deletes it.
pub(crate) fn deletes_during_update(updated: &KubeObject, stored: &KubeObject) -> bool {
    let stored_meta = stored.meta();
    !has_finalizers(updated)
        && stored_meta.deletion_timestamp.is_some()
        && stored_meta.deletion_grace_period_seconds.unwrap_or(0) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::k8s_openapi::api::core::v1::ConfigMap;
    use corral_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use corral_core::clock::epoch;

    fn object(finalizers: &[&str], deletion: Option<(i64, i64)>) -> KubeObject {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some("c".into()),
                namespace: Some("ns".into()),
                generation: Some(1),
                finalizers: Some(finalizers.iter().map(|f| f.to_string()).collect()),
                deletion_timestamp: deletion
                    .map(|(offset, _)| Time(add(epoch(), Duration::from_secs(offset as u64)))),
                deletion_grace_period_seconds: deletion.map(|(_, grace)| grace),
                ..Default::default()
            },
            ..Default::default()
        }
        .into()
    }

    fn marked(plan: &DeletionPlan) -> (i64, i64, Option<i64>) {
        let DeletionPlan::Mark(object) = plan else {
            panic!("expected a mark, got {plan:?}")
        };
        let meta = object.meta();
        let at = meta.deletion_timestamp.as_ref().unwrap().0;
        (
            at.as_second() - epoch().as_second(),
            meta.deletion_grace_period_seconds.unwrap(),
            meta.generation,
        )
    }

    #[test]
    fn objects_without_finalizers_or_grace_are_removed_at_once() {
        assert_eq!(
            plan_deletion(&object(&[], None), None, epoch()),
            DeletionPlan::RemoveNow
        );
        assert_eq!(
            plan_deletion(&object(&[], None), Some(-5), epoch()),
            DeletionPlan::RemoveNow
        );
    }

    #[test]
    fn finalizers_or_a_grace_period_mark_the_object_and_bump_generation() {
        let plan = plan_deletion(&object(&["f"], None), None, epoch());
        assert_eq!(marked(&plan), (0, 0, Some(2)));
        let plan = plan_deletion(&object(&[], None), Some(30), epoch());
        assert_eq!(marked(&plan), (30, 30, Some(2)));
    }

    #[test]
    fn a_pending_deletion_is_only_shortened() {
        let pending = object(&[], Some((30, 30)));
        assert_eq!(
            plan_deletion(&pending, None, epoch()),
            DeletionPlan::AlreadyPending
        );
        assert_eq!(
            plan_deletion(&pending, Some(60), epoch()),
            DeletionPlan::AlreadyPending
        );
        assert_eq!(
            marked(&plan_deletion(&pending, Some(10), epoch())),
            (10, 10, Some(1))
        );
        assert_eq!(
            plan_deletion(&pending, Some(0), epoch()),
            DeletionPlan::RemoveNow
        );
        let with_finalizer = object(&["f"], Some((30, 30)));
        assert_eq!(
            marked(&plan_deletion(&with_finalizer, Some(0), epoch())),
            (0, 0, Some(1))
        );
    }

    #[test]
    fn a_marked_object_whose_finalizers_are_gone_is_removed_on_the_next_delete() {
        assert_eq!(
            plan_deletion(&object(&[], Some((0, 0))), None, epoch()),
            DeletionPlan::RemoveNow
        );
        assert_eq!(
            plan_deletion(&object(&["f"], Some((0, 0))), None, epoch()),
            DeletionPlan::AlreadyPending
        );
    }

    #[test]
    fn removing_the_last_finalizer_deletes_only_when_no_grace_is_pending() {
        let stored = object(&["f"], Some((0, 0)));
        assert!(deletes_during_update(&object(&[], None), &stored));
        assert!(!deletes_during_update(&object(&["g"], None), &stored));
        assert!(!deletes_during_update(
            &object(&[], None),
            &object(&["f"], None)
        ));
        assert!(!deletes_during_update(
            &object(&[], None),
            &object(&["f"], Some((30, 30)))
        ));
    }
}
