//! L1: authorization — upstream's RBAC authorizer (`plugin/pkg/auth/authorizer/rbac`) behind
//! the privileged-groups shortcut kube-apiserver puts in front of it.
//!
//! - [`authorize`]: one request's [`Attributes`] against the roles and bindings in an
//!   [`RbacState`] → [`Decision`]. `system:masters` is always allowed (upstream's
//!   `authorizerfactory.NewPrivilegedGroups`); otherwise RBAC allows when a rule of a
//!   binding naming the user matches, and has no opinion otherwise (RBAC never denies;
//!   the API layer turns "no opinion" into a 403 — [`forbidden_error`] words it).
//! - [`rules_for`]: the rules a user has in a namespace, for SelfSubjectRulesReview
//!   (`kubectl auth can-i --list`).
//! - [`bootstrap`]: the default ClusterRoles and ClusterRoleBindings.
//! - [`validate_rules`]: Corral's extra check that rules name only known verbs (upstream
//!   accepts any string; a typo like `gett` silently grants nothing).
//!
//! Pure: no I/O, no clock; iteration follows the state's order (key order for the cache).

pub mod bootstrap;
mod resolve;
mod rules;
mod state;
pub mod user;

#[cfg(test)]
mod tests;

use corral_api::{ApiError, FieldError, FieldPath, GroupResource, StatusReason};
use k8s_openapi::api::rbac::v1::PolicyRule;

pub use resolve::{RuleSource, cluster_role_rules, role_reference_rules, visit_rules_for};
pub use rules::{non_resource_url_matches, resource_matches, rule_allows};
pub use state::{RbacState, StaticRbac};
pub use user::UserInfo;

/// What a request wants to do (upstream `authorizer.Attributes`).
#[derive(Clone, Copy, Debug)]
pub struct Attributes<'a> {
    pub user: &'a UserInfo,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`,
    /// or for non-resource requests the lower-case HTTP method.
    pub verb: &'a str,
    pub api_group: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    /// Set for non-resource requests (`/version`, `/apis`); the other fields are ignored.
    pub non_resource_path: Option<&'a str>,
}

impl<'a> Attributes<'a> {
    /// A resource request.
    pub fn resource(
        user: &'a UserInfo,
        verb: &'a str,
        api_group: &'a str,
        resource: &'a str,
        namespace: &'a str,
        name: &'a str,
    ) -> Self {
        Attributes {
            user,
            verb,
            api_group,
            resource,
            subresource: "",
            namespace,
            name,
            non_resource_path: None,
        }
    }

    /// A non-resource request (`get` of `/version`).
    pub fn non_resource(user: &'a UserInfo, verb: &'a str, path: &'a str) -> Self {
        Attributes {
            user,
            verb,
            api_group: "",
            resource: "",
            subresource: "",
            namespace: "",
            name: "",
            non_resource_path: Some(path),
        }
    }

    pub fn with_subresource(mut self, subresource: &'a str) -> Self {
        self.subresource = subresource;
        self
    }

    pub fn is_resource_request(&self) -> bool {
        self.non_resource_path.is_none()
    }
}

/// An authorizer's answer. The reason is upstream's text (`RBAC: allowed by …`); a
/// `NoOpinion` carries the rule-resolution errors met on the way, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow(String),
    Deny(String),
    NoOpinion(String),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    pub fn reason(&self) -> &str {
        match self {
            Decision::Allow(r) | Decision::Deny(r) | Decision::NoOpinion(r) => r,
        }
    }
}

/// The privileged-groups authorizer, then RBAC.
pub fn authorize(attributes: &Attributes<'_>, policy: &dyn RbacState) -> Decision {
    if attributes.user.in_group(user::SYSTEM_PRIVILEGED_GROUP) {
        return Decision::Allow(String::new());
    }
    authorize_rbac(attributes, policy)
}

/// Upstream `RBACAuthorizer.Authorize`: allowed by the first matching rule, otherwise no
/// opinion with the resolution errors (`RBAC: [err, err]`).
pub fn authorize_rbac(attributes: &Attributes<'_>, policy: &dyn RbacState) -> Decision {
    let mut allowed_by: Option<String> = None;
    let mut errors: Vec<String> = Vec::new();
    visit_rules_for(
        policy,
        attributes.user,
        attributes.namespace,
        &mut |source, rule, error| {
            if let (Some(source), Some(rule)) = (source, rule)
                && rule_allows(attributes, rule)
            {
                allowed_by = Some(format!("RBAC: allowed by {source}"));
                return false;
            }
            if let Some(error) = error {
                errors.push(error);
            }
            true
        },
    );
    if let Some(reason) = allowed_by {
        return Decision::Allow(reason);
    }
    let reason = match errors.len() {
        0 => String::new(),
        1 => format!("RBAC: {}", errors[0]),
        _ => format!("RBAC: [{}]", errors.join(", ")),
    };
    Decision::NoOpinion(reason)
}

