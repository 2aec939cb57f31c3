//! The step machine's vocabulary: what [`super::AdmissionFlow::step`] asks the driver to do
//! ([`AdmissionStep`]), a webhook call ([`WebhookCall`]) and its result ([`WebhookResult`]),
//! the outcome of an admitted request ([`Admitted`], [`QuotaCharge`]), and the per-webhook
//! records drivers turn into metrics ([`WebhookRecord`]).

use std::collections::BTreeMap;
use std::time::Duration;

use corral_api::{ApiError, KubeObject, ObjectKey, ResourceKind, Revision};
use corral_core::Timestamp;
use corral_store::{Compare, TxnOp};
use k8s_openapi::api::core::v1::ResourceQuota;

/// What the driver must do next.
#[derive(Clone, Debug, PartialEq)]
pub enum AdmissionStep {
    /// Issue these calls and report each result with
    /// [`super::AdmissionFlow::webhook_result`]. Mutating webhooks come one at a time, in
    /// order; validating webhooks all at once (upstream calls them in parallel).
    CallWebhooks(Vec<WebhookCall>),
    /// Call `step` again at (or after) this time: a plugin waits for the cache to catch up
    /// (a namespace just created, the `default` ServiceAccount not yet made).
    WaitUntil(Timestamp),
    /// Results of these calls are still outstanding; `step` was called too early.
    Pending(Vec<CallId>),
    /// Only with [`super::AdmissionConfig::caller_prepares`]: mutating admission is done;
    /// run the caller's create/update preparation through
    /// [`super::AdmissionFlow::prepare_with`], then step again.
    Prepare,
    /// Store the object. Commit `quota` charges in the same transaction; on a quota
    /// precondition conflict call [`super::AdmissionFlow::retry_quota`] and step again.
    Admitted(Admitted),
    Rejected(ApiError),
}

/// An admitted request.
#[derive(Clone, Debug, PartialEq)]
pub struct Admitted {
    /// The object to store (after mutation and the registry's create/update preparation);
    /// `None` for delete and connect.
    pub object: Option<KubeObject>,
    /// `Warning` headers, in order (webhooks, then the strategy's create warnings).
    pub warnings: Vec<String>,
    /// Audit annotations (`failed-open.mutation.webhook.admission.k8s.io/round_0_index_1`,
    /// `mutation.webhook…`, `<webhook>/<key>` from webhook responses; guard 7 adds
    /// `circuit-open.{mutation,validating}.webhook.admission.corral.dev/round_0_index_1` next
    /// to `failed-open…` when the call was not made because the circuit was open).
    pub audit_annotations: BTreeMap<String, String>,
    /// Quota objects with `status.used` raised by this request. Empty for dry runs.
    pub quota: Vec<QuotaCharge>,
}

/// One ResourceQuota to write together with the admitted object.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaCharge {
    /// The quota with its new `status.used`.
    pub quota: ResourceQuota,
    /// The revision the charge was computed from: the write's precondition.
    pub revision: Revision,
}

impl QuotaCharge {
    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(
            ResourceKind::ResourceQuota,
            self.quota.metadata.namespace.as_deref().unwrap_or(""),
            self.quota.metadata.name.as_deref().unwrap_or(""),
        )
    }

    /// `ModRevision(quota, revision)`: the store compare guarding the charge.
    pub fn precondition(&self) -> Compare {
        Compare::ModRevision(self.key(), self.revision)
    }

    /// The put of the charged quota.
    pub fn op(&self) -> TxnOp {
        TxnOp::Put(KubeObject::ResourceQuota(self.quota.clone()))
    }
}

/// Identifies one call within one flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u32);

/// `failurePolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailurePolicy {
    Fail,
    Ignore,
}

/// Where a webhook lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookTarget {
    Url(String),
    /// `https://<name>.<namespace>.svc:<port><path>`: Corral has no Services, so the
    /// caller resolves these through its own table.
    Service {
        namespace: String,
        name: String,
        path: Option<String>,
        port: i32,
    },
}

/// `clientConfig`: the target and the PEM `caBundle` to verify it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    pub target: WebhookTarget,
    pub ca_bundle: Option<Vec<u8>>,
}

impl ClientConfig {
    /// The URL without the `timeout` query, as upstream's client builds it.
    pub fn base_url(&self) -> String {
        match &self.target {
            WebhookTarget::Url(url) => url.clone(),
            WebhookTarget::Service {
                namespace,
                name,
                path,
                port,
            } => format!(
                "https://{name}.{namespace}.svc:{port}{}",
                path.as_deref().unwrap_or("")
            ),
        }
    }
}

/// One AdmissionReview POST for the driver to make.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookCall {
    pub id: CallId,
    /// Name of the Mutating/ValidatingWebhookConfiguration.
    pub configuration: String,
    /// The webhook's `name` (metrics label, error messages).
    pub webhook: String,
    pub mutating: bool,
    /// 0, or 1 for a reinvocation.
    pub round: u8,
    pub client: ClientConfig,
    /// The full URL to POST to, with `?timeout=<n>s` when the call has a deadline.
    pub url: String,
    /// Give up after this long: `timeoutSeconds`, clipped to what remains of the request.
    pub timeout: Duration,
    pub failure_policy: FailurePolicy,
    /// The request body: an `admission.k8s.io/v1` (or `v1beta1`) AdmissionReview.
    pub review: serde_json::Value,
    /// `request.uid` of the review; the response must echo it.
    pub review_uid: String,
    pub issued_at: Timestamp,
}

