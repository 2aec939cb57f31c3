//! One pass of the v1 poller over every CronJob, as a state machine: which API call comes
//! next (`Step`), and what the last call's outcome means (`Awaiting`). Ports of upstream
//! `syncOne`, `cleanupFinishedJobs`, `removeOldestJobs` and `deleteJob`
//! (`cronjob_controller.go`, ≤ 1.20).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::{
    Action, EventRecord, EventType, ObjectCache, Outcome, Plan, Propagation, Subresource, Timestamp,
};
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;

use super::{CronJobV1Poller, unmet_schedule_times};
use crate::cronjob::active::{self, delete_from_active_list, in_active_list};
use crate::cronjob::events;
use crate::cronjob::history::{by_job_start_time, has_history_limits};
use crate::cronjob::job_build;
use crate::cronjob::job_state::{Finished, finished_condition};
use crate::cronjob::schedule;
use crate::cronjob::sync::{JobDeletion, record_start};

/// Where the pass is within the current CronJob.
#[derive(Clone, Debug)]
pub(super) enum Step {
    /// `syncOne` up to its unconditional status write.
    SyncStatus,
    /// After that write: the schedule decisions, then Replace deletes or the create.
    Decide,
    /// Replace: delete these active Jobs one by one, then create.
    Replace {
        slot: Timestamp,
        remaining: VecDeque<ObjectReference>,
    },
    Create {
        slot: Timestamp,
    },
    /// The status write after a create (failure only logged).
    RecordStatus,
    /// `cleanupFinishedJobs`: deletes, then its own status write.
    Cleanup,
    CleanupStatus,
    /// Every CronJob of the list is done.
    Finished,
}

/// One pass over every CronJob.
#[derive(Debug)]
pub(super) struct Pass {
    pub(super) cron_jobs: Vec<CronJob>,
    pub(super) jobs_by_owner: BTreeMap<String, Vec<Arc<KubeObject>>>,
    pub(super) index: usize,
    pub(super) step: Step,
    /// Upstream's in-memory `sj` for the current CronJob.
    pub(super) current: CronJob,
    /// Events decided from outcomes, recorded with the next plan.
    pub(super) events: Vec<EventRecord>,
}

/// What the last plan's outcomes mean.
#[derive(Clone, Debug)]
pub(super) enum Awaiting {
    /// Nothing left: the pass is over (or was aborted).
    PassDone,
    /// The plan held events only; the step is already set.
    Continue,
    SyncStatus {
        index: usize,
    },
    ReplaceDelete {
        index: usize,
        reference: ObjectReference,
        slot: Timestamp,
        remaining: VecDeque<ObjectReference>,
    },
    Create {
        index: usize,
        slot: Timestamp,
    },
    RecordStatus {
        index: usize,
    },
    CleanupDeletes {
        deletes: Vec<(usize, JobDeletion)>,
    },
    CleanupStatus,
}

impl Pass {
    fn jobs(&self) -> &[Arc<KubeObject>] {
        let uid = self.current.metadata.uid.as_deref().unwrap_or("");
        self.jobs_by_owner.get(uid).map_or(&[], Vec::as_slice)
    }

    /// Moves to the next CronJob, or finishes the pass.
    fn next_cron_job(&mut self) {
        self.index += 1;
        match self.cron_jobs.get(self.index) {
            Some(next) => {
                self.current = next.clone();
                self.step = Step::SyncStatus;
            }
            None => self.step = Step::Finished,
        }
    }

    fn event(&mut self, event_type: EventType, reason: &str, message: String) {
        let object = KubeObject::CronJob(self.current.clone());
        self.events.push(EventRecord::about(
            &object,
            event_type,
            reason,
            message,
            events::COMPONENT,
        ));
    }

    pub(super) fn write_status(
        &mut self,
        plan: &mut Plan,
        awaiting: impl Fn(usize) -> Awaiting,
    ) -> Awaiting {
        let index = plan.action_count();
        plan.push(Action::Update {
            object: KubeObject::CronJob(self.current.clone()),
            subresource: Subresource::Status,
        });
        awaiting(index)
    }

    /// `syncOne`'s bookkeeping (from the pass's list, no live GETs), then its unconditional
    /// status write.
    pub(super) fn sync_status(&mut self, plan: &mut Plan) -> Awaiting {
        let shared = self.jobs().to_vec();
        let jobs: Vec<&Job> = shared.iter().filter_map(|o| o.as_typed::<Job>()).collect();
        let mut status = self.current.status.clone().unwrap_or_default();
        for job in jobs.iter().copied() {
            let uid = job.metadata.uid.as_deref().unwrap_or("");
            let name = job.metadata.name.clone().unwrap_or_default();
            let found = in_active_list(&status, uid);
            match finished_condition(job).map(|(f, _)| f) {
                None if !found => self.event(
                    EventType::Warning,
                    "UnexpectedJob",
                    events::unexpected_job(&name),
                ),
                Some(_) if found => {
                    delete_from_active_list(&mut status, uid);
                    self.event(
                        EventType::Normal,
                        "SawCompletedJob",
                        format!("Saw completed job: {name}"),
                    );
                }
                _ => {}
            }
        }
        let children: Vec<&str> = jobs
            .iter()
            .filter_map(|j| j.metadata.uid.as_deref())
            .collect();
        for reference in active::active(&status.clone()) {
            let uid = reference.uid.as_deref().unwrap_or("");
            if !children.contains(&uid) {
                let name = reference.name.as_deref().unwrap_or("");
                self.event(EventType::Normal, "MissingJob", events::missing_job(name));
                delete_from_active_list(&mut status, uid);
            }
        }
        self.current.status = Some(status);
        plan.then(self.events.drain(..).map(Action::Event).collect());
        self.write_status(plan, |index| Awaiting::SyncStatus { index })
    }

