//! Plans: what a pure core decided, as data.
//!
//! A reconciler returns a [`Plan`]; a driver (the tokio runtime, or the simulator) executes
//! its [`Action`]s through the API layer, so admission applies to controller writes exactly
//! as to user writes. Results come back as [`Outcome`]s, index-aligned with the actions, so
//! the core can update its explicit state (expectations, backoff) in a second, equally pure
//! step.

use std::time::Duration;

use corral_api::{ApiError, KubeObject, ObjectKey, Revision, Uid};
use k8s_openapi::api::core::v1::ObjectReference;

/// The decision of one reconcile.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Executed in order; a stage's actions are independent of each other and may run
    /// concurrently.
    pub stages: Vec<Stage>,
    /// Reconcile this key again after this delay, even without a new event.
    pub requeue_after: Option<Duration>,
}

impl Plan {
    pub fn empty() -> Plan {
        Plan::default()
    }

    pub fn requeue(after: Duration) -> Plan {
        Plan {
            stages: Vec::new(),
            requeue_after: Some(after),
        }
    }

    /// Appends a stage that continues after failures.
    pub fn then(&mut self, actions: Vec<Action>) {
        if !actions.is_empty() {
            self.stages.push(Stage {
                actions,
                on_failure: OnFailure::Continue,
            });
        }
    }

    /// Appends a stage whose failure skips every later stage (upstream's slow-start
    /// batches: a batch with a failed create stops the remaining creations).
    pub fn then_or_stop(&mut self, actions: Vec<Action>) {
        if !actions.is_empty() {
            self.stages.push(Stage {
                actions,
                on_failure: OnFailure::SkipRest,
            });
        }
    }

    pub fn push(&mut self, action: Action) {
        self.then(vec![action]);
    }

    /// Marks every stage appended after this call as *detachable* (guard 1, see
    /// [`crate::controller`]): a driver may run them in the background after releasing the
    /// worker and the key, and report their outcomes later through
    /// `Reconciler::handle_detached_outcomes`. The marker is an empty stage
    /// ([`OnFailure::Detach`]); a driver that does not detach runs it as a no-op, so the
    /// plan keeps its meaning. At most one marker per plan.
    pub fn detach_rest(&mut self) {
        debug_assert!(
            !self
                .stages
                .iter()
                .any(|s| s.on_failure == OnFailure::Detach),
            "one detach marker per plan"
        );
        self.stages.push(Stage {
            actions: Vec::new(),
            on_failure: OnFailure::Detach,
        });
    }

    /// The index of the first detachable stage, if the plan has a marker followed by
    /// actions.
    pub fn detach_point(&self) -> Option<usize> {
        let marker = self
            .stages
            .iter()
            .position(|s| s.on_failure == OnFailure::Detach)?;
        let first = marker + 1;
        self.stages[first..]
            .iter()
            .any(|s| !s.actions.is_empty())
            .then_some(first)
    }

    /// Where the detachable actions start in [`Plan::actions`] (the number of inline
    /// actions), if the plan has any.
    pub fn detached_action_start(&self) -> Option<usize> {
        let first = self.detach_point()?;
        Some(self.stages[..first].iter().map(|s| s.actions.len()).sum())
    }

    /// The earlier of two requeue requests.
    pub fn requeue_at_most(&mut self, after: Duration) {
        self.requeue_after = Some(self.requeue_after.map_or(after, |d| d.min(after)));
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty() && self.requeue_after.is_none()
    }

    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.stages.iter().flat_map(|s| s.actions.iter())
    }

    pub fn action_count(&self) -> usize {
        self.stages.iter().map(|s| s.actions.len()).sum()
    }
}

/// A group of actions executed together.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub actions: Vec<Action>,
    pub on_failure: OnFailure,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFailure {
    Continue,
    SkipRest,
    /// Not a failure mode: the empty marker stage [`Plan::detach_rest`] adds. The stages
    /// after it may run detached (guard 1); a driver that does not detach treats the
    /// marker as an empty stage that continues.
    Detach,
}

/// Which part of an object a write addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subresource {
    /// The object itself (spec and metadata; status is ignored on write).
    Main,
    /// The `/status` subresource (status only).
    Status,
}

/// `DeleteOptions.propagationPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

impl Propagation {
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Orphan => "Orphan",
            Propagation::Background => "Background",
            Propagation::Foreground => "Foreground",
        }
    }

    pub fn parse(text: &str) -> Option<Propagation> {
        match text {
            "Orphan" => Some(Propagation::Orphan),
            "Background" => Some(Propagation::Background),
            "Foreground" => Some(Propagation::Foreground),
            _ => None,
        }
    }
}

