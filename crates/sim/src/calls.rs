//! API calls of the event loop: planning a call (the client's rate limiter, admission of
//! creates in virtual time, the API latency, the request timeout, injected faults),
//! landing its write, and answering its caller (a worker, a kubelet, the user).

use corral_api::ApiError;
use corral_core::{Action, Outcome};

use crate::admission::CreateAdmission;
use crate::api::ClientId;
use crate::engine::{CallOrigin, Event, PendingCall, worker_gone};
use crate::sim::Simulation;
use crate::time::{SimTime, offset, timestamp};
use crate::world::{Op, WriteOp};

impl Simulation {
    /// Plans a call: the client's rate limiter, admission for creates (webhook latency in
    /// virtual time), the API latency, the request timeout and injected faults. Executes
    /// it at once when it takes no virtual time (returning the outcome), else schedules it.
    pub(crate) fn issue(
        &mut self,
        client: ClientId,
        op: Op<'_>,
        origin: CallOrigin,
    ) -> Option<Outcome> {
        self.stats.api_calls += 1;
        let start = self.api.start(client, self.now);
        let base = self.api.base_latency();
        let mut create = None;
        let mut plan = match op {
            Op::Action(Action::Create { object }) => {
                let start_ts = timestamp(self.scenario.start, start);
                match self.world.prepare_new(object.clone(), start_ts) {
                    Err(error) => self.api.timing(start, start, base, Some(error)),
                    Ok(prepared) => {
                        let user = &self.api.clients[client].user;
                        let admission = self.admission.admit_create(
                            prepared,
                            user,
                            &self.world.cache,
                            start_ts,
                        );
                        let admitted = offset(self.scenario.start, admission.finished).max(start);
                        let rejection = admission.result.as_ref().err().cloned();
                        create = Some(admission);
                        self.api.timing(start, admitted, base, rejection)
                    }
                }
            }
            _ => self.api.timing(start, start, base, None),
        };
        self.api.inject(client, op, start, &mut plan);
        if plan.respond_at == self.now && plan.persist_at.is_none_or(|p| p == self.now) {
            let outcome = match plan.persist_at {
                Some(_) => {
                    self.world.return_objects = matches!(origin, CallOrigin::Worker { .. });
                    let outcome = self.persist(client, op, create.as_mut());
                    self.world.return_objects = true;
                    outcome
                }
                None => Outcome::Failed(ApiError::internal("rejected")),
            };
            return Some(match plan.error {
                Some(error) => Outcome::Failed(error),
                None => outcome,
            });
        }
        let keep = !matches!(origin, CallOrigin::Worker { .. })
            || plan.persist_at.is_some_and(|p| p > plan.respond_at);
        self.schedule_call(PendingCall {
            origin,
            op: (keep && create.is_none()).then(|| op.to_owned()),
            create,
            client,
            persist_at: plan.persist_at,
            respond_at: plan.respond_at,
            error: plan.error,
            persisted: false,
            outcome: None,
        });
        None
    }

    /// A call of a node or the user: the outcome goes to its origin either way.
    pub(crate) fn issue_owned(&mut self, client: ClientId, op: WriteOp, origin: CallOrigin) {
        if let Some(outcome) = self.issue(client, op.as_op(), origin) {
            self.deliver(origin, outcome, Some(&op));
        }
    }

    pub(crate) fn schedule_call(&mut self, call: PendingCall) {
        let id = self.next_call;
        self.next_call += 1;
        let first = match call.persist_at {
            Some(p) if !call.persisted => p.min(call.respond_at),
            _ => call.respond_at,
        };
        self.heap.push(first, Event::Call(id));
        self.calls.insert(id, call);
    }

    /// The write of `op` lands now (a create with its admission already done).
    pub(crate) fn persist(
        &mut self,
        client: ClientId,
        op: Op<'_>,
        create: Option<&mut CreateAdmission>,
    ) -> Outcome {
        if let Op::Action(Action::Delete { key, .. }) = op {
            self.invariants.check_delete(
                &self.api.clients[client].name,
                key,
                &self.world.cache,
                self.now,
                self.now_ts,
            );
        }
        self.writer = client;
        let outcome = match create {
            Some(state) => self.commit(state),
            None => self.world.execute(
                op,
                self.now_ts,
                &mut self.admission,
                &self.api.clients[client].user,
            ),
        };
        self.flush_watch();
        self.writer = self.user;
        outcome
    }

