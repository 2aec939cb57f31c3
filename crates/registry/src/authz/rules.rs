//! Whether one `PolicyRule` allows a request: upstream's `RuleAllows` and the matchers of
//! `pkg/apis/rbac/v1/evaluation_helpers.go` (`VerbMatches`, `APIGroupMatches`,
//! `ResourceMatches` with `*/subresource`, `ResourceNameMatches`,
//! `NonResourceURLMatches` with trailing-`*` prefixes).

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::Attributes;

fn list(field: &Option<Vec<String>>) -> &[String] {
    field.as_deref().unwrap_or_default()
}

pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

pub fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    list(&rule.api_groups)
        .iter()
        .any(|g| g == "*" || g == group)
}

/// `combined` is `resource` or `resource/subresource`.
pub fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    list(&rule.resources).iter().any(|r| {
        if r == "*" || r == combined {
            return true;
        }
        // `*/subresource` matches that subresource of every resource.
        !subresource.is_empty()
            && r.len() == subresource.len() + 2
            && r.starts_with("*/")
            && r.ends_with(subresource)
    })
}

pub fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    let names = list(&rule.resource_names);
    names.is_empty() || names.iter().any(|n| n == name)
}

pub fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    list(&rule.non_resource_urls).iter().any(|u| {
        u == "*" || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
    })
}

/// Upstream `RuleAllows`.
pub fn rule_allows(attributes: &Attributes<'_>, rule: &PolicyRule) -> bool {
    match attributes.non_resource_path {
        None => {
            let combined;
            let resource = if attributes.subresource.is_empty() {
                attributes.resource
            } else {
                combined = format!("{}/{}", attributes.resource, attributes.subresource);
                combined.as_str()
            };
            verb_matches(rule, attributes.verb)
                && api_group_matches(rule, attributes.api_group)
                && resource_matches(rule, resource, attributes.subresource)
                && resource_name_matches(rule, attributes.name)
        }
        Some(path) => verb_matches(rule, attributes.verb) && non_resource_url_matches(rule, path),
    }
}
