//! The Job controller (`pkg/controller/job/`) as a pure core.
//!
//! [`JobController`] implements [`Reconciler`]: watch events go to `handle_event`
//! (enqueue the Job, lower expectations), a worker calls `reconcile` (upstream's
//! `syncJob`, returned as a [`Plan`]), and the driver reports what happened to
//! `handle_outcomes` (expectations, the backoff record, pod-control events, retry).
//! State that upstream keeps in memory is explicit here: pod expectations, finalizer
//! expectations, pod-failure backoff records, and events waiting for a pod name.
//!
//! Layout, as upstream splits it: [`spec`] (defaults and checks), [`pods`] (pod
//! classification), `sync` (`syncJob`), `manage` (`manageJob`), `tracking`
//! (`trackJobStatusAndRemoveFinalizers`), [`backoff`], [`pod_failure_policy`],
//! [`success_policy`], [`indexed`], [`status`] (conditions), [`events`], `assemble` (the
//! plan of a sync), `template` (the pods it creates), `handlers` (`addPod`, `updatePod`,
//! …), `orphan` (`syncOrphanPod`), `outcomes` (the plan ledger and `handle_outcomes`).
//! Generic expectations live in [`crate::expectations`].
//!
//! # Where this differs from upstream, and why
//!
//! - **One write step per reconcile.** Upstream's sync issues pod calls, PUTs the status,
//!   PATCHes finalizers and PUTs the status again, each call seeing the previous result.
//!   A plan is decided before anything runs, so a reconcile does the next step only and
//!   the watch events of its writes (or an explicit requeue) bring the next reconcile:
//!   the status write that moves counts out of `uncountedTerminatedPods` happens one
//!   reconcile after the finalizer PATCHes, and the terminal condition with it. The
//!   number of writes is the same (fewer when nothing needed a PATCH); the second half
//!   lands one batching period later.
//! - **Plan order stands in for call order.** Upstream's status counts the result of
//!   the pod calls made before it (`active` after creates and deletes). A plan is fixed
//!   before anything runs, so the pod calls go first in stages that stop the plan on a
//!   failure, and the status PUT after them assumes they all succeeded: it only runs if
//!   they did. When creates of a Job failed, its next plan writes the status first
//!   (facts only, so `startTime` is recorded while every create fails, and a pod that was
//!   never created is never `active`) and creates afterwards. Consequence: in that
//!   failure loop `startTime` is the time of the second sync, not the first.
//! - **Finishing with active pods.** The DELETEs of a finishing Job's active pods come
//!   first; the `FailureTarget`/`SuccessCriteriaMet` condition and the pods' accounting
//!   follow in the same plan only if every delete succeeded (upstream's rule too).
//! - **Pod-control events wait for their outcome.** `Created pod: <name>` needs the name
//!   the API server generated, so `handle_outcomes` queues SuccessfulCreate /
//!   FailedCreate / SuccessfulDelete / FailedDelete and the next reconcile of the Job emits
//!   them first.
//! - **Pods come from the owner index.** A sync reads `cache.dependents_of(job uid)`,
//!   keeps pods whose controller reference is this Job and that match the selector, and
//!   never lists the namespace (upstream's cost grows with every pod in it). Matching
//!   orphans are not adopted and owned pods that stopped matching are not released; they
//!   are ignored. Deletes carry a UID precondition (upstream sends none).
//! - **Orphan finalizers share the queue.** Upstream runs a second queue for pods whose
//!   tracking finalizer must go (their Job is gone or finished); here those pods are
//!   queued under their own `ObjectKey` (kind Pod) in the same queue.
//! - **Invalid Jobs.** A Job without spec or template, with a selector that does not parse
//!   or does not match its template, or Indexed without completions gets a Warning
//!   `InvalidJobSpec` event and is left alone (upstream would dereference nil or retry).
//! - **The Job cache must have our own last status write.** A sync that finds the cached
//!   Job older than the revision its last status PUT produced does nothing and waits for
//!   the Job's update event. Syncing from the old status would miss pods that status had
//!   just counted (their finalizers already gone) and replace them: upstream can
//!   double-create that way when its Job informer lags its pod informer.
//! - **Expectations expire on a timer.** A sync that finds a Job's expectations
//!   unfulfilled asks to run again when they expire (5 min), so a lost watch event
//!   cannot stall the Job until some unrelated event (upstream waits for one).
//! - **Suspend deletes are capped** at `max_pod_create_delete_per_sync` per reconcile,
//!   like surplus deletes.
//!
//! # Corral's guards (`docs/guards.md`), all off by default
//!
//! [`JobGuards`] in [`JobControllerConfig::guards`]: guard 1 (fair queue, detached pod
//! creates) and guard 5 ([`start_deadline`], [`creation_failure`]). With
//! `JobGuards::default()` none of the code paths below is taken and the controller behaves
//! as described above.
//!
//! - **Detached creates** (`non_blocking_creates`): a plan that creates pods puts them after
//!   a detach marker, behind the status write, which counts them in `active` as upstream's
//!   does unless this Job's last creates failed. A driver that detaches reports the inline
//!   outcomes to `handle_outcomes` and the creates' outcomes later to
//!   `handle_detached_outcomes`; meanwhile the Job's expectations stay pinned (no new
//!   creates or deletes) however long admission takes, for at most twice the expectations
//!   timeout. Failed detached creates back off per Job, 1 s doubling to 60 s, as upstream's
//!   sync-error retries do.
//! - **Fair queue** (`fair_queue`): the Job's class is its namespace and its controller
//!   (`CronJob/<name>`, or the Job itself); a Job no Job controller has ever written a
//!   status for is *fresh*. Orphan-finalizer pod keys share one turn per namespace.
//!
//! # Upstream behaviours kept on purpose
//!
//! - `Complete`/`SuccessCriteriaMet` carry reason `CompletionsReached` and upstream's
//!   message `Reached expected number of succeeded pods` (the spec quotes another text).
//! - A Job resumed after a suspension longer than `activeDeadlineSeconds` fails with
//!   `DeadlineExceeded` at once: 1.31–1.34 check the deadline against the old
//!   `startTime` before the resume resets it (later releases clear it on suspend).
//! - Failures ignored by the pod failure policy are not counted but still feed the
//!   pod-failure backoff, so the replacement waits 10 s.

