//! Probes, lifecycle handlers and container security contexts: upstream's
//! `validateLivenessProbe`/`validateReadinessProbe`/`validateStartupProbe`,
//! `validateProbe`, `validateHandler`, `validateLifecycle` and `ValidateSecurityContext`.

use corral_api::{FieldError, FieldPath};
use k8s_openapi::api::core::v1::{
    Container, ExecAction, HTTPGetAction, Lifecycle, LifecycleHandler, Probe, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::names;
use crate::validation::meta::{invalid_each, nonnegative};

/// The liveness, readiness and startup probe rules.
pub fn validate_probes(
    container: &Container,
    grace: Option<i64>,
    item: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(probe) = &container.liveness_probe {
        let path = item.child("livenessProbe");
        errors.extend(validate_probe(probe, grace, &path));
        errors.extend(success_threshold_is_one(probe, &path));
    }
    if let Some(probe) = &container.readiness_probe {
        let path = item.child("readinessProbe");
        errors.extend(validate_probe(probe, grace, &path));
        if let Some(seconds) = probe.termination_grace_period_seconds {
            errors.push(FieldError::invalid_int(
                path.child("terminationGracePeriodSeconds"),
                seconds,
                "must not be set for readinessProbes",
            ));
        }
    }
    if let Some(probe) = &container.startup_probe {
        let path = item.child("startupProbe");
        errors.extend(validate_probe(probe, grace, &path));
        errors.extend(success_threshold_is_one(probe, &path));
    }
    errors
}

fn success_threshold_is_one(probe: &Probe, path: &FieldPath) -> Vec<FieldError> {
    let threshold = probe.success_threshold.unwrap_or(0);
    if threshold != 1 {
        vec![FieldError::invalid_int(
            path.child("successThreshold"),
            i64::from(threshold),
            "must be 1",
        )]
    } else {
        Vec::new()
    }
}

/// `validateProbe`.
fn validate_probe(probe: &Probe, grace: Option<i64>, path: &FieldPath) -> Vec<FieldError> {
    let handler = Handler {
        exec: probe.exec.as_ref(),
        http_get: probe.http_get.as_ref(),
        tcp_port: probe.tcp_socket.as_ref().map(|t| &t.port),
        grpc_port: probe.grpc.as_ref().map(|g| g.port),
        sleep_seconds: None,
    };
    let mut errors = validate_handler(&handler, grace, path);
    for (value, name) in [
        (probe.initial_delay_seconds, "initialDelaySeconds"),
        (probe.timeout_seconds, "timeoutSeconds"),
        (probe.period_seconds, "periodSeconds"),
        (probe.success_threshold, "successThreshold"),
        (probe.failure_threshold, "failureThreshold"),
    ] {
        errors.extend(nonnegative(
            i64::from(value.unwrap_or(0)),
            &path.child(name),
        ));
    }
    if let Some(seconds) = probe.termination_grace_period_seconds.filter(|s| *s <= 0) {
        errors.push(FieldError::invalid_int(
            path.child("terminationGracePeriodSeconds"),
            seconds,
            "must be greater than 0",
        ));
    }
    errors
}

/// `commonHandler`: the union of probe and lifecycle handler kinds.
struct Handler<'a> {
    exec: Option<&'a ExecAction>,
    http_get: Option<&'a HTTPGetAction>,
    tcp_port: Option<&'a IntOrString>,
    grpc_port: Option<i32>,
    sleep_seconds: Option<i64>,
}

/// `validateHandler`: exactly one handler kind, each valid.
fn validate_handler(
    handler: &Handler<'_>,
    grace: Option<i64>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut count = 0;
    let mut one = |name: &str, errs: Vec<FieldError>, errors: &mut Vec<FieldError>| {
        if count > 0 {
            errors.push(FieldError::forbidden(
                path.child(name),
                "may not specify more than 1 handler type",
            ));
        } else {
            errors.extend(errs);
        }
        count += 1;
    };
    if let Some(exec) = handler.exec {
        let errs = if exec.command.as_deref().unwrap_or_default().is_empty() {
            vec![FieldError::required(
                path.child("exec").child("command"),
                "",
            )]
        } else {
            Vec::new()
        };
        one("exec", errs, &mut errors);
    }
    if let Some(http) = handler.http_get {
        one(
            "httpGet",
            validate_http_get(http, &path.child("httpGet")),
            &mut errors,
        );
    }
    if let Some(port) = handler.tcp_port {
        one(
            "tcpSocket",
            port_num_or_name(port, &path.child("tcpSocket").child("port")),
            &mut errors,
        );
    }
    if let Some(port) = handler.grpc_port {
        one(
            "grpc",
            port_num_or_name(&IntOrString::Int(port), &path.child("grpc").child("port")),
            &mut errors,
        );
    }
    if let Some(seconds) = handler.sleep_seconds {
        one(
            "sleep",
            validate_sleep(seconds, grace, &path.child("sleep")),
            &mut errors,
        );
    }
    if count == 0 {
        errors.push(FieldError::required(path, "must specify a handler type"));
    }
    errors
}

