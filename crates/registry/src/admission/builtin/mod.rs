//! The built-in admission plugins Corral runs, in upstream's order
//! (`pkg/kubeapiserver/options/plugins.go`): NamespaceLifecycle, LimitRanger,
//! ServiceAccount, Priority, DefaultTolerationSeconds (mutating), then LimitRanger,
//! ServiceAccount (validating). Each is a pure function of the request, the object and
//! the [`super::AdmissionState`].

pub mod limit_ranger;
pub mod namespace;
pub mod pod_defaults;
pub mod service_account;

/// What a plugin decided.
#[derive(Debug)]
pub enum PluginOutcome {
    Continue,
    /// Look again later: the cache may not have caught up yet.
    Wait(std::time::Duration),
    Reject(corral_api::ApiError),
}

/// `utilerrors.NewAggregate(errs).Error()`: one message as is, several bracketed.
pub(crate) fn aggregate(messages: &[String]) -> String {
    match messages.len() {
        0 => String::new(),
        1 => messages[0].clone(),
        _ => format!("[{}]", messages.join(", ")),
    }
}
