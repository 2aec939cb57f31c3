//! Admission webhooks: matching ([`hooks`]), AdmissionReview bodies ([`review`]) and the
//! one place calls are prepared ([`dispatch`]) — where a latency breaker ("guard") slots
//! in: it can refuse a call before it is issued by answering it with
//! [`crate::admission::CallFailure::CircuitOpen`], which the chain treats like any other
//! call failure (fail open or closed per `failurePolicy`).

pub mod dispatch;
pub mod hooks;
pub mod review;
