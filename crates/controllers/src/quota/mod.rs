//! ResourceQuota controller (`pkg/controller/resourcequota/resource_quota_controller.go`):
//! keeps every quota's `status.hard` equal to `spec.hard` and `status.used` equal to what
//! the namespace's objects consume, recalculated in full from the cache.
//!
//! - A quota is synced when it is added, when its `spec.hard` changes or its status lacks
//!   usage, and again every resync period (upstream `--resource-quota-sync-period`, 5 min).
//! - An object event of a kind a quota tracks (an add, a delete, a pod turning terminal or
//!   starting deletion, a claim resized) queues the namespace's quotas that track it —
//!   upstream's replenishment, extended to adds so usage is exact even for objects stored
//!   without admission.
//! - A pod counts for compute until its deletion grace period ends; the sync requeues
//!   itself for that moment so usage drops on time.
//! - The status write carries the quota's resourceVersion: a concurrent admission charge
//!   makes it conflict, and the retry recalculates.
//!
//! Upstream also has a priority queue for quotas missing usage; Corral's single queue
//! serves them in arrival order.
//!
//! The usage rules (which quota resource names a kind consumes, how much one object
//! consumes, which scopes it falls under) are the ResourceQuota admission plugin's:
//! [`corral_registry::admission::quota::evaluator`], one implementation for charging and
//! for recalculation.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use corral_api::resource::resource_of;
use corral_api::{KubeObject, ObjectKey, Quantity, ResourceKind};
use corral_core::{
    Action, ChangeKind, Enqueue, ObjectCache, ObjectEvent, Outcome, Plan, QueueConfig, RateLimiter,
    Reconciler, Subresource, SyncResult, Timestamp,
};
use k8s_openapi::api::core::v1::{Pod, ResourceQuota, ResourceQuotaStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;

use corral_registry::admission::quota::evaluator::{
    Evaluator, Usage, evaluator_for, pod_counts_for_compute, scope_selectors,
};

/// Settings of the quota controller.
#[derive(Clone, Debug)]
pub struct ResourceQuotaConfig {
    /// `--concurrent-resource-quota-syncs`, default 5.
    pub workers: usize,
    /// `--resource-quota-sync-period`, default 5 min: full recalculation of every quota.
    pub resync_period: Duration,
}

impl Default for ResourceQuotaConfig {
    fn default() -> Self {
        ResourceQuotaConfig {
            workers: 5,
            resync_period: Duration::from_secs(300),
        }
    }
}

/// The kinds whose objects quota can count (namespaced, stored, not events).
const QUOTA_KINDS: &[ResourceKind] = &[
    ResourceKind::ResourceQuota,
    ResourceKind::Pod,
    ResourceKind::ServiceAccount,
    ResourceKind::PersistentVolumeClaim,
    ResourceKind::LimitRange,
    ResourceKind::ConfigMap,
    ResourceKind::Secret,
    ResourceKind::Job,
    ResourceKind::CronJob,
    ResourceKind::Lease,
    ResourceKind::Role,
    ResourceKind::RoleBinding,
    ResourceKind::PodDisruptionBudget,
];

/// The controller core. Its only state is the error of a sync that could not compute
/// usage, held until `handle_outcomes` turns it into a retry.
#[derive(Debug)]
pub struct ResourceQuotaController {
    config: ResourceQuotaConfig,
    errors: BTreeMap<ObjectKey, String>,
}

impl ResourceQuotaController {
    pub fn new(config: ResourceQuotaConfig) -> Self {
        assert!(config.workers > 0, "a controller needs at least one worker");
        ResourceQuotaController {
            config,
            errors: BTreeMap::new(),
        }
    }
}

impl Default for ResourceQuotaController {
    fn default() -> Self {
        ResourceQuotaController::new(ResourceQuotaConfig::default())
    }
}

fn parse_list(list: Option<&BTreeMap<String, WireQuantity>>) -> Result<Usage, String> {
    let mut out = Usage::new();
    for (name, value) in list.into_iter().flatten() {
        let q = Quantity::parse(&value.0).map_err(|e| format!("{name}={:?}: {e}", value.0))?;
        out.insert(name.clone(), q);
    }
    Ok(out)
}

fn hard_names(quota: &ResourceQuota) -> Vec<&str> {
    let spec = quota.spec.as_ref().and_then(|s| s.hard.as_ref());
    let status = quota.status.as_ref().and_then(|s| s.hard.as_ref());
    let mut names: Vec<&str> = spec
        .into_iter()
        .chain(status)
        .flat_map(|h| h.keys().map(String::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Whether an update of `object` can change what it consumes.
fn usage_may_change(previous: Option<&KubeObject>, object: &KubeObject, now: Timestamp) -> bool {
    let Some(previous) = previous else {
        return true;
    };
    match (previous, object) {
        (KubeObject::Pod(old), KubeObject::Pod(new)) => {
            pod_counts_for_compute(old, now) != pod_counts_for_compute(new, now)
                || old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
                || old
                    .spec
                    .as_ref()
                    .map(|s| (s.active_deadline_seconds, &s.priority_class_name))
                    != new
                        .spec
                        .as_ref()
                        .map(|s| (s.active_deadline_seconds, &s.priority_class_name))
        }
        (KubeObject::PersistentVolumeClaim(old), KubeObject::PersistentVolumeClaim(new)) => {
            old.spec != new.spec
        }
        _ => false,
    }
}

/// Upstream `CalculateUsage` for one quota: every tracked resource, zero when nothing
/// consumes it. Also returns when a terminating pod stops counting, if one does later.
fn calculate_usage(
    cache: &ObjectCache,
    quota: &ResourceQuota,
    hard: &[&str],
    now: Timestamp,
) -> Result<(Usage, Option<Timestamp>), String> {
    let namespace = quota.metadata.namespace.as_deref().unwrap_or("");
    let selectors = scope_selectors(quota);
    let mut used = Usage::new();
    let mut next_change: Option<Timestamp> = None;
    for kind in QUOTA_KINDS {
        let Some(evaluator) = evaluator_for(resource_of(*kind)) else {
            continue;
        };
        let tracked = evaluator.matching_resources(hard.iter().copied());
        if tracked.is_empty() {
            continue;
        }
        for name in &tracked {
            used.insert(name.clone(), Quantity::ZERO);
        }
        for object in cache.list_namespace(*kind, namespace) {
            if !selectors.iter().all(|s| evaluator.matches_scope(s, object)) {
                continue;
            }
            let consumed = evaluator.usage(object, now)?;
            for name in &tracked {
                if let Some(q) = consumed.get(name) {
                    used.get_mut(name).expect("initialised").add(q);
                }
            }
            if evaluator == Evaluator::Pods
                && let Some(until) = object.as_typed::<Pod>().and_then(|p| grace_end(p, now))
            {
                next_change = Some(next_change.map_or(until, |t| t.min(until)));
            }
        }
    }
    Ok((used, next_change))
}

/// When a pod being deleted stops counting for compute, if that is still ahead.
fn grace_end(pod: &Pod, now: Timestamp) -> Option<Timestamp> {
    let deleted = pod.metadata.deletion_timestamp.as_ref()?;
    let grace = pod.metadata.deletion_grace_period_seconds?;
    let end = deleted
        .0
        .checked_add(jiff::SignedDuration::from_secs(grace))
        .ok()?;
    // `QuotaV1Pod` drops the pod once `now` is strictly after the end.
    (end >= now && pod_counts_for_compute(pod, now)).then(|| {
        end.checked_add(jiff::SignedDuration::from_secs(1))
            .unwrap_or(end)
    })
}

fn same_quantities(a: &Usage, b: Option<&BTreeMap<String, WireQuantity>>) -> bool {
    match parse_list(b) {
        Ok(b) => *a == b,
        Err(_) => false,
    }
}

impl Reconciler for ResourceQuotaController {
    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            name: "resourcequota_primary",
            workers: self.config.workers,
            rate_limiter: RateLimiter::default_controller(),
        }
    }

    fn watched_kinds(&self) -> &'static [ResourceKind] {
        QUOTA_KINDS
    }

    fn handle_event(
        &mut self,
        event: &ObjectEvent,
        previous: Option<&KubeObject>,
        cache: &ObjectCache,
        now: Timestamp,
    ) -> Vec<Enqueue> {
        let object = &event.object;
        if let Some(quota) = object.as_typed::<ResourceQuota>() {
            let old_hard = previous
                .and_then(|p| p.as_typed::<ResourceQuota>())
                .and_then(|q| q.spec.as_ref().map(|s| s.hard.clone()));
            let spec_hard = quota.spec.as_ref().map(|s| s.hard.clone());
            let status = quota.status.as_ref();
            let missing_usage = status.is_none_or(|s| s.hard.is_none() || s.used.is_none())
                || status.and_then(|s| s.hard.clone()) != spec_hard.clone().flatten();
            let wanted = match event.change {
                ChangeKind::Added | ChangeKind::Deleted => true,
                ChangeKind::Modified => old_hard != spec_hard || missing_usage,
            };
            return if wanted {
                vec![Enqueue::now(object.key())]
            } else {
                Vec::new()
            };
        }
        if event.change == ChangeKind::Modified && !usage_may_change(previous, object, now) {
            return Vec::new();
        }
        let Some(evaluator) = evaluator_for(resource_of(object.kind())) else {
            return Vec::new();
        };
        cache
            .list_namespace(ResourceKind::ResourceQuota, object.namespace())
            .filter_map(|q| q.as_typed::<ResourceQuota>())
            .filter(|q| !evaluator.matching_resources(hard_names(q)).is_empty())
            .map(|q| {
                Enqueue::now(ObjectKey::new(
                    ResourceKind::ResourceQuota,
                    q.metadata.namespace.as_deref().unwrap_or(""),
                    q.metadata.name.as_deref().unwrap_or(""),
                ))
            })
            .collect()
    }

    /// Upstream `syncResourceQuota`.
    fn reconcile(&mut self, cache: &ObjectCache, key: &ObjectKey, now: Timestamp) -> Plan {
        self.errors.remove(key);
        let Some(quota) = cache.get_typed::<ResourceQuota>(&key.namespace, &key.name) else {
            return Plan::empty();
        };
        let spec_hard = quota
            .spec
            .as_ref()
            .and_then(|s| s.hard.clone())
            .unwrap_or_default();
        let hard = match parse_list(Some(&spec_hard)) {
            Ok(h) => h,
            Err(e) => {
                self.errors
                    .insert(key.clone(), format!("resourcequota {key}: {e}"));
                return Plan::empty();
            }
        };
        let names: Vec<&str> = hard.keys().map(String::as_str).collect();
        let (computed, next_change) = match calculate_usage(cache, quota, &names, now) {
            Ok(c) => c,
            Err(e) => {
                self.errors
                    .insert(key.clone(), format!("resourcequota {key}: {e}"));
                return Plan::empty();
            }
        };
        // Past observations are kept for resources no evaluator computes; then masked.
        let status = quota.status.as_ref();
        let mut used = parse_list(status.and_then(|s| s.used.as_ref())).unwrap_or_default();
        used.extend(computed);
        used.retain(|name, _| hard.contains_key(name));
        let dirty = status.is_none_or(|s| s.hard.is_none() || s.used.is_none())
            || !same_quantities(&hard, status.and_then(|s| s.hard.as_ref()))
            || !same_quantities(&used, status.and_then(|s| s.used.as_ref()));
        let mut plan = Plan::requeue(self.config.resync_period);
        if let Some(at) = next_change {
            plan.requeue_at_most(corral_core::clock::since(at, now));
        }
        if dirty {
            let mut updated = quota.clone();
            updated.status = Some(ResourceQuotaStatus {
                hard: Some(spec_hard),
                used: Some(used.iter().map(|(k, v)| (k.clone(), v.to_wire())).collect()),
            });
            plan.push(Action::Update {
                object: KubeObject::ResourceQuota(updated),
                subresource: Subresource::Status,
            });
        }
        plan
    }

    fn handle_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        _: Timestamp,
    ) -> SyncResult {
        if let Some(error) = self.errors.remove(key) {
            return SyncResult::Retry { reason: error };
        }
        if let Some(error) = outcomes.iter().find_map(Outcome::error) {
            if error.is_not_found() {
                return SyncResult::Done {
                    requeue_after: None,
                };
            }
            return SyncResult::Retry {
                reason: format!("error updating resource quota {key}: {error}"),
            };
        }
        SyncResult::Done {
            requeue_after: plan.requeue_after,
        }
    }
}
