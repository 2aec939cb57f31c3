//! `pods/binding` (the scheduler's write) and `pods/eviction` (kubectl drain): both answer
//! `201` with a success `Status`, as upstream.

use corral_api::k8s_openapi::api::core::v1::{Pod, PodCondition};
use corral_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use corral_api::resource::resource_of;
use corral_api::{ApiError, GroupResource, KubeObject, ResourceKind};
use corral_core::clock::truncate_to_seconds;
use corral_core::{Preconditions, Propagation};
use serde_json::{Value, json};

use super::admission::{AdmissionRequest, Operation};
use super::types::{DecodedBody, DeleteRequest, Target, UserInfo};
use super::{ApiService, blocking, require_subresource, store_error};

/// The body of a successful binding or eviction.
pub fn success_status(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}

fn string_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

impl ApiService {
    /// POST `pods/{name}/binding`: assigns the pod to a node.
    pub async fn bind(
        &self,
        user: &UserInfo,
        target: &Target,
        body: DecodedBody,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let (service, user, target) = (self.clone(), user.clone(), target.clone());
        blocking(move || service.bind_blocking(&user, &target, &body.value, dry_run)).await
    }

    /// POST `pods/{name}/eviction`: a graceful delete (disruption budgets are not checked
    /// yet).
    pub async fn evict(
        &self,
        user: &UserInfo,
        target: &Target,
        body: DecodedBody,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let (service, user, target) = (self.clone(), user.clone(), target.clone());
        blocking(move || service.evict_blocking(&user, &target, &body.value, dry_run)).await
    }

    fn bind_blocking(
        &self,
        user: &UserInfo,
        target: &Target,
        body: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        require_subresource(target.resource, "binding")?;
        let name = target.name_or_empty().to_string();
        let body_name = string_at(body, "/metadata/name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "name in URL does not match name in Binding object: {name} != {body_name}"
            )));
        }
        let node = string_at(body, "/target/name").to_string();
        if node.is_empty() {
            return Err(ApiError::invalid(
                "Binding",
                "",
                &name,
                &[corral_api::FieldError::required("target.name", "")],
            ));
        }
        let namespace = target.namespace.clone().unwrap_or_default();
        let request = AdmissionRequest {
            operation: Operation::Connect,
            resource: target.resource,
            subresource: Some("binding"),
            namespace: &namespace,
            name: &name,
            user,
            dry_run,
            old: None,
            field_manager: None,
        };
        self.inner
            .admission
            .admit(&request, &self.view(), None, &mut |_| Ok(Vec::new()))?;
        let now = self.now();
        let mut assign = |current: &KubeObject| assign_node(current, &name, &node, now);
        let key = target.key().ok_or_else(ApiError::method_not_allowed)?;
        self.objects()
            .guaranteed_update(&key, &Preconditions::default(), now, dry_run, &mut assign)
            .map_err(|e| store_error(resource_of(ResourceKind::Pod), e))?;
        Ok(success_status(201))
    }

    fn evict_blocking(
        &self,
        user: &UserInfo,
        target: &Target,
        body: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        require_subresource(target.resource, "eviction")?;
        let name = target.name_or_empty();
        let body_name = string_at(body, "/metadata/name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(
                "name in URL does not match name in Eviction object",
            ));
        }
        let options = body.get("deleteOptions").cloned().unwrap_or(Value::Null);
        let mut request = delete_request_from(&options)?;
        request.dry_run |= dry_run;
        request.propagation.get_or_insert(Propagation::Background);
        self.delete_blocking(user, target, &request)?;
        Ok(success_status(201))
    }
}

/// The binding's write: `spec.nodeName` and the `PodScheduled` condition; 409 if the pod
/// is bound already or being deleted.
fn assign_node(
    current: &KubeObject,
    name: &str,
    node: &str,
    now: corral_core::Timestamp,
) -> Result<KubeObject, ApiError> {
    let binding = GroupResource::new("", "pods/binding");
    let mut object = current.clone();
    if object.is_being_deleted() {
        let message = format!("pod {name} is being deleted, cannot be assigned to a host");
        return Err(ApiError::conflict(&binding, name, &message));
    }
    let pod = object
        .as_typed_mut::<Pod>()
        .ok_or_else(ApiError::method_not_allowed)?;
    let spec = pod.spec.get_or_insert_with(Default::default);
    if let Some(existing) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        let message = format!("pod {name} is already assigned to node \"{existing}\"");
        return Err(ApiError::conflict(&binding, name, &message));
    }
    spec.node_name = Some(node.to_string());
    set_scheduled_condition(pod, now);
    Ok(object)
}

fn set_scheduled_condition(pod: &mut Pod, now: corral_core::Timestamp) {
    let status = pod.status.get_or_insert_with(Default::default);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    conditions.retain(|c| c.type_ != "PodScheduled");
    conditions.push(PodCondition {
        type_: "PodScheduled".into(),
        status: "True".into(),
        last_transition_time: Some(Time(truncate_to_seconds(now))),
        ..PodCondition::default()
    });
}

/// Parses a `DeleteOptions` JSON body (kind optional; `null` = defaults).
pub fn delete_request_from(value: &Value) -> Result<DeleteRequest, ApiError> {
    if value.is_null() {
        return Ok(DeleteRequest::default());
    }
    let object = value.as_object().ok_or_else(|| {
        ApiError::bad_request(
            "DeleteOptions in version \"v1\" cannot be handled as a DeleteOptions: not an object",
        )
    })?;
    let mut request = DeleteRequest {
        grace_period_seconds: object.get("gracePeriodSeconds").and_then(Value::as_i64),
        ..DeleteRequest::default()
    };
    if let Some(policy) = object.get("propagationPolicy").and_then(Value::as_str) {
        request.propagation = Some(Propagation::parse(policy).ok_or_else(|| {
            ApiError::invalid(
                "DeleteOptions",
                "",
                "",
                &[corral_api::FieldError::not_supported(
                    "propagationPolicy",
                    policy,
                    &["Foreground", "Background", "Orphan"],
                )],
            )
        })?);
    } else if let Some(orphan) = object.get("orphanDependents").and_then(Value::as_bool) {
        request.propagation = Some(if orphan {
            Propagation::Orphan
        } else {
            Propagation::Background
        });
    }
    if let Some(dry_run) = object.get("dryRun").and_then(Value::as_array) {
        request.dry_run = dry_run.iter().any(|d| d == "All");
    }
    if let Some(pre) = object.get("preconditions") {
        if let Some(uid) = pre.get("uid").and_then(Value::as_str) {
            request.preconditions.uid = Some(corral_api::Uid(uid.to_string()));
        }
        if let Some(rv) = pre.get("resourceVersion").and_then(Value::as_str) {
            let revision = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?;
            request.preconditions.resource_version = Some(revision);
        }
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_options_parse_policy_grace_and_preconditions() {
        let request = delete_request_from(
            &json!({"propagationPolicy": "Foreground", "gracePeriodSeconds": 3,
            "preconditions": {"uid": "u", "resourceVersion": "7"}, "dryRun": ["All"]}),
        )
        .unwrap();
        assert_eq!(request.propagation, Some(Propagation::Foreground));
        assert_eq!(request.grace_period_seconds, Some(3));
        assert_eq!(
            request.preconditions.resource_version,
            Some(corral_api::Revision(7))
        );
        assert!(request.dry_run);
        assert_eq!(
            delete_request_from(&json!({"propagationPolicy": "Later"}))
                .unwrap_err()
                .code,
            422
        );
        assert_eq!(delete_request_from(&json!([1])).unwrap_err().code, 400);
    }
}
