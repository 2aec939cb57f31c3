//! Leases, PodDisruptionBudgets and Events: upstream's `ValidateLease`
//! (`pkg/apis/coordination/validation`), `ValidatePodDisruptionBudget`
//! (`pkg/apis/policy/validation`) and `ValidateEventCreate`/`legacyValidateEvent`
//! (`pkg/apis/core/validation/events.go`).

use corral_api::{FieldError, FieldErrorType, FieldPath};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::gofmt;
use crate::names;
use crate::validation::meta::{
    FinalizerRules, invalid_each, nonnegative, validate_label_selector, validate_object_meta,
};

/// `ValidateLease`.
pub fn validate_lease(lease: &Lease) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &lease.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Generic,
        &FieldPath::root("metadata"),
    );
    let Some(spec) = &lease.spec else {
        return errors;
    };
    let path = FieldPath::root("spec");
    if let Some(duration) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
        errors.push(FieldError::invalid_int(
            path.child("leaseDurationSeconds"),
            i64::from(duration),
            "must be greater than 0",
        ));
    }
    if let Some(transitions) = spec.lease_transitions.filter(|t| *t < 0) {
        errors.push(FieldError::invalid_int(
            path.child("leaseTransitions"),
            i64::from(transitions),
            "must be greater than or equal to 0",
        ));
    }
    if let Some(strategy) = spec.strategy.as_deref()
        && strategy != "OldestEmulationVersion"
    {
        errors.push(FieldError::not_supported(
            path.child("strategy"),
            strategy,
            &["OldestEmulationVersion"],
        ));
    }
    let has_strategy = spec.strategy.as_deref().is_some_and(|s| !s.is_empty());
    if spec
        .preferred_holder
        .as_deref()
        .is_some_and(|h| !h.is_empty())
        && !has_strategy
    {
        errors.push(FieldError::forbidden(
            path.child("preferredHolder"),
            "may only be specified if `strategy` is defined",
        ));
    }
    errors
}

/// `ValidatePodDisruptionBudget` (spec) plus metadata.
pub fn validate_pdb(pdb: &PodDisruptionBudget) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &pdb.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Generic,
        &FieldPath::root("metadata"),
    );
    let spec = pdb.spec.clone().unwrap_or_default();
    let path = FieldPath::root("spec");
    if spec.min_available.is_some() && spec.max_unavailable.is_some() {
        errors.push(
            FieldError::new(&path, FieldErrorType::Invalid)
                .value_plain(gofmt::json(&spec))
                .detail("minAvailable and maxUnavailable cannot be both set"),
        );
    }
    for (value, name) in [
        (&spec.min_available, "minAvailable"),
        (&spec.max_unavailable, "maxUnavailable"),
    ] {
        if let Some(value) = value {
            errors.extend(positive_int_or_percent(value, &path.child(name)));
        }
    }
    errors.extend(validate_label_selector(
        spec.selector.as_ref(),
        &path.child("selector"),
    ));
    let policies = ["AlwaysAllow", "IfHealthyBudget"];
    if let Some(policy) = spec
        .unhealthy_pod_eviction_policy
        .as_deref()
        .filter(|p| !policies.contains(p))
    {
        errors.push(FieldError::not_supported(
            path.child("unhealthyPodEvictionPolicy"),
            policy,
            &policies,
        ));
    }
    errors
}

/// `ValidatePodDisruptionBudgetStatusUpdate`: the counters are not negative.
pub fn validate_pdb_status(pdb: &PodDisruptionBudget) -> Vec<FieldError> {
    let status = pdb.status.clone().unwrap_or_default();
    let path = FieldPath::root("status");
    let mut errors = Vec::new();
    for (value, name) in [
        (status.disruptions_allowed, "disruptionsAllowed"),
        (status.current_healthy, "currentHealthy"),
        (status.desired_healthy, "desiredHealthy"),
        (status.expected_pods, "expectedPods"),
    ] {
        errors.extend(nonnegative(
            i64::from(value.unwrap_or(0)),
            &path.child(name),
        ));
    }
    errors
}

/// `ValidatePositiveIntOrPercent` and `IsNotMoreThan100Percent`.
fn positive_int_or_percent(value: &IntOrString, path: &FieldPath) -> Vec<FieldError> {
    let rendered = gofmt::int_or_string(value);
    match value {
        IntOrString::Int(n) => nonnegative(i64::from(*n), path),
        IntOrString::String(s) => {
            let mut errors: Vec<FieldError> = names::is_valid_percent(s)
                .into_iter()
                .map(|m| {
                    FieldError::new(path, FieldErrorType::Invalid)
                        .value_plain(rendered.clone())
                        .detail(m)
                })
                .collect();
            let percent = s.strip_suffix('%').and_then(|d| d.parse::<i64>().ok());
            if percent.is_some_and(|p| p > 100) {
                errors.push(
                    FieldError::new(path, FieldErrorType::Invalid)
                        .value_plain(rendered)
                        .detail("must not be greater than 100%"),
                );
            }
            errors
        }
    }
}

