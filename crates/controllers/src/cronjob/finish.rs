//! Turning a sync's decisions into plans, in one or two steps.
//!
//! Upstream's sync calls the API and branches on each answer: a failed history delete
//! becomes `FailedDelete`, a failed Replace delete aborts the sync, `AlreadyExists` on create
//! leads to a GET and perhaps to re-adding the Job to `active`, and only then is the status
//! written once. A pure core cannot wait for answers inside `reconcile`, so a sync that needs
//! writes runs in two steps:
//!
//! 1. the *write* plan: outcome-independent events, history deletions, Replace deletions
//!    (each in its own stage that stops the rest on failure, as upstream returns at the first
//!    failed delete) and the create;
//! 2. the *follow-up*, at the next reconcile of the key (requested at once through
//!    `SyncResult::Done { requeue_after: Some(0) }`): the events that depend on outcomes, the
//!    `AlreadyExists` resolution (against the cache), and the one status write, with the
//!    resourceVersion the decisions were based on, so a CronJob changed in between makes the
//!    write conflict and the whole sync start over, as upstream's `UpdateStatus` would.
//!
//! A sync without writes finishes in one plan. Either way the status is written at most
//! once and only when a step said it changed (upstream's `updateStatus` flags).
//!
//! Guard writes (`super::guards`: suspending or resuming backlog Jobs, the next-run
//! annotation) go into the final plan: the Job writes before the status write, the
//! CronJob's annotation after it. Their failures make the sync an error (retried).

use std::time::Duration;

use corral_api::{ApiError, KubeObject, ObjectKey, ResourceKind};
use corral_core::{Action, ObjectCache, Outcome, Plan, Propagation, Subresource};
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};

use super::active::delete_from_active_list;
use super::events::{self, CronJobEvents};
use super::guards::GuardWrites;
use super::job_build::job_reference;
use super::sync::{self, JobDeletion, JobStart, SlotStart, SyncState, record_start};

/// What the controller remembers about a key between its plan and the plan's outcomes.
#[derive(Clone, Debug)]
pub enum Pending {
    /// A write plan: its outcomes become a [`FollowUp`].
    Writes(Box<Writes>),
    /// A final plan: at most a status write.
    Finish(Finish),
}

/// The decisions of a write plan, with the index of each write's action in the plan.
#[derive(Clone, Debug)]
pub struct Writes {
    pub cron_job: CronJob,
    pub status: CronJobStatus,
    pub update_status: bool,
    pub cleanup: Vec<(usize, JobDeletion)>,
    pub replace: Vec<(usize, JobDeletion)>,
    pub start: Option<(Option<usize>, SlotStart)>,
    pub requeue_after: Option<Duration>,
    pub guard: GuardWrites,
}

/// A write plan whose outcomes are known, waiting for the key's next reconcile.
#[derive(Clone, Debug)]
pub struct FollowUp {
    pub writes: Box<Writes>,
    pub outcomes: Vec<Outcome>,
}

/// How a final plan ends the sync.
#[derive(Clone, Debug, Default)]
pub struct Finish {
    /// Index of the status write in the plan.
    pub status_update: Option<usize>,
    /// A sync error (rate-limited retry), already reported through events where upstream
    /// reports it.
    pub error: Option<String>,
    pub requeue_after: Option<Duration>,
    /// Indexes of guard writes in the plan, and what each was for.
    pub guard_actions: Vec<(usize, String)>,
}

/// Step 1: the plan for a sync's decisions.
pub fn plan_sync(state: SyncState) -> (Plan, Pending) {
    let mut plan = Plan::empty();
    plan.then(event_actions(&state.events));
    if !state.has_writes() {
        let mut status = state.status;
        let mut update_status = state.update_status;
        let mut requeue_after = state.requeue_after;
        if let Some(SlotStart {
            how: JobStart::Adopt { reference },
            slot,
            requeue_after: after,
            ..
        }) = state.start
        {
            record_start(&mut status, reference, slot);
            update_status = true;
            requeue_after = after;
        }
        let finish = finish_plan(
            &mut plan,
            state.cron_job,
            status,
            update_status,
            None,
            requeue_after,
            &state.guard,
        );
        return (plan, Pending::Finish(finish));
    }
    let mut index = plan.action_count();
    let cleanup = indexed(&mut index, state.cleanup);
    plan.then(cleanup.iter().map(|(_, d)| delete_action(d)).collect());
    let replace = indexed(&mut index, state.replace);
    for (_, deletion) in &replace {
        plan.then_or_stop(vec![delete_action(deletion)]);
    }
    let start = state.start.map(|start| match &start.how {
        JobStart::Create { job } => {
            plan.push(Action::Create {
                object: job.clone().into(),
            });
            index += 1;
            (Some(index - 1), start)
        }
        JobStart::Adopt { .. } => (None, start),
    });
    plan.requeue_after = Some(Duration::ZERO);
    let writes = Writes {
        cron_job: state.cron_job.clone(),
        status: state.status,
        update_status: state.update_status,
        cleanup,
        replace,
        start,
        requeue_after: state.requeue_after,
        guard: state.guard,
    };
    (plan, Pending::Writes(Box::new(writes)))
}

