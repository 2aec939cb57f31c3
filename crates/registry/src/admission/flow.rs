//! [`AdmissionFlow`]: the admission chain as a step machine. Control flow lives here; the
//! plugins (`builtin`), webhook matching and bodies (`webhook`) and quota (`quota`) are
//! leaves.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use corral_api::validation::go_quote;
use corral_api::{ApiError, GroupResource, KubeObject, StatusReason};
use corral_core::Timestamp;
use corral_core::clock::{add, since};
use corral_patch::{PatchSchema, PatchType};
use k8s_openapi::api::core::v1::ServiceAccount;
use serde_json::Value;

use super::breaker::{CallReport, FailureReport, Permit};
use super::builtin::{PluginOutcome, limit_ranger, namespace, pod_defaults, service_account};
use super::quota::{self, QuotaInput};
use super::request::{AdmissionConfig, AdmissionRequest, Operation};
use super::state::AdmissionState;
use super::types::{
    AdmissionStep, Admitted, CallId, FailurePolicy, WebhookOutcome, WebhookRecord, WebhookResult,
};
use super::webhook::dispatch::{self, CallPlan, derive_uid};
use super::webhook::hooks::{self, HookSpec};
use super::webhook::review::{self, ReviewVersion};

/// Where the chain is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Namespace,
    LimitRanger,
    ServiceAccount,
    Priority,
    Tolerations,
    MutatingWebhooks,
    ObjectValidation,
    ValidatingBuiltins,
    ValidatingWebhooks,
    Quota,
    Done,
}

/// `webhookReinvokeContext`: which IfNeeded webhooks must run again in round 1.
#[derive(Debug, Default)]
struct Reinvocation {
    previously_invoked: BTreeSet<String>,
    to_reinvoke: BTreeSet<String>,
    should_reinvoke: bool,
    last_output: Option<KubeObject>,
}

impl Reinvocation {
    fn require_previously_invoked(&mut self) {
        let invoked = std::mem::take(&mut self.previously_invoked);
        self.to_reinvoke.extend(invoked);
    }
}

/// A call issued and not yet answered.
#[derive(Debug)]
struct Pending {
    id: CallId,
    /// Index into `hooks`.
    hook: usize,
    /// Validating: index among the matched webhooks (audit annotation key).
    relevant_index: usize,
    version: ReviewVersion,
    review_uid: String,
    url: String,
    issued_at: Timestamp,
    /// Guard 7: the breaker's leave for this call, handed back with its result.
    permit: Option<Permit>,
    /// The breaker refused the call: it was answered without being made.
    circuit_open: bool,
}

/// How one webhook call ended, before `failurePolicy` is applied.
enum HookError {
    /// A failure to call (transport, timeout, invalid response): subject to the policy.
    Call(String),
    /// An explicit rejection or an unusable patch: always fails the request.
    Reject(ApiError),
}

/// The admission chain for one request. See the module documentation of
/// [`crate::admission`] for the driving loop.
#[derive(Debug)]
pub struct AdmissionFlow {
    request: AdmissionRequest,
    config: AdmissionConfig,
    object: Option<KubeObject>,
    phase: Phase,
    deadline: Option<Timestamp>,
    round: u8,
    reinvocation: Reinvocation,
    namespace_waited: bool,
    service_account_lookups: u32,
    service_account: Option<ServiceAccount>,
    warnings: Vec<String>,
    annotations: BTreeMap<String, String>,
    records: Vec<WebhookRecord>,
    hooks: Vec<HookSpec>,
    next_hook: usize,
    pending: Vec<Pending>,
    /// Validating results by matched webhook, in matched order.
    validating: Vec<Option<Result<(), ApiError>>>,
    validating_started: bool,
    next_call: u32,
    quota_attempts: u32,
    rejection: Option<ApiError>,
}

impl AdmissionFlow {
    pub fn new(mut request: AdmissionRequest, config: &AdmissionConfig) -> Self {
        let object = request.object.take();
        let mut config = config.clone();
        config.immortal_namespaces.shrink_to_fit();
        AdmissionFlow {
            request,
            config,
            object,
            phase: Phase::Namespace,
            deadline: None,
            round: 0,
            reinvocation: Reinvocation::default(),
            namespace_waited: false,
            service_account_lookups: 0,
            service_account: None,
            warnings: Vec::new(),
            annotations: BTreeMap::new(),
            records: Vec::new(),
            hooks: Vec::new(),
            next_hook: 0,
            pending: Vec::new(),
            validating: Vec::new(),
            validating_started: false,
            next_call: 0,
            quota_attempts: 0,
            rejection: None,
        }
    }

    /// The request being admitted (its `object` is held by the flow until admitted).
    pub fn request(&self) -> &AdmissionRequest {
        &self.request
    }

    /// Every finished webhook call so far, in completion order.
    pub fn records(&self) -> &[WebhookRecord] {
        &self.records
    }

