//! Small helpers over container specs shared by the worker and the status rules.

use k8s_openapi::api::core::v1::Container;

/// A native sidecar: an init container with `restartPolicy: Always`.
pub fn is_restartable(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

/// `format.Pod`: `name_namespace(uid)`, as upstream's kubelet messages print a pod.
pub fn format_pod(name: &str, namespace: &str, uid: &str) -> String {
    format!("{name}_{namespace}({uid})")
}

/// Go's `time.Duration.String()` for whole seconds and above (`10s`, `5m0s`, `1h0m0s`).
pub fn go_duration(d: std::time::Duration) -> String {
    let total = d.as_secs();
    let millis = d.subsec_millis();
    if total == 0 && millis > 0 {
        return format!("{millis}ms");
    }
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let seconds = if millis > 0 {
        format!("{s}.{:03}s", millis)
            .trim_end_matches('0')
            .to_string()
    } else {
        format!("{s}s")
    };
    if h > 0 {
        format!("{h}h{m}m{seconds}")
    } else if m > 0 {
        format!("{m}m{seconds}")
    } else {
        seconds
    }
}
