//! Admission webhooks: matching ([`hooks`]), AdmissionReview bodies ([`review`]) and the
//! one place calls are prepared ([`dispatch`]) — where guard 7, the webhook breaker
//! ([`crate::admission::breaker`]), is consulted: it can refuse a call before it is issued
//! by answering it with [`crate::admission::CallFailure::CircuitOpen`], which the chain
//! treats like any other call failure (fail open or closed per `failurePolicy`).

pub mod dispatch;
pub mod hooks;
pub mod review;
