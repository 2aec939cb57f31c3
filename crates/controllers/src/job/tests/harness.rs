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

use corral_api::{ObjectKey, ResourceKind};
use corral_core::clock::{self, add};
use corral_core::{
    Action, ChangeKind, Enqueue, EventRecord, ObjectCache, ObjectEvent, Plan, Reconciler,
    SyncResult, Timestamp, WorkQueue,
};
use k8s_openapi::api::batch::v1::{Job, JobSpec, JobStatus};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::kubelet::{container_finished_at, kubelet_status, transition_times};
use crate::job::pods;
use crate::job::{JobController, JobControllerConfig};
use crate::testing::TestCluster;

pub use super::kubelet::Behaviour;

pub const NS: &str = "ns";
/// A bound on loop iterations per `run_until`: a livelock fails instead of hanging.
const STEPS_MAX: usize = 100_000;

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
    /// Watch latency: events the cluster produced reach `undelivered` this much later.
    pub watch_delay: Duration,
    /// Events still travelling, with their arrival time.
    travelling: VecDeque<(Timestamp, ObjectEvent)>,
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
            watch_delay: Duration::ZERO,
            travelling: VecDeque::new(),
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
        while self
            .travelling
            .front()
            .is_some_and(|(at, _)| *at <= self.now)
        {
            if let Some((_, event)) = self.travelling.pop_front() {
                self.undelivered.push_back(event);
            }
        }
        if self.hold_events {
            return;
        }
        while let Some(event) = self.undelivered.pop_front() {
            self.observe(&event);
            let previous = self.informer.apply(&event);
            let enqueue =
                self.controller
                    .handle_event(&event, previous.as_deref(), &self.informer, self.now);
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
        fate.deleted_with_finalizer |=
            pods::is_being_deleted(pod) && pods::has_tracking_finalizer(pod);
        fate.removed |= event.change == ChangeKind::Deleted;
    }

    /// Processes every key ready now.
    pub fn sync_ready(&mut self) {
        while let Some(key) = self.queue.pop(self.now) {
            let plan = self.controller.reconcile(&self.informer, &key, self.now);
            let (outcomes, events) = self.cluster.execute(&plan, self.now);
            let result = self
                .controller
                .handle_outcomes(&key, &plan, &outcomes, self.now);
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
            for event in events {
                self.emit(event);
            }
            self.deliver();
        }
    }

    /// Sends a watch event on its way to the informer.
    fn emit(&mut self, event: ObjectEvent) {
        if self.watch_delay.is_zero() {
            self.undelivered.push_back(event);
        } else {
            self.travelling
                .push_back((add(self.now, self.watch_delay), event));
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
            let arrival = self.travelling.front().map(|(at, _)| *at);
            let next = [
                self.queue.next_wakeup(),
                self.kubelet_next_change(),
                arrival,
            ]
            .into_iter()
            .flatten()
            .min();
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
            let owner = pod
                .metadata
                .owner_references
                .iter()
                .flatten()
                .find(|r| r.controller == Some(true));
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
            let status =
                kubelet_status(&behaviour, pod, *created, self.now, self.termination_grace);
            if pod.status.as_ref() != Some(&status) {
                let mut updated = pod.clone();
                updated.status = Some(status);
                writes.push(updated);
            }
        }
        for pod in writes {
            if let Some(t) = container_finished_at(&pod).filter(|_| pods::is_terminal(&pod)) {
                self.finished
                    .entry(pods::name(&pod).to_string())
                    .or_insert(t);
            }
            let event = self.cluster.put(pod.into(), self.now);
            self.emit(event);
        }
        self.deliver();
    }

    /// The next time any pod's scripted status changes.
    fn kubelet_next_change(&self) -> Option<Timestamp> {
        let mut next: Option<Timestamp> = None;
        for (ordinal, (name, created)) in self.created.iter().enumerate() {
            let key = ObjectKey::new(ResourceKind::Pod, NS, name);
            let Some(pod) = self
                .cluster
                .cache
                .get(&key)
                .and_then(|o| o.as_typed::<Pod>())
            else {
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
        self.cluster
            .cache
            .get(&key)
            .and_then(|o| o.as_typed::<Job>())
            .cloned()
            .expect("job exists")
    }

    pub fn status(&self, name: &str) -> JobStatus {
        self.job(name).status.unwrap_or_default()
    }

    /// `(type, reason)` of the Job's `Complete`/`Failed` condition, if any.
    pub fn finished_condition(&self, name: &str) -> Option<(String, String)> {
        self.status(name)
            .conditions
            .unwrap_or_default()
            .into_iter()
            .find_map(|c| {
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
        self.cluster
            .events
            .iter()
            .filter(|e| e.reason == reason)
            .collect()
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

    /// A readable trace of every plan, for debugging failed tests.
    pub fn trace(&self) -> String {
        let mut out = String::new();
        for (t, plan) in &self.plans {
            for action in plan.actions() {
                let what = match action {
                    Action::Create { object } => format!(
                        "create {}",
                        object.meta().generate_name.clone().unwrap_or_default()
                    ),
                    Action::Update { object, .. } => format!(
                        "status {}",
                        serde_json::to_string(&object.status_value()).unwrap_or_default()
                    ),
                    Action::Patch { key, .. } => format!("patch {}", key.name),
                    Action::Delete { key, .. } => format!("delete {}", key.name),
                    Action::Event(e) => format!("event {} {}", e.reason, e.message),
                };
                out.push_str(&format!("{:>6} {what}\n", self.secs(*t)));
            }
        }
        out
    }

    pub fn retries(&self, name: &str) -> usize {
        self.syncs
            .iter()
            .filter(|(_, k, r)| k.name == name && matches!(r, SyncResult::Retry { .. }))
            .count()
    }
}

// --- Job builders ---------------------------------------------------------------------

pub fn job_key(name: &str) -> ObjectKey {
    ObjectKey::new(ResourceKind::Job, NS, name)
}

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
        match_labels: Some(
            [(
                "batch.kubernetes.io/controller-uid".to_string(),
                uid.clone(),
            )]
            .into(),
        ),
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
