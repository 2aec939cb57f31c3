//! [`StoreKey`]: the compact, validated in-memory form of an [`ObjectKey`].
//!
//! One shared allocation (`Arc<[u8]>`) holds `kind byte, namespace, 0x00, name`. Because
//! `0x00` sorts below every byte a valid name may contain, byte order equals
//! [`ObjectKey`]'s (kind, namespace, name) order, so a kind or a namespace of a kind is one
//! contiguous range of the index, and clones (into the watch log, the history, the
//! pending-write overlay) cost a reference count instead of two string copies.

use std::ops::Bound;
use std::sync::Arc;

use corral_api::{ObjectKey, ResourceKind};

use crate::error::StoreError;

/// Longest name or namespace the store accepts; upstream's object names are at most 253.
pub const NAME_LENGTH_MAX: usize = 253;

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct StoreKey(Arc<[u8]>);

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_object_key())
    }
}

/// The byte that stands for `kind` at the start of every key.
pub(crate) fn kind_byte(kind: ResourceKind) -> u8 {
    // Fieldless enum: the discriminant is the declaration index, which is also the order
    // of `ResourceKind::ALL` and of `ResourceKind`'s `Ord`.
    kind as u8
}

/// Checks one path segment as upstream's `path.IsValidPathSegmentName` does (no `/`, no
/// `%`, not `.` or `..`), plus what our key layout needs (no NUL, bounded length).
pub fn validate_segment(what: &str, text: &str) -> Result<(), StoreError> {
    if text.is_empty() {
        return Err(StoreError::InvalidKey(format!("{what} must not be empty")));
    }
    if text.len() > NAME_LENGTH_MAX {
        return Err(StoreError::InvalidKey(format!(
            "{what} {text:?} is longer than {NAME_LENGTH_MAX} characters"
        )));
    }
    if text == "." || text == ".." {
        return Err(StoreError::InvalidKey(format!(
            "{what} may not be {text:?}"
        )));
    }
    if let Some(bad) = text.chars().find(|c| matches!(c, '/' | '%' | '\0')) {
        return Err(StoreError::InvalidKey(format!(
            "{what} {text:?} may not contain {bad:?}"
        )));
    }
    Ok(())
}

impl StoreKey {
    /// Validates `key` (names, namespace versus the kind's scope) and packs it.
    pub(crate) fn new(key: &ObjectKey) -> Result<StoreKey, StoreError> {
        validate_segment("name", &key.name)?;
        if key.kind.namespaced() {
            validate_segment("namespace", &key.namespace)?;
        } else if !key.namespace.is_empty() {
            return Err(StoreError::InvalidKey(format!(
                "{} is cluster-scoped but the key names namespace {:?}",
                key.kind.kind_name(),
                key.namespace
            )));
        }
        let mut bytes = Vec::with_capacity(2 + key.namespace.len() + key.name.len());
        bytes.push(kind_byte(key.kind));
        bytes.extend_from_slice(key.namespace.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(key.name.as_bytes());
        Ok(StoreKey(Arc::from(bytes)))
    }

    pub(crate) fn kind(&self) -> ResourceKind {
        // Keys built by `new` start with a valid kind index; only the sentinel of
        // `KeyRange::nothing` is empty.
        let index = self.0.first().map_or(0, |&b| usize::from(b));
        ResourceKind::ALL
            .get(index)
            .copied()
            .unwrap_or(ResourceKind::ALL[0])
    }

    fn separator(&self) -> usize {
        self.0
            .get(1..)
            .unwrap_or_default()
            .iter()
            .position(|&b| b == 0)
            .map_or(self.0.len(), |p| p + 1)
    }

    pub(crate) fn namespace(&self) -> &str {
        std::str::from_utf8(self.0.get(1..self.separator()).unwrap_or_default()).unwrap_or("")
    }

    pub(crate) fn name(&self) -> &str {
        let start = (self.separator() + 1).min(self.0.len());
        std::str::from_utf8(&self.0[start..]).unwrap_or("")
    }

    pub(crate) fn to_object_key(&self) -> ObjectKey {
        ObjectKey::new(self.kind(), self.namespace(), self.name())
    }

    fn from_raw(bytes: Vec<u8>) -> StoreKey {
        StoreKey(Arc::from(bytes))
    }
}

/// The key range of a list or watch: one kind, optionally one namespace, optionally
/// starting after a key.
#[derive(Clone, Debug)]
pub(crate) struct KeyRange {
    pub start: Bound<StoreKey>,
    pub end: Bound<StoreKey>,
}

impl KeyRange {
    /// Every key of `kind`, or of `kind` in `namespace`.
    pub(crate) fn scope(kind: ResourceKind, namespace: Option<&str>) -> KeyRange {
        let mut start = vec![kind_byte(kind)];
        let end = match namespace {
            None => vec![kind_byte(kind) + 1],
            Some(namespace) => {
                start.extend_from_slice(namespace.as_bytes());
                start.push(0);
                let mut end = start.clone();
                // The separator 0x00 becomes 0x01: just past every name in the namespace.
                if let Some(last) = end.last_mut() {
                    *last = 1;
                }
                end
            }
        };
        KeyRange {
            start: Bound::Included(StoreKey::from_raw(start)),
            end: Bound::Excluded(StoreKey::from_raw(end)),
        }
    }

