//! The applier: the single writer of the shared cache. It takes [`Delta`]s from the
//! watchers' bounded channel, applies each under the write lock, then (under the
//! downgraded read lock) calls every handler interested in the kind with the previous
//! state, as client-go's shared informer calls its handlers after updating the indexer.
//!
//! A complete list ([`Delta::Replace`]) is applied at once, as kube-rs's reflector swaps
//! in its `InitDone` buffer: new objects become `Added`, changed ones `Modified`, cached
//! ones missing from the list `Deleted` (their deletion happened while we were not
//! watching); objects whose resourceVersion did not change are not dispatched
//! (upstream's resync is not a retry path). When every watched kind has been listed once
//! the [`SyncedTrigger`] fires.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use corral_api::{KubeObject, ObjectKey, ResourceKind, Revision};
use corral_core::{ChangeKind, Clock, ObjectCache, ObjectEvent};
use parking_lot::RwLockWriteGuard;
use tokio::sync::mpsc;

use super::cache::{EventHandler, SharedCache};
use super::watcher::Delta;
use crate::metrics::RuntimeMetrics;
use crate::signal::{Shutdown, SyncedTrigger};

pub(crate) struct Applier {
    pub(crate) cache: SharedCache,
    pub(crate) handlers: HashMap<ResourceKind, Vec<Arc<dyn EventHandler>>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: RuntimeMetrics,
    pub(crate) synced: SyncedTrigger,
    /// Kinds not listed yet.
    pub(crate) unsynced: BTreeSet<ResourceKind>,
}

type Dispatch = (ObjectEvent, Option<Arc<KubeObject>>);

impl Applier {
    pub(crate) async fn run(mut self, mut deltas: mpsc::Receiver<Delta>, mut shutdown: Shutdown) {
        if self.unsynced.is_empty() {
            self.synced.mark_synced();
        }
        loop {
            let delta = tokio::select! {
                biased;
                _ = shutdown.wait() => return,
                delta = deltas.recv() => match delta {
                    Some(delta) => delta,
                    None => return,
                },
            };
            self.apply(delta);
        }
    }

    pub(crate) fn apply(&mut self, delta: Delta) {
        match delta {
            Delta::Event(event) => self.apply_event(event),
            Delta::Replace {
                kind,
                objects,
                revision,
            } => self.apply_replace(kind, objects, revision),
        }
    }

    fn apply_event(&self, event: ObjectEvent) {
        let kind = event.object.kind();
        let mut cache = self.cache.write();
        let previous = cache.apply(&event);
        let cache = RwLockWriteGuard::downgrade(cache);
        self.metrics.informer_event(kind.kind_name(), 1);
        self.dispatch(kind, &cache, &[(event, previous)]);
    }

    fn apply_replace(
        &mut self,
        kind: ResourceKind,
        objects: Vec<Arc<KubeObject>>,
        revision: Revision,
    ) {
        let mut cache = self.cache.write();
        let mut listed: HashSet<ObjectKey> = HashSet::with_capacity(objects.len());
        let mut changes: Vec<Dispatch> = Vec::new();
        for object in objects {
            let key = object.key();
            let cached = cache.get(&key);
            let unchanged = cached.is_some_and(|c| c.revision() == object.revision());
            let change = if cached.is_some() {
                ChangeKind::Modified
            } else {
                ChangeKind::Added
            };
            listed.insert(key);
            if unchanged {
                continue;
            }
            let event = ObjectEvent {
                change,
                revision: object.revision().unwrap_or(revision),
                object,
            };
            let previous = cache.apply(&event);
            changes.push((event, previous));
        }
        changes.extend(remove_unlisted(&mut cache, kind, &listed, revision));
        let cache = RwLockWriteGuard::downgrade(cache);
        tracing::debug!(kind = kind.kind_name(), %revision, objects = listed.len(), changes = changes.len(), "informer listed");
        self.metrics.informer_relist(kind.kind_name());
        self.metrics
            .informer_event(kind.kind_name(), changes.len() as u64);
        self.dispatch(kind, &cache, &changes);
        drop(cache);
        if self.unsynced.remove(&kind) && self.unsynced.is_empty() {
            tracing::info!("informer caches synced");
            self.synced.mark_synced();
        }
    }

