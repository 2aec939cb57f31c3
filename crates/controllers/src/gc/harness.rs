//! A small virtual-time control plane for the CronJob, GC, TTL and pod GC tests.
//!
//! Goal: run several controller cores together, the way a driver will, without threads,
//! sleeps or a real store. Method: a [`TestCluster`] holds the objects; each controller gets
//! a client-go style [`WorkQueue`]; [`Harness::run_until`] processes ready keys round-robin,
//! executes plans, feeds the outcomes and the resulting watch events back, and jumps virtual
//! time to the next delayed key or scripted Job transition.
//!
//! Two pieces of API-server behaviour that `TestCluster` leaves out are added here because
//! the garbage collector depends on them: Foreground and Orphan deletes put the
//! `foregroundDeletion` / `orphan` finalizer and a deletionTimestamp on the object (the
//! registry's job), and a delete's resourceVersion precondition is enforced.
//!
//! A scripted [`JobRunner`] stands in for the Job controller: it starts every Job (status
//! `startTime`, optionally one pod owned by the Job) and finishes it after a fixed time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use corral_api::{ApiError, GroupResource, KubeObject, ObjectKey, ResourceKind};
use corral_core::clock;
use corral_core::plan::{Action, OnFailure, Outcome, Plan, Propagation, Stage, Subresource};
use corral_core::{ObjectEvent, Reconciler, SyncResult, Timestamp, WorkQueue};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};

use crate::cronjob::job_state::{Finished, is_job_finished};
use crate::gc::classify::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use crate::testing::TestCluster;

/// A bound on work per `run_until`, so a livelock fails the test instead of hanging it.
const STEPS_MAX: usize = 200_000;

/// One controller and its queue.
struct Slot {
    name: &'static str,
    reconciler: Box<dyn Reconciler>,
    queue: WorkQueue<ObjectKey>,
}

/// A write that fails on purpose.
pub(crate) struct Fault {
    pub matches: Box<dyn Fn(&Action) -> bool>,
    pub error: ApiError,
    pub remaining: usize,
}

/// Starts and finishes Jobs in place of the Job controller.
#[derive(Clone, Debug)]
pub(crate) struct JobRunner {
    pub run_for: Duration,
    pub outcome: Finished,
    /// Also create one pod per Job, owned by it (for GC chains).
    pub create_pods: bool,
}

/// Everything a controller wrote, for assertions.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Write {
    pub at: Timestamp,
    pub controller: &'static str,
    pub action: Action,
    pub outcome: Outcome,
}

pub(crate) struct Harness {
    pub cluster: TestCluster,
    pub now: Timestamp,
    pub start: Timestamp,
    pub job_runner: Option<JobRunner>,
    pub faults: Vec<Fault>,
    /// Called with the cache before each controller write, as the simulator's checkers are.
    pub checker: Option<Box<dyn FnMut(&corral_core::ObjectCache, &'static str, &Action)>>,
    pub writes: Vec<Write>,
    /// Objects removed from the store, in order.
    pub removed: Vec<(Timestamp, ObjectKey)>,
    /// The last state each object was dispatched with (the informer's `previous`).
    shadow: BTreeMap<ObjectKey, Arc<KubeObject>>,
    slots: Vec<Slot>,
}

impl Harness {
    pub fn new(start: Timestamp) -> Self {
        Harness {
            cluster: TestCluster::new(),
            now: start,
            start,
            job_runner: None,
            faults: Vec::new(),
            checker: None,
            writes: Vec::new(),
            removed: Vec::new(),
            shadow: BTreeMap::new(),
            slots: Vec::new(),
        }
    }

    pub fn add(&mut self, reconciler: impl Reconciler + 'static) {
        let config = reconciler.queue_config();
        self.slots.push(Slot {
            name: config.name,
            reconciler: Box::new(reconciler),
            queue: WorkQueue::new(config.rate_limiter),
        });
    }

    /// Seconds since the start, for messages.
    pub fn elapsed(&self) -> f64 {
        clock::since(self.now, self.start).as_secs_f64()
    }