    /// The rest of `syncOne` after a successful status write. `None` with only events in
    /// the plan (or none) means this CronJob starts nothing; the pass moves to cleanup.
    pub(super) fn decide(
        &mut self,
        plan: &mut Plan,
        now: Timestamp,
        zone: &TimeZone,
    ) -> Option<Awaiting> {
        self.step = Step::Cleanup;
        let cron_job = &self.current;
        if cron_job.metadata.deletion_timestamp.is_some() || cron_job.spec.suspend == Some(true) {
            return None;
        }
        let slot = match unmet_schedule_times(cron_job, now, zone) {
            Err(error) => {
                let message = format!("Cannot determine if job needs to be started: {error}");
                self.event(EventType::Warning, "FailedNeedsStart", message);
                None
            }
            Ok(times) => times.last().copied(),
        };
        let slot = slot.filter(|slot| {
            let late = schedule::is_too_late(&self.current, *slot, now);
            if late {
                self.event(
                    EventType::Warning,
                    "MissSchedule",
                    events::miss_schedule(*slot),
                );
            }
            !late
        });
        plan.then(self.events.drain(..).map(Action::Event).collect());
        let slot = slot?;
        let policy = self
            .current
            .spec
            .concurrency_policy
            .as_deref()
            .unwrap_or("Allow");
        let active: VecDeque<ObjectReference> = self
            .current
            .status
            .as_ref()
            .map(|s| active::active(s).iter().cloned().collect())
            .unwrap_or_default();
        match policy {
            "Forbid" if !active.is_empty() => None,
            "Replace" if !active.is_empty() => {
                self.step = Step::Replace {
                    slot,
                    remaining: active,
                };
                None
            }
            _ => {
                self.step = Step::Create { slot };
                None
            }
        }
    }

    /// Replace: GET the next active Job (`FailedGet` stops this CronJob), then DELETE it.
    pub(super) fn replace_next(
        &mut self,
        plan: &mut Plan,
        cache: &ObjectCache,
        slot: Timestamp,
        mut remaining: VecDeque<ObjectReference>,
    ) -> Option<Awaiting> {
        let Some(reference) = remaining.pop_front() else {
            self.step = Step::Create { slot };
            return None;
        };
        let namespace = reference
            .namespace
            .as_deref()
            .or(self.current.metadata.namespace.as_deref())
            .unwrap_or("");
        let name = reference.name.as_deref().unwrap_or("");
        let key = ObjectKey::new(ResourceKind::Job, namespace, name);
        let Some(job) = cache.get(&key) else {
            let message = events::failed_get(&format!("jobs.batch \"{name}\" not found"));
            self.event(EventType::Warning, "FailedGet", message);
            self.step = Step::Cleanup;
            plan.then(self.events.drain(..).map(Action::Event).collect());
            return None;
        };
        let index = plan.action_count();
        plan.push(Action::delete(
            key,
            Some(job.uid()),
            Some(Propagation::Background),
        ));
        let reference = ObjectReference {
            uid: job.meta().uid.clone(),
            ..reference
        };
        Some(Awaiting::ReplaceDelete {
            index,
            reference,
            slot,
            remaining,
        })
    }

    pub(super) fn create(&mut self, plan: &mut Plan, slot: Timestamp) -> Awaiting {
        let job = job_build::job_from_template(&self.current, slot, CronJobV1Poller::job_options());
        let index = plan.action_count();
        plan.push(Action::Create { object: job.into() });
        Awaiting::Create { index, slot }
    }

    /// `cleanupFinishedJobs` over the pass's list (Jobs deleted earlier in the pass are
    /// still in it, as upstream's).
    pub(super) fn cleanup(&mut self, plan: &mut Plan) -> Option<Awaiting> {
        if !has_history_limits(&self.current) {
            self.next_cron_job();
            return None;
        }
        let deletes = cleanup_deletions(&self.current, self.jobs());
        self.step = Step::CleanupStatus;
        if deletes.is_empty() {
            return None;
        }
        let mut indexed = Vec::new();
        for deletion in deletes {
            indexed.push((plan.action_count(), deletion.clone()));
            plan.push(Action::delete(
                deletion.key.clone(),
                Some(deletion.uid.clone()),
                Some(Propagation::Background),
            ));
        }
        Some(Awaiting::CleanupDeletes { deletes: indexed })
    }
}

