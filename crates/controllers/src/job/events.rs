//! Events the Job controller records (component `job-controller`), with upstream's exact
//! reasons and messages: the pod-control events of `controller.RealPodControl` and the
//! Job events of `job_controller.go`.

use corral_core::plan::object_reference;
use corral_core::{EventRecord, EventType};
use k8s_openapi::api::core::v1::ObjectReference;

use corral_api::KubeObject;

pub const COMPONENT: &str = "job-controller";

pub const REASON_SUCCESSFUL_CREATE: &str = "SuccessfulCreate";
pub const REASON_FAILED_CREATE: &str = "FailedCreate";
pub const REASON_SUCCESSFUL_DELETE: &str = "SuccessfulDelete";
pub const REASON_FAILED_DELETE: &str = "FailedDelete";
pub const REASON_COMPLETED: &str = "Completed";
pub const REASON_TOO_MANY_SUCCEEDED_PODS: &str = "TooManySucceededPods";
pub const REASON_SUSPENDED: &str = "Suspended";
pub const REASON_RESUMED: &str = "Resumed";
pub const REASON_UNKNOWN_COMPLETION_MODE: &str = "UnknownCompletionMode";
/// Corral-specific: a Job the controller cannot act on (no spec, no template, a selector
/// that does not parse or does not match the template). Upstream would dereference nil or
/// return a sync error; a pure core must carry on, so it says why in an event instead.
pub const REASON_INVALID_JOB_SPEC: &str = "InvalidJobSpec";

pub const MESSAGE_COMPLETED: &str = "Job completed";
pub const MESSAGE_TOO_MANY_SUCCEEDED_PODS: &str =
    "Too many succeeded pods running after completion count reached";
pub const MESSAGE_UNKNOWN_COMPLETION_MODE: &str =
    "Skipped Job sync because completion mode is unknown";

/// The reference every Job event points at.
pub fn job_reference(job: &KubeObject) -> ObjectReference {
    object_reference(job)
}

pub fn record(
    involved: &ObjectReference,
    event_type: EventType,
    reason: &str,
    message: impl Into<String>,
) -> EventRecord {
    EventRecord {
        involved: involved.clone(),
        event_type,
        reason: reason.to_string(),
        message: message.into(),
        component: COMPONENT.to_string(),
        host: None,
    }
}

pub fn normal(involved: &ObjectReference, reason: &str, message: impl Into<String>) -> EventRecord {
    record(involved, EventType::Normal, reason, message)
}

pub fn warning(
    involved: &ObjectReference,
    reason: &str,
    message: impl Into<String>,
) -> EventRecord {
    record(involved, EventType::Warning, reason, message)
}

/// `Created pod: <pod>`.
pub fn successful_create(involved: &ObjectReference, pod_name: &str) -> EventRecord {
    normal(
        involved,
        REASON_SUCCESSFUL_CREATE,
        format!("Created pod: {pod_name}"),
    )
}

/// `Error creating: <api error>`.
pub fn failed_create(involved: &ObjectReference, error: &str) -> EventRecord {
    warning(
        involved,
        REASON_FAILED_CREATE,
        format!("Error creating: {error}"),
    )
}

/// `Deleted pod: <pod>`.
pub fn successful_delete(involved: &ObjectReference, pod_name: &str) -> EventRecord {
    normal(
        involved,
        REASON_SUCCESSFUL_DELETE,
        format!("Deleted pod: {pod_name}"),
    )
}

/// `Error deleting: <api error>`.
pub fn failed_delete(involved: &ObjectReference, error: &str) -> EventRecord {
    warning(
        involved,
        REASON_FAILED_DELETE,
        format!("Error deleting: {error}"),
    )
}
