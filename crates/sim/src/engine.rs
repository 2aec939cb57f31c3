//! The event loop. One heap of timed events (queue wakeups, API calls landing and
//! answering, kubelet wakeups, container runtime events, timeline actions, samples); after
//! each event the loop *settles*: watch events of every write are delivered (cache first,
//! then trace, metrics, checkers, and the components that watch the kind), then every
//! controller with ready keys and idle workers runs, and every node with output drains it.
//! Nothing here decides anything about objects: the cores do.

use std::time::Instant;

use corral_api::{ApiError, KubeObject};
use corral_core::events::RecordedEvent;
use corral_core::{Action, ChangeKind, EventRecord, ObjectEvent, OnFailure, Outcome};
use corral_node::RuntimeEvent;
use corral_registry::admission::breaker::BreakerPhase;
use k8s_openapi::api::core::v1::Pod;

use crate::admission::CreateAdmission;
use crate::api::ClientId;
use crate::driver::controller::WorkItem;
use crate::invariants::Violation;
use crate::sim::{RunReport, Simulation};
use crate::time::{SimTime, nanos, offset, timestamp};
use crate::world::{Op, WriteOp};

/// Most events the loop handles at one virtual instant before declaring a livelock.
const EVENTS_PER_INSTANT_MAX: u64 = 5_000_000;

/// Something due at a virtual time.
pub(crate) enum Event {
    ControllerWake(usize),
    Call(u64),
    NodeWake(usize),
    Runtime {
        node: usize,
        incarnation: u64,
        event: RuntimeEvent,
    },
    Timeline(usize),
    Sample,
    End,
}

/// Who waits for a call's answer.
#[derive(Clone, Copy, Debug)]
pub(crate) enum CallOrigin {
    Worker {
        controller: usize,
        worker: usize,
        stage: usize,
        index: usize,
        slot: usize,
    },
    Node {
        node: usize,
        incarnation: u64,
    },
    User,
}

/// A call in flight.
pub(crate) struct PendingCall {
    pub(crate) origin: CallOrigin,
    /// The write, unless it is read from the worker's plan when it lands.
    pub(crate) op: Option<WriteOp>,
    /// A create's admission (done when the call started), committed when it lands.
    pub(crate) create: Option<CreateAdmission>,
    pub(crate) client: ClientId,
    pub(crate) persist_at: Option<SimTime>,
    pub(crate) respond_at: SimTime,
    pub(crate) error: Option<ApiError>,
    pub(crate) persisted: bool,
    pub(crate) outcome: Option<Outcome>,
}

pub(crate) fn worker_gone() -> Outcome {
    Outcome::Failed(ApiError::internal("the calling worker is gone"))
}

impl Simulation {
    pub(crate) fn set_now(&mut self, t: SimTime) {
        debug_assert!(t >= self.now, "virtual time never goes back");
        self.now = t;
        self.now_ts = timestamp(self.scenario.start, t);
    }

    /// Plays the scenario to its end (or to a fatal invariant violation).
    pub fn run(mut self) -> RunReport {
        let wall = Instant::now();
        let bar = crate::report::progress_bar(self.progress, self.until);
        self.setup();
        let mut instant = (0, 0u64);
        while let Some((t, event)) = self.heap.pop() {
            if t > self.until {
                break;
            }
            self.set_now(t);
            self.stats.heap_events += 1;
            instant = if instant.0 == t {
                (t, instant.1 + 1)
            } else {
                (t, 1)
            };
            if instant.1 > EVENTS_PER_INSTANT_MAX {
                self.fatal(
                    "livelock",
                    format!("more than {EVENTS_PER_INSTANT_MAX} events at one instant"),
                );
                break;
            }
            let end = matches!(event, Event::End);
            if matches!(event, Event::Sample) {
                bar.set_position(t / crate::time::NANOS_PER_SECOND);
                bar.set_message(crate::time::format_offset(t));
            }
            self.handle(event);
            self.settle();
            self.poll_breakers();
            if end || self.stopped_at.is_some() {
                break;
            }
        }
        bar.finish_and_clear();
        self.stats.wall_seconds = wall.elapsed().as_secs_f64();
        self.finish_run()
    }

    fn fatal(&mut self, invariant: &'static str, message: String) {
        self.invariants.violations.push(Violation {
            invariant,
            at: self.now,
            message,
            fatal: true,
        });
        self.stopped_at.get_or_insert(self.now);
    }

