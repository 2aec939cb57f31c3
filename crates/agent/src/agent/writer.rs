//! API writes of the agent: per object in order (a pod's status patches never overtake
//! each other, and a queued status patch is replaced by a newer one), across objects
//! concurrently up to a bound. Events go through a separate bounded queue and are dropped
//! when it is full, as client-go's event broadcaster drops them. Failures of non-event
//! writes go back to the core (`handle_api_failure`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use corral_api::{ApiError, StatusReason};
use corral_core::{Action, PatchBody, Subresource};
use parking_lot::Mutex;
use tokio::sync::{Semaphore, mpsc};

use crate::api::NodeApi;

/// Concurrent API writes at most.
pub const WRITES_IN_FLIGHT_MAX: usize = 64;
/// Events waiting to be written at most (client-go's broadcaster queue holds 1,000).
pub const EVENTS_PENDING_MAX: usize = 1000;
/// Concurrent event writes at most (apart from the other writes, so events never delay
/// a pod's status).
pub const EVENT_WRITES_IN_FLIGHT_MAX: usize = 16;

#[derive(Debug)]
struct Write {
    action: Action,
    /// A pod status patch (coalescible).
    status: bool,
}

/// The agent's API writer.
pub struct ApiWriter {
    api: Arc<dyn NodeApi>,
    queues: Mutex<HashMap<String, VecDeque<Write>>>,
    permits: Arc<Semaphore>,
    event_permits: Arc<Semaphore>,
    failures: mpsc::UnboundedSender<(Action, ApiError)>,
    events_pending: AtomicUsize,
    in_flight: AtomicUsize,
}

impl std::fmt::Debug for ApiWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiWriter")
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .finish()
    }
}

fn is_status_patch(action: &Action) -> bool {
    matches!(
        action,
        Action::Patch {
            subresource: Subresource::Status,
            patch: PatchBody::Merge(_),
            key,
        } if key.kind == corral_api::ResourceKind::Pod
    )
}

impl ApiWriter {
    pub fn new(
        api: Arc<dyn NodeApi>,
        failures: mpsc::UnboundedSender<(Action, ApiError)>,
    ) -> Arc<ApiWriter> {
        Arc::new(ApiWriter {
            api,
            queues: Mutex::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(WRITES_IN_FLIGHT_MAX)),
            event_permits: Arc::new(Semaphore::new(EVENT_WRITES_IN_FLIGHT_MAX)),
            failures,
            events_pending: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
        })
    }

    /// Writes (and writes queued behind them) not finished yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Queues a write for its object.
    pub fn submit(self: &Arc<Self>, action: Action) {
        let Some(key) = action.key() else {
            return;
        };
        let key = format!("{:?}/{}/{}", key.kind, key.namespace, key.name);
        let write = Write {
            status: is_status_patch(&action),
            action,
        };
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        {
            let mut queues = self.queues.lock();
            if let Some(queue) = queues.get_mut(&key) {
                if write.status
                    && let Some(last) = queue.back_mut()
                    && last.status
                {
                    *last = write;
                    self.in_flight.fetch_sub(1, Ordering::Relaxed);
                    return;
                }
                queue.push_back(write);
                return;
            }
            queues.insert(key.clone(), VecDeque::new());
        }
        let writer = Arc::clone(self);
        tokio::spawn(async move { writer.run_queue(key, write).await });
    }

    async fn run_queue(self: Arc<Self>, key: String, first: Write) {
        let mut next = Some(first);
        while let Some(write) = next.take() {
            let result = {
                let _permit = self.permits.acquire().await;
                self.api.execute(write.action.clone()).await
            };
            if let Err(error) = result {
                tracing::debug!(key = %key, error = %error, "api write failed");
                let _ = self.failures.send((write.action, error));
            }
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            let mut queues = self.queues.lock();
            match queues.get_mut(&key).and_then(VecDeque::pop_front) {
                Some(write) => next = Some(write),
                None => {
                    queues.remove(&key);
                }
            }
        }
    }

    /// Records an event: `action` (a create or a count patch), with `fallback` to run if
    /// the patched Event is gone.
    pub fn event(self: &Arc<Self>, action: Action, fallback: Option<Action>) {
        if self.events_pending.fetch_add(1, Ordering::Relaxed) >= EVENTS_PENDING_MAX {
            self.events_pending.fetch_sub(1, Ordering::Relaxed);
            tracing::debug!("event queue full; event dropped");
            return;
        }
        let writer = Arc::clone(self);
        tokio::spawn(async move {
            {
                let _permit = writer.event_permits.acquire().await;
                let result = writer.api.execute(action).await;
                if let (Err(e), Some(fallback)) = (result, fallback)
                    && e.reason == StatusReason::NotFound
                {
                    let _ = writer.api.execute(fallback).await;
                }
            }
            writer.events_pending.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// Events not written yet.
    pub fn events_pending(&self) -> usize {
        self.events_pending.load(Ordering::Relaxed)
    }
}
