//! [`WebhookBreakers`]: the set of breakers, what the flow asks before a call
//! ([`WebhookBreakers::admit`]) and tells after it ([`WebhookBreakers::record`]), results
//! applied in virtual-time order, and the transitions drivers drain.

use std::collections::{BTreeMap, VecDeque};

use corral_core::Timestamp;
use corral_core::clock::add;

use super::BreakerConfig;
use super::machine::{
    Breaker, BreakerKey, BreakerView, CallReport, CallTarget, Change, ConfigurationIdentity,
    Decision, Permit, State, classify, show, words,
};
use super::resource::configured_webhooks;
use super::transition::{BreakerPhase, BreakerTransition, TransitionReason};
use crate::admission::state::AdmissionState;
use crate::admission::types::FailurePolicy;

/// Every webhook's breaker. See the module documentation of [`super`].
#[derive(Debug)]
pub struct WebhookBreakers {
    config: BreakerConfig,
    breakers: BTreeMap<BreakerKey, Breaker>,
    /// Transitions not yet polled, oldest first, at most `config.max_transitions`.
    transitions: VecDeque<BreakerTransition>,
    transitions_dropped: u64,
    /// Results whose `finished_at` is beyond `horizon`, by (finished_at, arrival).
    pending: BTreeMap<(Timestamp, u64), (Permit, CallReport)>,
    pending_seq: u64,
    /// The latest `now` the breakers were told about (by `admit` or `advance`).
    horizon: Option<Timestamp>,
}

impl WebhookBreakers {
    /// Panics if `config` is out of bounds ([`BreakerConfig::validate`]): a programmer
    /// error, caught where the server or the simulator is configured.
    pub fn new(config: BreakerConfig) -> WebhookBreakers {
        if let Err(problems) = config.validate() {
            panic!("invalid webhook breaker configuration: {problems}");
        }
        WebhookBreakers {
            config,
            breakers: BTreeMap::new(),
            transitions: VecDeque::new(),
            transitions_dropped: 0,
            pending: BTreeMap::new(),
            pending_seq: 0,
            horizon: None,
        }
    }

    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Breakers held (webhooks called since they were last reset or forgotten).
    pub fn len(&self) -> usize {
        self.breakers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.breakers.is_empty()
    }

    /// Results reported but not yet reached by time.
    pub fn pending_results(&self) -> usize {
        self.pending.len()
    }

    /// May the call to `target` be made at `now`? A closed circuit permits it; an open one
    /// refuses with a message naming its state; a half-open one permits up to
    /// `half_open_probes` probe calls at once and refuses the rest.
    pub fn admit(&mut self, target: &CallTarget<'_>, now: Timestamp) -> Decision {
        if !self.config.enabled {
            return Decision::Untracked;
        }
        self.advance(now);
        self.ensure(target, now);
        let Some(breaker) = self.breakers.get_mut(target.key) else {
            debug_assert!(false, "ensure inserted the breaker");
            return Decision::Untracked;
        };
        breaker.last_used = breaker.last_used.max(now);
        breaker.failure_policy = target.failure_policy;
        let (decision, change) = decide(breaker, &self.config, target, now);
        if let Some(change) = change {
            let transition = transition(target.key, breaker, &self.config, change);
            self.push(transition);
        }
        decision
    }

    /// The result of a permitted call. Applied at once when time has reached its
    /// `finished_at`, else when it does ([`Self::advance`], or the next `admit` at or after
    /// it).
    pub fn record(&mut self, permit: Permit, report: CallReport) {
        if !self.config.enabled {
            return;
        }
        if self.horizon.is_some_and(|h| report.finished_at > h) {
            let seq = self.pending_seq;
            self.pending_seq += 1;
            self.pending
                .insert((report.finished_at, seq), (permit, report));
            while self.pending.len() > self.config.max_pending_results {
                if let Some((_, (permit, report))) = self.pending.pop_first() {
                    self.apply(permit, report);
                }
            }
            return;
        }
        self.apply(permit, report);
    }

    /// A permitted call whose result will never be reported (its request was abandoned):
    /// a probe frees its slot; nothing is counted.
    pub fn release(&mut self, permit: Permit) {
        let Some(breaker) = self.breakers.get_mut(&permit.key) else {
            return;
        };
        if breaker.identity != permit.identity {
            return;
        }
        if let Some(id) = permit.probe {
            breaker.probes_in_flight.remove(&id);
        }
    }

