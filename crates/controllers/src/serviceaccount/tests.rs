//! ServiceAccounts controller tests.
//!
//! Goal: every active namespace gets `default`, recreated after a delete; terminating
//! namespaces are left alone; benign create errors are not retried. Method: a
//! [`TestCluster`] and direct calls of the reconciler's entry points.

use corral_api::status::ErrorCause;
use corral_api::{ApiError, GroupResource, KubeObject, ObjectKey, ResourceKind};
use corral_core::{Outcome, Reconciler, SyncResult};
use k8s_openapi::api::core::v1::{Namespace, NamespaceStatus, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::ServiceAccountsController;
use crate::testing::TestCluster;

fn t0() -> corral_core::Timestamp {
    corral_core::clock::epoch()
}

fn namespace(name: &str, phase: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        status: Some(NamespaceStatus {
            phase: Some(phase.into()),
            ..NamespaceStatus::default()
        }),
        ..Namespace::default()
    }
}

fn ns_key(name: &str) -> ObjectKey {
    ObjectKey::cluster(ResourceKind::Namespace, name)
}

#[test]
fn a_new_namespace_gets_its_default_account_once() {
    let mut cluster = TestCluster::new();
    let mut controller = ServiceAccountsController::default();
    let event = cluster.put(namespace("team", "Active").into(), t0());
    let queued = controller.handle_event(&event, None, &cluster.cache, t0());
    assert_eq!(queued[0].key, ns_key("team"));
    let plan = controller.reconcile(&cluster.cache, &ns_key("team"), t0());
    assert_eq!(plan.action_count(), 1);
    let (outcomes, _) = cluster.execute(&plan, t0());
    assert_eq!(
        controller.handle_outcomes(&ns_key("team"), &plan, &outcomes, t0()),
        SyncResult::Done {
            requeue_after: None
        }
    );
    assert!(
        cluster
            .cache
            .get_typed::<ServiceAccount>("team", "default")
            .is_some()
    );
    assert_eq!(
        controller
            .reconcile(&cluster.cache, &ns_key("team"), t0())
            .action_count(),
        0
    );
}

#[test]
fn a_deleted_default_account_is_recreated() {
    let mut cluster = TestCluster::new();
    let mut controller = ServiceAccountsController::default();
    cluster.put(namespace("team", "Active").into(), t0());
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("default".into()),
            namespace: Some("team".into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    cluster.put(KubeObject::ServiceAccount(sa), t0());
    let deleted = cluster
        .remove(&ObjectKey::new(
            ResourceKind::ServiceAccount,
            "team",
            "default",
        ))
        .unwrap();
    let queued = controller.handle_event(&deleted, None, &cluster.cache, t0());
    assert_eq!(queued[0].key, ns_key("team"));
    assert_eq!(
        controller
            .reconcile(&cluster.cache, &ns_key("team"), t0())
            .action_count(),
        1
    );
}

#[test]
fn terminating_namespaces_and_benign_errors_are_left_alone() {
    let mut cluster = TestCluster::new();
    let mut controller = ServiceAccountsController::default();
    cluster.put(namespace("going", "Terminating").into(), t0());
    assert_eq!(
        controller
            .reconcile(&cluster.cache, &ns_key("going"), t0())
            .action_count(),
        0
    );
    assert_eq!(
        controller
            .reconcile(&cluster.cache, &ns_key("missing"), t0())
            .action_count(),
        0
    );

    cluster.put(namespace("team", "Active").into(), t0());
    let plan = controller.reconcile(&cluster.cache, &ns_key("team"), t0());
    let sa = GroupResource::new("", "serviceaccounts");
    let exists = Outcome::Failed(ApiError::already_exists(&sa, "default"));
    assert_eq!(
        controller.handle_outcomes(&ns_key("team"), &plan, &[exists], t0()),
        SyncResult::Done {
            requeue_after: None
        }
    );
    let terminating = Outcome::Failed(
        ApiError::forbidden(
            &sa,
            "default",
            "unable to create new content in namespace team because it is being terminated",
        )
        .with_causes(vec![ErrorCause {
            reason: "NamespaceTerminating".into(),
            message: "namespace team is being terminated".into(),
            field: "metadata.namespace".into(),
        }]),
    );
    assert_eq!(
        controller.handle_outcomes(&ns_key("team"), &plan, &[terminating], t0()),
        SyncResult::Done {
            requeue_after: None
        }
    );
    let other = Outcome::Failed(ApiError::internal("etcd is sad"));
    assert!(matches!(
        controller.handle_outcomes(&ns_key("team"), &plan, &[other], t0()),
        SyncResult::Retry { .. }
    ));
}