    /// The request's deadline, once the first step fixed it.
    pub fn deadline(&self) -> Option<Timestamp> {
        self.deadline
    }

    /// Runs the chain until a webhook call or a wait is needed, or the chain ends.
    pub fn step(&mut self, state: &dyn AdmissionState, now: Timestamp) -> AdmissionStep {
        if !self.pending.is_empty() {
            return AdmissionStep::Pending(self.pending.iter().map(|p| p.id).collect());
        }
        if self.deadline.is_none() {
            self.deadline = Some(
                self.request
                    .deadline
                    .unwrap_or_else(|| add(now, self.config.request_timeout)),
            );
        }
        loop {
            let next = match self.phase {
                Phase::Namespace => self.run_namespace(state, now),
                Phase::LimitRanger => {
                    if limit_ranger::supports_object(&self.request, self.object.as_ref())
                        && let Some(object) = self.object.as_mut()
                    {
                        limit_ranger::mutate(object, &state.limit_ranges(&self.request.namespace));
                    }
                    self.phase = Phase::ServiceAccount;
                    None
                }
                Phase::ServiceAccount => self.run_service_account(state, now),
                Phase::Priority => self.run_priority(),
                Phase::Tolerations => {
                    let writes = matches!(
                        self.request.operation,
                        Operation::Create | Operation::Update
                    );
                    if self.is_pod_main_resource()
                        && writes
                        && let Some(KubeObject::Pod(pod)) = self.object.as_mut()
                    {
                        pod_defaults::default_toleration_seconds(pod);
                    }
                    self.enter_mutating_webhooks(state);
                    None
                }
                Phase::MutatingWebhooks => self.run_mutating_webhooks(state, now),
                Phase::ObjectValidation => self.run_object_validation(),
                Phase::ValidatingBuiltins => self.run_validating_builtins(),
                Phase::ValidatingWebhooks => self.run_validating_webhooks(state, now),
                Phase::Quota => return self.run_quota(state, now),
                Phase::Done => {
                    return AdmissionStep::Rejected(self.rejection.clone().unwrap_or_else(|| {
                        ApiError::internal("admission flow stepped after it finished")
                    }));
                }
            };
            if let Some(step) = next {
                return step;
            }
        }
    }

    /// Reports the result of a call issued by [`AdmissionStep::CallWebhooks`]. `now` is
    /// when it finished (latency records, the request deadline).
    pub fn webhook_result(&mut self, call: CallId, result: WebhookResult, now: Timestamp) {
        let Some(position) = self.pending.iter().position(|p| p.id == call) else {
            debug_assert!(false, "result for unknown call {call:?}");
            return;
        };
        let mut pending = self.pending.remove(position);
        let failure_kind = match &result {
            WebhookResult::Failed(failure) => failure.kind(),
            WebhookResult::Reviewed(_) => "invalid_response",
        };
        let record = self.records.len();
        match self.phase {
            Phase::MutatingWebhooks => {
                if let Err(error) = self.finish_mutating(&pending, result, now) {
                    self.reject(error);
                }
            }
            Phase::ValidatingWebhooks => {
                let outcome = self.finish_validating(&pending, result, now);
                self.validating[pending.relevant_index] = Some(outcome);
            }
            _ => debug_assert!(false, "webhook result outside a webhook phase"),
        }
        if let Some(permit) = pending.permit.take() {
            self.report_to_breaker(permit, record, failure_kind, now);
        }
    }

    /// Guard 7: tells the breaker how a permitted call ended. A failure is what the chain
    /// treated as a call failure (transport, timeout, unusable response: the record is
    /// `FailedOpen`/`FailedClosed`); an answer — allowing, denying or patching — is a
    /// success.
    fn report_to_breaker(
        &mut self,
        permit: Permit,
        record: usize,
        failure_kind: &'static str,
        now: Timestamp,
    ) {
        let Some(breakers) = self.config.webhook_breakers.as_ref() else {
            return;
        };
        let failure = match self.records.get(record).map(|r| &r.outcome) {
            Some(
                WebhookOutcome::FailedOpen { failure } | WebhookOutcome::FailedClosed { failure },
            ) => Some(FailureReport {
                kind: failure_kind,
                message: failure.clone(),
            }),
            Some(_) => None,
            None => {
                debug_assert!(false, "a finished call leaves a record");
                None
            }
        };
        breakers.lock().record(
            permit,
            CallReport {
                finished_at: now,
                failure,
            },
        );
    }

