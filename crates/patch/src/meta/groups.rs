//! Patch metadata of the non-core groups Corral serves, transcribed from the struct tags
//! in `staging/src/k8s.io/api/{batch,admissionregistration,policy}/v1/types.go`.
//!
//! Lease, RBAC and events.k8s.io types carry no tags outside ObjectMeta. Job and CronJob
//! reuse the core PodTemplateSpec descriptor so a container list merges the same way in
//! a Pod, a Job and a CronJob's job template.

use super::core_v1::{METADATA_ONLY, OBJECT_META, POD_TEMPLATE_SPEC};
use super::{FieldDesc, TypeDesc};

pub static JOB_SPEC: TypeDesc = TypeDesc::new(
    "io.k8s.api.batch.v1.JobSpec",
    &[FieldDesc::nested("template", &POD_TEMPLATE_SPEC)],
);

pub static JOB_STATUS: TypeDesc = TypeDesc::new(
    "io.k8s.api.batch.v1.JobStatus",
    &[FieldDesc::merge_list("conditions", "type", None)],
);

pub static JOB: TypeDesc = TypeDesc::new(
    "io.k8s.api.batch.v1.Job",
    &[
        FieldDesc::nested("metadata", &OBJECT_META),
        FieldDesc::nested("spec", &JOB_SPEC),
        FieldDesc::nested("status", &JOB_STATUS),
    ],
);

pub static JOB_TEMPLATE_SPEC: TypeDesc = TypeDesc::new(
    "io.k8s.api.batch.v1.JobTemplateSpec",
    &[
        FieldDesc::nested("metadata", &OBJECT_META),
        FieldDesc::nested("spec", &JOB_SPEC),
    ],
);

/// `CronJobStatus.active` is atomic, so the status has no descriptor.
pub static CRON_JOB_SPEC: TypeDesc = TypeDesc::new(
    "io.k8s.api.batch.v1.CronJobSpec",
    &[FieldDesc::nested("jobTemplate", &JOB_TEMPLATE_SPEC)],
);

pub static CRON_JOB: TypeDesc = TypeDesc::new(
    "io.k8s.api.batch.v1.CronJob",
    &[
        FieldDesc::nested("metadata", &OBJECT_META),
        FieldDesc::nested("spec", &CRON_JOB_SPEC),
    ],
);

pub static MUTATING_WEBHOOK_CONFIGURATION: TypeDesc = TypeDesc::new(
    "io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration",
    &[
        FieldDesc::nested("metadata", &OBJECT_META),
        FieldDesc::merge_list("webhooks", "name", None),
    ],
);

pub static VALIDATING_WEBHOOK_CONFIGURATION: TypeDesc = TypeDesc::new(
    "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration",
    &[
        FieldDesc::nested("metadata", &OBJECT_META),
        FieldDesc::merge_list("webhooks", "name", None),
    ],
);

/// `PodDisruptionBudgetStatus.conditions` are `metav1.Condition`s merged by type.
pub static POD_DISRUPTION_BUDGET_STATUS: TypeDesc = TypeDesc::new(
    "io.k8s.api.policy.v1.PodDisruptionBudgetStatus",
    &[FieldDesc::merge_list("conditions", "type", None)],
);

pub static POD_DISRUPTION_BUDGET: TypeDesc = TypeDesc::new(
    "io.k8s.api.policy.v1.PodDisruptionBudget",
    &[
        FieldDesc::nested("metadata", &OBJECT_META),
        FieldDesc::nested("status", &POD_DISRUPTION_BUDGET_STATUS),
    ],
);

pub static LEASE: TypeDesc = TypeDesc::new("io.k8s.api.coordination.v1.Lease", &METADATA_ONLY);
pub static ROLE: TypeDesc = TypeDesc::new("io.k8s.api.rbac.v1.Role", &METADATA_ONLY);
pub static CLUSTER_ROLE: TypeDesc = TypeDesc::new("io.k8s.api.rbac.v1.ClusterRole", &METADATA_ONLY);
pub static ROLE_BINDING: TypeDesc = TypeDesc::new("io.k8s.api.rbac.v1.RoleBinding", &METADATA_ONLY);
pub static CLUSTER_ROLE_BINDING: TypeDesc =
    TypeDesc::new("io.k8s.api.rbac.v1.ClusterRoleBinding", &METADATA_ONLY);
pub static EVENTS_EVENT: TypeDesc = TypeDesc::new("io.k8s.api.events.v1.Event", &METADATA_ONLY);
