//! [`AdmissionChain`]: the production [`Admission`], driving corral-registry's sans-IO
//! [`AdmissionFlow`] to completion on the write path's blocking thread.
//!
//! - State: an [`AdmissionState`] read lazily from the [`ClusterView`] (the namespace, the
//!   request namespace's ServiceAccounts, LimitRanges and ResourceQuotas, the webhook
//!   configurations), read again after every wait and quota conflict.
//! - Webhooks: [`WebhookClient`] over HTTPS on the chain's own small tokio runtime
//!   (`Handle::block_on` from the blocking thread); the validating calls of one step run
//!   concurrently; every call is bounded by its timeout and the request deadline.
//! - `WaitUntil` (a namespace or `default` ServiceAccount not there yet): a real sleep,
//!   each at most [`WAIT_STEP_MAX`].
//! - `Prepare`: the API server's registry step (strategy, defaults, validation) runs
//!   exactly once, between mutating and validating admission (`caller_prepares`).
//! - Quota: charges become the commit's compares and puts; a charge conflict
//!   ([`CommitOutcome::RetryQuota`]) goes back through `retry_quota`, recomputing only the
//!   charges (webhooks are not called again).
//! - Metrics: every finished webhook call is recorded in [`WebhookMetrics`].

use std::cell::OnceCell;
use std::sync::Arc;
use std::time::Duration;

use corral_api::k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use corral_api::k8s_openapi::api::core::v1::{
    LimitRange, Namespace, ResourceQuota, ServiceAccount,
};
use corral_api::{ApiError, KubeObject, ResourceKind, TypedObject};
use corral_core::clock::{add, since};
use corral_core::{Clock, SimRng};
use corral_registry::admission::{
    self as flow, AdmissionConfig, AdmissionFlow, AdmissionState, AdmissionStep, WebhookCall,
    WebhookOutcome,
};
use corral_webhook::WebhookClient;
use parking_lot::Mutex;

use super::SystemClock;
use super::admission::{
    Admission, AdmissionRequest, Admitted, ClusterView, Commit, CommitOutcome, Operation, Prepare,
};
use super::types::UserInfo;
use crate::metrics::{
    WebhookDurationLabels, WebhookLabels, WebhookMetrics, WebhookRejectionLabels,
};

/// One wait (`WaitUntil`) sleeps at most this long before the flow is stepped again.
pub const WAIT_STEP_MAX: Duration = Duration::from_millis(250);
/// Steps of one request at most (a livelock fails instead of hanging).
const STEPS_MAX: usize = 1000;