fn indexed<T>(next: &mut usize, items: Vec<T>) -> Vec<(usize, T)> {
    items
        .into_iter()
        .map(|item| {
            *next += 1;
            (*next - 1, item)
        })
        .collect()
}

/// Upstream `DeleteJob`: Background propagation. Corral adds the UID the decision was based
/// on as a precondition, so a Job re-created under the same name is never deleted by mistake.
fn delete_action(deletion: &JobDeletion) -> Action {
    Action::delete(
        deletion.key.clone(),
        Some(deletion.uid.clone()),
        Some(Propagation::Background),
    )
}

fn event_actions(events: &CronJobEvents) -> Vec<Action> {
    events.records.iter().cloned().map(Action::Event).collect()
}

/// Appends the guards' Job writes, the status write (when flagged) and the guards'
/// CronJob annotation, and describes how the sync ends.
fn finish_plan(
    plan: &mut Plan,
    cron_job: &CronJob,
    status: CronJobStatus,
    update_status: bool,
    error: Option<String>,
    requeue_after: Option<Duration>,
    guard: &GuardWrites,
) -> Finish {
    let mut finish = Finish {
        status_update: None,
        requeue_after: if error.is_some() { None } else { requeue_after },
        error,
        guard_actions: Vec::new(),
    };
    let first = plan.action_count();
    for (offset, write) in guard.jobs.iter().enumerate() {
        finish
            .guard_actions
            .push((first + offset, write.what.clone()));
    }
    plan.then(guard.jobs.iter().map(|w| w.action.clone()).collect());
    if update_status {
        let mut updated = cron_job.clone();
        updated.status = Some(status);
        finish.status_update = Some(plan.action_count());
        plan.push(Action::Update {
            object: updated.into(),
            subresource: Subresource::Status,
        });
    }
    if let Some(write) = &guard.cron_job {
        finish
            .guard_actions
            .push((plan.action_count(), write.what.clone()));
        plan.push(write.action.clone());
    }
    plan.requeue_after = finish.requeue_after;
    finish
}

/// Step 2: the follow-up plan once a write plan's outcomes are known.
pub fn plan_follow_up(follow_up: FollowUp, cache: &ObjectCache) -> (Plan, Pending) {
    let FollowUp { writes, outcomes } = follow_up;
    let writes = *writes;
    let mut result = FollowUpState {
        cron_job: &writes.cron_job,
        status: writes.status.clone(),
        update_status: writes.update_status,
        events: CronJobEvents::default(),
        error: None,
        requeue_after: writes.requeue_after,
    };
    let outcome = |index: usize| outcomes.get(index).cloned().unwrap_or(Outcome::Skipped);
    for (index, deletion) in &writes.cleanup {
        result.apply_cleanup(deletion, &outcome(*index));
    }
    let mut aborted = false;
    for (index, deletion) in &writes.replace {
        if !result.apply_replace(deletion, &outcome(*index)) {
            aborted = true;
            break;
        }
    }
    if let Some((index, start)) = writes.start.clone().filter(|_| !aborted) {
        let created = index.map(outcome).unwrap_or(Outcome::Done(None));
        result.apply_start(start, &created, cache);
    }
    let mut plan = Plan::empty();
    plan.then(event_actions(&result.events));
    let finish = finish_plan(
        &mut plan,
        &writes.cron_job,
        result.status,
        result.update_status,
        result.error,
        result.requeue_after,
        &writes.guard,
    );
    (plan, Pending::Finish(finish))
}

/// The status copy and flags while outcomes are applied.
struct FollowUpState<'a> {
    cron_job: &'a CronJob,
    status: CronJobStatus,
    update_status: bool,
    events: CronJobEvents,
    error: Option<String>,
    requeue_after: Option<Duration>,
}