    /// Stores an object as a client would (create or replace) and delivers the event.
    pub fn put(&mut self, object: impl Into<KubeObject>) -> ObjectKey {
        let event = self.cluster.put(object.into(), self.now);
        let key = event.object.key();
        self.dispatch(vec![event]);
        key
    }

    /// A client DELETE with the given propagation (as `kubectl delete --cascade=...`).
    pub fn delete(&mut self, key: &ObjectKey, propagation: Propagation) -> Outcome {
        let action = Action::delete(key.clone(), None, Some(propagation));
        let (outcome, events) = self.apply(&action);
        self.dispatch(events);
        outcome
    }

    /// Replaces a stored object's status, as its own controller would.
    pub fn write_status(&mut self, object: KubeObject) -> Outcome {
        let action = Action::Update {
            object,
            subresource: Subresource::Status,
        };
        let (outcome, events) = self.apply(&action);
        self.dispatch(events);
        outcome
    }

    /// Removes an object at once (a finished graceful deletion) and delivers the event.
    pub fn remove(&mut self, key: &ObjectKey) {
        let events = self.cluster.remove(key).into_iter().collect();
        self.dispatch(events);
    }

    pub fn get(&self, key: &ObjectKey) -> Option<&KubeObject> {
        self.cluster.cache.get(key).map(|o| o.as_ref())
    }

    pub fn exists(&self, key: &ObjectKey) -> bool {
        self.cluster.cache.get(key).is_some()
    }

    fn dispatch(&mut self, events: Vec<ObjectEvent>) {
        for event in events {
            let key = event.object.key();
            let previous = match event.change {
                corral_core::ChangeKind::Deleted => {
                    self.removed.push((self.now, key.clone()));
                    self.shadow.remove(&key)
                }
                _ => self.shadow.insert(key, event.object.clone()),
            };
            for slot in &mut self.slots {
                if !slot
                    .reconciler
                    .watched_kinds()
                    .contains(&event.object.kind())
                {
                    continue;
                }
                let wanted = slot.reconciler.handle_event(
                    &event,
                    previous.as_deref(),
                    &self.cluster.cache,
                    self.now,
                );
                for enqueue in wanted {
                    match enqueue.after {
                        None => slot.queue.add(enqueue.key),
                        Some(delay) => slot.queue.add_after(enqueue.key, self.now, delay),
                    }
                }
            }
        }
    }

    /// Processes everything due up to and including `until`, then sets the clock to it.
    pub fn run_until(&mut self, until: Timestamp) {
        loop {
            self.settle_instant();
            match self.next_wakeup().filter(|t| *t <= until) {
                Some(next) => self.now = next.max(self.now),
                None => break,
            }
        }
        self.now = until.max(self.now);
        self.settle_instant();
    }

    /// Runs controllers and the Job runner at the current instant until neither has
    /// anything left to do (a Job created by the last sync is started at the same instant).
    fn settle_instant(&mut self) {
        let mut steps = 0;
        loop {
            let work = self.settle() + self.run_jobs();
            if work == 0 {
                return;
            }
            steps += work;
            assert!(
                steps < STEPS_MAX,
                "no quiescence after {STEPS_MAX} steps at +{}s",
                self.elapsed()
            );
        }
    }

    pub fn run_for(&mut self, duration: Duration) {
        self.run_until(clock::add(self.now, duration));
    }

    fn next_wakeup(&self) -> Option<Timestamp> {
        let queues = self.slots.iter().filter_map(|s| s.queue.next_wakeup());
        queues.chain(self.next_job_transition()).min()
    }

    /// Processes ready keys round-robin until none is ready; returns the number processed.
    fn settle(&mut self) -> usize {
        let mut processed = 0;
        loop {
            let mut progress = false;
            for index in 0..self.slots.len() {
                if self.process_one(index) {
                    progress = true;
                    processed += 1;
                    assert!(processed < STEPS_MAX, "livelock at +{}s", self.elapsed());
                }
            }
            if !progress {
                return processed;
            }
        }
    }

