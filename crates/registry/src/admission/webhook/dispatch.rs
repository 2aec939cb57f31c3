//! Building one [`WebhookCall`]: the review UID, the effective timeout (`timeoutSeconds`
//! clipped to what remains of the request), the `?timeout=<n>s` query, and the body — and,
//! before it is built, asking the webhook breaker (guard 7) whether it may be made at all
//! ([`consult_breaker`]).

use std::time::Duration;

use corral_core::Timestamp;
use serde_json::Value;

use super::hooks::HookSpec;
use super::review::{self, ReviewVersion};
use crate::admission::breaker::{
    BreakerKey, CallTarget, ConfigurationKind, Decision, Permit, SharedBreakers,
};
use crate::admission::request::AdmissionRequest;
use crate::admission::types::{CallFailure, CallId, WebhookCall};

/// A deterministic UUID-shaped id from a base string and a counter (FNV-1a, 128 bits).
pub fn derive_uid(base: &str, salt: u32) -> String {
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    for byte in base.bytes().chain(salt.to_le_bytes()) {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000000001000000000000000000013B);
    }
    let hex = format!("{hash:032x}");
    format!(
        "{}-{}-4{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `url` with `timeout=<n>s` appended, `n` rounded up to whole seconds.
pub fn url_with_timeout(base: &str, timeout: Duration) -> String {
    if timeout.is_zero() {
        return base.to_string();
    }
    let mut seconds = timeout.as_secs();
    if timeout.subsec_nanos() > 0 {
        seconds += 1;
    }
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}timeout={seconds}s")
}

/// Everything needed to issue one call.
pub struct CallPlan<'a> {
    pub id: CallId,
    pub hook: &'a HookSpec,
    pub mutating: bool,
    pub round: u8,
    pub version: ReviewVersion,
    pub review_uid: String,
    /// What remains of the request; `None` when the deadline is not enforced.
    pub remaining: Option<Duration>,
    pub namespace: &'a str,
    pub object: Option<Value>,
    pub old_object: Option<Value>,
    pub now: Timestamp,
}

/// `timeoutSeconds`, clipped to what remains of the request (`None`: not enforced).
pub fn effective_timeout(hook: &HookSpec, remaining: Option<Duration>) -> Duration {
    let hook_timeout = Duration::from_secs(u64::try_from(hook.timeout_seconds.max(1)).unwrap_or(1));
    remaining.map_or(hook_timeout, |r| r.min(hook_timeout))
}

/// Guard 7: may the call to `hook` be made? `Ok(Some(permit))`: make it and report its
/// result with the permit; `Ok(None)`: make it, nothing to report (no breakers, or
/// disabled); `Err`: do not make it — the failure to answer it with.
pub fn consult_breaker(
    breakers: Option<&SharedBreakers>,
    hook: &HookSpec,
    mutating: bool,
    timeout: Duration,
    now: Timestamp,
) -> Result<Option<Permit>, CallFailure> {
    let Some(breakers) = breakers else {
        return Ok(None);
    };
    let key = BreakerKey::new(
        ConfigurationKind::of(mutating),
        &hook.configuration,
        &hook.name,
    );
    let target = CallTarget {
        key: &key,
        identity: &hook.identity,
        failure_policy: hook.failure_policy,
        timeout,
    };
    match breakers.lock().admit(&target, now) {
        Decision::Call(permit) => Ok(Some(permit)),
        Decision::Untracked => Ok(None),
        Decision::Refuse(detail) => Err(CallFailure::CircuitOpen(detail)),
    }
}

/// The call, ready for the driver.
pub fn prepare(plan: CallPlan<'_>, request: &AdmissionRequest) -> WebhookCall {
    let timeout = effective_timeout(plan.hook, plan.remaining);
    let url = url_with_timeout(&plan.hook.client.base_url(), timeout);
    let review = review::build(
        plan.version,
        &plan.review_uid,
        request,
        plan.namespace,
        plan.object,
        plan.old_object,
    );
    WebhookCall {
        id: plan.id,
        configuration: plan.hook.configuration.clone(),
        webhook: plan.hook.name.clone(),
        mutating: plan.mutating,
        round: plan.round,
        client: plan.hook.client.clone(),
        url,
        timeout,
        failure_policy: plan.hook.failure_policy,
        review,
        review_uid: plan.review_uid,
        issued_at: plan.now,
    }
}
