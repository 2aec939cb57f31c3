//! L2: tokio drivers for the pure cores.
//!
//! The controllers, the garbage collector and the scheduler decide in pure cores
//! (`corral_core::Reconciler`); this crate runs them against the real API service:
//!
//! - [`informer`]: one list-then-watch loop per kind feeding one shared
//!   [`ObjectCache`](corral_core::ObjectCache), dispatching each event to the interested
//!   controllers (kube-rs's watcher/reflector split, client-go's shared informer);
//! - [`controller`]: [`ControllerDriver`], the work-queue pump of one core (workers,
//!   timer, requeues, graceful shutdown);
//! - [`execute`]: plan execution (stages, skip-rest, events through the recorder, binds
//!   through `pods/binding`) behind a per-controller client token bucket ([`ratelimit`]);
//! - [`manager`]: [`ControllerManager`], everything `corral up` runs beside the API server;
//! - [`clock`]: [`SystemClock`] and the paused-time-friendly [`TokioClock`];
//! - [`metrics`]: queue depth, work duration, retries, informer counters, detached tails;
//! - [`breaker_events`]: guard 7's webhook-breaker transitions → Events and metrics;
//! - [`faults`]: latency and failures injected into controller writes (tests, benchmarks).
//!
//! Guards (`docs/guards.md`): the drivers honour guard 1's contract (fair queues with a
//! fresh lane, detached plan tails answered exactly once, bounded), and
//! [`ControllerManagerConfig`] has two profiles, [`ControllerManagerConfig::corral`] (the
//! default, guards on) and [`ControllerManagerConfig::upstream`].
//!
//! Nothing here decides anything about Jobs, pods or schedules: the drivers only move
//! keys, plans and outcomes.
//!
//! # Running it beside the API server (`corral up`)
//!
//! ```ignore
//! let service = ApiService::new(store);               // the same service the HTTP front serves
//! let config = ControllerManagerConfig::for_profile(profile); // `--profile`, default corral
//! config.metrics.register(&mut registry);             // optional: expose on /metrics
//! let controllers = ControllerManager::start(service.clone(), config);
//! // ... wait for SIGTERM ...
//! controllers.shutdown().await?;                      // before closing the API server
//! ```

pub mod breaker_events;
pub mod clock;
pub mod computed;
pub mod controller;
pub mod error;
pub mod execute;
pub mod faults;
pub mod informer;
pub mod manager;
pub mod metrics;
pub mod ratelimit;
pub mod signal;

pub use breaker_events::{BreakerEvents, EventSink};
pub use clock::{SystemClock, TokioClock};
pub use computed::ClusterComputed;
pub use controller::{ControllerDriver, DriverOptions, QueueStats};
pub use error::{InformerError, ShutdownError, UnknownController, UnknownProfile};
pub use execute::{PlanExecutor, StagesRun};
pub use faults::{WriteFault, WriteFaults};
pub use informer::{CacheReader, EventHandler, InformerConfig, SharedInformer};
pub use manager::{
    AdditionalController, BoxedReconciler, CONTROLLER_NAMES, ControllerManager,
    ControllerManagerConfig, ControllerManagerHandle, Profile,
};
pub use metrics::{AbandonReason, ControllerMetrics, RuntimeMetrics};
pub use ratelimit::{ClientRateLimit, TokenBucket};