    /// One worker iteration (upstream `processNextWorkItem`) of one controller.
    fn process_one(&mut self, index: usize) -> bool {
        let now = self.now;
        let Some(key) = self.slots[index].queue.pop(now) else {
            return false;
        };
        let plan = self.slots[index]
            .reconciler
            .reconcile(&self.cluster.cache, &key, now);
        let (outcomes, events) = self.execute(self.slots[index].name, &plan);
        let slot = &mut self.slots[index];
        match slot.reconciler.handle_outcomes(&key, &plan, &outcomes, now) {
            SyncResult::Done { requeue_after } => {
                slot.queue.forget(&key);
                if let Some(delay) = requeue_after {
                    slot.queue.add_after(key.clone(), now, delay);
                }
            }
            SyncResult::Retry { .. } => slot.queue.add_rate_limited(key.clone(), now),
        }
        self.dispatch(events);
        self.slots[index].queue.done(&key);
        true
    }

    /// Executes a plan stage by stage, as a driver does.
    fn execute(
        &mut self,
        controller: &'static str,
        plan: &Plan,
    ) -> (Vec<Outcome>, Vec<ObjectEvent>) {
        let mut outcomes = Vec::new();
        let mut events = Vec::new();
        let mut skipping = false;
        for stage in &plan.stages {
            let mut failed = false;
            for action in &stage.actions {
                let outcome = if skipping {
                    Outcome::Skipped
                } else {
                    if let Some(checker) = self.checker.as_mut() {
                        checker(&self.cluster.cache, controller, action);
                    }
                    let (outcome, produced) = self.apply(action);
                    events.extend(produced);
                    outcome
                };
                failed |= outcome.is_failure();
                self.writes.push(Write {
                    at: self.now,
                    controller,
                    action: action.clone(),
                    outcome: outcome.clone(),
                });
                outcomes.push(outcome);
            }
            skipping |= failed && stage.on_failure == OnFailure::SkipRest;
        }
        (outcomes, events)
    }

    /// One action, with injected faults and the registry's deletion semantics.
    fn apply(&mut self, action: &Action) -> (Outcome, Vec<ObjectEvent>) {
        if let Some(fault) = self
            .faults
            .iter_mut()
            .find(|f| f.remaining > 0 && (f.matches)(action))
        {
            fault.remaining -= 1;
            return (Outcome::Failed(fault.error.clone()), Vec::new());
        }
        if let Action::Delete {
            key,
            preconditions,
            propagation,
            ..
        } = action
            && let Some(current) = self.cluster.cache.get(key).cloned()
        {
            if preconditions
                .resource_version
                .is_some_and(|rv| current.revision() != Some(rv))
            {
                let resource = GroupResource::new(key.kind.group(), key.kind.plural());
                let conflict = ApiError::conflict(&resource, &key.name, "Precondition failed");
                return (Outcome::Failed(conflict), Vec::new());
            }
            let uid_matches = preconditions
                .uid
                .as_ref()
                .is_none_or(|u| current.meta().uid.as_deref() == Some(u.as_str()));
            let finalizer = match propagation {
                Some(Propagation::Foreground) => Some(FINALIZER_FOREGROUND),
                Some(Propagation::Orphan) => Some(FINALIZER_ORPHAN),
                _ => None,
            };
            if let Some(finalizer) =
                finalizer.filter(|_| uid_matches && !current.is_being_deleted())
            {
                let mut marked = (*current).clone();
                marked
                    .meta_mut()
                    .finalizers
                    .get_or_insert_with(Vec::new)
                    .push(finalizer.to_string());
                marked.meta_mut().deletion_timestamp = Some(Time(self.now));
                let event = self.cluster.put(marked, self.now);
                return (Outcome::Done(Some((*event.object).clone())), vec![event]);
            }
        }
        let single = Plan {
            stages: vec![Stage {
                actions: vec![action.clone()],
                on_failure: OnFailure::Continue,
            }],
            requeue_after: None,
        };
        let (mut outcomes, events) = self.cluster.execute(&single, self.now);
        (outcomes.pop().unwrap_or(Outcome::Skipped), events)
    }