/// The text upstream's `forbiddenMessage` builds for a refused request.
pub fn forbidden_message(attributes: &Attributes<'_>) -> String {
    let username = &attributes.user.username;
    let Some(path) = attributes.non_resource_path else {
        let resource = if attributes.subresource.is_empty() {
            attributes.resource.to_string()
        } else {
            format!("{}/{}", attributes.resource, attributes.subresource)
        };
        return if attributes.namespace.is_empty() {
            format!(
                "User {:?} cannot {} resource {:?} in API group {:?} at the cluster scope",
                username, attributes.verb, resource, attributes.api_group
            )
        } else {
            format!(
                "User {:?} cannot {} resource {:?} in API group {:?} in the namespace {:?}",
                username, attributes.verb, resource, attributes.api_group, attributes.namespace
            )
        };
    };
    format!(
        "User {:?} cannot {} path {:?}",
        username, attributes.verb, path
    )
}

/// The 403 the API layer returns when no authorizer allowed the request
/// (`responsewriters.Forbidden`): `jobs.batch "x" is forbidden: User "bob" cannot get
/// resource "jobs" in API group "batch" in the namespace "team-b"`, with `: <reason>`
/// appended when the authorizer gave one.
pub fn forbidden_error(attributes: &Attributes<'_>, decision: &Decision) -> ApiError {
    let mut message = forbidden_message(attributes);
    if !decision.reason().is_empty() {
        message = format!("{message}: {}", decision.reason());
    }
    if attributes.is_resource_request() {
        let resource = GroupResource::new(attributes.api_group, attributes.resource);
        ApiError::forbidden(&resource, attributes.name, &message)
    } else {
        ApiError::new(StatusReason::Forbidden, format!("forbidden: {message}"))
    }
}

/// One resource rule of a SelfSubjectRulesReview.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
}

/// One non-resource rule of a SelfSubjectRulesReview.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NonResourceRule {
    pub verbs: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

/// `SelfSubjectRulesReview.status`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RulesReview {
    pub resource_rules: Vec<ResourceRule>,
    pub non_resource_rules: Vec<NonResourceRule>,
    pub incomplete: bool,
    pub evaluation_error: String,
}

/// Upstream `RBACAuthorizer.RulesFor`: every rule bound to the user cluster-wide and in
/// `namespace`, split into resource and non-resource rules.
pub fn rules_for(user: &UserInfo, namespace: &str, policy: &dyn RbacState) -> RulesReview {
    let mut review = RulesReview::default();
    let mut errors: Vec<String> = Vec::new();
    visit_rules_for(policy, user, namespace, &mut |_, rule, error| {
        if let Some(rule) = rule {
            add_rule(&mut review, rule);
        }
        if let Some(error) = error {
            errors.push(error);
        }
        true
    });
    review.evaluation_error = match errors.len() {
        0 => String::new(),
        1 => errors.remove(0),
        _ => format!("[{}]", errors.join(", ")),
    };
    review
}

fn add_rule(review: &mut RulesReview, rule: &PolicyRule) {
    let list = |f: &Option<Vec<String>>| f.clone().unwrap_or_default();
    if rule.resources.as_ref().is_some_and(|r| !r.is_empty()) {
        review.resource_rules.push(ResourceRule {
            verbs: rule.verbs.clone(),
            api_groups: list(&rule.api_groups),
            resources: list(&rule.resources),
            resource_names: list(&rule.resource_names),
        });
    }
    if rule
        .non_resource_urls
        .as_ref()
        .is_some_and(|u| !u.is_empty())
    {
        review.non_resource_rules.push(NonResourceRule {
            verbs: rule.verbs.clone(),
            non_resource_urls: list(&rule.non_resource_urls),
        });
    }
}

/// Verbs a resource rule may name: the API verbs plus the special verbs upstream's own
/// policies use (`impersonate`, `bind`, `escalate`, `use`, `approve`, `sign`, `attest`).
pub const RESOURCE_VERBS: &[&str] = &[
    "*",
    "approve",
    "attest",
    "bind",
    "create",
    "delete",
    "deletecollection",
    "escalate",
    "get",
    "impersonate",
    "list",
    "patch",
    "sign",
    "update",
    "use",
    "watch",
];

/// Verbs a non-resource rule may name (lower-case HTTP methods).
pub const NON_RESOURCE_VERBS: &[&str] = &[
    "*", "delete", "get", "head", "options", "patch", "post", "put",
];

/// Corral's verb check for a Role's or ClusterRole's `rules` (the path is `rules`):
/// `rules[0].verbs[1]: Unsupported value: "gett": supported values: …`. Upstream accepts
/// any verb string; the registry validation calls this so typos fail loudly.
pub fn validate_rules(rules: &[PolicyRule], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let non_resource = rule
            .non_resource_urls
            .as_ref()
            .is_some_and(|u| !u.is_empty());
        let supported = if non_resource {
            NON_RESOURCE_VERBS
        } else {
            RESOURCE_VERBS
        };
        for (j, verb) in rule.verbs.iter().enumerate() {
            if !supported.contains(&verb.as_str()) {
                errors.push(FieldError::not_supported(
                    path.index(i).child("verbs").index(j).as_str(),
                    verb,
                    supported,
                ));
            }
        }
    }
    errors
}
