//! A virtual-time rig for the Job controller: a store, an informer cache that may lag
//! behind it, a client-go work queue, and a fake kubelet.
//!
//! Goal: drive [`JobController`] exactly as a driver will (events → `handle_event` →
//! queue → `reconcile` → execute → `handle_outcomes` → requeue), with time jumping to the
//! next delayed key or kubelet transition, never sleeping. Method: [`TestCluster`] is the
//! store; its watch events reach a separate [`ObjectCache`] (the controller's informer)
//! unless `hold_events` is set, which lets a test make the cache lag. The kubelet derives
//! every pod's status from a scripted [`Behaviour`] and the time since the pod's creation,
//! and writes it when it changes.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::clock::{self, add};
use corral_core::{
    Action, ChangeKind, Enqueue, EventRecord, ObjectCache, ObjectEvent, Plan, Reconciler, SyncResult, Timestamp,
    WorkQueue,
};
use k8s_openapi::api::batch::v1::{Job, JobSpec, JobStatus};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, Pod, PodCondition, PodSpec, PodStatus, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};

use crate::job::pods::{self, JOB_TRACKING_FINALIZER};
use crate::job::{JobController, JobControllerConfig};
use crate::testing::TestCluster;

pub const NS: &str = "ns";
/// A bound on loop iterations per `run_until`: a livelock fails instead of hanging.
const STEPS_MAX: usize = 100_000;

/// What the fake kubelet does with a pod, from its creation on.
#[derive(Clone, Debug, PartialEq)]
pub enum Behaviour {
    /// Runs (and is Ready) at once, exits with `exit_code` after `run`.
    Exit { run: Duration, exit_code: i32 },
    /// Runs until deleted.
    Run,
    /// Never starts (an image that cannot be pulled).
    Pending,
    /// `restartPolicy: OnFailure` crash loop: first exit after `run`, restarted in place
    /// at 0, 10, 30, 70, 150, 310 … s after it; the phase stays Running.
    CrashLoop { run: Duration },
    /// Fails after `run` with this pod condition set (e.g. `DisruptionTarget`).
    Disrupted { run: Duration, condition: &'static str },
}

/// How each created pod behaves: by creation ordinal (0-based) and pod.
pub type Script = Box<dyn Fn(usize, &Pod) -> Behaviour>;

/// What became of a pod, from everything the watch said about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fate {
    pub succeeded: bool,
    pub failed: bool,
    /// Marked for deletion while still holding the tracking finalizer.
    pub deleted_with_finalizer: bool,
    pub removed: bool,
}

pub struct Harness {
    pub cluster: TestCluster,
    pub informer: ObjectCache,
    pub controller: JobController,
    pub queue: WorkQueue<ObjectKey>,
    pub now: Timestamp,
    pub start: Timestamp,
    /// Watch events the informer has not seen yet.
    pub undelivered: VecDeque<ObjectEvent>,
    pub hold_events: bool,
    pub script: Script,
    /// How long the kubelet takes to kill a pod being deleted.
    pub termination_grace: Duration,
    /// Pods in creation order, with their creation time.
    pub created: Vec<(String, Timestamp)>,
    /// When each pod terminated (its containers' `finishedAt`).
    pub finished: BTreeMap<String, Timestamp>,
    pub fates: BTreeMap<String, Fate>,
    /// Every sync: (time, key, result).
    pub syncs: Vec<(Timestamp, ObjectKey, SyncResult)>,
    /// Every plan executed, with its time.
    pub plans: Vec<(Timestamp, Plan)>,
    /// Largest number of active pods seen at once per Job name.
    pub max_active: BTreeMap<String, usize>,
}

impl Harness {
    pub fn new(script: Script) -> Harness {
        Harness::with_config(JobControllerConfig::default(), script)
    }

    pub fn with_config(config: JobControllerConfig, script: Script) -> Harness {
        let controller = JobController::new(config);
        let queue = WorkQueue::new(controller.queue_config().rate_limiter);
        let start = clock::epoch();
        Harness {
            cluster: TestCluster::new(),
            informer: ObjectCache::new(),
            controller,
            queue,
            now: start,
            start,
            undelivered: VecDeque::new(),
            hold_events: false,
            script,
            termination_grace: Duration::ZERO,
            created: Vec::new(),
            finished: BTreeMap::new(),
            fates: BTreeMap::new(),
            syncs: Vec::new(),
            plans: Vec::new(),
            max_active: BTreeMap::new(),
        }
    }