mod assemble;
pub mod backoff;
pub mod creation_failure;
pub mod events;
pub mod guards;
mod handlers;
pub mod indexed;
mod manage;
mod orphan;
mod outcomes;
pub mod pod_failure_policy;
pub mod pods;
pub mod spec;
pub mod start_deadline;
pub mod status;
pub mod success_policy;
mod sync;
mod template;
mod tracking;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind, Revision};
use corral_core::{
    Enqueue, EventRecord, FairClass, FairQueueConfig, ObjectCache, ObjectEvent, Outcome, Plan,
    QueueConfig, QueueDiscipline, RateLimiter, Reconciler, SyncResult, Timestamp, clock,
};
use k8s_openapi::api::batch::v1::Job;

use crate::expectations::{Expectations, UidExpectations};

use backoff::BackoffStore;
use creation_failure::CreateState;
use outcomes::InFlight;

pub use guards::JobGuards;

/// Settings, defaulting to upstream's constants.
#[derive(Clone, Debug, PartialEq)]
pub struct JobControllerConfig {
    /// `ConcurrentJobSyncs`.
    pub workers: usize,
    /// Sync-error retries: `DefaultJobApiBackOff` doubling to `MaxJobApiBackOff`.
    pub api_backoff_base: Duration,
    pub api_backoff_max: Duration,
    /// `syncJobBatchPeriod`: pod events and status-only Job updates wait this long, so a
    /// burst of them costs one sync.
    pub sync_batch_period: Duration,
    /// `DefaultJobPodFailureBackOff` doubling to `MaxJobPodFailureBackOff`.
    pub pod_failure_backoff_base: Duration,
    pub pod_failure_backoff_max: Duration,
    /// `MaxPodCreateDeletePerSync`.
    pub max_pod_create_delete_per_sync: usize,
    /// `MaxUncountedPods`: UIDs in flight in `status.uncountedTerminatedPods`.
    pub max_uncounted_pods: usize,
    /// `ExpectationsTimeout`.
    pub expectations_timeout: Duration,
    /// `SlowStartInitialBatchSize`.
    pub slow_start_initial_batch_size: usize,
    /// Pending pod-control events kept per Job before the oldest are dropped (the event
    /// spam filter would drop them anyway).
    pub max_pending_events_per_job: usize,
    /// Corral's guards; `JobGuards::default()` (all off) is upstream.
    pub guards: JobGuards,
}

impl Default for JobControllerConfig {
    fn default() -> Self {
        JobControllerConfig {
            workers: 5,
            api_backoff_base: Duration::from_secs(1),
            api_backoff_max: Duration::from_secs(60),
            sync_batch_period: Duration::from_secs(1),
            pod_failure_backoff_base: Duration::from_secs(10),
            pod_failure_backoff_max: Duration::from_secs(600),
            max_pod_create_delete_per_sync: 500,
            max_uncounted_pods: 500,
            expectations_timeout: crate::expectations::EXPECTATIONS_TIMEOUT,
            slow_start_initial_batch_size: 1,
            max_pending_events_per_job: 1024,
            guards: JobGuards::default(),
        }
    }
}

