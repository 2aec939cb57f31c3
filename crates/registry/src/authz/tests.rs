//! Goal: the authorizer decides as upstream's RBAC does. Method: table tests over a
//! [`StaticRbac`] holding the bootstrap policy plus per-test roles and bindings; the
//! wildcard cases follow upstream's `rbac_test.go`/`evaluation_helpers_test.go`.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;

fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(Into::into),
        ..ObjectMeta::default()
    }
}

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
        resources: Some(resources.iter().map(|s| s.to_string()).collect()),
        ..PolicyRule::default()
    }
}

fn subject(kind: &str, name: &str, namespace: Option<&str>) -> Subject {
    Subject {
        api_group: None,
        kind: kind.into(),
        name: name.into(),
        namespace: namespace.map(Into::into),
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: kind.into(),
        name: name.into(),
    }
}

fn role_binding(namespace: &str, name: &str, role: RoleRef, subjects: Vec<Subject>) -> RoleBinding {
    RoleBinding {
        metadata: meta(Some(namespace), name),
        role_ref: role,
        subjects: Some(subjects),
    }
}

fn user(name: &str) -> UserInfo {
    UserInfo::new(name, &[user::ALL_AUTHENTICATED])
}

fn can(
    policy: &StaticRbac,
    who: &UserInfo,
    verb: &str,
    group: &str,
    resource: &str,
    ns: &str,
) -> bool {
    authorize(
        &Attributes::resource(who, verb, group, resource, ns, ""),
        policy,
    )
    .is_allowed()
}

#[test]
fn a_namespace_admin_can_do_everything_in_its_namespace_and_nothing_elsewhere() {
    let mut policy = StaticRbac::with_bootstrap();
    policy.role_bindings.push(role_binding(
        "team-a",
        "alice-admin",
        role_ref("ClusterRole", "admin"),
        vec![subject("User", "alice", None)],
    ));
    let alice = user("alice");
    for verb in [
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
    ] {
        for (group, resource) in [
            ("batch", "jobs"),
            ("batch", "cronjobs"),
            ("", "pods"),
            ("", "configmaps"),
            ("", "secrets"),
        ] {
            assert!(
                can(&policy, &alice, verb, group, resource, "team-a"),
                "{verb} {resource} in team-a"
            );
            assert!(
                !can(&policy, &alice, verb, group, resource, "team-b"),
                "{verb} {resource} in team-b"
            );
            assert!(
                !can(&policy, &alice, verb, group, resource, ""),
                "{verb} {resource} cluster-wide"
            );
        }
    }
    assert!(can(
        &policy,
        &alice,
        "create",
        "rbac.authorization.k8s.io",
        "rolebindings",
        "team-a"
    ));
    // Quota and limits are the cluster operator's: admin may only read them.
    assert!(can(&policy, &alice, "get", "", "resourcequotas", "team-a"));
    assert!(!can(
        &policy,
        &alice,
        "update",
        "",
        "resourcequotas",
        "team-a"
    ));
    assert!(!can(&policy, &alice, "create", "", "limitranges", "team-a"));
    // Status subresources are the controllers'.
    let status = Attributes::resource(&alice, "update", "batch", "jobs", "team-a", "j")
        .with_subresource("status");
    assert!(!authorize(&status, &policy).is_allowed());
}

#[test]
fn a_user_with_a_namespaced_role_gets_exactly_its_rules() {
    let mut policy = StaticRbac::default();
    policy.roles.push(Role {
        metadata: meta(Some("team-a"), "job-runner"),
        rules: Some(vec![rule(&["*"], &["batch"], &["jobs"])]),
    });
    policy.role_bindings.push(role_binding(
        "team-a",
        "bob-runs-jobs",
        role_ref("Role", "job-runner"),
        vec![subject("User", "bob", None)],
    ));
    let bob = user("bob");
    let decision = authorize(
        &Attributes::resource(&bob, "create", "batch", "jobs", "team-a", ""),
        &policy,
    );
    assert_eq!(
        decision,
        Decision::Allow(
            "RBAC: allowed by RoleBinding \"bob-runs-jobs/team-a\" of Role \"job-runner\" to User \"bob\"".into()
        )
    );
    assert!(!can(&policy, &bob, "create", "batch", "cronjobs", "team-a"));
    assert!(
        !can(&policy, &bob, "create", "", "jobs", "team-a"),
        "the group must match"
    );
    assert!(!can(&policy, &bob, "watch", "batch", "jobs", "team-b"));
}