    /// Seconds since the start, for readable assertions.
    pub fn secs(&self, t: Timestamp) -> u64 {
        clock::since(t, self.start).as_secs()
    }

    pub fn elapsed(&self) -> u64 {
        self.secs(self.now)
    }

    pub fn submit(&mut self, job: Job) {
        let event = self.cluster.put(job.into(), self.now);
        self.undelivered.push_back(event);
        self.deliver();
    }

    /// A user edit of the Job's spec (the generation goes up, as the registry does).
    pub fn edit_job(&mut self, name: &str, edit: impl FnOnce(&mut JobSpec)) {
        let mut job = self.job(name);
        edit(job.spec.as_mut().expect("spec"));
        job.metadata.generation = Some(job.metadata.generation.unwrap_or(1) + 1);
        let event = self.cluster.put(job.into(), self.now);
        self.undelivered.push_back(event);
        self.deliver();
    }

    /// A user deletes a pod (graceful: the finalizer keeps it until counted).
    pub fn delete_pod(&mut self, name: &str) {
        let key = ObjectKey::new(ResourceKind::Pod, NS, name);
        let mut plan = Plan::empty();
        plan.push(Action::delete(key, None, None));
        let (_, events) = self.cluster.execute(&plan, self.now);
        self.undelivered.extend(events);
        self.deliver();
    }

    /// Hands every held watch event to the informer and the controller.
    pub fn deliver(&mut self) {
        if self.hold_events {
            return;
        }
        while let Some(event) = self.undelivered.pop_front() {
            self.observe(&event);
            let previous = self.informer.apply(&event);
            let enqueue = self.controller.handle_event(&event, previous.as_deref(), &self.informer, self.now);
            for Enqueue { key, after } in enqueue {
                match after {
                    None => self.queue.add(key),
                    Some(delay) => self.queue.add_after(key, self.now, delay),
                }
            }
        }
    }

    /// Records pod creations and fates from the watch.
    fn observe(&mut self, event: &ObjectEvent) {
        let Some(pod) = event.object.as_typed::<Pod>() else {
            return;
        };
        let name = pods::name(pod).to_string();
        if event.change == ChangeKind::Added && !self.fates.contains_key(&name) {
            self.created.push((name.clone(), self.now));
        }
        let fate = self.fates.entry(name).or_default();
        fate.succeeded |= pods::is_succeeded(pod);
        fate.failed |= pods::phase(pod) == pods::PHASE_FAILED;
        fate.deleted_with_finalizer |= pods::is_being_deleted(pod) && pods::has_tracking_finalizer(pod);
        fate.removed |= event.change == ChangeKind::Deleted;
    }

    /// Processes every key ready now.
    pub fn sync_ready(&mut self) {
        while let Some(key) = self.queue.pop(self.now) {
            let plan = self.controller.reconcile(&self.informer, &key, self.now);
            let (outcomes, events) = self.cluster.execute(&plan, self.now);
            let result = self.controller.handle_outcomes(&key, &plan, &outcomes, self.now);
            match &result {
                SyncResult::Done { requeue_after } => {
                    self.queue.forget(&key);
                    if let Some(after) = requeue_after {
                        self.queue.add_after(key.clone(), self.now, *after);
                    }
                }
                SyncResult::Retry { .. } => self.queue.add_rate_limited(key.clone(), self.now),
            }
            self.queue.done(&key);
            self.syncs.push((self.now, key, result));
            if !plan.is_empty() {
                self.plans.push((self.now, plan));
            }
            self.undelivered.extend(events);
            self.deliver();
        }
    }