fn validate_sleep(seconds: i64, grace: Option<i64>, path: &FieldPath) -> Vec<FieldError> {
    match grace {
        Some(grace) if seconds < 0 || seconds > grace => vec![FieldError::invalid_int(
            path,
            seconds,
            format!("must be non-negative and less than terminationGracePeriodSeconds ({grace})"),
        )],
        _ => Vec::new(),
    }
}

fn validate_http_get(http: &HTTPGetAction, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if http.path.as_deref().unwrap_or("").is_empty() {
        errors.push(FieldError::required(path.child("path"), ""));
    }
    errors.extend(port_num_or_name(&http.port, &path.child("port")));
    let scheme = http.scheme.as_deref().unwrap_or("");
    if scheme != "HTTP" && scheme != "HTTPS" {
        errors.push(FieldError::not_supported(
            path.child("scheme"),
            scheme,
            &["HTTP", "HTTPS"],
        ));
    }
    for header in http.http_headers.iter().flatten() {
        errors.extend(invalid_each(
            &path.child("httpHeaders"),
            &header.name,
            names::is_http_header_name(&header.name),
        ));
    }
    errors
}

/// `ValidatePortNumOrName`.
pub fn port_num_or_name(port: &IntOrString, path: &FieldPath) -> Vec<FieldError> {
    match port {
        IntOrString::Int(n) => names::is_valid_port_num(i64::from(*n))
            .into_iter()
            .map(|m| FieldError::invalid_int(path, i64::from(*n), m))
            .collect(),
        IntOrString::String(s) => invalid_each(path, s, names::is_valid_port_name(s)),
    }
}

/// `validateLifecycle`.
pub fn validate_lifecycle(
    lifecycle: &Lifecycle,
    grace: Option<i64>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (handler, name) in [
        (&lifecycle.post_start, "postStart"),
        (&lifecycle.pre_stop, "preStop"),
    ] {
        if let Some(handler) = handler {
            errors.extend(validate_handler(
                &lifecycle_handler(handler),
                grace,
                &path.child(name),
            ));
        }
    }
    errors
}

fn lifecycle_handler(handler: &LifecycleHandler) -> Handler<'_> {
    Handler {
        exec: handler.exec.as_ref(),
        http_get: handler.http_get.as_ref(),
        tcp_port: handler.tcp_socket.as_ref().map(|t| &t.port),
        grpc_port: None,
        sleep_seconds: handler.sleep.as_ref().map(|s| s.seconds),
    }
}

/// `ValidateSecurityContext` (privileged containers are allowed, as on kubeadm clusters).
pub fn validate_security_context(
    context: Option<&SecurityContext>,
    host_users: bool,
    path: &FieldPath,
) -> Vec<FieldError> {
    let Some(context) = context else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    for (value, name) in [
        (context.run_as_user, "runAsUser"),
        (context.run_as_group, "runAsGroup"),
    ] {
        if let Some(id) = value.filter(|id| !(0..=i64::from(i32::MAX)).contains(id)) {
            errors.push(FieldError::invalid_int(
                path.child(name),
                id,
                names::inclusive_range_error(0, i64::from(i32::MAX)),
            ));
        }
    }
    if let Some(proc_mount) = context.proc_mount.as_deref() {
        if proc_mount != "Default" && proc_mount != "Unmasked" {
            errors.push(FieldError::not_supported(
                path.child("procMount"),
                proc_mount,
                &["Default", "Unmasked"],
            ));
        }
        if host_users && proc_mount == "Unmasked" {
            errors.push(FieldError::invalid_str(
                path.child("procMount"),
                proc_mount,
                "`hostUsers` must be false to use `Unmasked`",
            ));
        }
    }
    errors.extend(crate::validation::pod_spec::validate_seccomp_profile(
        context.seccomp_profile.as_ref(),
        &path.child("seccompProfile"),
    ));
    if context.allow_privilege_escalation == Some(false) {
        if context.privileged == Some(true) {
            errors.push(FieldError::invalid_str(
                path,
                "",
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        let adds_sys_admin = context
            .capabilities
            .as_ref()
            .and_then(|c| c.add.as_ref())
            .is_some_and(|a| a.iter().any(|c| c == "CAP_SYS_ADMIN"));
        if adds_sys_admin {
            errors.push(FieldError::invalid_str(path, "", "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"));
        }
    }
    errors
}