#[test]
fn bootstrap_roles_grant_what_upstream_grants() {
    let mut policy = StaticRbac::with_bootstrap();
    for (name, role) in [("viewer", "view"), ("editor", "edit")] {
        policy.role_bindings.push(role_binding(
            "ns",
            name,
            role_ref("ClusterRole", role),
            vec![subject("User", name, None)],
        ));
    }
    let viewer = user("viewer");
    let editor = user("editor");
    assert!(can(&policy, &viewer, "watch", "batch", "jobs", "ns"));
    assert!(can(&policy, &viewer, "get", "", "pods", "ns"));
    assert!(
        !can(&policy, &viewer, "get", "", "secrets", "ns"),
        "view cannot read secrets"
    );
    assert!(!can(&policy, &viewer, "create", "batch", "jobs", "ns"));
    let log = Attributes::resource(&viewer, "get", "", "pods", "ns", "p").with_subresource("log");
    assert!(authorize(&log, &policy).is_allowed());
    assert!(can(&policy, &editor, "create", "batch", "jobs", "ns"));
    assert!(can(&policy, &editor, "get", "", "secrets", "ns"));
    assert!(
        can(&policy, &editor, "list", "", "pods", "ns"),
        "edit includes view"
    );
    assert!(!can(
        &policy,
        &editor,
        "create",
        "rbac.authorization.k8s.io",
        "roles",
        "ns"
    ));

    let admin = UserInfo::new(
        "root",
        &[user::SYSTEM_PRIVILEGED_GROUP, user::ALL_AUTHENTICATED],
    );
    assert!(can(&policy, &admin, "delete", "", "nodes", ""));
    assert!(
        authorize(
            &Attributes::non_resource(&admin, "get", "/metrics"),
            &policy
        )
        .is_allowed()
    );
    // The cluster-admin binding alone allows masters too (RBAC without the shortcut).
    assert!(
        authorize_rbac(
            &Attributes::resource(&admin, "delete", "", "nodes", "", "n"),
            &policy
        )
        .is_allowed()
    );

    let anybody = user("carol");
    let sar = Attributes::resource(
        &anybody,
        "create",
        "authorization.k8s.io",
        "selfsubjectaccessreviews",
        "",
        "",
    );
    assert!(authorize(&sar, &policy).is_allowed());
    let ssrr = Attributes::resource(
        &anybody,
        "create",
        "authorization.k8s.io",
        "selfsubjectrulesreviews",
        "",
        "",
    );
    assert!(authorize(&ssrr, &policy).is_allowed());
    assert!(
        authorize(
            &Attributes::non_resource(&anybody, "get", "/apis/batch/v1"),
            &policy
        )
        .is_allowed()
    );
    assert!(authorize(&Attributes::non_resource(&anybody, "get", "/api"), &policy).is_allowed());
    assert!(
        !authorize(
            &Attributes::non_resource(&anybody, "get", "/metrics"),
            &policy
        )
        .is_allowed()
    );
    assert!(!can(&policy, &anybody, "list", "", "namespaces", ""));

    let anonymous = UserInfo::new(user::ANONYMOUS, &[user::ALL_UNAUTHENTICATED]);
    assert!(
        authorize(
            &Attributes::non_resource(&anonymous, "get", "/version"),
            &policy
        )
        .is_allowed()
    );
    assert!(
        !authorize(
            &Attributes::non_resource(&anonymous, "get", "/apis"),
            &policy
        )
        .is_allowed()
    );
}