    /// Runs until `done` holds or nothing is left to happen; panics past `limit`.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Harness) -> bool) {
        let deadline = add(self.start, limit);
        for _ in 0..STEPS_MAX {
            self.deliver();
            self.kubelet_step();
            self.sync_ready();
            self.check_active();
            if done(self) {
                return;
            }
            let next = [self.queue.next_wakeup(), self.kubelet_next_change()].into_iter().flatten().min();
            match next {
                Some(t) if t <= deadline => self.now = t.max(self.now),
                _ => return,
            }
        }
        panic!("no quiescence after {STEPS_MAX} steps");
    }

    /// Runs until the Job has a `Complete` or `Failed` condition, or `limit` passes.
    pub fn run_until_finished(&mut self, name: &str, limit: Duration) {
        let name = name.to_string();
        self.run_until(limit, |h| h.finished_condition(&name).is_some());
    }

    /// Lets `d` of virtual time pass, handling everything due meanwhile.
    pub fn advance(&mut self, d: Duration) {
        let until = add(self.now, d);
        let limit = clock::since(until, self.start);
        let mut stop = false;
        self.run_until(limit, |h| {
            let over = h.now >= until;
            stop |= over;
            over
        });
        if self.now < until {
            self.now = until;
            self.deliver();
            self.kubelet_step();
            self.sync_ready();
        }
    }

    fn check_active(&mut self) {
        for (job, count) in self.active_pods_by_job() {
            let max = self.max_active.entry(job).or_default();
            *max = (*max).max(count);
        }
    }

    fn active_pods_by_job(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for pod in self.cluster.cache.list_typed::<Pod>() {
            let owner = pod.metadata.owner_references.iter().flatten().find(|r| r.controller == Some(true));
            if let (Some(owner), true) = (owner, pods::is_active(pod)) {
                *counts.entry(owner.name.clone()).or_default() += 1;
            }
        }
        counts
    }

    // --- the fake kubelet -------------------------------------------------------------

    /// Writes every pod whose scripted status differs from the stored one.
    pub fn kubelet_step(&mut self) {
        let mut writes = Vec::new();
        for (ordinal, (name, created)) in self.created.iter().enumerate() {
            let key = ObjectKey::new(ResourceKind::Pod, NS, name);
            let Some(object) = self.cluster.cache.get(&key) else {
                continue;
            };
            let Some(pod) = object.as_typed::<Pod>() else {
                continue;
            };
            let behaviour = (self.script)(ordinal, pod);
            let status = kubelet_status(&behaviour, pod, *created, self.now, self.termination_grace);
            if pod.status.as_ref() != Some(&status) {
                let mut updated = pod.clone();
                updated.status = Some(status);
                writes.push(updated);
            }
        }
        for pod in writes {
            if pods::is_terminal(&pod) {
                if let Some(t) = container_finished_at(&pod) {
                    self.finished.entry(pods::name(&pod).to_string()).or_insert(t);
                }
            }
            let event = self.cluster.put(pod.into(), self.now);
            self.undelivered.push_back(event);
        }
        self.deliver();
    }

    /// The next time any pod's scripted status changes.
    fn kubelet_next_change(&self) -> Option<Timestamp> {
        let mut next: Option<Timestamp> = None;
        for (ordinal, (name, created)) in self.created.iter().enumerate() {
            let key = ObjectKey::new(ResourceKind::Pod, NS, name);
            let Some(pod) = self.cluster.cache.get(&key).and_then(|o| o.as_typed::<Pod>()) else {
                continue;
            };
            let behaviour = (self.script)(ordinal, pod);
            for t in transition_times(&behaviour, pod, *created, self.termination_grace) {
                if t > self.now {
                    next = Some(next.map_or(t, |n| n.min(t)));
                    break;
                }
            }
        }
        next
    }

    // --- queries ----------------------------------------------------------------------

    pub fn job(&self, name: &str) -> Job {
        let key = ObjectKey::new(ResourceKind::Job, NS, name);
        self.cluster.cache.get(&key).and_then(|o| o.as_typed::<Job>()).cloned().expect("job exists")
    }

    pub fn status(&self, name: &str) -> JobStatus {
        self.job(name).status.unwrap_or_default()
    }

    /// `(type, reason)` of the Job's `Complete`/`Failed` condition, if any.
    pub fn finished_condition(&self, name: &str) -> Option<(String, String)> {
        self.status(name).conditions.unwrap_or_default().into_iter().find_map(|c| {
            let terminal = (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True";
            terminal.then(|| (c.type_, c.reason.unwrap_or_default()))
        })
    }

    pub fn condition_types(&self, name: &str) -> Vec<String> {
        self.status(name)
            .conditions
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.status == "True")
            .map(|c| c.type_)
            .collect()
    }

    pub fn events(&self, reason: &str) -> Vec<&EventRecord> {
        self.cluster.events.iter().filter(|e| e.reason == reason).collect()
    }

    pub fn pods(&self) -> Vec<Pod> {
        self.cluster.cache.list_typed::<Pod>().cloned().collect()
    }

    /// Gaps between a pod finishing and the next pod being created, in seconds.
    pub fn replacement_delays(&self) -> Vec<u64> {
        self.created
            .windows(2)
            .filter_map(|w| {
                let finished = self.finished.get(&w[0].0)?;
                Some(clock::since(w[1].1, *finished).as_secs())
            })
            .collect()
    }

    pub fn retries(&self, name: &str) -> usize {
        self.syncs
            .iter()
            .filter(|(_, k, r)| k.name == name && matches!(r, SyncResult::Retry { .. }))
            .count()
    }
}