    /// Time has reached `now`: apply the results that finished by then, in time order.
    pub fn advance(&mut self, now: Timestamp) {
        let horizon = self.horizon.map_or(now, |h| h.max(now));
        self.horizon = Some(horizon);
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > horizon {
                break;
            }
            let (permit, report) = entry.remove();
            self.apply(permit, report);
        }
    }

    /// Advances to `now` and drains the transitions recorded so far, oldest first.
    pub fn poll_transitions(&mut self, now: Timestamp) -> Vec<BreakerTransition> {
        self.advance(now);
        self.transitions.drain(..).collect()
    }

    /// Transitions lost because the driver did not poll within `max_transitions`.
    pub fn transitions_dropped(&self) -> u64 {
        self.transitions_dropped
    }

    /// One breaker as of `now`.
    pub fn view(&self, key: &BreakerKey, now: Timestamp) -> Option<BreakerView> {
        self.breakers.get(key).map(|b| view(key, b, now))
    }

    /// Every breaker as of `now`, in key order.
    pub fn views(&self, now: Timestamp) -> Vec<BreakerView> {
        self.breakers.iter().map(|(k, b)| view(k, b, now)).collect()
    }

    /// Follows the configurations in `state`: forgets breakers of deleted configurations or
    /// webhooks, resets those whose configuration changed (uid or generation) — an open
    /// circuit closes at once, with a transition. Optional (the flow resets a breaker when
    /// it next meets the new configuration); drivers call it on configuration events.
    pub fn sync_configurations(&mut self, state: &dyn AdmissionState, now: Timestamp) {
        let live: BTreeMap<BreakerKey, (ConfigurationIdentity, FailurePolicy)> =
            configured_webhooks(state)
                .into_iter()
                .map(|w| (w.key, (w.identity, w.failure_policy)))
                .collect();
        let keys: Vec<BreakerKey> = self.breakers.keys().cloned().collect();
        for key in keys {
            match live.get(&key) {
                None => {
                    self.breakers.remove(&key);
                }
                Some((identity, policy)) => {
                    let target = CallTarget {
                        key: &key,
                        identity,
                        failure_policy: *policy,
                        timeout: std::time::Duration::ZERO,
                    };
                    self.ensure(&target, now);
                }
            }
        }
    }

    /// Makes sure `target` has a breaker for its configuration version: a new one, or a
    /// reset one when the version changed.
    fn ensure(&mut self, target: &CallTarget<'_>, now: Timestamp) {
        if let Some(breaker) = self.breakers.get_mut(target.key) {
            if breaker.identity == *target.identity {
                return;
            }
            let from = breaker.phase();
            *breaker = Breaker::new(target.identity.clone(), target.failure_policy, now);
            if from != BreakerPhase::Closed {
                let change = Change {
                    from,
                    to: BreakerPhase::Closed,
                    at: now,
                    reason: TransitionReason::ConfigurationChanged,
                    detail: format!(
                        "the configuration changed (generation {})",
                        target.identity.generation
                    ),
                    next_probe_at: None,
                };
                let transition = transition(target.key, breaker, &self.config, change);
                self.push(transition);
            }
            return;
        }
        if self.breakers.len() >= self.config.max_breakers {
            self.evict_one();
        }
        self.breakers.insert(
            target.key.clone(),
            Breaker::new(target.identity.clone(), target.failure_policy, now),
        );
    }

    /// Forgets the least recently used breaker, closed ones first.
    fn evict_one(&mut self) {
        let victim = self
            .breakers
            .iter()
            .min_by(|(ka, a), (kb, b)| {
                let open = |x: &Breaker| x.phase() != BreakerPhase::Closed;
                (open(a), a.last_used)
                    .cmp(&(open(b), b.last_used))
                    .then_with(|| ka.cmp(kb))
            })
            .map(|(k, _)| k.clone());
        if let Some(key) = victim {
            self.breakers.remove(&key);
        }
    }

    /// One result, in order: counts while closed, decides while half-open, ignored when
    /// stale (another configuration version or epoch).
    fn apply(&mut self, permit: Permit, report: CallReport) {
        let config = &self.config;
        let Some(breaker) = self.breakers.get_mut(&permit.key) else {
            return;
        };
        if breaker.identity != permit.identity {
            return;
        }
        let failure = classify(config, &permit, &report);
        let at = report.finished_at;
        if let Some(f) = &failure {
            breaker.last_error = Some((f.message.clone(), at));
        }
        // A probe's slot frees whenever its result comes, even a stale one.
        let live_probe = permit
            .probe
            .is_some_and(|id| breaker.probes_in_flight.remove(&id).is_some());
        if breaker.epoch != permit.epoch {
            return;
        }
        let change = if live_probe && matches!(breaker.state, State::HalfOpen { .. }) {
            Some(match &failure {
                Some(f) => breaker.open(
                    config,
                    at,
                    TransitionReason::ProbeFailed,
                    format!("a failed probe call ({})", words(f.kind).0),
                ),
                None => breaker.close(
                    at,
                    TransitionReason::ProbeSucceeded,
                    "a probe call succeeded".to_string(),
                ),
            })
        } else if matches!(breaker.state, State::Closed) && permit.probe.is_none() {
            breaker.count(config, failure.as_ref(), at)
        } else {
            None
        };
        if let Some(change) = change {
            let transition = transition(&permit.key, breaker, config, change);
            self.push(transition);
        }
    }

    fn push(&mut self, transition: BreakerTransition) {
        self.transitions.push_back(transition);
        while self.transitions.len() > self.config.max_transitions {
            self.transitions.pop_front();
            self.transitions_dropped += 1;
        }
    }
}