    /// After [`AdmissionStep::Admitted`] failed to commit because a quota changed: hand
    /// the admission back; the next `step` recomputes the charges from fresh quotas.
    pub fn retry_quota(&mut self, admitted: Admitted) {
        self.object = admitted.object;
        self.warnings = admitted.warnings;
        self.annotations = admitted.audit_annotations;
        self.quota_attempts += 1;
        if self.quota_attempts > self.config.quota_conflict_retries {
            let name = admitted
                .quota
                .first()
                .and_then(|c| c.quota.metadata.name.clone())
                .unwrap_or_default();
            self.reject(ApiError::conflict_modified(
                &GroupResource::new("", "resourcequotas"),
                &name,
            ));
            return;
        }
        self.phase = Phase::Quota;
    }

    fn reject(&mut self, error: ApiError) -> Option<AdmissionStep> {
        self.phase = Phase::Done;
        self.rejection = Some(error.clone());
        Some(AdmissionStep::Rejected(error))
    }

    fn is_pod_main_resource(&self) -> bool {
        self.request.resource.group.is_empty()
            && self.request.resource.resource == "pods"
            && self.request.subresource().is_empty()
    }

    /// The namespace the attributes report: a namespace object's own name.
    fn attribute_namespace(&self) -> &str {
        if self.request.resource.group.is_empty() && self.request.resource.resource == "namespaces"
        {
            if !self.request.name.is_empty() {
                return &self.request.name;
            }
            return self.object.as_ref().map_or("", |o| o.name());
        }
        &self.request.namespace
    }

    /// `extractResourceName` before storage generated the name (mutating admission).
    fn name_before_storage(&self) -> String {
        if !self.request.name.is_empty() {
            return self.request.name.clone();
        }
        let meta = self.object.as_ref().map(|o| o.meta());
        let generate = meta.and_then(|m| m.generate_name.as_deref()).unwrap_or("");
        let name = meta.and_then(|m| m.name.as_deref()).unwrap_or("");
        [generate, name, "Unknown"]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or("Unknown")
            .to_string()
    }

    /// `extractResourceName` after storage generated the name (validating admission).
    fn name_after_storage(&self) -> String {
        if !self.request.name.is_empty() {
            return self.request.name.clone();
        }
        let meta = self.object.as_ref().map(|o| o.meta());
        let generate = meta.and_then(|m| m.generate_name.as_deref()).unwrap_or("");
        let name = meta.and_then(|m| m.name.as_deref()).unwrap_or("");
        [name, generate, "Unknown"]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or("Unknown")
            .to_string()
    }

    fn forbidden(&self, name: &str, reason: &str) -> ApiError {
        ApiError::forbidden(&self.request.resource.group_resource(), name, reason)
    }

    fn past_deadline(&self, now: Timestamp) -> bool {
        self.config.enforce_request_deadline && self.deadline.is_some_and(|d| now >= d)
    }

    fn remaining(&self, now: Timestamp) -> Option<Duration> {
        if !self.config.enforce_request_deadline {
            return None;
        }
        self.deadline.map(|d| since(d, now))
    }

    fn run_namespace(
        &mut self,
        state: &dyn AdmissionState,
        now: Timestamp,
    ) -> Option<AdmissionStep> {
        let name = self.name_before_storage();
        let outcome = namespace::admit(
            &self.request,
            self.attribute_namespace(),
            &name,
            state,
            &self.config,
            self.namespace_waited,
        );
        match outcome {
            PluginOutcome::Continue => {
                self.phase = Phase::LimitRanger;
                None
            }
            PluginOutcome::Wait(delay) => {
                self.namespace_waited = true;
                Some(AdmissionStep::WaitUntil(add(now, delay)))
            }
            PluginOutcome::Reject(error) => self.reject(error),
        }
    }

    fn run_service_account(
        &mut self,
        state: &dyn AdmissionState,
        now: Timestamp,
    ) -> Option<AdmissionStep> {
        let applies = self.request.operation == Operation::Create && self.is_pod_main_resource();
        let Some(KubeObject::Pod(pod)) = self.object.as_mut().filter(|_| applies) else {
            self.phase = Phase::Priority;
            return None;
        };
        if service_account::is_mirror_pod(pod) {
            if let Err(reason) = service_account::check_mirror_pod(pod) {
                let error = self.forbidden(&self.name_before_storage(), &reason);
                return self.reject(error);
            }
            self.phase = Phase::Priority;
            return None;
        }
        let account_name = service_account::account_name(pod);
        let namespace = self.request.namespace.clone();
        let Some(account) = state.service_account(&namespace, &account_name) else {
            self.service_account_lookups += 1;
            let attempts = if account_name == service_account::DEFAULT_SERVICE_ACCOUNT {
                self.config.default_service_account_attempts.max(1)
            } else {
                1
            };
            if self.service_account_lookups < attempts {
                return Some(AdmissionStep::WaitUntil(add(
                    now,
                    self.service_account_retry_interval(),
                )));
            }
            let reason = format!(
                "error looking up service account {namespace}/{account_name}: serviceaccount {} not found",
                go_quote(&account_name)
            );
            let error = self.forbidden(&self.name_before_storage(), &reason);
            return self.reject(error);
        };
        let suffix = token_volume_suffix(&self.request.uid);
        if let Some(KubeObject::Pod(pod)) = self.object.as_mut() {
            service_account::mutate(
                pod,
                account,
                self.config.mount_service_account_token,
                &suffix,
            );
        }
        self.service_account = Some(account.clone());
        self.phase = Phase::Priority;
        None
    }