    pub(crate) fn commit(&mut self, state: &mut CreateAdmission) -> Outcome {
        let result = std::mem::replace(
            &mut state.result,
            Err(ApiError::internal("committed twice")),
        );
        match self
            .world
            .commit_admitted(result, state, &mut self.admission, self.now_ts)
        {
            Ok(object) => Outcome::Done(object),
            Err(error) => Outcome::Failed(error),
        }
    }

    /// The write of a worker's action lands now, read from its plan.
    pub(crate) fn persist_worker(&mut self, client: ClientId, origin: CallOrigin) -> Outcome {
        let CallOrigin::Worker {
            controller,
            worker,
            stage,
            index,
            ..
        } = origin
        else {
            return worker_gone();
        };
        let Some(item) = self.controllers[controller].workers[worker].as_ref() else {
            return worker_gone();
        };
        let action = &item.plan.stages[stage].actions[index];
        if let Action::Delete { key, .. } = action {
            self.invariants.check_delete(
                &self.api.clients[client].name,
                key,
                &self.world.cache,
                self.now,
                self.now_ts,
            );
        }
        self.writer = client;
        let outcome = self.world.execute(
            Op::Action(action),
            self.now_ts,
            &mut self.admission,
            &self.api.clients[client].user,
        );
        self.flush_watch();
        self.writer = self.user;
        outcome
    }

    pub(crate) fn on_call(&mut self, id: u64) {
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        if call.persist_at == Some(self.now) && !call.persisted {
            self.world.return_objects = matches!(call.origin, CallOrigin::Worker { .. });
            let outcome = match (&call.op, call.create.as_mut()) {
                (_, Some(create)) => {
                    self.writer = call.client;
                    let outcome = self.commit(create);
                    self.flush_watch();
                    self.writer = self.user;
                    outcome
                }
                (Some(op), None) => self.persist(call.client, op.as_op(), None),
                (None, None) => self.persist_worker(call.client, call.origin),
            };
            self.world.return_objects = true;
            call.persisted = true;
            call.outcome = Some(outcome);
        }
        if call.respond_at == self.now {
            let outcome = match (call.error.take(), call.outcome.take()) {
                (Some(error), _) => Outcome::Failed(error),
                (None, Some(outcome)) => outcome,
                (None, None) => Outcome::Failed(ApiError::internal("no outcome")),
            };
            let persist_later = call.persist_at.is_some_and(|p| p > self.now) && !call.persisted;
            self.deliver(call.origin, outcome, call.op.as_ref());
            if persist_later {
                call.respond_at = SimTime::MAX;
                let at = call.persist_at.unwrap_or(self.now);
                let id = self.next_call;
                self.next_call += 1;
                self.heap.push(at, Event::Call(id));
                self.calls.insert(id, call);
            }
            return;
        }
        self.heap.push(call.respond_at, Event::Call(id));
        self.calls.insert(id, call);
    }

    pub(crate) fn deliver(&mut self, origin: CallOrigin, outcome: Outcome, op: Option<&WriteOp>) {
        match origin {
            CallOrigin::Worker {
                controller,
                worker,
                slot,
                ..
            } => {
                let Some(item) = self.controllers[controller].workers[worker].as_mut() else {
                    return;
                };
                item.outcomes[slot] = Some(outcome);
                item.in_flight -= 1;
                if item.in_flight == 0 {
                    self.advance(controller, worker);
                }
            }
            CallOrigin::Node { node, incarnation } => {
                let Outcome::Failed(error) = outcome else {
                    return;
                };
                let driver = &mut self.nodes[node];
                if driver.incarnation != incarnation {
                    return;
                }
                let action = match op {
                    Some(WriteOp::Action(action)) => action.clone(),
                    Some(WriteOp::PodStatus(update)) => update.to_action(),
                    None => return,
                };
                if let Some(agent) = driver.agent.as_mut() {
                    agent.handle_api_failure(&action, &error, self.now_ts);
                    self.dirty_nodes.insert(node);
                }
            }
            CallOrigin::User => {}
        }
    }
}