/// Which API an Event arrived through: core/v1 gets only the legacy checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventApi {
    CoreV1,
    EventsV1,
}

/// `ValidateEventCreate`.
pub fn validate_event_create(event: &Event, api: EventApi) -> Vec<FieldError> {
    let mut errors = legacy_validate_event(event, api);
    if api == EventApi::CoreV1 {
        return errors;
    }
    errors.extend(validate_object_meta(
        &event.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &FieldPath::root("metadata"),
    ));
    if let Some(series) = &event.series {
        if series.count.unwrap_or(0) < 2 {
            errors.push(FieldError::invalid_int(
                FieldPath::root("series").child("count"),
                i64::from(series.count.unwrap_or(0)),
                "should be at least 2",
            ));
        }
        if series.last_observed_time.is_none() {
            errors.push(FieldError::required(
                FieldPath::root("series").child("lastObservedTime"),
                "",
            ));
        }
    }
    if event.event_time.is_none() {
        errors.push(FieldError::required(FieldPath::root("eventTime"), ""));
    }
    let kind = event.type_.as_deref().unwrap_or("");
    if kind != "Normal" && kind != "Warning" {
        errors.push(FieldError::invalid_str(
            FieldPath::root("type"),
            "",
            format!("has invalid value: {kind}"),
        ));
    }
    for (set, name) in [
        (event.first_timestamp.is_some(), "firstTimestamp"),
        (event.last_timestamp.is_some(), "lastTimestamp"),
        (event.count.unwrap_or(0) != 0, "count"),
        (
            event
                .source
                .as_ref()
                .is_some_and(|s| s.component.is_some() || s.host.is_some()),
            "source",
        ),
    ] {
        if set {
            errors.push(FieldError::invalid_str(
                FieldPath::root(name),
                "",
                "needs to be unset",
            ));
        }
    }
    errors
}

/// `legacyValidateEvent`.
fn legacy_validate_event(event: &Event, api: EventApi) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let namespace = event.metadata.namespace.as_deref().unwrap_or("");
    let involved_namespace = event.involved_object.namespace.as_deref().unwrap_or("");
    let mismatch = || {
        FieldError::invalid_str(
            FieldPath::root("involvedObject").child("namespace"),
            involved_namespace,
            "does not match event.namespace",
        )
    };
    if event.event_time.is_none() {
        if involved_namespace.is_empty() {
            if !namespace.is_empty() && namespace != "default" {
                errors.push(mismatch());
            }
        } else if namespace != involved_namespace {
            errors.push(mismatch());
        }
    } else {
        if involved_namespace.is_empty() && namespace != "default" && namespace != "kube-system" {
            errors.push(mismatch());
        }
        errors.extend(new_style_fields(event, api));
    }
    errors.extend(invalid_each(
        &FieldPath::root("namespace"),
        namespace,
        names::is_dns1123_subdomain(namespace),
    ));
    errors
}

/// The checks `legacyValidateEvent` applies to events that carry `eventTime`.
fn new_style_fields(event: &Event, api: EventApi) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let controller_field = if api == EventApi::CoreV1 {
        "source"
    } else {
        "reportingController"
    };
    let controller = event.reporting_component.as_deref().unwrap_or("");
    if controller.is_empty() {
        errors.push(FieldError::required(FieldPath::root(controller_field), ""));
    }
    errors.extend(invalid_each(
        &FieldPath::root(controller_field),
        controller,
        names::is_qualified_name(controller),
    ));
    for (value, name, limit, required) in [
        (
            event.reporting_instance.as_deref(),
            "reportingInstance",
            128,
            true,
        ),
        (event.action.as_deref(), "action", 128, true),
        (event.reason.as_deref(), "reason", 128, true),
        (event.message.as_deref(), "message", 1024, false),
    ] {
        let value = value.unwrap_or("");
        if required && value.is_empty() {
            errors.push(FieldError::required(FieldPath::root(name), ""));
        }
        if value.len() > limit {
            errors.push(FieldError::invalid_str(
                FieldPath::root(name),
                "",
                format!("can have at most {limit} characters"),
            ));
        }
    }
    errors
}
