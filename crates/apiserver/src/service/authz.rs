//! Authorization seam and the review resources kubectl uses (`auth can-i`, `auth can-i
//! --list`, `auth whoami`).
//!
//! [`Authorizer`] is asked about every request by the HTTP front and answers the reviews.
//! Until RBAC lands (corral-registry), [`AllowAll`] authorizes everything, as a cluster
//! whose only user is the admin would.

use corral_api::ApiError;
use serde_json::{Value, json};

use super::types::UserInfo;

/// What a request wants to do, as upstream's `authorizer.Attributes`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    /// Set for non-resource requests (`/healthz`, `/version`).
    pub path: Option<String>,
}

/// An authorization decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny { reason: String },
}

/// Decides whether a user may do something.
pub trait Authorizer: Send + Sync {
    fn authorize(&self, user: &UserInfo, attributes: &Attributes) -> Decision;

    /// The rules `auth can-i --list` prints for `namespace`.
    fn rules(&self, user: &UserInfo, namespace: &str) -> RuleSet;
}

/// `status` of a SelfSubjectRulesReview.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleSet {
    pub resource_rules: Vec<Value>,
    pub non_resource_rules: Vec<Value>,
    pub incomplete: bool,
}

/// Allows everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

impl Authorizer for AllowAll {
    fn authorize(&self, _: &UserInfo, _: &Attributes) -> Decision {
        Decision::Allow
    }

    fn rules(&self, _: &UserInfo, _: &str) -> RuleSet {
        RuleSet {
            resource_rules: vec![json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})],
            non_resource_rules: vec![json!({"verbs": ["*"], "nonResourceURLs": ["*"]})],
            incomplete: false,
        }
    }
}

fn string_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn check_kind(body: &Value, kind: &str, api_version: &str) -> Result<(), ApiError> {
    for (field, expected) in [("kind", kind), ("apiVersion", api_version)] {
        match body.get(field).and_then(Value::as_str) {
            None | Some("") => {}
            Some(actual) if actual == expected => {}
            Some(actual) => {
                return Err(ApiError::bad_request(format!(
                    "{kind} in version \"v1\" cannot be handled as a {kind}: expected {field} {expected:?}, got {actual:?}"
                )));
            }
        }
    }
    Ok(())
}

/// Answers a SelfSubjectAccessReview body.
pub fn self_subject_access_review(
    authorizer: &dyn Authorizer,
    user: &UserInfo,
    mut body: Value,
) -> Result<Value, ApiError> {
    check_kind(&body, "SelfSubjectAccessReview", "authorization.k8s.io/v1")?;
    let attributes = if let Some(r) = body.pointer("/spec/resourceAttributes") {
        Attributes {
            verb: string_at(r, "/verb").into(),
            group: string_at(r, "/group").into(),
            version: string_at(r, "/version").into(),
            resource: string_at(r, "/resource").into(),
            subresource: string_at(r, "/subresource").into(),
            namespace: string_at(r, "/namespace").into(),
            name: string_at(r, "/name").into(),
            path: None,
        }
    } else if let Some(n) = body.pointer("/spec/nonResourceAttributes") {
        Attributes {
            verb: string_at(n, "/verb").into(),
            path: Some(string_at(n, "/path").into()),
            ..Attributes::default()
        }
    } else {
        return Err(ApiError::invalid(
            "SelfSubjectAccessReview",
            "authorization.k8s.io",
            "",
            &[corral_api::FieldError::required(
                "spec.resourceAttributes",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )],
        ));
    };
    let status = match authorizer.authorize(user, &attributes) {
        Decision::Allow => json!({"allowed": true}),
        Decision::Deny { reason } => json!({"allowed": false, "reason": reason}),
    };
    fill_review(
        &mut body,
        "SelfSubjectAccessReview",
        "authorization.k8s.io/v1",
        status,
    );
    Ok(body)
}

/// Answers a SelfSubjectRulesReview body.
pub fn self_subject_rules_review(
    authorizer: &dyn Authorizer,
    user: &UserInfo,
    mut body: Value,
) -> Result<Value, ApiError> {
    check_kind(&body, "SelfSubjectRulesReview", "authorization.k8s.io/v1")?;
    let namespace = string_at(&body, "/spec/namespace").to_string();
    let rules = authorizer.rules(user, &namespace);
    let status = json!({
        "resourceRules": rules.resource_rules,
        "nonResourceRules": rules.non_resource_rules,
        "incomplete": rules.incomplete,
    });
    fill_review(
        &mut body,
        "SelfSubjectRulesReview",
        "authorization.k8s.io/v1",
        status,
    );
    Ok(body)
}

/// Answers a SelfSubjectReview (`kubectl auth whoami`).
pub fn self_subject_review(user: &UserInfo, mut body: Value) -> Result<Value, ApiError> {
    check_kind(&body, "SelfSubjectReview", "authentication.k8s.io/v1")?;
    let mut info = json!({"username": user.name, "groups": user.groups});
    if !user.uid.is_empty() {
        info["uid"] = json!(user.uid);
    }
    fill_review(
        &mut body,
        "SelfSubjectReview",
        "authentication.k8s.io/v1",
        json!({"userInfo": info}),
    );
    Ok(body)
}

fn fill_review(body: &mut Value, kind: &str, api_version: &str, status: Value) {
    if !body.is_object() {
        *body = json!({});
    }
    body["kind"] = json!(kind);
    body["apiVersion"] = json!(api_version);
    let metadata = body
        .get("metadata")
        .filter(|m| m.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    body["metadata"] = metadata;
    if let Some(map) = body["metadata"].as_object_mut() {
        map.insert("creationTimestamp".into(), Value::Null);
    }
    body["status"] = status;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_reviews_are_allowed_by_the_allow_all_authorizer() {
        let body = json!({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "spec": {"resourceAttributes": {"verb": "create", "group": "batch", "resource": "jobs", "namespace": "default"}}});
        let out = self_subject_access_review(&AllowAll, &UserInfo::anonymous(), body).unwrap();
        assert_eq!(out["status"]["allowed"], true);
        assert_eq!(out["spec"]["resourceAttributes"]["resource"], "jobs");
    }

    #[test]
    fn reviews_without_attributes_are_invalid() {
        let err =
            self_subject_access_review(&AllowAll, &UserInfo::anonymous(), json!({"spec": {}}))
                .unwrap_err();
        assert_eq!(err.code, 422);
    }

    #[test]
    fn rules_reviews_list_wildcards() {
        let out = self_subject_rules_review(
            &AllowAll,
            &UserInfo::anonymous(),
            json!({"spec": {"namespace": "default"}}),
        )
        .unwrap();
        assert_eq!(out["status"]["resourceRules"][0]["verbs"][0], "*");
        assert_eq!(out["kind"], "SelfSubjectRulesReview");
    }
}
