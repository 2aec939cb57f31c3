//! `manageJob`: how many pods a running Job should have, and which to delete or create.
//!
//! A suspended Job loses all its active pods. Otherwise `wantActive` is `parallelism`
//! (work-queue Jobs: until the first success, then whatever runs), or
//! `min(parallelism, completions − succeeded)`. Surplus pods are deleted in
//! `controller.ActivePods` order (Indexed Jobs first drop duplicate and out-of-range
//! indexes); missing ones are created once the pod-failure backoff allows, at most
//! `max_pod_create_delete_per_sync` per sync. Deletion and creation never happen in the
//! same sync. The decision is data; the caller raises expectations and builds the plan.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;

use super::JobControllerConfig;
use super::backoff::remaining_time_per_index;
use super::indexed;
use super::pods;
use super::sync::SyncContext;

/// What `manageJob` decided.
#[derive(Debug, Default)]
pub(crate) struct ManageDecision<'a> {
    /// Active pods to delete (finalizer removed first, so they are not counted as failed).
    pub deletes: Vec<&'a Pod>,
    /// Pods to create: one entry per pod, the completion index for Indexed Jobs.
    pub creates: Vec<Option<i64>>,
    /// Sync again after this (the pod-failure backoff has time left).
    pub requeue_after: Option<Duration>,
}

pub(crate) fn manage_job<'a>(
    config: &JobControllerConfig,
    ctx: &SyncContext<'a>,
) -> ManageDecision<'a> {
    let view = &ctx.view;
    let active = ctx.active_pods.len() as i64;
    let max_per_sync = config.max_pod_create_delete_per_sync;
    if view.suspended {
        let mut deletes = active_pods_for_removal(ctx, ctx.active_pods.len());
        deletes.truncate(max_per_sync);
        return ManageDecision {
            deletes,
            ..ManageDecision::default()
        };
    }
    let want_active = want_active(ctx, active);
    let remove_at_least = usize::try_from(active - want_active).unwrap_or(0);
    let mut deletes = active_pods_for_removal(ctx, remove_at_least);
    if !deletes.is_empty() {
        deletes.truncate(max_per_sync);
        return ManageDecision {
            deletes,
            ..ManageDecision::default()
        };
    }
    let terminating = if view.only_replace_failed {
        i64::from(ctx.terminating)
    } else {
        0
    };
    let diff = want_active - terminating - active;
    if diff <= 0 {
        return ManageDecision::default();
    }
    if view.backoff_limit_per_index.is_none() {
        let remaining = ctx.new_backoff.remaining_time(
            ctx.now,
            config.pod_failure_backoff_base,
            config.pod_failure_backoff_max,
        );
        if !remaining.is_zero() {
            return wait(config, remaining);
        }
    }
    let diff = usize::try_from(diff).unwrap_or(0).min(max_per_sync);
    if !view.indexed {
        return ManageDecision {
            creates: vec![None; diff],
            ..ManageDecision::default()
        };
    }
    create_indexes(config, ctx, diff)
}

/// `wantActive`.
fn want_active(ctx: &SyncContext, active: i64) -> i64 {
    let parallelism = i64::from(ctx.view.parallelism);
    match ctx.view.completions {
        None if ctx.succeeded > 0 => active,
        None => parallelism,
        Some(completions) => (i64::from(completions) - i64::from(ctx.succeeded))
            .min(parallelism)
            .max(0),
    }
}

/// The Indexed branch of the creation: which indexes, after the per-index backoff.
fn create_indexes<'a>(
    config: &JobControllerConfig,
    ctx: &SyncContext<'a>,
    diff: usize,
) -> ManageDecision<'a> {
    let terminating: Vec<&Pod> = if ctx.view.only_replace_failed {
        ctx.pods
            .iter()
            .copied()
            .filter(|p| pods::is_terminating(p))
            .collect()
    } else {
        Vec::new()
    };
    let mut indexes = indexed::first_pending_indexes(
        &ctx.active_pods,
        &terminating,
        &ctx.succeeded_indexes,
        ctx.failed_indexes.as_ref(),
        diff,
        ctx.view.completions_or_zero(),
    );
    if ctx.view.backoff_limit_per_index.is_some() {
        let (ready, remaining) = indexes_ready_now(config, ctx, &indexes, &ctx.delayed_deletion);
        if !remaining.is_zero() {
            return wait(config, remaining);
        }
        indexes = ready;
    }
    ManageDecision {
        creates: indexes.into_iter().map(Some).collect(),
        ..ManageDecision::default()
    }
}

/// `getPodCreationInfoForIndependentIndexes`: the indexes whose own backoff is over, or,
/// if none is, the shortest wait.
fn indexes_ready_now(
    config: &JobControllerConfig,
    ctx: &SyncContext,
    indexes: &[i64],
    delayed: &BTreeMap<i64, &Pod>,
) -> (Vec<i64>, Duration) {
    let mut ready = Vec::new();
    let mut shortest: Option<Duration> = None;
    for &index in indexes {
        let last_failed = delayed.get(&index).copied();
        let remaining = remaining_time_per_index(
            ctx.now,
            config.pod_failure_backoff_base,
            config.pod_failure_backoff_max,
            last_failed,
        );
        if remaining.is_zero() {
            ready.push(index);
        } else {
            shortest = Some(shortest.map_or(remaining, |s| s.min(remaining)));
        }
    }
    if ready.is_empty() {
        return (ready, shortest.unwrap_or(Duration::ZERO));
    }
    (ready, Duration::ZERO)
}

/// `enqueueSyncJobWithDelay`: never sooner than the batching period.
fn wait<'a>(config: &JobControllerConfig, remaining: Duration) -> ManageDecision<'a> {
    ManageDecision {
        requeue_after: Some(remaining.max(config.sync_batch_period)),
        ..ManageDecision::default()
    }
}

/// `activePodsForRemoval`: Indexed duplicates and strays first, then the first
/// `remove_at_least` in `ActivePods` order.
fn active_pods_for_removal<'a>(ctx: &SyncContext<'a>, remove_at_least: usize) -> Vec<&'a Pod> {
    let (mut remove, mut left) = if ctx.view.indexed {
        indexed::duplicated_index_pods_for_removal(&ctx.active_pods, ctx.view.completions_or_zero())
    } else {
        (Vec::new(), ctx.active_pods.clone())
    };
    if remove.len() < remove_at_least {
        left.sort_by(|a, b| pods::active_pods_order(a, b));
        let more = (remove_at_least - remove.len()).min(left.len());
        remove.extend(left.into_iter().take(more));
    }
    remove
}