/// The status the kubelet reports for `pod` at `now`.
fn kubelet_status(behaviour: &Behaviour, pod: &Pod, created: Timestamp, now: Timestamp, grace: Duration) -> PodStatus {
    if let Some(current) = pod.status.as_ref().filter(|_| pods::is_terminal(pod)) {
        return current.clone(); // Terminal phases never change.
    }
    if let Some(deleted) = pod.metadata.deletion_timestamp.as_ref() {
        let killed = add(deleted.0, grace);
        if now >= killed {
            return terminated(pods::PHASE_FAILED, 137, killed, created, None);
        }
    }
    match behaviour {
        Behaviour::Pending => PodStatus {
            phase: Some(pods::PHASE_PENDING.into()),
            container_statuses: Some(vec![container(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("ImagePullBackOff".into()),
                    message: None,
                }),
                ..Default::default()
            }, 0)]),
            ..Default::default()
        },
        Behaviour::Run => running(created, 0, true),
        Behaviour::Exit { run, exit_code } => {
            let end = add(created, *run);
            if now < end {
                return running(created, 0, true);
            }
            let phase = if *exit_code == 0 { pods::PHASE_SUCCEEDED } else { pods::PHASE_FAILED };
            terminated(phase, *exit_code, end, created, None)
        }
        Behaviour::Disrupted { run, condition } => {
            let end = add(created, *run);
            if now < end {
                return running(created, 0, true);
            }
            terminated(pods::PHASE_FAILED, 137, end, created, Some(condition))
        }
        Behaviour::CrashLoop { run } => {
            let first_exit = add(created, *run);
            if now < first_exit {
                return running(created, 0, true);
            }
            let restarts = crash_loop_restarts(first_exit).into_iter().filter(|t| *t <= now).count();
            running(created, i32::try_from(restarts).unwrap_or(i32::MAX), false)
        }
    }
}

/// Upcoming times at which `kubelet_status` changes, in order.
fn transition_times(behaviour: &Behaviour, pod: &Pod, created: Timestamp, grace: Duration) -> Vec<Timestamp> {
    if pods::is_terminal(pod) {
        return Vec::new();
    }
    let mut times = vec![created];
    if let Some(deleted) = pod.metadata.deletion_timestamp.as_ref() {
        times.push(add(deleted.0, grace));
    }
    match behaviour {
        Behaviour::Exit { run, .. } | Behaviour::Disrupted { run, .. } => times.push(add(created, *run)),
        Behaviour::CrashLoop { run } => {
            let first_exit = add(created, *run);
            times.push(first_exit);
            times.extend(crash_loop_restarts(first_exit));
        }
        Behaviour::Run | Behaviour::Pending => {}
    }
    times.sort();
    times
}