/// The oldest finished Jobs beyond each limit (upstream `removeOldestJobs`).
fn cleanup_deletions(cron_job: &CronJob, jobs: &[Arc<KubeObject>]) -> Vec<JobDeletion> {
    let mut deletions = Vec::new();
    for (finished, limit) in [
        (
            Finished::Complete,
            cron_job.spec.successful_jobs_history_limit,
        ),
        (Finished::Failed, cron_job.spec.failed_jobs_history_limit),
    ] {
        let Some(limit) = limit else { continue };
        let mut class: Vec<&Job> = jobs
            .iter()
            .filter_map(|o| o.as_typed::<Job>())
            .filter(|j| finished_condition(j).map(|(f, _)| f) == Some(finished))
            .collect();
        let surplus = class
            .len()
            .saturating_sub(usize::try_from(limit).unwrap_or(0));
        class.sort_by(|a, b| by_job_start_time(a, b));
        deletions.extend(
            class[..surplus]
                .iter()
                .map(|job| JobDeletion::of(cron_job, job, None)),
        );
    }
    deletions
}

impl Pass {
    /// Applies a step's outcomes (upstream's branches on each API answer).
    pub(super) fn advance(&mut self, awaiting: Awaiting, outcomes: &[Outcome]) {
        let outcome = |index: usize| outcomes.get(index).cloned().unwrap_or(Outcome::Skipped);
        match awaiting {
            Awaiting::PassDone | Awaiting::Continue => {}
            Awaiting::SyncStatus { index } => match outcome(index) {
                Outcome::Done(Some(KubeObject::CronJob(updated))) => {
                    self.current = updated;
                    self.step = Step::Decide;
                }
                Outcome::Done(_) => self.step = Step::Decide,
                // "Unable to update status": skip the rest of syncOne, still clean up.
                _ => self.step = Step::Cleanup,
            },
            Awaiting::ReplaceDelete {
                index,
                reference,
                slot,
                remaining,
            } => {
                let name = reference.name.clone().unwrap_or_default();
                match outcome(index) {
                    Outcome::Done(_) => {
                        if let Some(status) = self.current.status.as_mut() {
                            delete_from_active_list(status, reference.uid.as_deref().unwrap_or(""));
                        }
                        self.event(
                            EventType::Normal,
                            "SuccessfulDelete",
                            events::successful_delete(&name),
                        );
                        self.step = Step::Replace { slot, remaining };
                    }
                    failure => {
                        let error = failure.error().map_or(String::new(), |e| e.message.clone());
                        self.event(
                            EventType::Warning,
                            "FailedDelete",
                            events::failed_delete(&error),
                        );
                        self.step = Step::Cleanup;
                    }
                }
            }
            Awaiting::Create { index, slot } => self.advance_create(outcome(index), slot),
            Awaiting::RecordStatus { index } => {
                // A failure is only logged: the Job exists but is not in `active`.
                if let Outcome::Done(Some(KubeObject::CronJob(updated))) = outcome(index) {
                    self.current = updated;
                }
                self.step = Step::Cleanup;
            }
            Awaiting::CleanupDeletes { deletes } => self.advance_cleanup(&deletes, &outcome),
            // The status write's failure is only logged.
            Awaiting::CleanupStatus => self.next_cron_job(),
        }
    }

    fn advance_create(&mut self, outcome: Outcome, slot: Timestamp) {
        match outcome {
            Outcome::Done(stored) => {
                let job = stored
                    .and_then(|o| o.into_typed::<Job>())
                    .unwrap_or_default();
                let name = job.metadata.name.clone().unwrap_or_default();
                self.event(
                    EventType::Normal,
                    "SuccessfulCreate",
                    events::successful_create(&name),
                );
                let status = self.current.status.get_or_insert_with(Default::default);
                record_start(status, job_build::job_reference(&job), slot);
                self.step = Step::RecordStatus;
            }
            failure => {
                let error = failure.error().map_or(String::new(), |e| e.message.clone());
                self.event(
                    EventType::Warning,
                    "FailedCreate",
                    events::failed_create(&error),
                );
                self.step = Step::Cleanup;
            }
        }
    }

    fn advance_cleanup(
        &mut self,
        deletes: &[(usize, JobDeletion)],
        outcome: &dyn Fn(usize) -> Outcome,
    ) {
        for (index, deletion) in deletes {
            match outcome(*index) {
                Outcome::Done(_) => {
                    if let Some(status) = self.current.status.as_mut() {
                        delete_from_active_list(status, deletion.uid.as_str());
                    }
                    self.event(
                        EventType::Normal,
                        "SuccessfulDelete",
                        events::successful_delete(&deletion.name),
                    );
                }
                failure => {
                    let error = failure.error().map_or(String::new(), |e| e.message.clone());
                    self.event(
                        EventType::Warning,
                        "FailedDelete",
                        events::failed_delete(&error),
                    );
                }
            }
        }
        self.step = Step::CleanupStatus;
    }
}