    /// Upstream draws 100–200 ms per lookup; Corral derives it from the request uid.
    fn service_account_retry_interval(&self) -> Duration {
        let (min, max) = (
            self.config.service_account_retry_min,
            self.config
                .service_account_retry_max
                .max(self.config.service_account_retry_min),
        );
        let span = (max - min).as_millis() as u64 + 1;
        let pick = fnv64(self.request.uid.as_bytes()) % span;
        min + Duration::from_millis(pick)
    }

    fn run_priority(&mut self) -> Option<AdmissionStep> {
        self.phase = Phase::Tolerations;
        if !self.is_pod_main_resource() {
            return None;
        }
        let old = self.request.old_object.as_ref().and_then(|o| o.as_typed());
        let Some(KubeObject::Pod(pod)) = self.object.as_mut() else {
            return None;
        };
        match pod_defaults::priority(self.request.operation, pod, old) {
            Ok(()) => None,
            Err(reason) => {
                let error = self.forbidden(&self.name_before_storage(), &reason);
                self.reject(error)
            }
        }
    }

    fn enter_mutating_webhooks(&mut self, state: &dyn AdmissionState) {
        self.phase = Phase::MutatingWebhooks;
        self.next_hook = 0;
        self.hooks = if hooks::is_exempt(&self.request) {
            Vec::new()
        } else {
            hooks::mutating_hooks(state)
        };
        if self.round == 1 && self.reinvocation.last_output.as_ref() != self.object.as_ref() {
            // A built-in plugin changed the object in the reinvocation round.
            self.reinvocation.require_previously_invoked();
        }
    }

    fn run_mutating_webhooks(
        &mut self,
        state: &dyn AdmissionState,
        now: Timestamp,
    ) -> Option<AdmissionStep> {
        while self.next_hook < self.hooks.len() {
            let index = self.next_hook;
            self.next_hook += 1;
            let hook = &self.hooks[index];
            let applies = hooks::should_call(
                hook,
                &self.request,
                self.object.as_ref(),
                self.attribute_namespace(),
                state,
            );
            match applies {
                Err(error) => return self.reject(error),
                Ok(false) => continue,
                Ok(true) => {}
            }
            if self.round == 1 && !self.reinvocation.to_reinvoke.contains(&hook.uid) {
                continue;
            }
            if let Some(error) = dry_run_unsupported(&self.request, hook) {
                return self.reject(error);
            }
            match self.issue(index, 0, true, now) {
                Ok(call) => return Some(AdmissionStep::CallWebhooks(vec![call])),
                Err((pending, result)) => {
                    if let Err(error) = self.finish_mutating(&pending, result, now) {
                        return self.reject(error);
                    }
                }
            }
        }
        if !self.hooks.is_empty() {
            self.reinvocation.last_output = self.object.clone();
        }
        if self.round == 0 && self.reinvocation.should_reinvoke {
            // Upstream's reinvoker runs the whole mutating chain once more.
            self.round = 1;
            self.phase = Phase::Namespace;
        } else {
            self.phase = Phase::ObjectValidation;
        }
        None
    }

    /// Prepares the call for `hooks[index]`. A call that cannot be made (no known review
    /// version, the deadline already passed) comes back as an immediate failure result.
    #[allow(clippy::result_large_err)]
    fn issue(
        &mut self,
        index: usize,
        relevant_index: usize,
        mutating: bool,
        now: Timestamp,
    ) -> Result<super::types::WebhookCall, (Pending, WebhookResult)> {
        let id = CallId(self.next_call);
        self.next_call += 1;
        let hook = &self.hooks[index];
        let review_uid = derive_uid(&self.request.uid, id.0);
        let version = ReviewVersion::pick(&hook.review_versions);
        let base_url = hook.client.base_url();
        let mut pending = Pending {
            id,
            hook: index,
            relevant_index,
            version: version.unwrap_or(ReviewVersion::V1),
            review_uid: review_uid.clone(),
            url: base_url,
            issued_at: now,
            permit: None,
            circuit_open: false,
        };
        let Some(version) = version else {
            let failure = WebhookResult::Failed(super::types::CallFailure::Malformed(
                "could not create admission objects: webhook does not accept known AdmissionReview versions (v1, v1beta1)".into(),
            ));
            return Err((pending, failure));
        };
        if self.past_deadline(now) {
            return Err((
                pending,
                WebhookResult::Failed(super::types::CallFailure::Timeout),
            ));
        }
        let timeout = dispatch::effective_timeout(hook, self.remaining(now));
        match dispatch::consult_breaker(
            self.config.webhook_breakers.as_ref(),
            hook,
            mutating,
            timeout,
            now,
        ) {
            Ok(permit) => pending.permit = permit,
            Err(failure) => {
                pending.circuit_open = true;
                return Err((pending, WebhookResult::Failed(failure)));
            }
        }
        let (object, old_object) = self.review_objects();
        let call = dispatch::prepare(
            CallPlan {
                id,
                hook,
                mutating,
                round: self.round,
                version,
                review_uid,
                remaining: self.remaining(now),
                namespace: self.attribute_namespace(),
                object,
                old_object,
                now,
            },
            &self.request,
        );
        pending.url = call.url.clone();
        self.pending.push(pending);
        Ok(call)
    }

