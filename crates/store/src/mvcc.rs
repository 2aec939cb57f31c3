//! [`MvccState`]: the durable, visible state of the store: the latest version of every
//! key, superseded versions still inside the retention window, and the change log that
//! watches read. Single-threaded data structure; `Store` puts it behind a read-write lock
//! and only ever applies transactions that are already durable.
//!
//! Layout, and why:
//! - `current: BTreeMap<StoreKey, Entry>`: live objects in key order. A list at the latest
//!   revision (the common case) walks only this map.
//! - `history: BTreeMap<StoreKey, Vec<PastVersion>>`: for keys written inside the
//!   retention window, the versions they replaced, each with the revision that superseded
//!   it. A read at an older revision (the next page of a paginated list) merges both maps.
//!   Most keys have no history, so it costs nothing for them.
//! - `log: VecDeque<LogEntry>`: one entry per revision in `(compacted, revision]`, so the
//!   entry for revision `r` is at index `r - compacted - 1`. Watches read it; compaction
//!   walks its oldest entries to find the history it may drop.
//!
//! Values are shared (`Arc`) between the three, so history costs pointers, not copies.

use std::collections::{BTreeMap, VecDeque};
use std::ops::ControlFlow;

use corral_api::Revision;

use crate::key::{KeyRange, StoreKey};
use crate::types::Versioned;

/// One version of one key.
#[derive(Clone, Debug)]
pub(crate) struct Entry<V> {
    pub value: V,
    pub create_revision: Revision,
    pub mod_revision: Revision,
    /// Label digest (see `selection`), kept inline so label-selector scans skip objects
    /// without dereferencing their value.
    pub label_digest: u64,
}

impl<V: Clone> Entry<V> {
    pub(crate) fn versioned(&self) -> Versioned<V> {
        Versioned {
            value: self.value.clone(),
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
        }
    }
}

/// A version that a later write replaced or deleted at `superseded_at`.
#[derive(Clone, Debug)]
pub(crate) struct PastVersion<V> {
    pub entry: Entry<V>,
    pub superseded_at: Revision,
}

/// What one write did, as watches need it.
#[derive(Clone, Debug)]
pub(crate) enum Change<V> {
    /// `previous` is the version replaced (none for a creation); watches use it to turn
    /// selector transitions into ADDED/DELETED.
    Put {
        key: StoreKey,
        previous: Option<Entry<V>>,
        new: Entry<V>,
    },
    /// `last` is the deleted version re-encoded at the deletion revision.
    Delete { key: StoreKey, last: Entry<V> },
}

impl<V> Change<V> {
    pub(crate) fn key(&self) -> &StoreKey {
        match self {
            Change::Put { key, .. } | Change::Delete { key, .. } => key,
        }
    }
}

/// All changes of one committed transaction.
#[derive(Debug)]
pub(crate) struct LogEntry<V> {
    pub revision: Revision,
    pub changes: Box<[Change<V>]>,
}

#[derive(Debug)]
pub(crate) struct MvccState<V> {
    pub current: BTreeMap<StoreKey, Entry<V>>,
    history: BTreeMap<StoreKey, Vec<PastVersion<V>>>,
    log: VecDeque<LogEntry<V>>,
    /// Latest durable, visible revision.
    pub revision: Revision,
    /// Everything at or before this revision that is not current is gone.
    pub compacted: Revision,
}

impl<V: Clone> MvccState<V> {
    /// A state holding `current` at `revision`, with no history (as after a restart).
    pub(crate) fn new(current: BTreeMap<StoreKey, Entry<V>>, revision: Revision) -> Self {
        MvccState {
            current,
            history: BTreeMap::new(),
            log: VecDeque::new(),
            revision,
            compacted: revision,
        }
    }

    /// Applies one durable transaction; `revision` must be the next one.
    pub(crate) fn apply(&mut self, revision: Revision, changes: Vec<Change<V>>) {
        assert_eq!(
            revision,
            self.revision.next(),
            "transactions apply in revision order"
        );
        assert!(
            !changes.is_empty(),
            "a revision always has at least one change"
        );
        for change in &changes {
            let replaced = match change {
                Change::Put { key, new, .. } => self.current.insert(key.clone(), new.clone()),
                Change::Delete { key, .. } => self.current.remove(key),
            };
            if let Some(entry) = replaced {
                self.history
                    .entry(change.key().clone())
                    .or_default()
                    .push(PastVersion {
                        entry,
                        superseded_at: revision,
                    });
            }
        }
        self.log.push_back(LogEntry {
            revision,
            changes: changes.into_boxed_slice(),
        });
        self.revision = revision;
        debug_assert_eq!(self.log.len() as u64, self.revision.0 - self.compacted.0);
    }

    /// The version of `key` visible at `revision` (which must be retained).
    pub(crate) fn get_at(&self, key: &StoreKey, revision: Revision) -> Option<&Entry<V>> {
        if let Some(entry) = self.current.get(key)
            && entry.mod_revision <= revision
        {
            return Some(entry);
        }
        self.history
            .get(key)
            .and_then(|versions| visible_version(versions, revision))
    }

