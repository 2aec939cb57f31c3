//! NamespaceLifecycle (`k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle`): no
//! content in a namespace that does not exist or is terminating, and the immortal
//! namespaces cannot be deleted.

use std::time::Duration;

use corral_api::status::ErrorCause;
use corral_api::{ApiError, GroupResource};

use super::PluginOutcome;
use crate::admission::request::{AdmissionConfig, AdmissionRequest, Operation};
use crate::admission::state::AdmissionState;

/// Upstream `Lifecycle.Admit`. `namespace` is the request's namespace (the object's own
/// name for namespace objects); `name` the name for messages; `waited`: the one wait for
/// a missing namespace already happened.
pub fn admit(
    request: &AdmissionRequest,
    namespace: &str,
    name: &str,
    state: &dyn AdmissionState,
    config: &AdmissionConfig,
    waited: bool,
) -> PluginOutcome {
    let is_namespace =
        request.resource.group.is_empty() && request.resource.resource == "namespaces";
    if request.operation == Operation::Delete
        && is_namespace
        && config
            .immortal_namespaces
            .iter()
            .any(|n| n == &request.name)
    {
        return PluginOutcome::Reject(ApiError::forbidden(
            &request.resource.group_resource(),
            &request.name,
            "this namespace may not be deleted",
        ));
    }
    if is_namespace || namespace.is_empty() || request.operation == Operation::Delete {
        return PluginOutcome::Continue;
    }
    if request.resource.group == "authorization.k8s.io"
        && request.resource.resource == "localsubjectaccessreviews"
    {
        return PluginOutcome::Continue;
    }
    let Some(found) = state.namespace(namespace) else {
        if request.operation == Operation::Create
            && !waited
            && config.namespace_missing_wait > Duration::ZERO
        {
            return PluginOutcome::Wait(config.namespace_missing_wait);
        }
        return PluginOutcome::Reject(ApiError::not_found(
            &GroupResource::new("", "namespaces"),
            namespace,
        ));
    };
    let terminating = found.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
    if request.operation == Operation::Create && terminating {
        let error = ApiError::forbidden(
            &request.resource.group_resource(),
            name,
            &format!("unable to create new content in namespace {namespace} because it is being terminated"),
        )
        .with_causes(vec![ErrorCause {
            reason: "NamespaceTerminating".to_string(),
            message: format!("namespace {namespace} is being terminated"),
            field: "metadata.namespace".to_string(),
        }]);
        return PluginOutcome::Reject(error);
    }
    PluginOutcome::Continue
}
