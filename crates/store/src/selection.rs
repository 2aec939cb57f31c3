//! Selector matching without allocation, shared by both representations, and the label
//! digest that lets a list skip most non-matching objects without touching their bytes.
//!
//! The digest is a 64-bit Bloom filter kept inline in the index entry: every label sets
//! two bits derived from its key=value pair. A selector's equality terms give a mask; an
//! object whose digest lacks a mask bit cannot match, so a label-selector list over 100k
//! objects touches only the few objects that might match (each object's bytes live in
//! their own allocation; touching them is a cache miss). With three labels per object a
//! single-term query lets about 1% of non-matching objects through.

use corral_api::selector::LabelOp;
use corral_api::{FieldSelector, LabelSelector, ResourceKind};

/// FNV-1a of `key`, 0xff, `value`: the same in every process (no random hasher seed).
fn pair_hash(key: &str, value: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in key.as_bytes().iter().chain(&[0xff]).chain(value.as_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The two digest bits of one label.
fn pair_bits(key: &str, value: &str) -> u64 {
    let hash = pair_hash(key, value);
    (1u64 << (hash >> 58)) | (1u64 << ((hash >> 52) & 63))
}

/// The digest of a label set.
pub fn label_digest<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    labels.fold(0, |digest, (key, value)| digest | pair_bits(key, value))
}

/// The digest bits every object matching `selector` must have (from `k=v` and
/// single-valued `k in (v)` terms; other operators cannot be prefiltered).
pub fn selector_mask(selector: &LabelSelector) -> u64 {
    selector
        .requirements
        .iter()
        .fold(0, |mask, requirement| match requirement.op {
            LabelOp::Equals | LabelOp::In if requirement.values.len() == 1 => {
                mask | pair_bits(&requirement.key, &requirement.values[0])
            }
            _ => mask,
        })
}

/// `selector` against labels found by `lookup`, with upstream's operator semantics
/// (`!=` and `notin` match objects without the label).
pub fn labels_match<'a>(
    selector: &LabelSelector,
    lookup: impl Fn(&str) -> Option<&'a str>,
) -> bool {
    if selector.matches_nothing {
        return false;
    }
    selector.requirements.iter().all(|requirement| {
        let value = lookup(&requirement.key);
        let listed = || value.is_some_and(|v| requirement.values.iter().any(|x| x == v));
        match requirement.op {
            LabelOp::Equals | LabelOp::In => listed(),
            LabelOp::NotEquals | LabelOp::NotIn => !listed(),
            LabelOp::Exists => value.is_some(),
            LabelOp::DoesNotExist => value.is_none(),
        }
    })
}

/// `selector` against field values found by `lookup`; a field the kind does not have reads
/// as empty, as upstream's field set does (requests are validated before they get here).
pub fn fields_match<'a>(
    selector: &FieldSelector,
    lookup: impl Fn(&str) -> Option<&'a str>,
) -> bool {
    selector.requirements.iter().all(|requirement| {
        let actual = lookup(&requirement.field).unwrap_or("");
        (actual == requirement.value) == requirement.equal
    })
}

/// What a list or watch selects, prepared once: kind, namespace, selectors and the digest
/// mask.
#[derive(Clone, Debug)]
pub(crate) struct Selection {
    pub kind: ResourceKind,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub label_mask: u64,
}

impl Selection {
    pub(crate) fn new(
        kind: ResourceKind,
        namespace: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> Result<Selection, crate::StoreError> {
        corral_api::fields::check_field_selector(kind, fields)
            .map_err(|e| crate::StoreError::InvalidSelector(e.0))?;
        let namespace = namespace.filter(|n| !n.is_empty());
        if let Some(namespace) = namespace {
            if !kind.namespaced() {
                return Err(crate::StoreError::InvalidKey(format!(
                    "{} is cluster-scoped; namespace {namespace:?} cannot be listed",
                    kind.kind_name()
                )));
            }
            crate::key::validate_segment("namespace", namespace)?;
        }
        Ok(Selection {
            kind,
            namespace: namespace.map(str::to_string),
            labels: labels.clone(),
            fields: fields.clone(),
            label_mask: selector_mask(labels),
        })
    }

    pub(crate) fn selects_everything(&self) -> bool {
        self.labels.is_everything() && self.fields.is_everything()
    }

    /// The one name an equality term on `metadata.name` pins, for point lookups.
    pub(crate) fn required_name(&self) -> Option<&str> {
        self.fields.required_value("metadata.name")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn digest_never_rejects_an_object_the_selector_matches() {
        let labels: BTreeMap<&str, &str> = [("app", "web"), ("tier", "gold")].into();
        let digest = label_digest(labels.iter().map(|(k, v)| (*k, *v)));
        for text in [
            "app=web",
            "app in (web)",
            "tier",
            "app in (web,db)",
            "app!=db",
            "!other",
        ] {
            let selector = LabelSelector::parse(text).unwrap();
            let mask = selector_mask(&selector);
            assert_eq!(digest & mask, mask, "{text}");
            assert!(
                labels_match(&selector, |k| labels.get(k).copied()),
                "{text}"
            );
        }
    }

    #[test]
    fn label_matching_agrees_with_the_api_crates_semantics() {
        let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
        for text in [
            "app=web",
            "app!=web",
            "app notin (db)",
            "!app",
            "other",
            "app in (a,web)",
        ] {
            let selector = LabelSelector::parse(text).unwrap();
            assert_eq!(
                labels_match(&selector, |k| labels.get(k).map(String::as_str)),
                selector.matches(&labels),
                "{text}"
            );
        }
        assert!(!labels_match(&LabelSelector::nothing(), |_| None));
    }
}