/// The admit decision for one breaker (already reset for the target's configuration).
fn decide(
    breaker: &mut Breaker,
    config: &BreakerConfig,
    target: &CallTarget<'_>,
    now: Timestamp,
) -> (Decision, Option<Change>) {
    let mut change = None;
    // A probe whose result never came frees its slot after its deadline.
    breaker
        .probes_in_flight
        .retain(|_, deadline| *deadline >= now);
    if let State::Open { since, until } = breaker.state {
        if now < until {
            breaker.refused += 1;
            let message = format!(
                "circuit open after {} (open since {}, next probe at {})",
                breaker.reason_text(),
                show(since),
                show(until)
            );
            return (Decision::Refuse(message), None);
        }
        breaker.state = State::HalfOpen {
            since,
            probing_since: until,
        };
        breaker.epoch += 1;
        change = Some(Change {
            from: BreakerPhase::Open,
            to: BreakerPhase::HalfOpen,
            at: until,
            reason: TransitionReason::CoolDownElapsed,
            detail: breaker.reason_text().to_string(),
            next_probe_at: Some(until),
        });
    }
    let mut permit = Permit {
        key: target.key.clone(),
        identity: breaker.identity.clone(),
        epoch: breaker.epoch,
        probe: None,
        issued_at: now,
        timeout: target.timeout,
        probe_deadline: None,
    };
    let State::HalfOpen { since, .. } = breaker.state else {
        return (Decision::Call(permit), change);
    };
    let in_flight = breaker.probes_in_flight.len();
    if in_flight < config.half_open_probes as usize {
        let id = breaker.next_probe;
        breaker.next_probe += 1;
        breaker.probes += 1;
        let deadline = add(add(now, target.timeout), config.probe_grace);
        breaker.probes_in_flight.insert(id, deadline);
        permit.probe = Some(id);
        permit.probe_deadline = Some(deadline);
        return (Decision::Call(permit), change);
    }
    breaker.refused += 1;
    let message = format!(
        "circuit half-open after {}: {in_flight} probe call{} in flight (open since {})",
        breaker.reason_text(),
        if in_flight == 1 { "" } else { "s" },
        show(since)
    );
    (Decision::Refuse(message), change)
}

fn transition(
    key: &BreakerKey,
    breaker: &Breaker,
    config: &BreakerConfig,
    change: Change,
) -> BreakerTransition {
    BreakerTransition {
        key: key.clone(),
        configuration_uid: breaker.identity.uid.clone(),
        failure_policy: breaker.failure_policy,
        at: change.at,
        from: change.from,
        to: change.to,
        reason: change.reason,
        detail: change.detail,
        next_probe_at: change.next_probe_at,
        trips: breaker.trips,
        probes_allowed: config.half_open_probes,
    }
}

fn view(key: &BreakerKey, breaker: &Breaker, now: Timestamp) -> BreakerView {
    let recent_failures = breaker.window.iter().filter(|f| **f).count() as u32;
    BreakerView {
        key: key.clone(),
        identity: breaker.identity.clone(),
        failure_policy: breaker.failure_policy,
        state: breaker.state_at(now),
        consecutive_failures: breaker.consecutive,
        recent_calls: breaker.window.len() as u32,
        recent_failures,
        trips: breaker.trips,
        refused_calls: breaker.refused,
        probes: breaker.probes,
        reason: breaker.reason.clone(),
        last_error: breaker.last_error.as_ref().map(|(m, _)| m.clone()),
        last_error_at: breaker.last_error.as_ref().map(|(_, t)| *t),
    }
}
