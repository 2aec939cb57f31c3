//! Shared test support (cargo feature `testing`): the backend conformance suite, object
//! fixtures, and a fault-injecting backend.
//!
//! Another backend's crate runs the whole suite, for both representations, with
//!
//! ```ignore
//! fn backend() -> Box<dyn corral_store::Backend> { /* a fresh, empty backend */ }
//! corral_store::conformance_suite!(backend);
//! ```
//!
//! which expands to one `#[test]` per case in modules `json_bytes` and `typed_arc`.

pub mod conformance;
pub mod conformance_reads;
pub mod conformance_watch;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use corral_api::{KubeObject, ResourceKind, Revision};
use serde_json::json;

use crate::backend::{Backend, CommitBatch, LoadSink};
use crate::error::StoreError;

/// Produces a fresh, empty backend per call.
pub type BackendFactory = dyn Fn() -> Box<dyn Backend>;

/// Expands to the conformance suite for `$factory` (a `fn() -> Box<dyn Backend>` in scope).
#[macro_export]
macro_rules! conformance_suite {
    ($factory:ident) => {
        $crate::conformance_suite!(@representation json_bytes, $crate::JsonBytes, $factory);
        $crate::conformance_suite!(@representation typed_arc, $crate::TypedArc, $factory);
    };
    (@representation $module:ident, $representation:ty, $factory:ident) => {
        mod $module {
            $crate::conformance_suite!(@cases $representation, $factory;
                create_then_get_returns_the_stored_object,
                creating_an_existing_name_is_already_exists,
                generate_name_appends_five_characters_and_retries_collisions,
                update_with_a_stale_resource_version_is_a_conflict,
                update_preserves_system_fields,
                a_no_op_update_keeps_the_revision_and_emits_no_event,
                delete_preconditions_fail_with_upstreams_message,
                finalizers_keep_a_deleted_object_until_the_last_one_is_removed,
                graceful_delete_marks_and_a_zero_grace_delete_removes,
                dry_runs_write_nothing,
                guaranteed_update_passes_mutate_errors_and_checks_preconditions,
                transactions_are_all_or_nothing,
                every_transaction_takes_exactly_the_next_revision,
                malformed_keys_are_errors_not_panics,
                snapshots_hold_every_object_at_one_revision,
                a_failed_commit_keeps_the_store_readable_and_refuses_writes);
            $crate::conformance_suite!(@reads $representation, $factory;
                list_supports_every_label_selector_operator,
                list_supports_field_selectors_for_pods_and_events,
                list_rejects_unsupported_field_labels,
                list_in_a_namespace_sees_only_that_namespace,
                pages_stay_at_the_first_pages_revision_across_concurrent_writes,
                an_expired_continue_token_is_410_with_a_resume_token,
                malformed_continue_tokens_are_invalid_continue,
                list_at_exact_old_and_future_revisions);
            $crate::conformance_suite!(@watch $representation, $factory;
                watch_replays_changes_from_any_retained_revision,
                watch_from_a_compacted_revision_is_compacted,
                selector_transitions_become_added_and_deleted,
                deleted_events_carry_the_deletion_revision,
                poll_respects_max_events_without_losing_changes,
                bookmarks_come_only_when_requested,
                namespaced_watches_see_only_their_namespace);
        }
    };
    (@cases $representation:ty, $factory:ident; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::testing::conformance::$case::<$representation>(&super::$factory);
            }
        )*
    };
    (@reads $representation:ty, $factory:ident; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::testing::conformance_reads::$case::<$representation>(&super::$factory);
            }
        )*
    };
    (@watch $representation:ty, $factory:ident; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::testing::conformance_watch::$case::<$representation>(&super::$factory);
            }
        )*
    };
}

/// A backend that fails commits on demand (a simulated ENOSPC), for fault injection.
pub struct FaultyBackend {
    inner: Box<dyn Backend>,
    /// Commits that still succeed before every later one fails; `u64::MAX`: never fail.
    commits_left: AtomicU64,
    failed: AtomicBool,
}

impl FaultyBackend {
    pub fn new(inner: Box<dyn Backend>) -> Self {
        FaultyBackend {
            inner,
            commits_left: AtomicU64::new(u64::MAX),
            failed: AtomicBool::new(false),
        }
    }

    /// Lets `successes` more commits through, then fails every commit.
    pub fn fail_after(&self, successes: u64) {
        self.commits_left.store(successes, Ordering::SeqCst);
    }

    /// Whether a commit has failed.
    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }
}

/// The error a full disk gives.
pub fn no_space_error() -> StoreError {
    StoreError::Io("No space left on device (os error 28)".into())
}

impl Backend for FaultyBackend {
    fn name(&self) -> &'static str {
        "faulty"
    }

    fn load(&self, sink: &mut LoadSink<'_>) -> Result<Revision, StoreError> {
        self.inner.load(sink)
    }

    fn commit(&self, batch: &CommitBatch<'_>) -> Result<(), StoreError> {
        let allowed = self
            .commits_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| match left {
                0 => None,
                u64::MAX => Some(u64::MAX),
                n => Some(n - 1),
            })
            .is_ok();
        if !allowed {
            self.failed.store(true, Ordering::SeqCst);
            return Err(no_space_error());
        }
        self.inner.commit(batch)
    }

    fn needs_values(&self) -> bool {
        self.inner.needs_values()
    }

    fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.inner.compact(revision)
    }
}

fn labels_json(labels: &[(&str, &str)]) -> serde_json::Value {
    labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// A ConfigMap with `data.value = value`.
pub fn config_map(namespace: &str, name: &str, value: &str) -> KubeObject {
    let body =
        json!({"metadata": {"name": name, "namespace": namespace}, "data": {"value": value}});
    KubeObject::from_value(ResourceKind::ConfigMap, body).expect("fixture config map decodes")
}

/// A Pod with labels, a node and a phase ("" leaves them unset).
pub fn pod(
    namespace: &str,
    name: &str,
    labels: &[(&str, &str)],
    node: &str,
    phase: &str,
) -> KubeObject {
    let mut body = json!({
        "metadata": {"name": name, "namespace": namespace, "labels": labels_json(labels)},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
        "status": {},
    });
    if !node.is_empty() {
        body["spec"]["nodeName"] = json!(node);
    }
    if !phase.is_empty() {
        body["status"]["phase"] = json!(phase);
    }
    KubeObject::from_value(ResourceKind::Pod, body).expect("fixture pod decodes")
}

/// An Event about `involved` (kind, name, uid) with a reason.
pub fn event(
    namespace: &str,
    name: &str,
    involved: (&str, &str, &str),
    reason: &str,
) -> KubeObject {
    let (kind, object_name, uid) = involved;
    let body = json!({
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {"kind": kind, "name": object_name, "namespace": namespace, "uid": uid},
        "reason": reason,
        "type": "Normal",
    });
    KubeObject::from_value(ResourceKind::Event, body).expect("fixture event decodes")
}

/// Lets a test keep a handle on a backend the store owns.
pub struct SharedBackend<B: Backend>(pub Arc<B>);

impl<B: Backend> Backend for SharedBackend<B> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn load(&self, sink: &mut LoadSink<'_>) -> Result<Revision, StoreError> {
        self.0.load(sink)
    }
    fn commit(&self, batch: &CommitBatch<'_>) -> Result<(), StoreError> {
        self.0.commit(batch)
    }
    fn needs_values(&self) -> bool {
        self.0.needs_values()
    }
    fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.0.compact(revision)
    }
}