impl FollowUpState<'_> {
    /// History cleanup (`removeOldestJobs` → `deleteJob`): failures are reported and the
    /// cleanup goes on.
    fn apply_cleanup(&mut self, deletion: &JobDeletion, outcome: &Outcome) {
        match outcome {
            Outcome::Done(_) => {
                self.events.normal(
                    self.cron_job,
                    "SuccessfulDelete",
                    events::successful_delete(&deletion.name),
                );
                self.update_status = true;
            }
            Outcome::Failed(error) => {
                self.events.warning(
                    self.cron_job,
                    "FailedDelete",
                    events::failed_delete(&error.message),
                );
                // Upstream would have kept the Job in `active` and then seen it finished.
                if let Some(finished) = deletion.was_active {
                    let message = events::saw_completed_job(&deletion.name, finished);
                    self.events
                        .normal(self.cron_job, "SawCompletedJob", message);
                    self.update_status = true;
                }
            }
            Outcome::Skipped => {}
        }
    }

    /// Replace (`deleteJob` in `syncCronJob`): the first failure aborts the sync.
    fn apply_replace(&mut self, deletion: &JobDeletion, outcome: &Outcome) -> bool {
        match outcome {
            Outcome::Done(_) => {
                delete_from_active_list(&mut self.status, deletion.uid.as_str());
                self.events.normal(
                    self.cron_job,
                    "SuccessfulDelete",
                    events::successful_delete(&deletion.name),
                );
                self.update_status = true;
                true
            }
            Outcome::Failed(error) => {
                self.events.warning(
                    self.cron_job,
                    "FailedDelete",
                    events::failed_delete(&error.message),
                );
                let namespace = deletion.key.namespace.as_str();
                self.error = Some(format!(
                    "could not replace job {namespace}/{}",
                    deletion.name
                ));
                false
            }
            Outcome::Skipped => false,
        }
    }

    /// The create's outcome (step 4.11) and the bookkeeping of step 4.12.
    fn apply_start(&mut self, start: SlotStart, outcome: &Outcome, cache: &ObjectCache) {
        let reference = match (&start.how, outcome) {
            (JobStart::Adopt { reference }, _) => reference.clone(),
            (JobStart::Create { job }, Outcome::Done(stored)) => {
                let created = stored
                    .as_ref()
                    .and_then(|o| o.as_typed::<Job>())
                    .unwrap_or(job);
                let name = created.metadata.name.as_deref().unwrap_or("");
                self.events.normal(
                    self.cron_job,
                    "SuccessfulCreate",
                    events::successful_create(name),
                );
                job_reference(created)
            }
            (JobStart::Create { .. }, Outcome::Failed(error)) => {
                match self.resolve_create_failure(&start, error, cache) {
                    Some(reference) => reference,
                    None => return,
                }
            }
            (JobStart::Create { .. }, Outcome::Skipped) => return,
        };
        record_start(&mut self.status, reference, start.slot);
        self.update_status = true;
        self.requeue_after = start.requeue_after;
    }

    /// Upstream's create error branches. `AlreadyExists` is resolved against the cache: a
    /// Job the cache does not show yet is a retry (the Job's watch event re-queues the
    /// CronJob anyway), where upstream's live GET would have found it.
    fn resolve_create_failure(
        &mut self,
        start: &SlotStart,
        error: &ApiError,
        cache: &ObjectCache,
    ) -> Option<k8s_openapi::api::core::v1::ObjectReference> {
        if is_namespace_terminating(error) {
            self.error = Some(error.message.clone());
            return None;
        }
        if !error.is_already_exists() {
            self.events.warning(
                self.cron_job,
                "FailedCreate",
                events::failed_create(&error.message),
            );
            self.error = Some(error.message.clone());
            return None;
        }
        let namespace = self.cron_job.metadata.namespace.as_deref().unwrap_or("");
        let key = ObjectKey::new(ResourceKind::Job, namespace, &start.job_name);
        let Some(existing) = cache.get(&key).and_then(|o| o.as_typed::<Job>()) else {
            self.error = Some(error.message.clone());
            return None;
        };
        let mut view = SyncState::new(self.cron_job);
        view.status = self.status.clone();
        let adopted = sync::adoption(&view, existing);
        if adopted.is_none() {
            // Not ours or already listed: upstream returns without a requeue.
            self.requeue_after = None;
        }
        adopted
    }
}

/// `errors.HasStatusCause(err, corev1.NamespaceTerminatingCause)`.
fn is_namespace_terminating(error: &ApiError) -> bool {
    error
        .details
        .as_ref()
        .is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
}

/// The object a status write carries, for tests and traces.
pub fn status_of(action: &Action) -> Option<&CronJobStatus> {
    match action {
        Action::Update {
            object: KubeObject::CronJob(cron_job),
            subresource: Subresource::Status,
        } => cron_job.status.as_ref(),
        _ => None,
    }
}