/// What came back from a call.
#[derive(Clone, Debug, PartialEq)]
pub enum WebhookResult {
    /// A 200 response whose body parsed as JSON (verified by the flow).
    Reviewed(serde_json::Value),
    Failed(CallFailure),
}

/// Why a call produced no review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallFailure {
    /// The call's timeout (or the request's deadline) passed.
    Timeout,
    /// TCP connection refused at this address (`127.0.0.1:8443`).
    ConnectionRefused { address: String },
    /// Other connection errors (DNS, unreachable, reset), in Go's words where possible.
    Connect(String),
    /// TLS handshake or certificate verification failed.
    Tls(String),
    /// A non-200 status; `body` is the (truncated) response text.
    BadStatus { code: u16, body: String },
    /// A 200 whose body is not JSON.
    Malformed(String),
    /// The body exceeded the client's limit.
    TooLarge { limit: usize },
    /// The service reference could not be resolved to an address.
    Unresolved(String),
    /// Guard 7, the webhook breaker, refused to issue the call; the text names the
    /// circuit's state (`circuit open after 5 consecutive timeouts (open since …, next probe
    /// at …)`).
    CircuitOpen(String),
}

impl CallFailure {
    /// The error text after `failed calling webhook "<name>": `, worded as upstream's REST
    /// client reports it (`failed to call webhook: Post "<url>": context deadline exceeded`).
    pub fn describe(&self, url: &str) -> String {
        match self {
            CallFailure::Timeout => {
                format!("failed to call webhook: Post {url:?}: context deadline exceeded")
            }
            CallFailure::ConnectionRefused { address } => format!(
                "failed to call webhook: Post {url:?}: dial tcp {address}: connect: connection refused"
            ),
            CallFailure::Connect(detail) | CallFailure::Tls(detail) => {
                format!("failed to call webhook: Post {url:?}: {detail}")
            }
            CallFailure::BadStatus { code, body } => {
                format!(
                    "failed to call webhook: {}",
                    generic_status_message(*code, body)
                )
            }
            CallFailure::Malformed(detail) => format!("failed to call webhook: {detail}"),
            CallFailure::TooLarge { limit } => format!(
                "failed to call webhook: Post {url:?}: response body larger than {limit} bytes"
            ),
            CallFailure::Unresolved(detail) => format!("could not get REST client: {detail}"),
            // The breaker words it whole: `circuit open after 5 consecutive timeouts (…)`.
            CallFailure::CircuitOpen(detail) => detail.clone(),
        }
    }

    /// A short label for metrics (`timeout`, `connection_refused`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            CallFailure::Timeout => "timeout",
            CallFailure::ConnectionRefused { .. } => "connection_refused",
            CallFailure::Connect(_) => "connect",
            CallFailure::Tls(_) => "tls",
            CallFailure::BadStatus { .. } => "bad_status",
            CallFailure::Malformed(_) => "malformed",
            CallFailure::TooLarge { .. } => "too_large",
            CallFailure::Unresolved(_) => "unresolved",
            CallFailure::CircuitOpen(_) => "circuit_open",
        }
    }
}

/// apimachinery's `NewGenericServerResponse` text for a status without a Status body.
fn generic_status_message(code: u16, body: &str) -> String {
    let body = body.trim();
    let server_message = if body.is_empty() { "unknown" } else { body };
    match code {
        400 => "the server rejected our request for an unknown reason".into(),
        401 => "the server has asked for the client to provide credentials".into(),
        403 => server_message.into(),
        404 => "the server could not find the requested resource".into(),
        405 => "the server does not allow this method on the requested resource".into(),
        409 => "the server reported a conflict".into(),
        422 => "the server rejected our request due to an error in our request".into(),
        429 => "the server has received too many requests and has asked us to try again later".into(),
        503 => "the server is currently unable to handle the request".into(),
        504 => "the server was unable to return a response in the time allotted, but may still be processing the request".into(),
        c if c >= 500 => format!(
            "an error on the server ({server_message:?}) has prevented the request from succeeding"
        ),
        c => format!("the server responded with the status code {c} but did not return more information"),
    }
}

/// What one webhook did to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    Allowed,
    /// Allowed with a patch that changed the object.
    Mutated,
    /// `allowed: false` (or a patch that could not be applied): the request failed.
    Rejected {
        code: u16,
    },
    /// The call failed and `failurePolicy: Ignore` let the request through.
    FailedOpen {
        failure: String,
    },
    /// The call failed and `failurePolicy: Fail` rejected the request.
    FailedClosed {
        failure: String,
    },
}

/// One finished call, for per-webhook metrics (latency, timeouts, rejections).
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookRecord {
    pub configuration: String,
    pub webhook: String,
    pub mutating: bool,
    pub round: u8,
    pub issued_at: Timestamp,
    pub finished_at: Timestamp,
    pub outcome: WebhookOutcome,
    /// The call was not made: the webhook's circuit was open (guard 7). The outcome is
    /// `FailedOpen` or `FailedClosed` per `failurePolicy`, and the latency zero.
    pub circuit_open: bool,
}

impl WebhookRecord {
    pub fn latency(&self) -> Duration {
        corral_core::clock::since(self.finished_at, self.issued_at)
    }
}