impl JobControllerConfig {
    /// Multiplies every backoff (pod-failure 10 s → 600 s and sync-error 1 s → 60 s) by
    /// `factor`, e.g. `0.01` turns 10 s into 100 ms: for end-to-end tests against a real
    /// clock that must watch a Job exhaust its backoff limit in seconds. The batching
    /// period and the expectations timeout are left alone (set them directly if needed).
    /// Cores are tested at the real values (`factor` 1).
    pub fn with_time_scale(mut self, factor: f64) -> Self {
        let factor = if factor.is_finite() && factor > 0.0 {
            factor
        } else {
            1.0
        };
        for d in [
            &mut self.api_backoff_base,
            &mut self.api_backoff_max,
            &mut self.pod_failure_backoff_base,
            &mut self.pod_failure_backoff_max,
        ] {
            *d = Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(*d);
        }
        self
    }
}

/// The Job controller core.
#[derive(Debug)]
pub struct JobController {
    config: JobControllerConfig,
    /// Pod creates/deletes per Job key (`jm.expectations`).
    expectations: Expectations<ObjectKey>,
    /// Pod UIDs whose finalizer removal was issued but not yet seen
    /// (`jm.finalizerExpectations`).
    finalizer_expectations: UidExpectations<ObjectKey>,
    /// Pod-failure backoff per Job key (`jm.podBackoffStore`).
    backoff: BackoffStore,
    /// Pod-control events waiting to be emitted by the Job's next reconcile.
    pending_events: BTreeMap<ObjectKey, Vec<EventRecord>>,
    /// What each action of the last plan of a key was for, until its outcomes arrive.
    in_flight: BTreeMap<ObjectKey, InFlight>,
    /// Jobs whose last creates failed: their next status write goes before the creates.
    status_first: BTreeSet<ObjectKey>,
    /// The revision of each Job after our last status write, until the cache has it.
    written: BTreeMap<ObjectKey, Revision>,
    /// Guard 5: the latest outcome of each Job's creates, for its `PodCreationFailing`
    /// condition.
    creation: BTreeMap<ObjectKey, CreateState>,
    /// Guard 1: when each outstanding detached plan of a Job was handed out.
    detached: BTreeMap<ObjectKey, Vec<Timestamp>>,
    /// Guard 1: retry backoff of detached creates that failed (upstream's sync-error
    /// backoff, which a detached failure cannot reach through the queue).
    create_retry: RateLimiter<ObjectKey>,
}

impl Default for JobController {
    fn default() -> Self {
        JobController::new(JobControllerConfig::default())
    }
}

impl JobController {
    pub fn new(config: JobControllerConfig) -> Self {
        JobController {
            expectations: Expectations::new(config.expectations_timeout),
            create_retry: RateLimiter::item_exponential(
                config.api_backoff_base,
                config.api_backoff_max,
            ),
            config,
            finalizer_expectations: UidExpectations::default(),
            backoff: BackoffStore::default(),
            pending_events: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            status_first: BTreeSet::new(),
            written: BTreeMap::new(),
            creation: BTreeMap::new(),
            detached: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &JobControllerConfig {
        &self.config
    }

    /// Whether the Job may create or delete pods now (for tests and the simulator's
    /// checkers).
    pub fn expectations_satisfied(&self, key: &ObjectKey, now: Timestamp) -> bool {
        self.expectations.satisfied(key, now)
    }

    /// The pod-failure backoff record of a Job: (failures since the last success, when
    /// the last of them finished).
    pub fn backoff_record(&self, key: &ObjectKey) -> (i32, Option<Timestamp>) {
        let record = self.backoff.get(key);
        (record.failures_after_last_success, record.last_failure_time)
    }

    /// How many Jobs have state in memory (bounded by the Jobs that exist).
    pub fn tracked_jobs(&self) -> usize {
        self.backoff.len().max(self.expectations.len())
    }

    /// Drops everything remembered about a Job that no longer exists.
    fn forget(&mut self, key: &ObjectKey) {
        self.expectations.delete(key);
        self.finalizer_expectations.delete(key);
        self.backoff.remove(key);
        self.status_first.remove(key);
        self.written.remove(key);
        self.creation.remove(key);
        self.create_retry.forget(key);
        self.detached.remove(key);
    }

    /// Guard 1: whether a detached plan of the Job is still out. Its creates are counted
    /// in the expectations; until their outcomes arrive the Job must not create or delete
    /// again, however long admission takes. A plan the driver never answers is forgotten
    /// after twice the expectations timeout.
    fn detach_pinned(&mut self, key: &ObjectKey, now: Timestamp) -> bool {
        let Some(handed_out) = self.detached.get_mut(key) else {
            return false;
        };
        let limit = self.config.expectations_timeout.saturating_mul(2);
        handed_out.retain(|at| clock::since(now, *at) <= limit);
        if handed_out.is_empty() {
            self.detached.remove(key);
            return false;
        }
        true
    }

    /// Guard 1: one detached plan of the Job was answered (the oldest is released; any
    /// will do, they only count).
    fn release_detached(&mut self, key: &ObjectKey) {
        if let Some(handed_out) = self.detached.get_mut(key) {
            if !handed_out.is_empty() {
                handed_out.remove(0);
            }
            if handed_out.is_empty() {
                self.detached.remove(key);
            }
        }
    }

    /// Whether the cached Job predates our own last status write. Syncing from it would
    /// count from an old status: pods already counted (their finalizers gone) would be
    /// missed and replaced. The Job's update event ends the wait; upstream has no such
    /// guard and can double-create when its Job informer lags its pod informer.
    fn cache_predates_own_write(&mut self, key: &ObjectKey, cached: Option<Revision>) -> bool {
        let Some(&written) = self.written.get(key) else {
            return false;
        };
        if cached.is_some_and(|c| c >= written) {
            self.written.remove(key);
            return false;
        }
        true
    }

    fn queue_pending_event(&mut self, key: &ObjectKey, event: EventRecord) {
        let events = self.pending_events.entry(key.clone()).or_default();
        if events.len() >= self.config.max_pending_events_per_job {
            events.remove(0);
        }
        events.push(event);
    }
}

impl Reconciler for JobController {
    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            name: "job",
            workers: self.config.workers,
            rate_limiter: RateLimiter::item_exponential(
                self.config.api_backoff_base,
                self.config.api_backoff_max,
            ),
        }
    }