#[test]
fn wildcards_subresources_and_names_match_as_upstream() {
    let bob = user("bob");
    let attrs = |verb: &'static str,
                 resource: &'static str,
                 sub: &'static str,
                 name: &'static str| { (verb, resource, sub, name) };
    let cases: Vec<(PolicyRule, (&str, &str, &str, &str), bool)> = vec![
        (
            rule(&["*"], &["*"], &["*"]),
            attrs("get", "pods", "", ""),
            true,
        ),
        (
            rule(&["*"], &["*"], &["*"]),
            attrs("create", "pods", "status", ""),
            true,
        ),
        (
            rule(&["get"], &[""], &["pods"]),
            attrs("get", "pods", "status", ""),
            false,
        ),
        (
            rule(&["get"], &[""], &["pods/status"]),
            attrs("get", "pods", "status", ""),
            true,
        ),
        (
            rule(&["get"], &[""], &["*/status"]),
            attrs("get", "pods", "status", ""),
            true,
        ),
        (
            rule(&["get"], &[""], &["*/status"]),
            attrs("get", "pods", "", ""),
            false,
        ),
        (
            rule(&["get"], &[""], &["*/status"]),
            attrs("get", "pods", "log", ""),
            false,
        ),
        // `pods/*` is not a wildcard in RBAC (unlike webhook rules).
        (
            rule(&["get"], &[""], &["pods/*"]),
            attrs("get", "pods", "log", ""),
            false,
        ),
        (
            rule(&["watch"], &[""], &["pods"]),
            attrs("get", "pods", "", ""),
            false,
        ),
        (
            PolicyRule {
                resource_names: Some(vec!["only".into()]),
                ..rule(&["get", "list"], &[""], &["pods"])
            },
            attrs("get", "pods", "", "only"),
            true,
        ),
        (
            PolicyRule {
                resource_names: Some(vec!["only".into()]),
                ..rule(&["get", "list"], &[""], &["pods"])
            },
            attrs("get", "pods", "", "other"),
            false,
        ),
        (
            PolicyRule {
                resource_names: Some(vec!["only".into()]),
                ..rule(&["get", "list"], &[""], &["pods"])
            },
            attrs("list", "pods", "", ""),
            false,
        ),
    ];
    for (i, (r, (verb, resource, sub, name), expected)) in cases.into_iter().enumerate() {
        let a = Attributes::resource(&bob, verb, "", resource, "ns", name).with_subresource(sub);
        assert_eq!(rule_allows(&a, &r), expected, "case {i}");
    }
    let urls = PolicyRule {
        non_resource_urls: Some(vec!["/api/*".into(), "/healthz".into()]),
        verbs: vec!["get".into()],
        ..PolicyRule::default()
    };
    for (path, expected) in [
        ("/api/v1", true),
        ("/api/", true),
        ("/api", false),
        ("/healthz", true),
        ("/healthz/x", false),
    ] {
        assert_eq!(
            rule_allows(&Attributes::non_resource(&bob, "get", path), &urls),
            expected,
            "{path}"
        );
    }
    assert!(!rule_allows(
        &Attributes::non_resource(&bob, "post", "/api/v1"),
        &urls
    ));
}

#[test]
fn service_account_subjects_default_to_the_binding_namespace() {
    let mut policy = StaticRbac::with_bootstrap();
    policy.role_bindings.push(role_binding(
        "ns",
        "sa-view",
        role_ref("ClusterRole", "view"),
        vec![subject("ServiceAccount", "robot", None)],
    ));
    let robot = UserInfo::new(
        "system:serviceaccount:ns:robot",
        &["system:serviceaccounts"],
    );
    let other = UserInfo::new(
        "system:serviceaccount:other:robot",
        &["system:serviceaccounts"],
    );
    assert!(can(&policy, &robot, "list", "", "pods", "ns"));
    assert!(!can(&policy, &other, "list", "", "pods", "ns"));
}

