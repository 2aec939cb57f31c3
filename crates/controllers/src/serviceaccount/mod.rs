//! ServiceAccounts controller (`pkg/controller/serviceaccount/serviceaccounts_controller.go`):
//! makes sure every active namespace has the `default` ServiceAccount, creating it when a
//! namespace appears and again when it is deleted.
//!
//! - Keys are namespaces. A namespace add or update queues it; a ServiceAccount delete
//!   queues its namespace.
//! - A sync of an active namespace creates each missing account of the configured set
//!   (upstream: just `default`). Terminating namespaces are left alone, and their
//!   "being terminated" refusal is not an error; `AlreadyExists` is not either.
//! - One worker, like kube-controller-manager runs it.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::{
    Action, ChangeKind, Enqueue, ObjectCache, ObjectEvent, Outcome, Plan, QueueConfig, RateLimiter,
    Reconciler, SyncResult, Timestamp,
};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Settings of the ServiceAccounts controller.
#[derive(Clone, Debug)]
pub struct ServiceAccountsConfig {
    /// The accounts every active namespace gets (upstream: `default`).
    pub accounts: Vec<String>,
    pub workers: usize,
}

impl Default for ServiceAccountsConfig {
    fn default() -> Self {
        ServiceAccountsConfig {
            accounts: vec!["default".to_string()],
            workers: 1,
        }
    }
}

/// The controller core; stateless between syncs.
#[derive(Debug)]
pub struct ServiceAccountsController {
    config: ServiceAccountsConfig,
}

impl ServiceAccountsController {
    pub fn new(config: ServiceAccountsConfig) -> Self {
        assert!(config.workers > 0, "a controller needs at least one worker");
        ServiceAccountsController { config }
    }
}

impl Default for ServiceAccountsController {
    fn default() -> Self {
        ServiceAccountsController::new(ServiceAccountsConfig::default())
    }
}

fn namespace_key(name: &str) -> ObjectKey {
    ObjectKey::cluster(ResourceKind::Namespace, name)
}

impl Reconciler for ServiceAccountsController {
    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            name: "serviceaccount",
            workers: self.config.workers,
            rate_limiter: RateLimiter::default_controller(),
        }
    }

    fn watched_kinds(&self) -> &'static [ResourceKind] {
        &[ResourceKind::Namespace, ResourceKind::ServiceAccount]
    }

    fn handle_event(
        &mut self,
        event: &ObjectEvent,
        _: Option<&KubeObject>,
        _: &ObjectCache,
        _: Timestamp,
    ) -> Vec<Enqueue> {
        match (event.object.kind(), event.change) {
            (ResourceKind::Namespace, ChangeKind::Added | ChangeKind::Modified) => {
                vec![Enqueue::now(namespace_key(event.object.name()))]
            }
            (ResourceKind::ServiceAccount, ChangeKind::Deleted)
                if self
                    .config
                    .accounts
                    .iter()
                    .any(|a| a == event.object.name()) =>
            {
                vec![Enqueue::now(namespace_key(event.object.namespace()))]
            }
            _ => Vec::new(),
        }
    }

    /// Upstream `syncNamespace`.
    fn reconcile(&mut self, cache: &ObjectCache, key: &ObjectKey, _: Timestamp) -> Plan {
        let Some(namespace) = cache.get_typed::<Namespace>("", &key.name) else {
            return Plan::empty();
        };
        let active = namespace.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Active");
        if !active {
            return Plan::empty();
        }
        let mut plan = Plan::empty();
        let creates: Vec<Action> = self
            .config
            .accounts
            .iter()
            .filter(|name| cache.get_typed::<ServiceAccount>(&key.name, name).is_none())
            .map(|name| Action::Create {
                object: KubeObject::ServiceAccount(ServiceAccount {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(key.name.clone()),
                        ..ObjectMeta::default()
                    },
                    ..ServiceAccount::default()
                }),
            })
            .collect();
        plan.then(creates);
        plan
    }

    fn handle_outcomes(
        &mut self,
        key: &ObjectKey,
        _: &Plan,
        outcomes: &[Outcome],
        _: Timestamp,
    ) -> SyncResult {
        let failures: Vec<String> = outcomes
            .iter()
            .filter_map(Outcome::error)
            .filter(|e| !e.is_already_exists() && !is_namespace_terminating(e))
            .map(|e| e.message.clone())
            .collect();
        if failures.is_empty() {
            return SyncResult::Done {
                requeue_after: None,
            };
        }
        let mut unique: BTreeMap<String, ()> = BTreeMap::new();
        for f in failures {
            unique.insert(f, ());
        }
        let messages: Vec<String> = unique.into_keys().collect();
        SyncResult::Retry {
            reason: format!("{} failed with : {}", key.name, messages.join(", ")),
        }
    }
}

/// `apierrors.HasStatusCause(err, NamespaceTerminatingCause)`.
fn is_namespace_terminating(error: &corral_api::ApiError) -> bool {
    error
        .details
        .as_ref()
        .is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
}
