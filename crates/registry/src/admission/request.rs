//! What the API layer hands the admission chain: the request ([`AdmissionRequest`]) and
//! the chain's settings ([`AdmissionConfig`]).

use std::time::Duration;

use corral_api::{KubeObject, ResourceInfo};
use corral_core::Timestamp;

use super::breaker::SharedBreakers;
use crate::authz::UserInfo;

/// The admission operation (upstream `admission.Operation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

impl Operation {
    /// The wire form (`CREATE`), as in webhook rules and AdmissionReviews.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }

    /// The options kind an AdmissionReview carries for this operation.
    pub(crate) fn options_kind(self) -> Option<&'static str> {
        match self {
            Operation::Create => Some("CreateOptions"),
            Operation::Update => Some("UpdateOptions"),
            Operation::Delete => Some("DeleteOptions"),
            Operation::Connect => None,
        }
    }
}

/// One write (or connect) to admit.
///
/// - `name` is the name **as requested**: empty for a create with `generateName`, even when
///   the API layer already generated `object.metadata.name` (upstream generates names after
///   mutating admission, so webhooks and error messages see the request's view — the flow
///   reproduces that).
/// - `object` is the decoded, defaulted new object (create/update; `None` for delete,
///   connect, and subresources whose body is not the parent kind, such as `pods/binding`);
///   `old_object` the stored object (update/delete).
/// - `uid` identifies the request; every AdmissionReview UID and generated suffix is
///   derived from it, so a replay is deterministic.
#[derive(Clone, Debug)]
pub struct AdmissionRequest {
    pub operation: Operation,
    pub resource: &'static ResourceInfo,
    pub subresource: Option<String>,
    pub namespace: String,
    pub name: String,
    pub object: Option<KubeObject>,
    pub old_object: Option<KubeObject>,
    pub user: UserInfo,
    pub dry_run: bool,
    pub uid: String,
    /// When the request times out (upstream's 60 s `--request-timeout`); `None`: the first
    /// `step` time plus [`AdmissionConfig::request_timeout`].
    pub deadline: Option<Timestamp>,
    /// `fieldManager` of the request, copied into the AdmissionReview options.
    pub field_manager: Option<String>,
}

impl AdmissionRequest {
    /// A create of `object` through its kind's main resource, named as the object is
    /// (or by `generateName` when the name is empty).
    pub fn create(object: KubeObject, user: UserInfo, uid: &str) -> Self {
        let kind = object.kind();
        AdmissionRequest {
            operation: Operation::Create,
            resource: corral_api::resource::resource_of(kind),
            subresource: None,
            namespace: object.namespace().to_string(),
            name: object.name().to_string(),
            object: Some(object),
            old_object: None,
            user,
            dry_run: false,
            uid: uid.to_string(),
            deadline: None,
            field_manager: None,
        }
    }

    /// An update of `old` to `new` through the main resource (or `subresource`).
    pub fn update(
        new: KubeObject,
        old: KubeObject,
        subresource: Option<&str>,
        user: UserInfo,
        uid: &str,
    ) -> Self {
        let kind = new.kind();
        AdmissionRequest {
            operation: Operation::Update,
            resource: corral_api::resource::resource_of(kind),
            subresource: subresource.map(Into::into),
            namespace: old.namespace().to_string(),
            name: old.name().to_string(),
            object: Some(new),
            old_object: Some(old),
            user,
            dry_run: false,
            uid: uid.to_string(),
            deadline: None,
            field_manager: None,
        }
    }

    /// A delete of the stored `old`.
    pub fn delete(old: KubeObject, user: UserInfo, uid: &str) -> Self {
        let kind = old.kind();
        AdmissionRequest {
            operation: Operation::Delete,
            resource: corral_api::resource::resource_of(kind),
            subresource: None,
            namespace: old.namespace().to_string(),
            name: old.name().to_string(),
            object: None,
            old_object: Some(old),
            user,
            dry_run: false,
            uid: uid.to_string(),
            deadline: None,
            field_manager: None,
        }
    }

    pub fn subresource(&self) -> &str {
        self.subresource.as_deref().unwrap_or("")
    }
}

/// Settings of the chain. The defaults are upstream's.
#[derive(Clone, Debug)]
pub struct AdmissionConfig {
    /// `--request-timeout` (60 s): webhook calls never get more than what remains of it.
    pub request_timeout: Duration,
    /// Current upstream rejects a request whose deadline passed while webhooks failed open
    /// (504 `Timeout`) and clips webhook timeouts to the remaining time. `false` models
    /// **[1.14]**: the handler ignores the deadline (the client still gets its 504 from the
    /// API layer) and may go on to persist the object — "error but persisted".
    pub enforce_request_deadline: bool,
    /// NamespaceLifecycle waits this long for a missing namespace to appear in the cache
    /// before rejecting a create (upstream `missingNamespaceWait`, 50 ms); zero: no wait.
    pub namespace_missing_wait: Duration,
    /// Lookups of a missing `default` ServiceAccount before the 403 (upstream 10; other
    /// names get one), spaced by an interval between the two bounds (upstream 100–200 ms,
    /// drawn per request; here derived from the request uid).
    pub default_service_account_attempts: u32,
    pub service_account_retry_min: Duration,
    pub service_account_retry_max: Duration,
    /// ServiceAccount admission mounts the API token volume (upstream always does).
    pub mount_service_account_token: bool,
    /// Namespaces that may not be deleted.
    pub immortal_namespaces: Vec<String>,
    /// Times a quota charge is recomputed after a precondition conflict before the request
    /// fails with the conflict (upstream: 3 retries inside its per-namespace batch).
    pub quota_conflict_retries: u32,
    /// The flow runs the registry's `prepare_create`/`prepare_update` between mutating and
    /// validating admission (upstream `BeforeCreate`/`BeforeUpdate`). Turn off only when the
    /// caller validates itself.
    pub run_validation: bool,
    /// The caller prepares (validates) the object itself, between mutating and validating
    /// admission: the flow stops with [`super::AdmissionStep::Prepare`] there and the
    /// caller answers with [`super::AdmissionFlow::prepare_with`]. Takes precedence over
    /// `run_validation`. The API server sets it; the simulator does not.
    pub caller_prepares: bool,
    /// Guard 7: the webhook breakers every request of this server (or simulated world)
    /// shares — one [`SharedBreakers`], cloned into each request's config. `None` (the
    /// default) is upstream: every matching webhook is called.
    pub webhook_breakers: Option<SharedBreakers>,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            request_timeout: Duration::from_secs(60),
            enforce_request_deadline: true,
            namespace_missing_wait: Duration::from_millis(50),
            default_service_account_attempts: 10,
            service_account_retry_min: Duration::from_millis(100),
            service_account_retry_max: Duration::from_millis(200),
            mount_service_account_token: true,
            immortal_namespaces: vec![
                "default".to_string(),
                "kube-system".to_string(),
                "kube-public".to_string(),
            ],
            quota_conflict_retries: 10,
            run_validation: true,
            caller_prepares: false,
            webhook_breakers: None,
        }
    }
}