    /// Calls `visit` for every key in `range` visible at `revision`, in key order, until it
    /// breaks.
    pub(crate) fn visit_range_at(
        &self,
        range: &KeyRange,
        revision: Revision,
        mut visit: impl FnMut(&StoreKey, &Entry<V>) -> ControlFlow<()>,
    ) {
        if range.is_empty() {
            return;
        }
        if revision >= self.revision {
            for (key, entry) in self.current.range::<StoreKey, _>(range.bounds()) {
                if visit(key, entry).is_break() {
                    return;
                }
            }
            return;
        }
        let mut current = self.current.range::<StoreKey, _>(range.bounds()).peekable();
        let mut history = self.history.range::<StoreKey, _>(range.bounds()).peekable();
        loop {
            let next_key = match (current.peek(), history.peek()) {
                (None, None) => return,
                (Some((c, _)), None) => (*c).clone(),
                (None, Some((h, _))) => (*h).clone(),
                (Some((c, _)), Some((h, _))) => (*c).min(*h).clone(),
            };
            let live = current.next_if(|(k, _)| **k == next_key).map(|(_, e)| e);
            let past = history.next_if(|(k, _)| **k == next_key).map(|(_, v)| v);
            let visible = live
                .filter(|e| e.mod_revision <= revision)
                .or_else(|| past.and_then(|versions| visible_version(versions, revision)));
            if let Some(entry) = visible
                && visit(&next_key, entry).is_break()
            {
                return;
            }
        }
    }

    /// Log entries with revision greater than `after` (which must be retained).
    pub(crate) fn log_after(&self, after: Revision) -> impl Iterator<Item = &LogEntry<V>> {
        let skip = after.0.saturating_sub(self.compacted.0) as usize;
        self.log.iter().skip(skip)
    }

    /// Drops history and log entries at or before `up_to` (clamped to the current
    /// revision). Returns whether anything changed.
    pub(crate) fn compact(&mut self, up_to: Revision) -> bool {
        let up_to = up_to.min(self.revision);
        if up_to <= self.compacted {
            return false;
        }
        while self
            .log
            .front()
            .is_some_and(|entry| entry.revision <= up_to)
        {
            let Some(entry) = self.log.pop_front() else {
                break;
            };
            for change in entry.changes.iter() {
                let key = change.key();
                let emptied = match self.history.get_mut(key) {
                    Some(versions) => {
                        versions.retain(|v| v.superseded_at > up_to);
                        versions.is_empty()
                    }
                    None => false,
                };
                if emptied {
                    self.history.remove(key);
                }
            }
        }
        self.compacted = up_to;
        true
    }

    /// Number of superseded versions retained (for tests and stats).
    pub(crate) fn history_len(&self) -> usize {
        self.history.values().map(Vec::len).sum()
    }
}

fn visible_version<V>(versions: &[PastVersion<V>], revision: Revision) -> Option<&Entry<V>> {
    versions
        .iter()
        .rev()
        .find(|v| v.entry.mod_revision <= revision && revision < v.superseded_at)
        .map(|v| &v.entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::{ObjectKey, ResourceKind};

    fn key(name: &str) -> StoreKey {
        StoreKey::new(&ObjectKey::new(ResourceKind::ConfigMap, "ns", name)).unwrap()
    }

    fn entry(value: u32, create: u64, modified: u64) -> Entry<u32> {
        Entry {
            value,
            create_revision: Revision(create),
            mod_revision: Revision(modified),
            label_digest: 0,
        }
    }

    fn put(state: &mut MvccState<u32>, name: &str, value: u32) {
        let revision = state.revision.next();
        let previous = state.current.get(&key(name)).cloned();
        let create = previous
            .as_ref()
            .map_or(revision.0, |e| e.create_revision.0);
        let new = entry(value, create, revision.0);
        state.apply(
            revision,
            vec![Change::Put {
                key: key(name),
                previous,
                new,
            }],
        );
    }

    fn delete(state: &mut MvccState<u32>, name: &str) {
        let revision = state.revision.next();
        let last = state.current.get(&key(name)).cloned().unwrap();
        state.apply(
            revision,
            vec![Change::Delete {
                key: key(name),
                last,
            }],
        );
    }

    fn names_at(state: &MvccState<u32>, revision: u64) -> Vec<(String, u32)> {
        let mut seen = Vec::new();
        let range = KeyRange::scope(ResourceKind::ConfigMap, None);
        state.visit_range_at(&range, Revision(revision), |k, e| {
            seen.push((k.name().to_string(), e.value));
            ControlFlow::Continue(())
        });
        seen
    }

    #[test]
    fn reads_at_an_old_revision_see_the_state_of_that_revision() {
        let mut state = MvccState::new(BTreeMap::new(), Revision(1));
        put(&mut state, "a", 1); // 2
        put(&mut state, "b", 1); // 3
        put(&mut state, "a", 2); // 4
        delete(&mut state, "b"); // 5
        put(&mut state, "c", 1); // 6
        assert_eq!(names_at(&state, 3), vec![("a".into(), 1), ("b".into(), 1)]);
        assert_eq!(names_at(&state, 5), vec![("a".into(), 2)]);
        assert_eq!(names_at(&state, 6), vec![("a".into(), 2), ("c".into(), 1)]);
        assert_eq!(
            state.get_at(&key("b"), Revision(4)).map(|e| e.value),
            Some(1)
        );
        assert!(state.get_at(&key("b"), Revision(5)).is_none());
    }

    #[test]
    fn compaction_drops_only_versions_invisible_at_the_compacted_revision() {
        let mut state = MvccState::new(BTreeMap::new(), Revision(1));
        put(&mut state, "a", 1); // 2
        put(&mut state, "a", 2); // 3
        put(&mut state, "a", 3); // 4
        assert!(state.compact(Revision(3)));
        assert_eq!(state.history_len(), 1);
        assert_eq!(names_at(&state, 3), vec![("a".into(), 2)]);
        assert_eq!(state.log_after(Revision(3)).count(), 1);
        assert!(!state.compact(Revision(2)));
    }
}
