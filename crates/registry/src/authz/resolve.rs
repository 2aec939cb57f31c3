//! Which rules apply to a user in a namespace: upstream's `DefaultRuleResolver`
//! (`pkg/registry/rbac/validation/rule.go`): every ClusterRoleBinding naming the user, then
//! (for a namespaced request) every RoleBinding of that namespace naming the user, each
//! resolved to its Role or ClusterRole's rules. ClusterRoles with an `aggregationRule` are
//! resolved here to the union of the ClusterRoles their selectors pick (upstream a
//! controller writes that union into the object; Corral has no such controller).

use std::borrow::Cow;
use std::fmt;

use corral_api::LabelSelector;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, RoleRef, Subject};

use super::state::RbacState;
use super::user::UserInfo;

/// Nesting bound for aggregated ClusterRoles that aggregate other aggregated roles.
const AGGREGATION_DEPTH_MAX: usize = 8;

/// The binding a rule came from, rendered only when a decision needs it.
#[derive(Clone, Copy, Debug)]
pub enum RuleSource<'a> {
    ClusterRoleBinding {
        name: &'a str,
        role_ref: &'a RoleRef,
        subject: &'a Subject,
    },
    RoleBinding {
        namespace: &'a str,
        name: &'a str,
        role_ref: &'a RoleRef,
        subject: &'a Subject,
    },
}

fn describe_subject(subject: &Subject, binding_namespace: &str) -> String {
    if subject.kind == "ServiceAccount" {
        let namespace = subject.namespace.as_deref().filter(|n| !n.is_empty());
        format!(
            "{} {:?}",
            subject.kind,
            format!(
                "{}/{}",
                subject.name,
                namespace.unwrap_or(binding_namespace)
            )
        )
    } else {
        format!("{} {:?}", subject.kind, subject.name)
    }
}

impl fmt::Display for RuleSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleSource::ClusterRoleBinding {
                name,
                role_ref,
                subject,
            } => write!(
                f,
                "ClusterRoleBinding {:?} of {} {:?} to {}",
                name,
                role_ref.kind,
                role_ref.name,
                describe_subject(subject, "")
            ),
            RuleSource::RoleBinding {
                namespace,
                name,
                role_ref,
                subject,
            } => write!(
                f,
                "RoleBinding {:?} of {} {:?} to {}",
                format!("{name}/{namespace}"),
                role_ref.kind,
                role_ref.name,
                describe_subject(subject, namespace)
            ),
        }
    }
}

/// Upstream `appliesToUser`.
fn applies_to_user(user: &UserInfo, subject: &Subject, namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.username == subject.name,
        "Group" => user.in_group(&subject.name),
        "ServiceAccount" => {
            let sa_namespace = subject
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(namespace);
            !sa_namespace.is_empty() && user.is_service_account(sa_namespace, &subject.name)
        }
        _ => false,
    }
}

fn applies_to<'a>(
    user: &UserInfo,
    subjects: &'a Option<Vec<Subject>>,
    namespace: &str,
) -> Option<&'a Subject> {
    subjects
        .iter()
        .flatten()
        .find(|s| applies_to_user(user, s, namespace))
}

/// The rules a role reference grants (upstream `GetRoleReferenceRules`).
pub fn role_reference_rules<'s>(
    state: &'s dyn RbacState,
    role_ref: &RoleRef,
    binding_namespace: &str,
) -> Result<Cow<'s, [PolicyRule]>, String> {
    match role_ref.kind.as_str() {
        "Role" => state
            .role(binding_namespace, &role_ref.name)
            .map(|r| Cow::Borrowed(r.rules.as_deref().unwrap_or_default()))
            .ok_or_else(|| {
                format!(
                    "role.rbac.authorization.k8s.io {:?} not found",
                    role_ref.name
                )
            }),
        "ClusterRole" => state
            .cluster_role(&role_ref.name)
            .map(|r| cluster_role_rules(state, r))
            .ok_or_else(|| {
                format!(
                    "clusterrole.rbac.authorization.k8s.io {:?} not found",
                    role_ref.name
                )
            }),
        other => Err(format!("unsupported role reference kind: {other:?}")),
    }
}

