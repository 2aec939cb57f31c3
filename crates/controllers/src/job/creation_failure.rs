//! Guard 5, pods that cannot be created: a Job whose pod creates keep failing (a webhook
//! denying or timing out, a missing ServiceAccount, an exhausted quota) is not left
//! silently `active=0` forever, as upstream leaves it (spec §1.9, §7.2).
//!
//! - At the first failed create the Job gets the condition `PodCreationFailing=True`
//!   (reason `FailedCreate`, message: the API error) and a Warning event
//!   `PodCreationFailing`, once per streak (upstream's `FailedCreate` events continue, through
//!   the event recorder's dedup and spam filter).
//! - A successful create sets the condition to `False` (reason `PodCreated`); suspending
//!   the Job sets it to `False` (reason `JobSuspended`) and stops the clock.
//! - When the condition has been `True` for the creation-failure deadline, the Job fails
//!   through the normal path: `FailureTarget` then `Failed`, reason `PodCreationFailing`,
//!   and the usual Warning finish event. A Forbid CronJob then starts its next run.
//!
//! The clock is the condition's `lastTransitionTime`, stored on the Job, so a controller
//! restart does not reset it. The message is the first error of the streak (updating it on
//! every retry would cost a status write per retry); the current error is in the
//! `FailedCreate` events. `PodCreationFailing` is not one of upstream's Job condition
//! types; Job conditions are open-ended in the API (`kubectl wait --for=condition=...`
//! works on any type).

use std::time::Duration;

use corral_core::{EventRecord, clock};
use k8s_openapi::api::core::v1::ObjectReference;

use super::events;
use super::status::{self, ensure_condition, find_condition};
use super::sync::{SyncContext, failure_target};

/// The Job condition type.
pub const CONDITION_POD_CREATION_FAILING: &str = "PodCreationFailing";
/// Reason of the condition while creates fail.
pub const REASON_FAILED_CREATE: &str = "FailedCreate";
/// Reason of the condition once a create succeeded again.
pub const REASON_POD_CREATED: &str = "PodCreated";
pub const MESSAGE_POD_CREATED: &str = "A pod was created";
pub const MESSAGE_JOB_SUSPENDED: &str = "Job suspended: no pods are created";
/// Reason of the Warning event at the first failure, and of the Job's failure.
pub const REASON_POD_CREATION_FAILING: &str = "PodCreationFailing";

/// The latest outcome of a Job's pod creates, from the outcomes to the next sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CreateState {
    /// The last creates failed; the first error of the plan.
    Failing { message: String },
    /// A create succeeded.
    Succeeded,
}

/// Brings the condition in line with the latest creates; returns the Warning event of a
/// transition to `True`.
pub(crate) fn reconcile_condition(
    ctx: &mut SyncContext,
    state: Option<&CreateState>,
    deadline: Option<Duration>,
    involved: &ObjectReference,
) -> Option<EventRecord> {
    let now = ctx.now;
    let suspended = ctx.view.suspended;
    let list = ctx.status.conditions.get_or_insert_with(Vec::new);
    let failing =
        find_condition(list, CONDITION_POD_CREATION_FAILING).is_some_and(|c| c.status == "True");
    if suspended {
        if failing {
            ensure_condition(
                list,
                CONDITION_POD_CREATION_FAILING,
                "False",
                status::REASON_JOB_SUSPENDED,
                MESSAGE_JOB_SUSPENDED,
                now,
            );
        }
        return None;
    }
    match state {
        Some(CreateState::Failing { message }) if !failing => {
            ensure_condition(
                list,
                CONDITION_POD_CREATION_FAILING,
                "True",
                REASON_FAILED_CREATE,
                message,
                now,
            );
            let consequence = deadline.map_or(String::new(), |d| {
                format!(
                    "; the Job fails with reason {REASON_POD_CREATION_FAILING} if no pod can be created within {}s",
                    d.as_secs()
                )
            });
            Some(events::warning(
                involved,
                REASON_POD_CREATION_FAILING,
                format!("Cannot create pods: {message}{consequence}"),
            ))
        }
        Some(CreateState::Succeeded) if failing => {
            ensure_condition(
                list,
                CONDITION_POD_CREATION_FAILING,
                "False",
                REASON_POD_CREATED,
                MESSAGE_POD_CREATED,
                now,
            );
            None
        }
        _ => None,
    }
}

/// After upstream's failure checks: a Job whose creates have failed for the deadline
/// becomes `FailureTarget` (reason `PodCreationFailing`); otherwise, while they fail,
/// returns when to look again.
pub(crate) fn decide_deadline(
    ctx: &mut SyncContext,
    deadline: Option<Duration>,
) -> Option<Duration> {
    let deadline = deadline?;
    if ctx.view.suspended || ctx.finished_condition.is_some() {
        return None;
    }
    let condition = find_condition(
        status::conditions(&ctx.status),
        CONDITION_POD_CREATION_FAILING,
    )
    .filter(|c| c.status == "True")?;
    let since = condition
        .last_transition_time
        .as_ref()
        .map_or(ctx.now, |t| t.0);
    let elapsed = clock::since(ctx.now, since);
    if elapsed < deadline {
        return Some(deadline - elapsed);
    }
    let message = format!(
        "Pods could not be created for {}s: {}",
        deadline.as_secs(),
        condition.message.as_deref().unwrap_or("")
    );
    ctx.finished_condition = Some(failure_target(
        REASON_POD_CREATION_FAILING,
        &message,
        ctx.now,
    ));
    None
}
