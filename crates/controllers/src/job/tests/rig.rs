//! A worker-level driver for guard 1: a fixed number of workers, the queue the controller
//! asks for (FIFO or fair), pod creates that spend time in admission, and, when enabled,
//! detached tails run in the background as `corral_core::controller` specifies.
//!
//! Goal: measure what the incidents measured — how long an unrelated Job waits for its pod
//! while other Jobs' pod creates crawl through a slow webhook — with the same controller
//! core in both modes. Method: virtual time; a worker that pops a key reconciles at once
//! and is busy for `sync_cost` plus the admission time of the pod creates it runs inline
//! (stages run one after another, a stage as long as its slowest create, a failed
//! `SkipRest` stage ends the plan), and the plan's writes land when it finishes. A
//! detached tail runs after the inline part, off the worker. Creates whose `generateName`
//! matches `TestCluster::fail_creates` fail (a webhook denying them) after their admission
//! time. The informer sees every write at once.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_api::{ObjectKey, ResourceKind};
use corral_core::clock::{self, add};
use corral_core::{
    Action, ControllerQueue, Enqueue, ObjectCache, ObjectEvent, OnFailure, Outcome, Plan,
    Reconciler, SyncResult, Timestamp,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use crate::job::{JobController, JobControllerConfig};
use crate::testing::TestCluster;

const STEPS_MAX: usize = 2_000_000;

/// Admission time of a pod create, by its `generateName`.
pub type Admission = Box<dyn Fn(&str) -> Duration>;

/// A worker's current sync.
struct Busy {
    free_at: Timestamp,
    key: ObjectKey,
    plan: Plan,
    /// Where the detachable stages start, when this sync detaches them.
    detach_at: Option<usize>,
}

pub struct Rig {
    pub cluster: TestCluster,
    pub informer: ObjectCache,
    pub controller: JobController,
    pub queue: ControllerQueue<ObjectKey>,
    pub now: Timestamp,
    pub admission: Admission,
    /// Worker time of every sync, besides admission.
    pub sync_cost: Duration,
    /// Whether this driver detaches detachable stages (a driver may always decline).
    pub detach: bool,
    workers: Vec<Option<Busy>>,
    tails: BTreeMap<(Timestamp, u64), (ObjectKey, Plan)>,
    arrivals: BTreeMap<(Timestamp, u64), Job>,
    sequence: u64,
    /// When each Job was created and got its first pod.
    pub job_created: BTreeMap<String, Timestamp>,
    pub first_pod: BTreeMap<String, Timestamp>,
}

impl Rig {
    pub fn new(config: JobControllerConfig, workers: usize, admission: Admission) -> Rig {
        let controller = JobController::new(config);
        let queue = ControllerQueue::new(
            controller.queue_config().rate_limiter,
            controller.queue_discipline(),
        );
        let start = clock::epoch();
        Rig {
            cluster: TestCluster::new(),
            informer: ObjectCache::new(),
            controller,
            queue,
            now: start,
            admission,
            sync_cost: Duration::ZERO,
            detach: true,
            workers: (0..workers).map(|_| None).collect(),
            tails: BTreeMap::new(),
            arrivals: BTreeMap::new(),
            sequence: 0,
            job_created: BTreeMap::new(),
            first_pod: BTreeMap::new(),
        }
    }

    /// Creates `job` at `at`.
    pub fn schedule(&mut self, at: Timestamp, job: Job) {
        self.sequence += 1;
        self.arrivals.insert((at, self.sequence), job);
    }

    /// Seconds from the Job's creation to its first pod.
    pub fn pod_latency(&self, job: &str) -> Option<f64> {
        let created = self.job_created.get(job)?;
        let pod = self.first_pod.get(job)?;
        Some(clock::since(*pod, *created).as_secs_f64())
    }

    pub fn run_until(&mut self, until: Timestamp) {
        for _ in 0..STEPS_MAX {
            while self.step_instant() {}
            let next = [
                self.arrivals.keys().next().map(|(t, _)| *t),
                self.tails.keys().next().map(|(t, _)| *t),
                self.workers.iter().flatten().map(|b| b.free_at).min(),
                // A timer already due waits for a free worker, which is an event of its own.
                self.queue.next_wakeup().filter(|t| *t > self.now),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= until => self.now = t.max(self.now),
                _ => {
                    self.now = until;
                    while self.step_instant() {}
                    return;
                }
            }
        }
        panic!("no quiescence after {STEPS_MAX} steps");
    }

    /// Does everything due now; returns whether anything happened.
    fn step_instant(&mut self) -> bool {
        let mut progress = false;
        while let Some(entry) = self.arrivals.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let job = entry.remove();
            let name = job.metadata.name.clone().unwrap_or_default();
            self.job_created.insert(name, self.now);
            let event = self.cluster.put(job.into(), self.now);
            self.deliver(vec![event]);
            progress = true;
        }
        for index in 0..self.workers.len() {
            if self.workers[index]
                .as_ref()
                .is_some_and(|b| b.free_at <= self.now)
            {
                let busy = self.workers[index].take();
                if let Some(busy) = busy {
                    self.finish(busy);
                }
                progress = true;
            }
        }
        while let Some(entry) = self.tails.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let (key, plan) = entry.remove();
            self.finish_tail(key, plan);
            progress = true;
        }
        for index in 0..self.workers.len() {
            if self.workers[index].is_some() {
                continue;
            }
            let Some(key) = self.queue.pop(self.now) else {
                break;
            };
            self.workers[index] = Some(self.begin(key));
            progress = true;
        }
        progress
    }

    /// A worker takes `key`: reconcile now, busy for the inline part.
    fn begin(&mut self, key: ObjectKey) -> Busy {
        let plan = self.controller.reconcile(&self.informer, &key, self.now);
        let detach_at = plan.detach_point().filter(|_| self.detach);
        let inline_end = detach_at.unwrap_or(plan.stages.len());
        let busy_for = self.sync_cost + self.stages_duration(&plan, 0, inline_end);
        Busy {
            free_at: add(self.now, busy_for),
            key,
            plan,
            detach_at,
        }
    }

    /// Admission time of stages `[from, to)`, stopping where a failed `SkipRest` stage
    /// would.
    fn stages_duration(&self, plan: &Plan, from: usize, to: usize) -> Duration {
        let mut total = Duration::ZERO;
        for stage in &plan.stages[from..to] {
            let mut longest = Duration::ZERO;
            let mut denied = false;
            for action in &stage.actions {
                if let Some(prefix) = pod_create_prefix(action) {
                    longest = longest.max((self.admission)(&prefix));
                    denied |= self.denied(&prefix);
                }
            }
            total += longest;
            if denied && stage.on_failure == OnFailure::SkipRest {
                break;
            }
        }
        total
    }

    fn denied(&self, prefix: &str) -> bool {
        self.cluster
            .fail_creates
            .iter()
            .any(|(p, _)| prefix.starts_with(p.as_str()))
    }

    /// The worker's sync ends: its inline writes land, outcomes go back, the key is
    /// released, and a detached tail starts.
    fn finish(&mut self, busy: Busy) {
        let Busy {
            key,
            plan,
            detach_at,
            ..
        } = busy;
        let Some(point) = detach_at else {
            let (outcomes, events) = self.cluster.execute(&plan, self.now);
            let result = self
                .controller
                .handle_outcomes(&key, &plan, &outcomes, self.now);
            self.deliver(events);
            self.apply(key.clone(), result);
            self.queue.done(&key);
            return;
        };
        let inline = sub_plan(&plan, 0, point);
        let (mut outcomes, events) = self.cluster.execute(&inline, self.now);
        let stopped = inline.stages.iter().enumerate().any(|(i, stage)| {
            stage.on_failure == OnFailure::SkipRest && stage_failed(&inline, i, &outcomes)
        });
        if stopped {
            outcomes.resize(plan.action_count(), Outcome::Skipped);
        }
        let result = self
            .controller
            .handle_outcomes(&key, &plan, &outcomes, self.now);
        self.deliver(events);
        self.apply(key.clone(), result);
        self.queue.done(&key);
        if !stopped {
            let took = self.stages_duration(&plan, point, plan.stages.len());
            self.sequence += 1;
            self.tails
                .insert((add(self.now, took), self.sequence), (key, plan));
        }
    }

    fn finish_tail(&mut self, key: ObjectKey, plan: Plan) {
        let Some(point) = plan.detach_point() else {
            return;
        };
        let tail = sub_plan(&plan, point, plan.stages.len());
        let (outcomes, events) = self.cluster.execute(&tail, self.now);
        let result = self
            .controller
            .handle_detached_outcomes(&key, &plan, &outcomes, self.now);
        self.deliver(events);
        self.apply(key, result);
    }

    fn apply(&mut self, key: ObjectKey, result: SyncResult) {
        let controller = &self.controller;
        let informer = &self.informer;
        let class = |k: &ObjectKey| controller.fairness_class(informer, k);
        match result {
            SyncResult::Done { requeue_after } => {
                self.queue.forget(&key);
                if let Some(after) = requeue_after {
                    self.queue.add_after(key, class, self.now, after);
                }
            }
            SyncResult::Retry { .. } => self.queue.add_rate_limited(key, class, self.now),
        }
    }

    fn deliver(&mut self, events: Vec<ObjectEvent>) {
        for event in events {
            self.observe(&event);
            let previous = self.informer.apply(&event);
            let wanted =
                self.controller
                    .handle_event(&event, previous.as_deref(), &self.informer, self.now);
            let controller = &self.controller;
            let informer = &self.informer;
            for Enqueue { key, after } in wanted {
                let class = |k: &ObjectKey| controller.fairness_class(informer, k);
                match after {
                    None => self.queue.add(key, class),
                    Some(delay) => self.queue.add_after(key, class, self.now, delay),
                }
            }
        }
    }

    fn observe(&mut self, event: &ObjectEvent) {
        if event.change != corral_core::ChangeKind::Added {
            return;
        }
        let Some(pod) = event.object.as_typed::<Pod>() else {
            return;
        };
        let owner = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true));
        if let Some(owner) = owner {
            self.first_pod.entry(owner.name.clone()).or_insert(self.now);
        }
    }

    pub fn pods_of(&self, job: &str) -> usize {
        self.cluster
            .cache
            .list(ResourceKind::Pod)
            .filter_map(|o| o.as_typed::<Pod>())
            .filter(|p| {
                p.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|r| r.name == job)
            })
            .count()
    }
}

fn pod_create_prefix(action: &Action) -> Option<String> {
    match action {
        Action::Create { object } if object.kind() == ResourceKind::Pod => {
            object.meta().generate_name.clone()
        }
        _ => None,
    }
}

fn sub_plan(plan: &Plan, from: usize, to: usize) -> Plan {
    Plan {
        stages: plan.stages[from..to].to_vec(),
        requeue_after: None,
    }
}

/// Whether stage `index` of `plan` has a failed outcome.
fn stage_failed(plan: &Plan, index: usize, outcomes: &[Outcome]) -> bool {
    let start: usize = plan.stages[..index].iter().map(|s| s.actions.len()).sum();
    let len = plan.stages[index].actions.len();
    outcomes
        .iter()
        .skip(start)
        .take(len)
        .any(Outcome::is_failure)
}