/// A ClusterRole's effective rules: its own, or for an aggregated role the union of the
/// rules of every other ClusterRole matching one of its selectors (by name order).
pub fn cluster_role_rules<'s>(
    state: &'s dyn RbacState,
    role: &'s ClusterRole,
) -> Cow<'s, [PolicyRule]> {
    if role.aggregation_rule.is_none() {
        return Cow::Borrowed(role.rules.as_deref().unwrap_or_default());
    }
    let mut rules = Vec::new();
    let mut visiting = vec![role.metadata.name.clone().unwrap_or_default()];
    aggregate_into(state, role, &mut rules, &mut visiting);
    Cow::Owned(rules)
}

fn aggregate_into(
    state: &dyn RbacState,
    role: &ClusterRole,
    out: &mut Vec<PolicyRule>,
    visiting: &mut Vec<String>,
) {
    let Some(aggregation) = &role.aggregation_rule else {
        for rule in role.rules.iter().flatten() {
            if !out.contains(rule) {
                out.push(rule.clone());
            }
        }
        return;
    };
    if visiting.len() > AGGREGATION_DEPTH_MAX {
        return;
    }
    let selectors: Vec<LabelSelector> = aggregation
        .cluster_role_selectors
        .iter()
        .flatten()
        .filter_map(|s| LabelSelector::from_k8s(Some(s)).ok())
        .collect();
    let mut members: Vec<&ClusterRole> = state
        .cluster_roles()
        .into_iter()
        .filter(|candidate| {
            let name = candidate.metadata.name.as_deref().unwrap_or("");
            !visiting.iter().any(|v| v == name)
                && selectors
                    .iter()
                    .any(|s| s.matches_opt(candidate.metadata.labels.as_ref()))
        })
        .collect();
    members.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for member in members {
        visiting.push(member.metadata.name.clone().unwrap_or_default());
        aggregate_into(state, member, out, visiting);
        visiting.pop();
    }
}

/// Upstream `VisitRulesFor`: calls `visitor(source, rule, error)` for every applicable rule
/// and every resolution error, stopping when it returns `false`.
pub fn visit_rules_for(
    state: &dyn RbacState,
    user: &UserInfo,
    namespace: &str,
    visitor: &mut dyn FnMut(Option<RuleSource<'_>>, Option<&PolicyRule>, Option<String>) -> bool,
) {
    for binding in state.cluster_role_bindings() {
        let Some(subject) = applies_to(user, &binding.subjects, "") else {
            continue;
        };
        match role_reference_rules(state, &binding.role_ref, "") {
            Err(error) => {
                if !visitor(None, None, Some(error)) {
                    return;
                }
            }
            Ok(rules) => {
                let source = RuleSource::ClusterRoleBinding {
                    name: binding.metadata.name.as_deref().unwrap_or(""),
                    role_ref: &binding.role_ref,
                    subject,
                };
                for rule in rules.iter() {
                    if !visitor(Some(source), Some(rule), None) {
                        return;
                    }
                }
            }
        }
    }
    if namespace.is_empty() {
        return;
    }
    for binding in state.role_bindings(namespace) {
        let Some(subject) = applies_to(user, &binding.subjects, namespace) else {
            continue;
        };
        match role_reference_rules(state, &binding.role_ref, namespace) {
            Err(error) => {
                if !visitor(None, None, Some(error)) {
                    return;
                }
            }
            Ok(rules) => {
                let source = RuleSource::RoleBinding {
                    namespace,
                    name: binding.metadata.name.as_deref().unwrap_or(""),
                    role_ref: &binding.role_ref,
                    subject,
                };
                for rule in rules.iter() {
                    if !visitor(Some(source), Some(rule), None) {
                        return;
                    }
                }
            }
        }
    }
}