/// The production admission chain. Cheap to share (`Arc`); `Send + Sync`.
pub struct AdmissionChain {
    config: AdmissionConfig,
    client: Arc<WebhookClient>,
    clock: Arc<dyn Clock>,
    metrics: Option<WebhookMetrics>,
    rng: Mutex<SimRng>,
    /// The runtime webhook calls run on (taken and shut down in the background on drop:
    /// the chain may be dropped inside async code).
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for AdmissionChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdmissionChain")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Drop for AdmissionChain {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl AdmissionChain {
    /// A chain with `config` (the API server always prepares objects itself, so
    /// `caller_prepares` is forced on) calling webhooks through `client`.
    pub fn new(mut config: AdmissionConfig, client: WebhookClient) -> std::io::Result<Self> {
        config.caller_prepares = true;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("corral-webhooks")
            .enable_all()
            .build()?;
        Ok(AdmissionChain {
            config,
            client: Arc::new(client),
            clock: Arc::new(SystemClock),
            metrics: None,
            rng: Mutex::new(SimRng::seed_from_u64(super::os_seed())),
            runtime: Some(runtime),
        })
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_metrics(mut self, metrics: WebhookMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn config(&self) -> &AdmissionConfig {
        &self.config
    }

    fn request_uid(&self) -> String {
        corral_api::Uid::from_random_bits(self.rng.lock().next_u128()).0
    }

    fn flow_request(
        &self,
        request: &AdmissionRequest<'_>,
        object: Option<KubeObject>,
    ) -> flow::AdmissionRequest {
        flow::AdmissionRequest {
            operation: match request.operation {
                Operation::Create => flow::Operation::Create,
                Operation::Update => flow::Operation::Update,
                Operation::Delete => flow::Operation::Delete,
                Operation::Connect => flow::Operation::Connect,
            },
            resource: request.resource,
            subresource: request.subresource.map(str::to_string),
            namespace: request.namespace.to_string(),
            name: request.name.to_string(),
            object,
            old_object: request.old.cloned(),
            user: registry_user(request.user),
            dry_run: request.dry_run,
            uid: self.request_uid(),
            deadline: None,
            field_manager: request.field_manager.map(str::to_string),
        }
    }

    /// Issues `calls` concurrently and reports each result to the flow.
    fn call_webhooks(&self, admission: &mut AdmissionFlow, calls: Vec<WebhookCall>) {
        let started = self.clock.now();
        let deadline = admission
            .deadline()
            .map(|d| tokio::time::Instant::now() + since(d, started).max(Duration::from_millis(1)));
        let client = Arc::clone(&self.client);
        let work = async move {
            let futures = calls
                .iter()
                .map(|call| client.call_with_deadline(call, deadline));
            let reports = futures::future::join_all(futures).await;
            calls.into_iter().zip(reports).collect::<Vec<_>>()
        };
        let finished = match &self.runtime {
            Some(runtime) => runtime.handle().block_on(work),
            None => Vec::new(),
        };
        for (call, report) in finished {
            admission.webhook_result(call.id, report.result, add(started, report.elapsed));
        }
    }

    /// Records the flow's finished webhook calls.
    fn observe(&self, admission: &AdmissionFlow) {
        let Some(metrics) = &self.metrics else {
            return;
        };
        let operation = admission.request().operation.as_str().to_string();
        for record in admission.records() {
            let kind = if record.mutating {
                "admit"
            } else {
                "validating"
            };
            let rejected = matches!(
                record.outcome,
                WebhookOutcome::Rejected { .. } | WebhookOutcome::FailedClosed { .. }
            );
            metrics
                .durations
                .get_or_create(&WebhookDurationLabels {
                    name: record.webhook.clone(),
                    r#type: kind.to_string(),
                    operation: operation.clone(),
                    rejected: rejected.to_string(),
                })
                .observe(record.latency().as_secs_f64());
            let labels = WebhookLabels {
                name: record.webhook.clone(),
                r#type: kind.to_string(),
            };
            let failure = match &record.outcome {
                WebhookOutcome::FailedOpen { failure } => {
                    metrics.fail_open.get_or_create(&labels).inc();
                    Some(failure)
                }
                WebhookOutcome::FailedClosed { failure } => {
                    metrics
                        .rejections
                        .get_or_create(&WebhookRejectionLabels {
                            name: record.webhook.clone(),
                            r#type: kind.to_string(),
                            operation: operation.clone(),
                            error_type: "calling_webhook_error".into(),
                            rejection_code: "500".into(),
                        })
                        .inc();
                    Some(failure)
                }
                WebhookOutcome::Rejected { code } => {
                    metrics
                        .rejections
                        .get_or_create(&WebhookRejectionLabels {
                            name: record.webhook.clone(),
                            r#type: kind.to_string(),
                            operation: operation.clone(),
                            error_type: "no_error".into(),
                            rejection_code: code.to_string(),
                        })
                        .inc();
                    None
                }
                WebhookOutcome::Allowed | WebhookOutcome::Mutated => None,
            };
            if failure.is_some_and(|f| f.contains("context deadline exceeded")) {
                metrics.timeouts.get_or_create(&labels).inc();
            }
        }
    }

    /// Steps the flow to its end; `commit` (when given) writes each admitted result.
    fn drive(
        &self,
        request: &AdmissionRequest<'_>,
        view: &dyn ClusterView,
        object: Option<KubeObject>,
        prepare: Prepare<'_>,
        mut commit: Option<Commit<'_>>,
    ) -> Result<Admitted, ApiError> {
        let mut admission = AdmissionFlow::new(self.flow_request(request, object), &self.config);
        let mut state = ViewState::new(view, request);
        for _ in 0..STEPS_MAX {
            match admission.step(&state, self.clock.now()) {
                AdmissionStep::CallWebhooks(calls) => self.call_webhooks(&mut admission, calls),
                AdmissionStep::WaitUntil(until) => {
                    let wait = since(until, self.clock.now()).min(WAIT_STEP_MAX);
                    std::thread::sleep(wait);
                    state = ViewState::new(view, request);
                }
                AdmissionStep::Prepare => admission.prepare_with(prepare),
                AdmissionStep::Pending(_) => {
                    return Err(ApiError::internal(
                        "admission is waiting for webhook results it was given",
                    ));
                }
                AdmissionStep::Rejected(error) => {
                    self.observe(&admission);
                    return Err(error);
                }
                AdmissionStep::Admitted(admitted) => {
                    let flow::Admitted {
                        object,
                        warnings,
                        audit_annotations,
                        quota,
                    } = admitted;
                    let ours = Admitted {
                        object,
                        warnings,
                        compares: quota.iter().map(|c| c.precondition()).collect(),
                        ops: quota.iter().map(|c| c.op()).collect(),
                        audit_annotations,
                    };
                    let outcome = match commit.as_mut() {
                        Some(commit) => commit(&ours),
                        None => CommitOutcome::Done,
                    };
                    if outcome == CommitOutcome::Done {
                        self.observe(&admission);
                        return Ok(ours);
                    }
                    admission.retry_quota(flow::Admitted {
                        object: ours.object,
                        warnings: ours.warnings,
                        audit_annotations: ours.audit_annotations,
                        quota,
                    });
                    state = ViewState::new(view, request);
                }
            }
        }
        Err(ApiError::internal("admission did not finish"))
    }
}

impl Admission for AdmissionChain {
    fn admit(
        &self,
        request: &AdmissionRequest<'_>,
        view: &dyn ClusterView,
        object: Option<KubeObject>,
        prepare: Prepare<'_>,
    ) -> Result<Admitted, ApiError> {
        self.drive(request, view, object, prepare, None)
    }

    fn admit_and_commit(
        &self,
        request: &AdmissionRequest<'_>,
        view: &dyn ClusterView,
        object: Option<KubeObject>,
        prepare: Prepare<'_>,
        commit: Commit<'_>,
    ) -> Result<Admitted, ApiError> {
        self.drive(request, view, object, prepare, Some(commit))
    }
}

/// The API server's user as the registry's.
pub fn registry_user(user: &UserInfo) -> corral_registry::authz::UserInfo {
    corral_registry::authz::UserInfo {
        username: user.name.clone(),
        uid: user.uid.clone(),
        groups: user.groups.clone(),
        extra: Default::default(),
    }
}

/// The cluster as admission reads it, loaded lazily from the view: the request's
/// namespace, its ServiceAccounts, LimitRanges and ResourceQuotas, and the webhook
/// configurations. Other namespaces read as absent/empty (the chain never asks).
struct ViewState<'v> {
    view: &'v dyn ClusterView,
    namespace: String,
    namespaces: OnceCell<Vec<Namespace>>,
    service_accounts: OnceCell<Vec<ServiceAccount>>,
    limit_ranges: OnceCell<Vec<LimitRange>>,
    quotas: OnceCell<Vec<ResourceQuota>>,
    mutating: OnceCell<Vec<MutatingWebhookConfiguration>>,
    validating: OnceCell<Vec<ValidatingWebhookConfiguration>>,
}

impl<'v> ViewState<'v> {
    fn new(view: &'v dyn ClusterView, request: &AdmissionRequest<'_>) -> Self {
        ViewState {
            view,
            namespace: request.namespace.to_string(),
            namespaces: OnceCell::new(),
            service_accounts: OnceCell::new(),
            limit_ranges: OnceCell::new(),
            quotas: OnceCell::new(),
            mutating: OnceCell::new(),
            validating: OnceCell::new(),
        }
    }