/// Restart times of a crash loop: the first at once, then after 10, 20, 40 … s (cap 300).
fn crash_loop_restarts(first_exit: Timestamp) -> Vec<Timestamp> {
    let mut times = vec![first_exit];
    let mut offset = 0u64;
    let mut delay = 10u64;
    for _ in 0..40 {
        offset += delay;
        times.push(add(first_exit, Duration::from_secs(offset)));
        delay = (delay * 2).min(300);
    }
    times
}

fn container(state: ContainerState, restarts: i32) -> ContainerStatus {
    ContainerStatus {
        name: "main".into(),
        image: "busybox".into(),
        image_id: String::new(),
        restart_count: restarts,
        ready: state.running.is_some(),
        state: Some(state),
        ..Default::default()
    }
}

fn ready_condition(status: &str, at: Timestamp) -> PodCondition {
    PodCondition {
        type_: "Ready".into(),
        status: status.into(),
        last_transition_time: Some(Time(at)),
        ..Default::default()
    }
}

fn running(created: Timestamp, restarts: i32, ready: bool) -> PodStatus {
    let state = ContainerState {
        running: Some(ContainerStateRunning {
            started_at: Some(Time(created)),
        }),
        ..Default::default()
    };
    PodStatus {
        phase: Some(pods::PHASE_RUNNING.into()),
        conditions: Some(vec![ready_condition(if ready { "True" } else { "False" }, created)]),
        container_statuses: Some(vec![container(state, restarts)]),
        ..Default::default()
    }
}

fn terminated(phase: &str, exit_code: i32, at: Timestamp, created: Timestamp, condition: Option<&str>) -> PodStatus {
    let state = ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code,
            finished_at: Some(Time(at)),
            started_at: Some(Time(created)),
            reason: Some(if exit_code == 0 { "Completed" } else { "Error" }.into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut conditions = vec![ready_condition("False", at)];
    if let Some(condition) = condition {
        conditions.push(PodCondition {
            type_: condition.into(),
            status: "True".into(),
            last_transition_time: Some(Time(at)),
            ..Default::default()
        });
    }
    PodStatus {
        phase: Some(phase.into()),
        conditions: Some(conditions),
        container_statuses: Some(vec![container(state, 0)]),
        ..Default::default()
    }
}

fn container_finished_at(pod: &Pod) -> Option<Timestamp> {
    pod.status.as_ref()?.container_statuses.as_ref()?.iter().find_map(|c| {
        c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref().map(|t| t.0)
    })
}

// --- Job builders ---------------------------------------------------------------------

/// A Job as the API server stores it after defaulting: generated selector and labels,
/// `restartPolicy: Never`, parallelism and completions 1, backoffLimit 6.
pub fn job(name: &str) -> Job {
    let uid = format!("uid-job-{name}");
    let labels: BTreeMap<String, String> = [
        ("batch.kubernetes.io/controller-uid", uid.as_str()),
        ("batch.kubernetes.io/job-name", name),
        ("controller-uid", uid.as_str()),
        ("job-name", name),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let selector = LabelSelector {
        match_labels: Some([("batch.kubernetes.io/controller-uid".to_string(), uid.clone())].into()),
        match_expressions: None,
    };
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NS.into()),
            uid: Some(uid),
            generation: Some(1),
            ..Default::default()
        },
        spec: Some(JobSpec {
            parallelism: Some(1),
            completions: Some(1),
            backoff_limit: Some(6),
            completion_mode: Some("NonIndexed".into()),
            selector: Some(selector),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![Container {
                        name: "main".into(),
                        image: Some("busybox".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

/// `job` with its spec edited.
pub fn job_with(name: &str, edit: impl FnOnce(&mut JobSpec)) -> Job {
    let mut j = job(name);
    edit(j.spec.as_mut().expect("spec"));
    j
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Every pod exits with `code` after `run` seconds.
pub fn all_exit(run: u64, code: i32) -> Script {
    Box::new(move |_, _| Behaviour::Exit {
        run: secs(run),
        exit_code: code,
    })
}

/// Whether a pod object carries the tracking finalizer.
pub fn has_finalizer(object: &KubeObject) -> bool {
    object.has_finalizer(JOB_TRACKING_FINALIZER)
}
