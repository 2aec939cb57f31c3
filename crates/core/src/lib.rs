//! L0: the vocabulary shared by pure cores and their drivers.
//!
//! - [`clock`]: `now` as an input ([`Clock`] port, [`ManualClock`]);
//! - [`rng`]: seeded randomness ([`SimRng`]);
//! - [`plan`]: what a core decided ([`Plan`], [`Action`]) and what happened ([`Outcome`]);
//! - [`workqueue`]: client-go's work queue and rate limiters, time passed in;
//! - [`fair_queue`]: the fair work queue of guard 1 (round robin by namespace and owner,
//!   a fresh lane), and [`ControllerQueue`] to drive either;
//! - [`cache`]: the informer cache cores read as their snapshot;
//! - [`controller`]: the [`Reconciler`] interface every controller core implements;
//! - [`events`]: client-go's event correlator (dedup, aggregation, spam filter).
//!
//! No I/O, no clock reads, no threads.

pub mod cache;
pub mod clock;
pub mod controller;
pub mod events;
pub mod fair_queue;
pub mod plan;
pub mod rng;
pub mod workqueue;

pub use cache::{ChangeKind, ObjectCache, ObjectEvent};
pub use clock::{Clock, ManualClock, Timestamp};
pub use controller::{Enqueue, QueueConfig, Reconciler, SyncResult};
pub use events::{EventRecorder, RecordedEvent};
pub use fair_queue::{ControllerQueue, FairClass, FairQueueConfig, FairWorkQueue, QueueDiscipline};
pub use plan::{
    Action, EventRecord, EventType, OnFailure, Outcome, PatchBody, Plan, Preconditions,
    Propagation, Stage, Subresource,
};
pub use rng::SimRng;
pub use workqueue::{RateLimiter, WorkQueue};
