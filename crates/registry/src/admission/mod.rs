//! L1: the admission chain as a sans-IO step machine, shared by the API server (which
//! calls webhooks over HTTPS, `corral-webhook`) and the simulator (which models their
//! latency and failures in virtual time).
//!
//! # Order (upstream `pkg/kubeapiserver/options/plugins.go`)
//!
//! 1. Mutating: NamespaceLifecycle → LimitRanger (defaults) → ServiceAccount (default
//!    account, token volume, pull secrets) → Priority → DefaultTolerationSeconds →
//!    MutatingAdmissionWebhook (configurations by name, webhooks in order, one call at a
//!    time; JSON patches applied; `reinvocationPolicy: IfNeeded` re-runs the mutating
//!    chain once when a later webhook changed the object).
//! 2. Object validation: the registry's `prepare_create`/`prepare_update` (upstream
//!    `BeforeCreate`/`BeforeUpdate`: strategy, validation).
//! 3. Validating: LimitRanger (min/max/ratio) → ServiceAccount (mountable secrets) →
//!    ValidatingAdmissionWebhook (all matching webhooks at once) → ResourceQuota (last,
//!    so nothing is charged for a request something else refuses).
//!
//! # Driving it
//!
//! ```text
//! let mut flow = AdmissionFlow::new(request, &config);
//! loop {
//!     match flow.step(&state, now) {
//!         AdmissionStep::CallWebhooks(calls) => {
//!             // mutating: one call; validating: all, concurrently
//!             for call in calls { let r = client.call(&call).await; flow.webhook_result(call.id, r, now()); }
//!         }
//!         AdmissionStep::WaitUntil(t) => sleep_until(t),
//!         AdmissionStep::Prepare => flow.prepare_with(&mut prepare), // caller_prepares only
//!         AdmissionStep::Pending(_) => unreachable (results not yet delivered),
//!         AdmissionStep::Admitted(admitted) => {
//!             // one transaction: the object plus every quota charge with its revision
//!             match store.commit(compares(admitted), ops(admitted)) {
//!                 Ok(_) => return Ok(admitted.object),
//!                 Err(quota changed) => flow.retry_quota(admitted),   // charge again
//!             }
//!         }
//!         AdmissionStep::Rejected(error) => return Err(error),
//!     }
//! }
//! ```
//!
//! # Guard 7: webhook breakers
//!
//! With [`AdmissionConfig::webhook_breakers`] set, the flow asks the shared
//! [`breaker::WebhookBreakers`] before each webhook call and tells it every call's result:
//! a webhook whose circuit is open is not called, and `failurePolicy` decides at once
//! (`Ignore` admits, `Fail` rejects). Drivers drain
//! [`breaker::WebhookBreakers::poll_transitions`] into events and metrics; see
//! `docs/guards.md`.
//!
//! The flow never reads a clock: `now` is passed to every call, the request deadline
//! (60 s) is fixed at the first step, webhook timeouts are clipped to what remains of it,
//! review UIDs and generated name suffixes derive from the request uid.
//!
//! # Deviations from upstream
//!
//! - Quota charges are returned, not written: the caller commits them atomically with
//!   the object (see [`QuotaCharge`]); upstream updates quota status first and batches
//!   per namespace.
//! - Validating webhooks: with several refusals the first in webhook order wins
//!   (upstream: the first to arrive).
//! - `matchConditions` (CEL) are not evaluated, so validation refuses configurations that
//!   set them (422, `webhooks[i].matchConditions: Forbidden`). `matchPolicy: Equivalent`
//!   finds no other versions (Corral serves one version per group).
//! - PriorityClass objects are not served: only the two system classes resolve.
//! - A webhook status without a `reason` gets the reason of its code.

pub mod breaker;
mod builtin;
mod flow;
pub mod quota;
mod request;
mod state;
mod types;
pub mod webhook;

#[cfg(test)]
mod tests;

pub use breaker::{BreakerConfig, SharedBreakers};
pub use builtin::service_account::{TOKEN_MOUNT_PATH, VOLUME_NAME_PREFIX};
pub use flow::{AdmissionFlow, request_timeout, token_volume_suffix};
pub use request::{AdmissionConfig, AdmissionRequest, Operation};
pub use state::AdmissionState;
pub use types::{
    AdmissionStep, Admitted, CallFailure, CallId, ClientConfig, FailurePolicy, QuotaCharge,
    WebhookCall, WebhookOutcome, WebhookRecord, WebhookResult, WebhookTarget,
};

pub use crate::authz::UserInfo;