/// Conditions a write or delete requires of the stored object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preconditions {
    pub uid: Option<Uid>,
    pub resource_version: Option<Revision>,
}

/// A patch body with its media type.
#[derive(Clone, Debug, PartialEq)]
pub enum PatchBody {
    /// RFC 7386.
    Merge(serde_json::Value),
    /// Kubernetes strategic merge patch.
    Strategic(serde_json::Value),
    /// RFC 6902.
    Json(serde_json::Value),
}

/// One write a core wants done.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// POST. `metadata.generateName` is honoured.
    Create { object: KubeObject },
    /// PUT. The object's own `resourceVersion`, if set, is the precondition.
    Update {
        object: KubeObject,
        subresource: Subresource,
    },
    /// PATCH.
    Patch {
        key: ObjectKey,
        subresource: Subresource,
        patch: PatchBody,
    },
    /// DELETE.
    Delete {
        key: ObjectKey,
        preconditions: Preconditions,
        propagation: Option<Propagation>,
        grace_period_seconds: Option<i64>,
    },
    /// Record an Event (through the event recorder's dedup and spam filter).
    Event(EventRecord),
}

impl Action {
    /// The object an action addresses, for logs and for drivers that order per key.
    pub fn key(&self) -> Option<ObjectKey> {
        match self {
            Action::Create { object } | Action::Update { object, .. } => Some(object.key()),
            Action::Patch { key, .. } | Action::Delete { key, .. } => Some(key.clone()),
            Action::Event(_) => None,
        }
    }

    pub fn delete(key: ObjectKey, uid: Option<Uid>, propagation: Option<Propagation>) -> Action {
        Action::Delete {
            key,
            preconditions: Preconditions {
                uid,
                resource_version: None,
            },
            propagation,
            grace_period_seconds: None,
        }
    }
}

/// What happened to one action.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Done; the stored object after the write, when there is one (deletes that removed
    /// the object at once return the last state).
    Done(Option<KubeObject>),
    Failed(ApiError),
    /// Not attempted because an earlier stage failed.
    Skipped,
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }

    pub fn error(&self) -> Option<&ApiError> {
        match self {
            Outcome::Failed(e) => Some(e),
            _ => None,
        }
    }
}

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// An event a component wants recorded about an object.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRecord {
    pub involved: ObjectReference,
    pub event_type: EventType,
    pub reason: String,
    pub message: String,
    /// `source.component`: `job-controller`, `kubelet`, `default-scheduler`, …
    pub component: String,
    /// `source.host` (the node, for kubelet events).
    pub host: Option<String>,
}

impl EventRecord {
    /// An event about `object`, whose reference is built from its metadata.
    pub fn about(
        object: &KubeObject,
        event_type: EventType,
        reason: &str,
        message: impl Into<String>,
        component: &str,
    ) -> EventRecord {
        EventRecord {
            involved: object_reference(object),
            event_type,
            reason: reason.to_string(),
            message: message.into(),
            component: component.to_string(),
            host: None,
        }
    }
}

/// The `ObjectReference` upstream's recorder builds (`reference.GetReference`).
pub fn object_reference(object: &KubeObject) -> ObjectReference {
    let meta = object.meta();
    ObjectReference {
        api_version: Some(object.kind().api_version().to_string()),
        kind: Some(object.kind().kind_name().to_string()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        field_path: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_stages_are_not_added_and_requeues_keep_the_earliest() {
        let mut plan = Plan::empty();
        plan.then(Vec::new());
        assert!(plan.stages.is_empty());
        plan.requeue_at_most(Duration::from_secs(10));
        plan.requeue_at_most(Duration::from_secs(3));
        plan.requeue_at_most(Duration::from_secs(5));
        assert_eq!(plan.requeue_after, Some(Duration::from_secs(3)));
    }

    fn event(reason: &str) -> Action {
        Action::Event(EventRecord {
            involved: ObjectReference::default(),
            event_type: EventType::Normal,
            reason: reason.to_string(),
            message: String::new(),
            component: "test".to_string(),
            host: None,
        })
    }

    #[test]
    fn the_detach_marker_splits_inline_from_detachable_actions() {
        let mut plan = Plan::empty();
        plan.then(vec![event("a"), event("b")]);
        assert_eq!(plan.detach_point(), None);
        plan.detach_rest();
        assert_eq!(
            plan.detach_point(),
            None,
            "a marker with nothing after it detaches nothing"
        );
        plan.then_or_stop(vec![event("c")]);
        plan.then_or_stop(vec![event("d"), event("e")]);
        assert_eq!(plan.detach_point(), Some(2));
        assert_eq!(plan.detached_action_start(), Some(2));
        assert_eq!(plan.action_count(), 5, "the marker carries no action");
    }
}
