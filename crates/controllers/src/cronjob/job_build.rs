//! Building the Job for a slot: upstream `getJobFromTemplate2` and `getJobName` (v2) and
//! `getJobFromTemplate` (v1, Unix-seconds names).
//!
//! The name is a function of the slot only, so it doubles as a lock: two syncs that decide
//! to start the same slot collide on `AlreadyExists` instead of creating two Jobs.

use std::collections::BTreeMap;

use corral_api::{KubeObject, ResourceKind};
use corral_core::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::schedule::annotation_zone;

/// `batch.kubernetes.io/cronjob-scheduled-timestamp` (feature `CronJobsScheduledAnnotation`,
/// beta and on by default since 1.30).
pub const SCHEDULED_TIMESTAMP_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// How the Job name encodes the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobNameSuffix {
    /// v2: `getTimeHashInMinutes`, so two slots in one minute collide.
    UnixMinutes,
    /// v1 (≤ 1.20): `getTimeHash`, Unix seconds.
    UnixSeconds,
}

/// Upstream `getJobName`: `<cronjob>-<slot>`.
pub fn job_name(cron_job_name: &str, slot: Timestamp, suffix: JobNameSuffix) -> String {
    let hash = match suffix {
        JobNameSuffix::UnixMinutes => corral_cron::time_hash_in_minutes(slot),
        JobNameSuffix::UnixSeconds => slot.as_second(),
    };
    format!("{cron_job_name}-{hash}")
}

/// Upstream `metav1.NewControllerRef(cj, controllerKind)`.
pub fn controller_ref(cron_job: &CronJob) -> OwnerReference {
    OwnerReference {
        api_version: ResourceKind::CronJob.api_version().to_string(),
        kind: ResourceKind::CronJob.kind_name().to_string(),
        name: cron_job.metadata.name.clone().unwrap_or_default(),
        uid: cron_job.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Options of [`job_from_template`].
#[derive(Clone, Copy, Debug)]
pub struct JobBuildOptions {
    pub suffix: JobNameSuffix,
    pub scheduled_timestamp_annotation: bool,
}

/// Upstream `getJobFromTemplate2`: the template's labels, annotations and spec, the
/// deterministic name, the controller reference, and (when enabled) the slot as RFC 3339 in
/// the CronJob's zone.
pub fn job_from_template(cron_job: &CronJob, slot: Timestamp, options: JobBuildOptions) -> Job {
    let template = &cron_job.spec.job_template;
    let template_meta = template.metadata.as_ref();
    let labels = template_meta
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let mut annotations = template_meta
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default();
    if options.scheduled_timestamp_annotation {
        let formatted = format_rfc3339(slot, &annotation_zone(cron_job));
        annotations.insert(SCHEDULED_TIMESTAMP_ANNOTATION.to_string(), formatted);
    }
    let name = job_name(
        cron_job.metadata.name.as_deref().unwrap_or(""),
        slot,
        options.suffix,
    );
    Job {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: cron_job.metadata.namespace.clone(),
            labels: non_empty(labels),
            annotations: non_empty(annotations),
            owner_references: Some(vec![controller_ref(cron_job)]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// Go's `labels.Set` with `omitempty`: an empty map is not serialised.
fn non_empty(map: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then_some(map)
}

/// Go's `time.RFC3339` layout (`2006-01-02T15:04:05Z07:00`): `Z` for a zero offset,
/// `±hh:mm` otherwise, no fractional seconds.
pub fn format_rfc3339(time: Timestamp, zone: &TimeZone) -> String {
    let zoned = time.to_zoned(zone.clone());
    if zoned.offset().seconds() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// Upstream `getRef` (`ref.GetReference`) for a stored Job.
pub fn job_reference(job: &Job) -> ObjectReference {
    corral_core::plan::object_reference(&KubeObject::Job(job.clone()))
}

/// Whether the Job's controller reference points at this CronJob (`metav1.IsControlledBy`,
/// which compares UIDs).
pub fn is_controlled_by(job: &Job, cron_job: &CronJob) -> bool {
    let uid = cron_job.metadata.uid.as_deref().unwrap_or("");
    job.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && r.uid == uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{CronJobSpec, JobTemplateSpec};

    fn cron_job(time_zone: Option<&str>) -> CronJob {
        CronJob {
            metadata: ObjectMeta {
                name: Some("backup".into()),
                namespace: Some("ops".into()),
                uid: Some("cj-uid".into()),
                ..Default::default()
            },
            spec: CronJobSpec {
                schedule: "0 3 * * *".into(),
                time_zone: time_zone.map(String::from),
                job_template: JobTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some([("app".to_string(), "backup".to_string())].into()),
                        ..Default::default()
                    }),
                    spec: Some(Default::default()),
                },
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn the_job_name_is_the_slot_in_unix_minutes() {
        let slot: Timestamp = "2026-01-01T03:00:00Z".parse().unwrap();
        assert_eq!(
            job_name("backup", slot, JobNameSuffix::UnixMinutes),
            "backup-29453940"
        );
        assert_eq!(
            job_name("backup", slot, JobNameSuffix::UnixSeconds),
            "backup-1767236400"
        );
    }

    #[test]
    fn the_job_copies_the_template_and_is_controlled_by_the_cron_job() {
        let slot: Timestamp = "2026-07-01T07:00:00Z".parse().unwrap();
        let options = JobBuildOptions {
            suffix: JobNameSuffix::UnixMinutes,
            scheduled_timestamp_annotation: true,
        };
        let job = job_from_template(&cron_job(Some("America/New_York")), slot, options);
        assert_eq!(job.metadata.namespace.as_deref(), Some("ops"));
        assert_eq!(job.metadata.labels.unwrap()["app"], "backup");
        assert_eq!(
            job.metadata.annotations.unwrap()[SCHEDULED_TIMESTAMP_ANNOTATION],
            "2026-07-01T03:00:00-04:00"
        );
        let owner = &job.metadata.owner_references.unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("CronJob", "cj-uid")
        );
        assert_eq!(
            (owner.controller, owner.block_owner_deletion),
            (Some(true), Some(true))
        );
    }

    #[test]
    fn the_annotation_uses_z_for_utc() {
        let slot: Timestamp = "2026-07-01T07:00:00Z".parse().unwrap();
        let options = JobBuildOptions {
            suffix: JobNameSuffix::UnixMinutes,
            scheduled_timestamp_annotation: true,
        };
        let job = job_from_template(&cron_job(None), slot, options);
        assert_eq!(
            job.metadata.annotations.unwrap()[SCHEDULED_TIMESTAMP_ANNOTATION],
            "2026-07-01T07:00:00Z"
        );
    }
}