    fn watched_kinds(&self) -> &'static [ResourceKind] {
        &[ResourceKind::Job, ResourceKind::Pod]
    }

    fn handle_event(
        &mut self,
        event: &ObjectEvent,
        previous: Option<&KubeObject>,
        cache: &ObjectCache,
        now: Timestamp,
    ) -> Vec<Enqueue> {
        match event.object.kind() {
            ResourceKind::Job => self.handle_job_event(event, previous, cache, now),
            ResourceKind::Pod => self.handle_pod_event(event, previous, cache),
            _ => Vec::new(),
        }
    }

    fn reconcile(&mut self, cache: &ObjectCache, key: &ObjectKey, now: Timestamp) -> Plan {
        match key.kind {
            ResourceKind::Job => self.sync_job(cache, key, now),
            ResourceKind::Pod => self.sync_orphan_pod(cache, key),
            _ => Plan::empty(),
        }
    }

    fn handle_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        now: Timestamp,
    ) -> SyncResult {
        self.record_outcomes(key, plan, outcomes, now)
    }

    fn queue_discipline(&self) -> QueueDiscipline {
        if self.config.guards.fair_queue {
            QueueDiscipline::Fair(FairQueueConfig::default())
        } else {
            QueueDiscipline::Fifo
        }
    }

    /// Jobs queue by namespace and controller (a CronJob's Jobs share a turn); a Job no
    /// Job controller ever wrote a status for is fresh. Pod keys (orphan finalizers) share
    /// one turn per namespace.
    fn fairness_class(&self, cache: &ObjectCache, key: &ObjectKey) -> FairClass {
        if key.kind != ResourceKind::Job {
            return FairClass::new(key.namespace.clone(), "orphan-pods");
        }
        let object = cache.get(key);
        let owner = object.and_then(|o| o.controller_ref()).map_or_else(
            || format!("Job/{}", key.name),
            |r| format!("{}/{}", r.kind, r.name),
        );
        let fresh = object
            .and_then(|o| o.as_typed::<Job>())
            .is_some_and(never_synced);
        FairClass::new(key.namespace.clone(), owner).with_fresh(fresh)
    }

    fn handle_detached_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        now: Timestamp,
    ) -> SyncResult {
        self.record_detached_outcomes(key, plan, outcomes, now)
    }
}

/// A Job no Job controller has written a status for yet: the first status write always
/// sets `ready` and `uncountedTerminatedPods`.
fn never_synced(job: &Job) -> bool {
    job.metadata.deletion_timestamp.is_none()
        && job.status.as_ref().is_none_or(|s| {
            s.ready.is_none()
                && s.uncounted_terminated_pods.is_none()
                && s.start_time.is_none()
                && s.conditions.as_ref().is_none_or(Vec::is_empty)
        })
}