    /// The objects an AdmissionReview carries. A create shows the object as upstream's
    /// webhooks see it: before storage fills uid, creationTimestamp and a generated name.
    fn review_objects(&self) -> (Option<Value>, Option<Value>) {
        let object = self.object.as_ref().map(|o| self.review_view(o));
        let old = self.request.old_object.as_ref().map(KubeObject::to_value);
        (object, old)
    }

    fn review_view(&self, object: &KubeObject) -> Value {
        let mut value = object.to_value();
        if self.request.operation != Operation::Create {
            return value;
        }
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("uid");
            meta.remove("creationTimestamp");
            meta.remove("resourceVersion");
            let generated = self.request.name.is_empty()
                && meta
                    .get("generateName")
                    .and_then(Value::as_str)
                    .is_some_and(|g| !g.is_empty());
            if generated {
                meta.remove("name");
            }
        }
        value
    }

    /// Puts back what [`Self::review_view`] hid (storage sets these after admission).
    fn restore_system_fields(&self, patched: &mut KubeObject, original: &KubeObject) {
        if self.request.operation != Operation::Create {
            return;
        }
        let (from, to) = (original.meta(), patched.meta_mut());
        to.uid.clone_from(&from.uid);
        to.creation_timestamp.clone_from(&from.creation_timestamp);
        to.resource_version.clone_from(&from.resource_version);
        if to.name.as_deref().unwrap_or("").is_empty() {
            to.name.clone_from(&from.name);
        }
    }

    fn record(
        &mut self,
        pending: &Pending,
        now: Timestamp,
        mutating: bool,
        outcome: WebhookOutcome,
    ) {
        let hook = &self.hooks[pending.hook];
        self.records.push(WebhookRecord {
            configuration: hook.configuration.clone(),
            webhook: hook.name.clone(),
            mutating,
            round: self.round,
            issued_at: pending.issued_at,
            finished_at: now,
            outcome,
            circuit_open: pending.circuit_open,
        });
    }

    /// `callAttrMutatingHook` plus the dispatcher's handling of its result.
    fn finish_mutating(
        &mut self,
        pending: &Pending,
        result: WebhookResult,
        now: Timestamp,
    ) -> Result<(), ApiError> {
        let hook = self.hooks[pending.hook].clone();
        let key = format!("round_{}_index_{}", self.round, pending.hook);
        let outcome = match result {
            WebhookResult::Failed(failure) => Err(HookError::Call(failure.describe(&pending.url))),
            WebhookResult::Reviewed(body) => {
                match review::verify(&body, pending.version, &pending.review_uid, true) {
                    Err(e) => Err(HookError::Call(e.describe())),
                    Ok(response) => self.apply_response(&hook, response, &key),
                }
            }
        };
        let changed = matches!(outcome, Ok(true));
        self.annotations.insert(
            format!("mutation.webhook.admission.k8s.io/{key}"),
            format!(
                "{{\"configuration\":{},\"webhook\":{},\"mutated\":{changed}}}",
                Value::from(hook.configuration.as_str()),
                Value::from(hook.name.as_str())
            ),
        );
        if changed {
            self.reinvocation.require_previously_invoked();
            self.reinvocation.should_reinvoke = true;
        }
        if hook.reinvoke_if_needed {
            self.reinvocation
                .previously_invoked
                .insert(hook.uid.clone());
        }
        match outcome {
            Ok(changed) => {
                let outcome = if changed {
                    WebhookOutcome::Mutated
                } else {
                    WebhookOutcome::Allowed
                };
                self.record(pending, now, true, outcome);
                Ok(())
            }
            Err(HookError::Reject(error)) => {
                self.record(
                    pending,
                    now,
                    true,
                    WebhookOutcome::Rejected { code: error.code },
                );
                Err(error)
            }
            Err(HookError::Call(reason)) => {
                let failed = format!("failed calling webhook {}: {reason}", go_quote(&hook.name));
                if hook.failure_policy == FailurePolicy::Fail {
                    self.record(
                        pending,
                        now,
                        true,
                        WebhookOutcome::FailedClosed { failure: reason },
                    );
                    return Err(ApiError::internal(failed));
                }
                self.record(
                    pending,
                    now,
                    true,
                    WebhookOutcome::FailedOpen { failure: reason },
                );
                self.annotations.insert(
                    format!("failed-open.mutation.webhook.admission.k8s.io/{key}"),
                    hook.name.clone(),
                );
                if pending.circuit_open {
                    self.annotations.insert(
                        format!("circuit-open.mutation.webhook.admission.corral.dev/{key}"),
                        hook.name.clone(),
                    );
                }
                if self.past_deadline(now) {
                    return Err(request_timeout());
                }
                Ok(())
            }
        }
    }

    /// Annotations, warnings, the verdict, and the JSON patch of a mutating response.
    /// `Ok(true)`: the object changed.
    fn apply_response(
        &mut self,
        hook: &HookSpec,
        response: review::ReviewResponse,
        key: &str,
    ) -> Result<bool, HookError> {
        for (k, v) in &response.audit_annotations {
            self.annotations
                .insert(format!("{}/{k}", hook.name), v.clone());
        }
        self.warnings.extend(response.warnings.iter().cloned());
        if !response.allowed {
            return Err(HookError::Reject(review::to_status_err(
                &hook.name,
                response.status.as_ref(),
            )));
        }
        let Some(patch) = response.patch else {
            return Ok(false);
        };
        let operations: Value = serde_json::from_slice(&patch).map_err(|e| {
            HookError::Call(format!(
                "received undecodable patch in webhook response: {e}"
            ))
        })?;
        let Value::Array(list) = &operations else {
            return Err(HookError::Call(format!(
                "received undecodable patch in webhook response: json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                if operations.is_object() {
                    "object"
                } else {
                    "value"
                }
            )));
        };
        if list.is_empty() {
            return Ok(false);
        }
        let patch_type = response.patch_type.unwrap_or_default();
        if patch_type != "JSONPatch" {
            return Err(HookError::Call(format!(
                "unsupported patch type {}",
                go_quote(&patch_type)
            )));
        }
        let Some(original) = self.object.as_ref() else {
            return Err(HookError::Reject(ApiError::internal(format!(
                "admission webhook {} attempted to modify the object, which is not supported for this operation",
                go_quote(&hook.name)
            ))));
        };
        let view = self.review_view(original);
        let patched =
            corral_patch::apply_patch(&view, PatchType::Json, &patch, PatchSchema::none())
                .map_err(|e| HookError::Reject(ApiError::internal(e.to_string())))?;
        let mut updated = KubeObject::from_value(original.kind(), patched)
            .map_err(|e| HookError::Reject(ApiError::internal(e.to_string())))?;
        self.restore_system_fields(&mut updated, original);
        crate::defaults::apply_defaults(&mut updated);
        let changed = &updated != original;
        self.annotations.insert(
            format!("patch.webhook.admission.k8s.io/{key}"),
            format!(
                "{{\"configuration\":{},\"webhook\":{},\"patch\":{},\"patchType\":\"JSONPatch\"}}",
                Value::from(hook.configuration.as_str()),
                Value::from(hook.name.as_str()),
                operations
            ),
        );
        self.object = Some(updated);
        Ok(changed)
    }

    /// After [`AdmissionStep::Prepare`]: runs the caller's object preparation (upstream
    /// `BeforeCreate`/`BeforeUpdate`: strategy, defaults, validation) on the mutated
    /// object, exactly once, and moves on to validating admission. `prepare` returns the
    /// strategy's warnings; an error rejects the request.
    pub fn prepare_with(
        &mut self,
        prepare: &mut dyn FnMut(&mut KubeObject) -> Result<Vec<String>, ApiError>,
    ) {
        if self.phase != Phase::ObjectValidation {
            debug_assert!(false, "prepare_with outside object validation");
            return;
        }
        self.phase = Phase::ValidatingBuiltins;
        let Some(object) = self.object.as_mut() else {
            return;
        };
        match prepare(object) {
            Ok(warnings) => self.warnings.extend(warnings),
            Err(error) => {
                self.reject(error);
            }
        }
    }

    /// `BeforeCreate`/`BeforeUpdate`: namespace checks, the strategy and validation.
    fn run_object_validation(&mut self) -> Option<AdmissionStep> {
        if self.config.caller_prepares {
            if self.object.is_some() {
                // Stays in this phase until `prepare_with` is called.
                return Some(AdmissionStep::Prepare);
            }
            self.phase = Phase::ValidatingBuiltins;
            return None;
        }
        self.phase = Phase::ValidatingBuiltins;
        let subresource = match self.request.subresource() {
            "" => corral_core::Subresource::Main,
            "status" => corral_core::Subresource::Status,
            _ => return None,
        };
        if !self.config.run_validation || self.request.resource.stored_kind().is_none() {
            return None;
        }
        let object = self.object.as_mut()?;
        let result = match self.request.operation {
            Operation::Create => {
                if object.kind().namespaced() {
                    let meta = object.meta_mut();
                    if meta.namespace.as_deref().unwrap_or("").is_empty() {
                        meta.namespace = Some(self.request.namespace.clone());
                    }
                    if meta.namespace.as_deref() != Some(self.request.namespace.as_str()) {
                        return self.reject(ApiError::bad_request(
                            "the namespace of the provided object does not match the namespace sent on the request",
                        ));
                    }
                }
                crate::prepare_create(object).map(|()| {
                    self.warnings.extend(crate::warnings_on_create(object));
                })
            }
            Operation::Update => match self.request.old_object.as_ref() {
                Some(old) => crate::prepare_update(object, old, subresource),
                None => Ok(()),
            },
            Operation::Delete | Operation::Connect => Ok(()),
        };
        match result {
            Ok(()) => None,
            Err(error) => self.reject(error),
        }
    }

    fn run_validating_builtins(&mut self) -> Option<AdmissionStep> {
        self.phase = Phase::ValidatingWebhooks;
        self.hooks.clear();
        self.validating.clear();
        None
    }

    fn run_validating_limits(&mut self, state: &dyn AdmissionState) -> Option<AdmissionStep> {
        if limit_ranger::supports_object(&self.request, self.object.as_ref())
            && let Some(object) = self.object.as_ref()
        {
            for limit_range in state.limit_ranges(&self.request.namespace) {
                if let Some(reason) = limit_ranger::validate(object, limit_range) {
                    let error = self.forbidden(&self.name_after_storage(), &reason);
                    return self.reject(error);
                }
            }
        }
        if let (Some(KubeObject::Pod(pod)), Some(account)) =
            (self.object.as_ref(), self.service_account.as_ref())
            && let Err(reason) = service_account::validate(pod, account)
        {
            let error = self.forbidden(&self.name_after_storage(), &reason);
            return self.reject(error);
        }
        None
    }

    fn run_validating_webhooks(
        &mut self,
        state: &dyn AdmissionState,
        now: Timestamp,
    ) -> Option<AdmissionStep> {
        if !self.validating_started {
            self.validating_started = true;
            // First entry: the validating built-ins, then issue every matching webhook.
            if let Some(step) = self.run_validating_limits(state) {
                return Some(step);
            }
            if !hooks::is_exempt(&self.request) {
                self.hooks = hooks::validating_hooks(state);
            }
            if let Some(step) = self.issue_validating(state, now) {
                return Some(step);
            }
        }
        // Every result is in: the first error in webhook order wins (upstream returns the
        // first to arrive; Corral's order is deterministic).
        let first_error = self
            .validating
            .iter()
            .find_map(|r| r.as_ref().and_then(|r| r.as_ref().err()))
            .cloned();
        if let Some(error) = first_error {
            return self.reject(error);
        }
        self.phase = Phase::Quota;
        None
    }

    fn issue_validating(
        &mut self,
        state: &dyn AdmissionState,
        now: Timestamp,
    ) -> Option<AdmissionStep> {
        let mut relevant = Vec::new();
        for (index, hook) in self.hooks.iter().enumerate() {
            match hooks::should_call(
                hook,
                &self.request,
                self.object.as_ref(),
                self.attribute_namespace(),
                state,
            ) {
                Err(error) => return self.reject(error),
                Ok(true) => relevant.push(index),
                Ok(false) => {}
            }
        }
        if relevant.is_empty() {
            return None;
        }
        if self.past_deadline(now) {
            return self.reject(request_timeout());
        }
        self.validating = vec![None; relevant.len()];
        let mut calls = Vec::new();
        for (slot, index) in relevant.into_iter().enumerate() {
            if let Some(error) = dry_run_unsupported(&self.request, &self.hooks[index]) {
                self.validating[slot] = Some(Err(error));
                continue;
            }
            match self.issue(index, slot, false, now) {
                Ok(call) => calls.push(call),
                Err((pending, result)) => {
                    let outcome = self.finish_validating(&pending, result, now);
                    self.validating[slot] = Some(outcome);
                }
            }
        }
        (!calls.is_empty()).then_some(AdmissionStep::CallWebhooks(calls))
    }

    /// `callHook` of the validating dispatcher plus its goroutine's result handling.
    fn finish_validating(
        &mut self,
        pending: &Pending,
        result: WebhookResult,
        now: Timestamp,
    ) -> Result<(), ApiError> {
        let hook = self.hooks[pending.hook].clone();
        let outcome = match result {
            WebhookResult::Failed(failure) => Err(HookError::Call(failure.describe(&pending.url))),
            WebhookResult::Reviewed(body) => {
                match review::verify(&body, pending.version, &pending.review_uid, false) {
                    Err(e) => Err(HookError::Call(e.describe())),
                    Ok(response) => {
                        for (k, v) in &response.audit_annotations {
                            self.annotations
                                .insert(format!("{}/{k}", hook.name), v.clone());
                        }
                        self.warnings.extend(response.warnings.iter().cloned());
                        if response.allowed {
                            Ok(())
                        } else {
                            Err(HookError::Reject(review::to_status_err(
                                &hook.name,
                                response.status.as_ref(),
                            )))
                        }
                    }
                }
            }
        };
        match outcome {
            Ok(()) => {
                self.record(pending, now, false, WebhookOutcome::Allowed);
                Ok(())
            }
            Err(HookError::Reject(error)) => {
                self.record(
                    pending,
                    now,
                    false,
                    WebhookOutcome::Rejected { code: error.code },
                );
                Err(error)
            }
            Err(HookError::Call(reason)) => {
                if hook.failure_policy == FailurePolicy::Fail {
                    self.record(
                        pending,
                        now,
                        false,
                        WebhookOutcome::FailedClosed {
                            failure: reason.clone(),
                        },
                    );
                    return Err(ApiError::internal(format!(
                        "failed calling webhook {}: {reason}",
                        go_quote(&hook.name)
                    )));
                }
                self.record(
                    pending,
                    now,
                    false,
                    WebhookOutcome::FailedOpen { failure: reason },
                );
                let key = format!("round_0_index_{}", pending.relevant_index);
                self.annotations.insert(
                    format!("failed-open.validating.webhook.admission.k8s.io/{key}"),
                    hook.name.clone(),
                );
                if pending.circuit_open {
                    self.annotations.insert(
                        format!("circuit-open.validating.webhook.admission.corral.dev/{key}"),
                        hook.name.clone(),
                    );
                }
                Ok(())
            }
        }
    }

    fn run_quota(&mut self, state: &dyn AdmissionState, now: Timestamp) -> AdmissionStep {
        let mut charges = Vec::new();
        if let Some(object) = self.object.as_ref()
            && quota::applies(&self.request).is_some()
        {
            let quotas = state.resource_quotas(&self.request.namespace);
            let name = self.name_after_storage();
            let input = QuotaInput {
                request: &self.request,
                object,
                display_name: &name,
                now,
            };
            match quota::check_request(&input, &quotas) {
                Ok(c) => charges = c,
                Err(error) => {
                    self.reject(error.clone());
                    return AdmissionStep::Rejected(error);
                }
            }
        }
        if self.request.dry_run {
            charges.clear();
        }
        self.phase = Phase::Done;
        self.rejection = Some(ApiError::new(
            StatusReason::InternalError,
            "Internal error occurred: admission flow stepped after it admitted the request",
        ));
        AdmissionStep::Admitted(Admitted {
            object: self.object.take(),
            warnings: std::mem::take(&mut self.warnings),
            audit_annotations: std::mem::take(&mut self.annotations),
            quota: charges,
        })
    }
}

