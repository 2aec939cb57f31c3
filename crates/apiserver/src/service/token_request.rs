//! `POST …/serviceaccounts/{name}/token`: the TokenRequest subresource
//! (`kubectl create token NAME [--duration D] [--audience A]`). kubectl sends
//! `{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1",
//! "spec":{"audiences":null,"expirationSeconds":null,"boundObjectRef":null}}` (the fields
//! set by its flags); the answer is the same object with defaults filled in and
//! `status.token`/`status.expirationTimestamp`.

use std::time::Duration;

use corral_api::k8s_openapi::api::core::v1::ServiceAccount;
use corral_api::{ApiError, FieldError, GroupResource, ObjectKey, ResourceKind};
use corral_store::{JsonBytes, Representation};
use serde_json::{Value, json};

use super::types::{Target, UserInfo};
use super::{ApiService, blocking};
use crate::tokens::{DEFAULT_EXPIRATION, MIN_EXPIRATION, NamedRef};

impl ApiService {
    /// Issues a ServiceAccount token (the `token` subresource).
    pub async fn create_token(
        &self,
        user: &UserInfo,
        target: &Target,
        body: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let (service, user, target) = (self.clone(), user.clone(), target.clone());
        blocking(move || service.create_token_blocking(&user, &target, body, dry_run)).await
    }

    pub(crate) fn create_token_blocking(
        &self,
        _user: &UserInfo,
        target: &Target,
        mut body: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let Some(tokens) = self.inner.tokens.get() else {
            return Err(ApiError::method_not_allowed());
        };
        let namespace = target.namespace.clone().unwrap_or_default();
        let name = target.name.clone().unwrap_or_default();
        if !body.is_object() {
            body = json!({});
        }
        for (field, expected) in [
            ("kind", "TokenRequest"),
            ("apiVersion", "authentication.k8s.io/v1"),
        ] {
            match body.get(field).and_then(Value::as_str) {
                None | Some("") => {}
                Some(actual) if actual == expected => {}
                Some(actual) => {
                    return Err(ApiError::bad_request(format!(
                        "TokenRequest in version \"v1\" cannot be handled as a TokenRequest: expected {field} {expected:?}, got {actual:?}"
                    )));
                }
            }
        }
        let seconds = body
            .pointer("/spec/expirationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_EXPIRATION.as_secs() as i64);
        if seconds < MIN_EXPIRATION.as_secs() as i64 {
            return Err(ApiError::invalid(
                "TokenRequest",
                "authentication.k8s.io",
                &name,
                &[FieldError::invalid_int(
                    "spec.expirationSeconds",
                    seconds,
                    "may not specify a duration less than 10 minutes",
                )],
            ));
        }
        let audiences: Vec<String> = body
            .pointer("/spec/audiences")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let key = ObjectKey::new(ResourceKind::ServiceAccount, &namespace, &name);
        let account = self
            .objects()
            .get(&key)
            .and_then(|stored| JsonBytes::decode(&stored.value).ok())
            .and_then(|o| o.as_typed::<ServiceAccount>().cloned())
            .ok_or_else(|| {
                ApiError::not_found(&GroupResource::new("", "serviceaccounts"), &name)
            })?;
        let pod = self.bound_pod(&namespace, &body)?;
        let now = self.now();
        let issued = tokens
            .issue(
                &account,
                &audiences,
                Duration::from_secs(seconds.max(0) as u64),
                pod.clone(),
                now.as_second(),
            )
            .map_err(ApiError::internal)?;
        let expires = jiff::Timestamp::from_second(issued.expires_at)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let bound = body
            .pointer("/spec/boundObjectRef")
            .cloned()
            .unwrap_or(Value::Null);
        let created = corral_core::clock::truncate_to_seconds(now).to_string();
        Ok(json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
            "spec": {
                "audiences": issued.audiences,
                "expirationSeconds": issued.expiration_seconds,
                "boundObjectRef": bound,
            },
            "status": {
                "token": if dry_run { String::new() } else { issued.token },
                "expirationTimestamp": expires,
            },
        }))
    }

    /// `spec.boundObjectRef` naming a Pod: the pod must exist; its name and uid go into
    /// the token. Other kinds are accepted and not bound (Corral stores no Secrets
    /// tokens).
    fn bound_pod(&self, namespace: &str, body: &Value) -> Result<Option<NamedRef>, ApiError> {
        let Some(reference) = body
            .pointer("/spec/boundObjectRef")
            .filter(|v| v.is_object())
        else {
            return Ok(None);
        };
        if reference.get("kind").and_then(Value::as_str) != Some("Pod") {
            return Ok(None);
        }
        let name = reference
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let key = ObjectKey::new(ResourceKind::Pod, namespace, name);
        let stored = self
            .objects()
            .get(&key)
            .and_then(|s| JsonBytes::decode(&s.value).ok())
            .ok_or_else(|| ApiError::not_found(&GroupResource::new("", "pods"), name))?;
        Ok(Some(NamedRef {
            name: name.to_string(),
            uid: stored.meta().uid.clone().unwrap_or_default(),
        }))
    }
}
