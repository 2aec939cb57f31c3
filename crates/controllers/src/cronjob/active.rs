//! `status.active`: the Jobs the controller believes are running. Ports of upstream
//! `inActiveList`, `inActiveListByName` and `deleteFromActiveList` (`utils.go`).
//!
//! Forbid and Replace consult only this list, never the Jobs themselves; losing an entry
//! (a failed status write in v1) is what lets Forbid leak Jobs (spec §7.1, 7(b)).

use k8s_openapi::api::batch::v1::CronJobStatus;
use k8s_openapi::api::core::v1::ObjectReference;

pub fn active(status: &CronJobStatus) -> &[ObjectReference] {
    status.active.as_deref().unwrap_or(&[])
}

/// Upstream `inActiveList`: by UID.
pub fn in_active_list(status: &CronJobStatus, uid: &str) -> bool {
    active(status).iter().any(|r| r.uid.as_deref() == Some(uid))
}

/// Upstream `inActiveListByName`: by namespace and name.
pub fn in_active_list_by_name(status: &CronJobStatus, namespace: &str, name: &str) -> bool {
    active(status).iter().any(|r| {
        r.name.as_deref() == Some(name) && r.namespace.as_deref().unwrap_or("") == namespace
    })
}

/// Upstream `deleteFromActiveList`. An emptied list becomes `None`, which serialises the same
/// way as Go's empty slice under `omitempty`.
pub fn delete_from_active_list(status: &mut CronJobStatus, uid: &str) {
    let Some(list) = status.active.as_mut() else {
        return;
    };
    list.retain(|r| r.uid.as_deref() != Some(uid));
    if list.is_empty() {
        status.active = None;
    }
}

pub fn append_to_active_list(status: &mut CronJobStatus, reference: ObjectReference) {
    status.active.get_or_insert_with(Vec::new).push(reference);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str, uid: &str) -> ObjectReference {
        ObjectReference {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            uid: Some(uid.into()),
            ..Default::default()
        }
    }

    #[test]
    fn removing_the_last_active_reference_clears_the_list() {
        let mut status = CronJobStatus::default();
        append_to_active_list(&mut status, reference("a", "1"));
        append_to_active_list(&mut status, reference("b", "2"));
        assert!(in_active_list(&status, "2"));
        assert!(in_active_list_by_name(&status, "ns", "a"));
        assert!(!in_active_list_by_name(&status, "other", "a"));
        delete_from_active_list(&mut status, "1");
        delete_from_active_list(&mut status, "2");
        assert_eq!(status.active, None);
    }
}