    /// Creates the initial objects, starts the kubelets and schedules the timeline.
    fn setup(&mut self) {
        self.add_node_drivers();
        for object in self.initial_objects() {
            let key = object.key();
            let action = Action::Create { object };
            self.writer = self.user;
            let user = self.api.clients[self.user].user.clone();
            if let Outcome::Failed(error) =
                self.world
                    .execute(Op::Action(&action), self.now_ts, &mut self.admission, &user)
            {
                self.fatal("setup", format!("creating {key}: {}", error.message));
            }
            self.flush_watch();
        }
        for index in 0..self.nodes.len() {
            self.start_agent(index);
        }
        for (index, key) in std::mem::take(&mut self.seed_keys) {
            self.controllers[index].add(&self.world.cache, key);
            self.dirty_controllers.insert(index);
        }
        for (index, action) in self.scenario.timeline.iter().enumerate() {
            self.heap.push(action.at, Event::Timeline(index));
        }
        self.heap.push(self.scenario.sample_every, Event::Sample);
        self.heap.push(self.until, Event::End);
        self.settle();
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::ControllerWake(index) => {
                if self.controllers[index].wake_at == Some(self.now) {
                    self.controllers[index].wake_at = None;
                }
                self.dirty_controllers.insert(index);
            }
            Event::Call(id) => self.on_call(id),
            Event::NodeWake(index) => {
                if self.nodes[index].wake_at == Some(self.now) {
                    self.nodes[index].wake_at = None;
                }
                self.dirty_nodes.insert(index);
            }
            Event::Runtime {
                node,
                incarnation,
                event,
            } => {
                let driver = &mut self.nodes[node];
                if driver.incarnation != incarnation || !driver.runtime.accept(&event) {
                    return;
                }
                if let Some(agent) = driver.agent.as_mut() {
                    agent.handle_runtime_event(event, self.now_ts);
                    self.dirty_nodes.insert(node);
                }
            }
            Event::Timeline(index) => {
                let action = self.scenario.timeline[index].action.clone();
                self.run_action(action);
            }
            Event::Sample => {
                self.check_assertions(false);
                self.take_sample();
                let next = self.now + self.scenario.sample_every;
                if next < self.until {
                    self.heap.push(next, Event::Sample);
                }
            }
            Event::End => {}
        }
    }

    /// Guard 7: the breakers' transitions (each step, with virtual `now`): Events through
    /// the breaker client's recorder and the trip count.
    fn poll_breakers(&mut self) {
        let Some(client) = self.breaker_client else {
            return;
        };
        let Some(breakers) = self.settings.admission.webhook_breakers.as_ref() else {
            return;
        };
        let transitions = breakers.lock().poll_transitions(self.now_ts);
        for transition in transitions {
            if transition.to == BreakerPhase::Open {
                self.breaker_trips += 1;
            }
            if let Some(record) = transition.event() {
                self.record_event(client, &record);
            }
        }
        self.settle();
    }

    /// Delivers watch events and runs every component with work, until quiet.
    fn settle(&mut self) {
        loop {
            if let Some(index) = self.dirty_controllers.pop_first() {
                self.pump(index);
            } else if let Some(index) = self.dirty_nodes.pop_first() {
                self.drain_node(index);
            } else {
                return;
            }
        }
    }

    pub(crate) fn flush_watch(&mut self) {
        for event in self.world.poll() {
            self.dispatch(event);
        }
    }

    /// One watch event: the shared informer cache first, then the trace, metrics and
    /// checkers, then every component watching the kind.
    fn dispatch(&mut self, event: ObjectEvent) {
        self.stats.watch_events += 1;
        let previous = self.world.cache.apply(&event);
        self.trace
            .record(self.now, &event, &self.api.clients[self.writer].name);
        self.metrics
            .observe(&event, previous.as_deref(), &self.world.cache, self.now);
        self.invariants.observe(&event, &self.world.cache, self.now);
        if self.per_event_assertions && event.object.kind() == corral_api::ResourceKind::Job {
            let mut assertions = std::mem::take(&mut self.assertions);
            assertions.check_event(&self.assertion_context(), self.now);
            self.assertions = assertions;
        }
        if self.invariants.fatal().is_some() {
            self.stopped_at.get_or_insert(self.now);
        }
        let kind = event.object.kind();
        for index in 0..self.controllers.len() {
            let controller = &mut self.controllers[index];
            if !controller.watches(kind) {
                continue;
            }
            let wanted = controller.reconciler.handle_event(
                &event,
                previous.as_deref(),
                &self.world.cache,
                self.now_ts,
            );
            if wanted.is_empty() {
                continue;
            }
            for enqueue in wanted {
                match enqueue.after {
                    None => controller.add(&self.world.cache, enqueue.key),
                    Some(delay) => {
                        controller.add_after(&self.world.cache, enqueue.key, self.now_ts, delay)
                    }
                }
            }
            self.dirty_controllers.insert(index);
        }
        match &*event.object {
            KubeObject::Pod(pod) => self.dispatch_pod(&event, pod),
            KubeObject::ConfigMap(_) | KubeObject::Secret(_) => {
                let deleted = event.change == ChangeKind::Deleted;
                for node in self.nodes.iter_mut() {
                    if let Some(agent) = node.agent.as_mut() {
                        agent.handle_config_object(&event.object, deleted);
                    }
                }
            }
            _ => {}
        }
    }

    fn dispatch_pod(&mut self, event: &ObjectEvent, pod: &Pod) {
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else {
            return;
        };
        let Some(&index) = self.node_index.get(node) else {
            return;
        };
        let Some(agent) = self.nodes[index].agent.as_mut() else {
            return;
        };
        if event.change == ChangeKind::Deleted {
            agent.handle_pod_removed(&event.object.key(), self.now_ts);
        } else {
            agent.handle_pod_update(pod, self.now_ts);
        }
        self.dirty_nodes.insert(index);
    }

    /// Gives ready keys to idle workers; schedules the queue's next wakeup.
    fn pump(&mut self, index: usize) {
        loop {
            let controller = &mut self.controllers[index];
            let Some(worker) = controller.idle_worker() else {
                break;
            };
            let Some(key) = controller.queue.pop(self.now_ts) else {
                break;
            };
            controller.syncs += 1;
            self.stats.reconciles += 1;
            let plan = controller
                .reconciler
                .reconcile(&self.world.cache, &key, self.now_ts);
            controller.workers[worker] = Some(WorkItem::new(key, plan, self.now));
            self.advance(index, worker);
        }
        // A key due now with every worker busy is served when a worker finishes (which
        // marks the controller dirty); only future wakeups go on the heap.
        let controller = &mut self.controllers[index];
        if let Some(at) = controller.queue.next_wakeup() {
            let at = offset(self.scenario.start, at);
            if at > self.now && controller.wake_at.is_none_or(|w| at < w || w < self.now) {
                controller.wake_at = Some(at);
                self.heap.push(at, Event::ControllerWake(index));
            }
        }
    }

    /// Issues the worker's next stage, or finishes the work item when all stages ran.
    pub(crate) fn advance(&mut self, index: usize, worker: usize) {
        loop {
            let Some(mut item) = self.controllers[index].workers[worker].take() else {
                return;
            };
            if item.issued {
                if item.in_flight > 0 {
                    self.controllers[index].workers[worker] = Some(item);
                    return;
                }
                let stage = item.stage;
                if item.plan.stages[stage].on_failure == OnFailure::SkipRest
                    && item.stage_failed(stage)
                {
                    item.skipping = true;
                }
                item.stage += 1;
                item.issued = false;
            }
            if item.stage >= item.plan.stages.len() {
                self.finish_work(index, worker, item);
                return;
            }
            let stage = item.stage;
            if !item.detached
                && !item.skipping
                && item.plan.stages[stage].on_failure == OnFailure::Detach
                && item.plan.detach_point().is_some()
            {
                // Guard 1: the inline part is done; report it, free the worker and the key,
                // and run the rest in a detached slot.
                let slot = self.detach(index, item);
                if slot != worker {
                    self.advance(index, slot);
                    return;
                }
                continue;
            }
            let first = item.first_action(stage);
            let client = self.controllers[index].client;
            item.issued = true;
            for action_index in 0..item.plan.stages[stage].actions.len() {
                let slot = first + action_index;
                if item.skipping {
                    item.outcomes[slot] = Some(Outcome::Skipped);
                    continue;
                }
                let action = &item.plan.stages[stage].actions[action_index];
                if let Action::Event(record) = action {
                    let record = record.clone();
                    self.record_event(client, &record);
                    item.outcomes[slot] = Some(Outcome::Done(None));
                    continue;
                }
                let origin = CallOrigin::Worker {
                    controller: index,
                    worker,
                    stage,
                    index: action_index,
                    slot,
                };
                match self.issue(client, Op::Action(action), origin) {
                    Some(outcome) => item.outcomes[slot] = Some(outcome),
                    None => item.in_flight += 1,
                }
            }
            self.controllers[index].workers[worker] = Some(item);
        }
    }

    /// Guard 1: reports the inline outcomes, releases the worker and the key, and parks
    /// the item (at its detach marker) in a detached slot, returned.
    fn detach(&mut self, index: usize, mut item: WorkItem) -> usize {
        let inline = item
            .plan
            .detached_action_start()
            .unwrap_or(item.outcomes.len());
        let outcomes: Vec<Outcome> = item.outcomes[..inline]
            .iter_mut()
            .map(|o| o.take().unwrap_or(Outcome::Skipped))
            .collect();
        let controller = &mut self.controllers[index];
        let result =
            controller
                .reconciler
                .handle_outcomes(&item.key, &item.plan, &outcomes, self.now_ts);
        controller.apply_result(&self.world.cache, &item.key, result, self.now_ts);
        controller.queue.done(&item.key);
        controller.busy += self.now - item.started;
        item.detached = true;
        item.started = self.now;
        let slot = controller.free_detached_slot();
        controller.workers[slot] = Some(item);
        self.dirty_controllers.insert(index);
        slot
    }

    /// `handle_outcomes` (or, for a detached item, `handle_detached_outcomes`), then the
    /// key goes back per the result and (unless detached) is released.
    fn finish_work(&mut self, index: usize, worker: usize, item: WorkItem) {
        let from = if item.detached {
            item.plan.detached_action_start().unwrap_or(0)
        } else {
            0
        };
        let outcomes: Vec<Outcome> = item
            .outcomes
            .into_iter()
            .skip(from)
            .map(|o| o.unwrap_or(Outcome::Skipped))
            .collect();
        let controller = &mut self.controllers[index];
        let result = if item.detached {
            controller.reconciler.handle_detached_outcomes(
                &item.key,
                &item.plan,
                &outcomes,
                self.now_ts,
            )
        } else {
            controller
                .reconciler
                .handle_outcomes(&item.key, &item.plan, &outcomes, self.now_ts)
        };
        controller.apply_result(&self.world.cache, &item.key, result, self.now_ts);
        if !item.detached {
            controller.queue.done(&item.key);
            controller.busy += self.now - item.started;
        }
        debug_assert!(controller.workers[worker].is_none());
        self.dirty_controllers.insert(index);
    }

    /// Runs the kubelet's outputs until it has none; schedules its next wakeup.
    fn drain_node(&mut self, index: usize) {
        let incarnation = self.nodes[index].incarnation;
        let client = self.nodes[index].client;
        let origin = CallOrigin::Node {
            node: index,
            incarnation,
        };
        loop {
            let now_ts = self.now_ts;
            let Some(agent) = self.nodes[index].agent.as_mut() else {
                return;
            };
            if let Some(command) = agent.poll_runtime_command(now_ts) {
                let uid = command_pod_uid(&command);
                let pod = self
                    .world
                    .cache
                    .get_by_uid(uid)
                    .and_then(|o| o.as_typed::<Pod>());
                let events = self.nodes[index].runtime.handle(command, pod);
                for (delay, event) in events {
                    self.heap.push(
                        self.now + nanos(delay),
                        Event::Runtime {
                            node: index,
                            incarnation,
                            event,
                        },
                    );
                }
                continue;
            }
            if let Some(update) = agent.poll_status_update(now_ts) {
                self.issue_owned(client, WriteOp::PodStatus(update), origin);
                continue;
            }
            if let Some(record) = agent.poll_event(now_ts) {
                self.record_event(client, &record);
                continue;
            }
            if let Some(action) = agent.poll_api_action(now_ts) {
                self.issue_owned(client, WriteOp::Action(action), origin);
                continue;
            }
            break;
        }
        let driver = &mut self.nodes[index];
        let Some(next) = driver.agent.as_ref().and_then(|a| a.next_wakeup()) else {
            return;
        };
        let at = offset(self.scenario.start, next).max(self.now);
        if at == self.now {
            // Due already (a timer at this instant): drain again after this event.
            if driver.wake_at != Some(at) {
                driver.wake_at = Some(at);
                self.heap.push(at, Event::NodeWake(index));
            }
            return;
        }
        if driver.wake_at.is_none_or(|w| at < w || w < self.now) {
            driver.wake_at = Some(at);
            self.heap.push(at, Event::NodeWake(index));
        }
    }

    /// An event through the client's recorder (dedup, aggregation, spam filter).
    fn record_event(&mut self, client: ClientId, record: &EventRecord) {
        let recorded = self.api.clients[client]
            .recorder
            .record(record, self.now_ts);
        let namespace = record.involved.namespace.clone().unwrap_or_default();
        let write = match recorded {
            RecordedEvent::Dropped => {
                self.metrics.totals.events_dropped += 1;
                return;
            }
            RecordedEvent::Create(action) => action,
            RecordedEvent::Update { patch, .. } => patch,
        };
        self.metrics.count_event(&record.reason, &namespace);
        if self.scenario.store_events {
            self.issue_owned(self.event_writer, WriteOp::Action(write), CallOrigin::User);
        }
    }
}

fn command_pod_uid(command: &corral_node::RuntimeCommand) -> &corral_api::Uid {
    use corral_node::RuntimeCommand as C;
    match command {
        C::PullImage { pod_uid, .. }
        | C::StartContainer { pod_uid, .. }
        | C::KillContainer { pod_uid, .. }
        | C::RunProbe { pod_uid, .. } => pod_uid,
    }
}