    fn dispatch(&self, kind: ResourceKind, cache: &ObjectCache, changes: &[Dispatch]) {
        let Some(handlers) = self.handlers.get(&kind) else {
            return;
        };
        let now = self.clock.now();
        for (event, previous) in changes {
            for handler in handlers {
                handler.handle_event(event, previous.as_deref(), cache, now);
            }
        }
    }
}

/// Cached objects of `kind` absent from a fresh list: deleted while we were not watching.
fn remove_unlisted(
    cache: &mut ObjectCache,
    kind: ResourceKind,
    listed: &HashSet<ObjectKey>,
    revision: Revision,
) -> Vec<Dispatch> {
    let gone: Vec<ObjectKey> = cache
        .list(kind)
        .map(|object| object.key())
        .filter(|key| !listed.contains(key))
        .collect();
    let mut changes = Vec::with_capacity(gone.len());
    for key in gone {
        if let Some(last) = cache.remove(&key) {
            let event = ObjectEvent {
                change: ChangeKind::Deleted,
                object: Arc::clone(&last),
                revision,
            };
            changes.push((event, Some(last)));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::synced_channel;
    use corral_core::ManualClock;
    use corral_core::Timestamp;
    use corral_core::clock::epoch;
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<(ChangeKind, String, Option<String>)>>,
    }

    impl EventHandler for Recorder {
        fn name(&self) -> &str {
            "recorder"
        }
        fn watched_kinds(&self) -> &'static [ResourceKind] {
            &[ResourceKind::ConfigMap]
        }
        fn handle_event(
            &self,
            event: &ObjectEvent,
            previous: Option<&KubeObject>,
            _: &ObjectCache,
            _: Timestamp,
        ) {
            let previous = previous.and_then(|p| p.meta().resource_version.clone());
            self.seen
                .lock()
                .push((event.change, event.object.name().to_string(), previous));
        }
    }

    fn config_map(name: &str, revision: u64) -> Arc<KubeObject> {
        Arc::new(
            ConfigMap {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some("ns".into()),
                    resource_version: Some(revision.to_string()),
                    ..Default::default()
                },
                ..Default::default()
            }
            .into(),
        )
    }

    #[test]
    fn a_relist_dispatches_only_what_changed_and_deletes_what_is_gone() {
        let recorder = Arc::new(Recorder::default());
        let (trigger, synced) = synced_channel();
        let handler: Arc<dyn EventHandler> = recorder.clone();
        let mut applier = Applier {
            cache: SharedCache::new(),
            handlers: HashMap::from([(ResourceKind::ConfigMap, vec![handler])]),
            clock: Arc::new(ManualClock::new(epoch())),
            metrics: RuntimeMetrics::new(),
            synced: trigger,
            unsynced: BTreeSet::from([ResourceKind::ConfigMap]),
        };
        let replace = |objects| Delta::Replace {
            kind: ResourceKind::ConfigMap,
            objects,
            revision: Revision(10),
        };
        applier.apply(replace(vec![config_map("a", 2), config_map("b", 3)]));
        assert!(synced.is_synced());
        // After a 410: "a" unchanged, "b" modified, "c" new, and nothing else left.
        applier.apply(replace(vec![
            config_map("a", 2),
            config_map("b", 7),
            config_map("c", 8),
        ]));
        applier.apply(replace(vec![config_map("c", 8)]));
        let seen = recorder.seen.lock().clone();
        let expected = vec![
            (ChangeKind::Added, "a".to_string(), None),
            (ChangeKind::Added, "b".to_string(), None),
            (ChangeKind::Modified, "b".to_string(), Some("3".to_string())),
            (ChangeKind::Added, "c".to_string(), None),
            (ChangeKind::Deleted, "a".to_string(), Some("2".to_string())),
            (ChangeKind::Deleted, "b".to_string(), Some("7".to_string())),
        ];
        assert_eq!(seen, expected);
        assert_eq!(
            applier.cache.reader().read().count(ResourceKind::ConfigMap),
            1
        );
    }
}