    /// The same range, beginning just after `key` (a continue token's position).
    pub(crate) fn after(mut self, key: StoreKey) -> KeyRange {
        let later = match &self.start {
            Bound::Included(start) => key >= *start,
            _ => true,
        };
        if later {
            self.start = Bound::Excluded(key);
        }
        self
    }

    /// True when no key can lie inside (`BTreeMap::range` panics on such bounds).
    pub(crate) fn is_empty(&self) -> bool {
        match (&self.start, &self.end) {
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s), Bound::Excluded(e))
            | (Bound::Excluded(s), Bound::Included(e))
            | (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
            _ => false,
        }
    }

    /// A range without keys.
    pub(crate) fn nothing() -> KeyRange {
        let key = StoreKey::from_raw(Vec::new());
        KeyRange {
            start: Bound::Excluded(key.clone()),
            end: Bound::Excluded(key),
        }
    }

    /// Exactly one key.
    pub(crate) fn single(key: StoreKey) -> KeyRange {
        KeyRange {
            start: Bound::Included(key.clone()),
            end: Bound::Included(key),
        }
    }

    pub(crate) fn bounds(&self) -> (Bound<&StoreKey>, Bound<&StoreKey>) {
        (self.start.as_ref(), self.end.as_ref())
    }

    pub(crate) fn contains(&self, key: &StoreKey) -> bool {
        let above = match &self.start {
            Bound::Included(s) => key >= s,
            Bound::Excluded(s) => key > s,
            Bound::Unbounded => true,
        };
        let below = match &self.end {
            Bound::Included(e) => key <= e,
            Bound::Excluded(e) => key < e,
            Bound::Unbounded => true,
        };
        above && below
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_keys_sort_like_object_keys() {
        let mut keys = vec![
            ObjectKey::new(ResourceKind::Pod, "ab", "x"),
            ObjectKey::new(ResourceKind::Pod, "a", "zz"),
            ObjectKey::new(ResourceKind::Pod, "a", "z"),
            ObjectKey::cluster(ResourceKind::Node, "n1"),
            ObjectKey::new(ResourceKind::Job, "a", "b"),
        ];
        let mut packed: Vec<StoreKey> = keys.iter().map(|k| StoreKey::new(k).unwrap()).collect();
        keys.sort();
        packed.sort();
        let unpacked: Vec<ObjectKey> = packed.iter().map(StoreKey::to_object_key).collect();
        assert_eq!(unpacked, keys);
    }

    #[test]
    fn malformed_keys_are_typed_errors() {
        for key in [
            ObjectKey::new(ResourceKind::Pod, "ns", ""),
            ObjectKey::new(ResourceKind::Pod, "ns", "a/b"),
            ObjectKey::new(ResourceKind::Pod, "ns", ".."),
            ObjectKey::new(ResourceKind::Pod, "ns", "a\0b"),
            ObjectKey::new(ResourceKind::Pod, "", "a"),
            ObjectKey::new(ResourceKind::Node, "ns", "a"),
            ObjectKey::new(ResourceKind::Pod, "ns", &"x".repeat(300)),
        ] {
            assert!(
                matches!(StoreKey::new(&key), Err(StoreError::InvalidKey(_))),
                "{key:?}"
            );
        }
    }

    #[test]
    fn namespace_scopes_cover_exactly_their_namespace() {
        let range = KeyRange::scope(ResourceKind::Pod, Some("a"));
        let inside = StoreKey::new(&ObjectKey::new(ResourceKind::Pod, "a", "x")).unwrap();
        let longer = StoreKey::new(&ObjectKey::new(ResourceKind::Pod, "ab", "x")).unwrap();
        assert!(range.contains(&inside));
        assert!(!range.contains(&longer));
        let after = range.after(inside.clone());
        assert!(!after.contains(&inside));
    }
}