#[test]
fn a_missing_role_is_no_opinion_with_the_resolution_error() {
    let mut policy = StaticRbac::default();
    policy.cluster_role_bindings.push(ClusterRoleBinding {
        metadata: meta(None, "dangling"),
        role_ref: role_ref("ClusterRole", "gone"),
        subjects: Some(vec![subject("User", "bob", None)]),
    });
    let bob = user("bob");
    let attrs = Attributes::resource(&bob, "get", "batch", "jobs", "team-b", "j");
    let decision = authorize(&attrs, &policy);
    assert_eq!(
        decision,
        Decision::NoOpinion(
            "RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found".into()
        )
    );
    let error = forbidden_error(&attrs, &decision);
    assert_eq!(error.code, 403);
    assert_eq!(
        error.message,
        "jobs.batch \"j\" is forbidden: User \"bob\" cannot get resource \"jobs\" in API group \"batch\" in the namespace \"team-b\": RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found"
    );
    let list = Attributes::resource(&bob, "list", "", "pods", "", "");
    assert_eq!(
        forbidden_error(&list, &Decision::NoOpinion(String::new())).message,
        "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
    );
    let path = Attributes::non_resource(&bob, "get", "/metrics");
    assert_eq!(
        forbidden_error(&path, &Decision::NoOpinion(String::new())).message,
        "forbidden: User \"bob\" cannot get path \"/metrics\""
    );
}

#[test]
fn roles_labelled_for_aggregation_extend_the_bootstrap_roles() {
    let mut policy = StaticRbac::with_bootstrap();
    policy.cluster_roles.push(ClusterRole {
        metadata: ObjectMeta {
            name: Some("leases-view".into()),
            labels: Some(BTreeMap::from([(
                bootstrap::AGGREGATE_TO_VIEW.to_string(),
                "true".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        rules: Some(vec![rule(&["get"], &["coordination.k8s.io"], &["leases"])]),
        aggregation_rule: None,
    });
    policy.role_bindings.push(role_binding(
        "ns",
        "a",
        role_ref("ClusterRole", "admin"),
        vec![subject("Group", "ops", None)],
    ));
    let ops = UserInfo::new("dave", &["ops"]);
    assert!(
        can(&policy, &ops, "get", "coordination.k8s.io", "leases", "ns"),
        "view → edit → admin"
    );
}

#[test]
fn rules_review_lists_cluster_and_namespace_rules() {
    let mut policy = StaticRbac::with_bootstrap();
    policy.role_bindings.push(role_binding(
        "ns",
        "v",
        role_ref("ClusterRole", "view"),
        vec![subject("User", "erin", None)],
    ));
    let erin = user("erin");
    let review = rules_for(&erin, "ns", &policy);
    assert!(
        review
            .resource_rules
            .iter()
            .any(|r| r.resources.contains(&"jobs".to_string()))
    );
    assert!(review.resource_rules.iter().any(|r| {
        r.resources
            .contains(&"selfsubjectaccessreviews".to_string())
    }));
    assert!(
        review
            .non_resource_rules
            .iter()
            .any(|r| r.non_resource_urls.contains(&"/api".to_string()))
    );
    assert!(review.evaluation_error.is_empty());
    let elsewhere = rules_for(&erin, "other", &policy);
    assert!(
        !elsewhere
            .resource_rules
            .iter()
            .any(|r| r.resources.contains(&"jobs".to_string()))
    );
}

#[test]
fn rules_with_unknown_verbs_are_rejected_with_their_path() {
    let rules = vec![
        rule(&["get", "gett"], &[""], &["pods"]),
        PolicyRule {
            non_resource_urls: Some(vec!["/healthz".into()]),
            verbs: vec!["list".into()],
            ..PolicyRule::default()
        },
    ];
    let errors = validate_rules(&rules, &FieldPath::root("rules"));
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].path, "rules[0].verbs[1]");
    assert!(
        errors[0]
            .to_string()
            .starts_with("rules[0].verbs[1]: Unsupported value: \"gett\": supported values: \"*\"")
    );
    assert_eq!(errors[1].path, "rules[1].verbs[0]");
    assert!(
        validate_rules(
            &bootstrap::cluster_roles()
                .iter()
                .flat_map(|r| r.rules.clone().unwrap_or_default())
                .collect::<Vec<_>>(),
            &FieldPath::root("rules")
        )
        .is_empty()
    );
}