    /// The earliest time a running Job finishes.
    fn next_job_transition(&self) -> Option<Timestamp> {
        let runner = self.job_runner.as_ref()?;
        self.cluster
            .cache
            .list_typed::<Job>()
            .filter(|job| !is_job_finished(job) && job.metadata.deletion_timestamp.is_none())
            .filter_map(|job| job.status.as_ref()?.start_time.as_ref())
            .map(|start| clock::add(start.0, runner.run_for))
            .min()
    }

    /// Starts new Jobs and finishes those whose time has come; returns how many changed.
    fn run_jobs(&mut self) -> usize {
        let Some(runner) = self.job_runner.clone() else {
            return 0;
        };
        let jobs: Vec<Job> = self
            .cluster
            .cache
            .list_typed::<Job>()
            .filter(|job| !is_job_finished(job) && job.metadata.deletion_timestamp.is_none())
            .cloned()
            .collect();
        let mut changed = 0;
        for mut job in jobs {
            let started = job
                .status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .map(|t| t.0);
            match started {
                None => {
                    if runner.create_pods {
                        self.put(pod_for(&job));
                    }
                    let status = job.status.get_or_insert_with(JobStatus::default);
                    status.start_time = Some(Time(self.now));
                    status.active = Some(1);
                }
                Some(started) if clock::add(started, runner.run_for) <= self.now => {
                    let status = job.status.get_or_insert_with(JobStatus::default);
                    finish_job(status, runner.outcome, self.now);
                }
                Some(_) => continue,
            }
            self.write_status(job.into());
            changed += 1;
        }
        changed
    }

    /// Events recorded so far with this reason.
    pub fn event_count(&self, reason: &str) -> usize {
        self.cluster
            .events
            .iter()
            .filter(|e| e.reason == reason)
            .count()
    }

    pub fn event_messages(&self, reason: &str) -> Vec<String> {
        self.cluster
            .events
            .iter()
            .filter(|e| e.reason == reason)
            .map(|e| e.message.clone())
            .collect()
    }

    /// Every successful write of this kind by a controller (deletes, creates, …).
    pub fn successful_writes(&self, controller: &str) -> Vec<&Write> {
        self.writes
            .iter()
            .filter(|w| w.controller == controller && matches!(w.outcome, Outcome::Done(_)))
            .filter(|w| !matches!(w.action, Action::Event(_)))
            .collect()
    }

    pub fn objects(&self, kind: ResourceKind) -> Vec<&KubeObject> {
        self.cluster.cache.list(kind).map(|o| o.as_ref()).collect()
    }

    /// When an object was removed from the store, if it was.
    pub fn removed_at(&self, key: &ObjectKey) -> Option<Timestamp> {
        self.removed
            .iter()
            .find(|(_, k)| k == key)
            .map(|(at, _)| *at)
    }
}

/// Sets the finished condition the way the Job controller does.
pub(crate) fn finish_job(status: &mut JobStatus, outcome: Finished, now: Timestamp) {
    status.active = Some(0);
    let condition = JobCondition {
        type_: outcome.as_str().to_string(),
        status: "True".into(),
        last_transition_time: Some(Time(now)),
        last_probe_time: Some(Time(now)),
        ..Default::default()
    };
    status
        .conditions
        .get_or_insert_with(Vec::new)
        .push(condition);
    match outcome {
        Finished::Complete => {
            status.succeeded = Some(1);
            status.completion_time = Some(Time(now));
        }
        Finished::Failed => status.failed = Some(1),
    }
}

/// The pod a Job controller would create for the Job (one, owned and blocking).
pub(crate) fn pod_for(job: &Job) -> Pod {
    let name = job.metadata.name.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("{name}-pod")),
            namespace: job.metadata.namespace.clone(),
            owner_references: Some(vec![owner_ref(&KubeObject::Job(job.clone()))]),
            ..Default::default()
        },
        spec: Some(PodSpec::default()),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            ..Default::default()
        }),
    }
}

/// A controller reference to `owner`, blocking its foreground deletion.
pub(crate) fn owner_ref(owner: &KubeObject) -> OwnerReference {
    OwnerReference {
        api_version: owner.kind().api_version().to_string(),
        kind: owner.kind().kind_name().to_string(),
        name: owner.name().to_string(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}