impl Drop for AdmissionFlow {
    /// A flow dropped with calls outstanding (its request was abandoned) hands their
    /// breaker permits back, so a half-open circuit's probe slot is not held until its
    /// deadline.
    fn drop(&mut self) {
        let Some(breakers) = self.config.webhook_breakers.as_ref() else {
            return;
        };
        let permits: Vec<Permit> = self
            .pending
            .iter_mut()
            .filter_map(|p| p.permit.take())
            .collect();
        if permits.is_empty() {
            return;
        }
        let mut breakers = breakers.lock();
        for permit in permits {
            breakers.release(permit);
        }
    }
}

/// `NewDryRunUnsupportedErr` when a dry run meets a webhook with side effects.
fn dry_run_unsupported(request: &AdmissionRequest, hook: &HookSpec) -> Option<ApiError> {
    (request.dry_run && !matches!(hook.side_effects.as_str(), "None" | "NoneOnDryRun")).then(|| {
        ApiError::bad_request(format!(
            "admission webhook {} does not support dry run",
            go_quote(&hook.name)
        ))
    })
}

/// 504 `Timeout: request did not complete within requested timeout`.
pub fn request_timeout() -> ApiError {
    let mut error = ApiError::new(
        StatusReason::Timeout,
        "Timeout: request did not complete within requested timeout",
    );
    error.details = Some(corral_api::status::ErrorDetails {
        retry_after_seconds: Some(0),
        ..Default::default()
    });
    error
}

fn fnv64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    hash
}

/// Five characters from `names.SimpleNameGenerator`'s alphabet, derived from the uid.
pub fn token_volume_suffix(uid: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut hash = fnv64(uid.as_bytes()) ^ 0x5bd1e995;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(hash % ALPHABET.len() as u64) as usize] as char;
            hash /= ALPHABET.len() as u64;
            c
        })
        .collect()
}