    fn typed<T: TypedObject + Clone>(&self, kind: ResourceKind, namespace: Option<&str>) -> Vec<T> {
        self.view
            .list(kind, namespace)
            .iter()
            .filter_map(|o| o.as_typed::<T>().cloned())
            .collect()
    }

    fn in_namespace<'a, T>(&'a self, namespace: &str, items: &'a [T]) -> Vec<&'a T> {
        if namespace == self.namespace {
            items.iter().collect()
        } else {
            Vec::new()
        }
    }
}

impl AdmissionState for ViewState<'_> {
    fn namespace(&self, name: &str) -> Option<&Namespace> {
        // Namespaces are few; one list serves the request's namespace and any a webhook's
        // namespaceSelector asks about.
        self.namespaces
            .get_or_init(|| self.typed(ResourceKind::Namespace, None))
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(name))
    }

    fn service_account(&self, namespace: &str, name: &str) -> Option<&ServiceAccount> {
        if namespace != self.namespace {
            return None;
        }
        let accounts = self
            .service_accounts
            .get_or_init(|| self.typed(ResourceKind::ServiceAccount, Some(&self.namespace)));
        accounts
            .iter()
            .find(|a| a.metadata.name.as_deref() == Some(name))
    }

    fn limit_ranges(&self, namespace: &str) -> Vec<&LimitRange> {
        let items = self
            .limit_ranges
            .get_or_init(|| self.typed(ResourceKind::LimitRange, Some(&self.namespace)));
        self.in_namespace(namespace, items)
    }

    fn resource_quotas(&self, namespace: &str) -> Vec<&ResourceQuota> {
        let items = self
            .quotas
            .get_or_init(|| self.typed(ResourceKind::ResourceQuota, Some(&self.namespace)));
        self.in_namespace(namespace, items)
    }

    fn mutating_webhook_configurations(&self) -> Vec<&MutatingWebhookConfiguration> {
        self.mutating
            .get_or_init(|| self.typed(ResourceKind::MutatingWebhookConfiguration, None))
            .iter()
            .collect()
    }

    fn validating_webhook_configurations(&self) -> Vec<&ValidatingWebhookConfiguration> {
        self.validating
            .get_or_init(|| self.typed(ResourceKind::ValidatingWebhookConfiguration, None))
            .iter()
            .collect()
    }
}
